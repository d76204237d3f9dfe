/**
 * Contract of images/build-php: the image contract; the php sample (no package dependencies) is copied
 * through; a composer.json that requires packages gets `composer install --no-dev` (shown offline with
 * path repositories, Packagist disabled).
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildImage } from './support/docker';
import { BuildVolume, outputOf, removeTempDirs, runBuild, runIn, SAMPLES } from './support/build';
import { imageContract } from './support/image-contract';

jest.setTimeout(1_800_000);

let image = '';

beforeAll(() => {
  image = buildImage('build-php');
});

afterAll(removeTempDirs);

describe('build-php', () => {
  imageContract(() => image, { commands: ['build'] });

  it('copies the php sample through: its composer.json requires no package', () => {
    const volume = new BuildVolume(path.join(SAMPLES, 'php'));
    const result = runBuild(image, volume);
    expect(outputOf(result)).toContain('composer.json requires no packages: copied through');
    expect(result.status).toBe(0);
    expect(volume.list('output')).toEqual(volume.list('input'));
    const php = runIn(image, ['php', '/mnt/output/index.php'], { volume: volume.dir });
    expect(php.stdout).toMatch(/^modulus sample php app on PHP 8\./);
  });

  it('copies an app without composer.json through', () => {
    const volume = new BuildVolume(undefined, { 'index.php': '<?php echo "hi";\n' });
    const result = runBuild(image, volume);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('no composer.json: copied through');
    expect(volume.list('output')).toEqual(['index.php']);
  });

  it('runs composer install --no-dev when composer.json requires packages', () => {
    const pkg = (name: string, text: string) => ({
      [`packages/${name}/composer.json`]: JSON.stringify({ name: `modulus-test/${name}`, version: '1.0.0', autoload: { 'psr-4': { [`ModulusTest\\${name[0].toUpperCase()}${name.slice(1)}\\`]: 'src/' } } }),
      [`packages/${name}/src/Text.php`]: `<?php\nnamespace ModulusTest\\${name[0].toUpperCase()}${name.slice(1)};\nfinal class Text { public static function get(): string { return '${text}'; } }\n`,
    });
    const volume = new BuildVolume(undefined, {
      'composer.json': JSON.stringify({
        name: 'modulus-test/app',
        require: { php: '>=8.0', 'ext-mbstring': '*', 'modulus-test/greeting': '1.0.0' },
        'require-dev': { 'modulus-test/devtool': '1.0.0' },
        repositories: [
          { type: 'path', url: 'packages/greeting', options: { symlink: false } },
          { type: 'path', url: 'packages/devtool', options: { symlink: false } },
          { 'packagist.org': false },
        ],
      }),
      'index.php': "<?php\nrequire __DIR__ . '/vendor/autoload.php';\necho \\ModulusTest\\Greeting\\Text::get(), \"\\n\";\n",
      ...pkg('greeting', 'hello from vendor'),
      ...pkg('devtool', 'dev only'),
    });
    const result = runBuild(image, volume);
    expect(outputOf(result)).toContain('composer.json requires: modulus-test/greeting');
    expect(result.status).toBe(0);
    expect(fs.existsSync(volume.out('vendor', 'modulus-test', 'greeting', 'src', 'Text.php'))).toBe(true);
    expect(fs.existsSync(volume.out('vendor', 'modulus-test', 'devtool'))).toBe(false);
    const php = runIn(image, ['php', '/mnt/output/index.php'], { volume: volume.dir });
    expect(php.stdout).toBe('hello from vendor\n');
  });

  it('fails the build when composer install fails', () => {
    const volume = new BuildVolume(undefined, {
      'composer.json': JSON.stringify({ name: 'modulus-test/broken', require: { 'modulus-test/absent': '1.0.0' }, repositories: [{ 'packagist.org': false }] }),
    });
    const result = runBuild(image, volume);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toContain('try 3 of 3');
    expect(result.stdout).toContain('ERROR: composer install failed');
  });
});
