/**
 * Contract of images/base on a real engine: built FROM the root image with the build args Terraform passes,
 * then run read-only with only /mnt writable.
 */
import { buildImage } from './support/docker';
import * as fs from 'fs';
import { bashIn, removeTempDirs, tempDir, chownMop, runIn } from './support/build';
import { imageContract } from './support/image-contract';

jest.setTimeout(1_800_000);

let image = '';

beforeAll(() => {
  image = buildImage('base');
});

afterAll(removeTempDirs);

describe('base', () => {
  imageContract(() => image);

  it('ships git, zip, unzip, curl, python3 and CA certificates', () => {
    const result = bashIn(
      image,
      'git --version && zip -v | head -n 2 | tail -n 1 && unzip -v | head -n 1 && curl --version | head -n 1 && python3 --version && test -s /etc/ssl/certs/ca-certificates.crt && echo certs-ok',
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/git version/);
    expect(result.stdout).toMatch(/Zip \d/);
    expect(result.stdout).toMatch(/UnZip \d/);
    expect(result.stdout).toMatch(/curl \d/);
    expect(result.stdout).toMatch(/Python 3\./);
    expect(result.stdout).toContain('certs-ok');
  });

  it('keeps no apt lists or caches in the image', () => {
    const result = bashIn(image, 'ls -A /var/lib/apt/lists | grep -v "^lock$\\|^partial$\\|^auxfiles$" | wc -l; ls -A /var/cache/apt | grep -c "\\.bin$" || true');
    expect(result.stdout.trim().split('\n')).toEqual(['0', '0']);
  });

  it('creates nothing root-owned in a volume that lacks the standard folders', () => {
    const volume = tempDir('modulus-empty-volume-');
    chownMop(volume);
    const result = runIn(image, ['bash', '-c', 'pwd; mkdir -p "$HOME" "$TMPDIR" && echo made'], { volume });
    expect(result.stdout).toBe('/mnt\nmade\n');
    for (const entry of fs.readdirSync(volume)) expect(fs.statSync(`${volume}/${entry}`).uid).toBe(441);
  });
});
