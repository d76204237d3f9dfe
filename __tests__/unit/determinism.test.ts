import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { copyCheckout, readTree } from '../../harness/checkout';

jest.setTimeout(120_000);

/** `cdktf synth` runs cdktf.json's app (main.ts through the TypeScript loader); so does this, from two checkouts at different paths. */
function synthCheckout(checkout: string): Map<string, Buffer> {
  const env: NodeJS.ProcessEnv = { ...process.env, MODULUS_ROOT_IMAGE: 'modulus/root:bookworm' };
  delete env.CDKTF_OUTDIR;
  execFileSync('bash', ['-c', JSON.parse(fs.readFileSync(path.join(checkout, 'cdktf.json'), 'utf8')).app], {
    cwd: checkout,
    env,
    stdio: 'pipe',
  });
  return readTree(path.join(checkout, 'cdktf.out'));
}

describe('synthesis is deterministic and free of this machine', () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-determinism-'));
  const first = copyCheckout(path.join(parent, 'checkout-one'));
  const second = copyCheckout(path.join(parent, 'elsewhere', 'checkout-two'));
  let one: Map<string, Buffer>;
  let two: Map<string, Buffer>;

  beforeAll(() => {
    one = synthCheckout(first);
    two = synthCheckout(second);
  });
  afterAll(() => fs.rmSync(parent, { recursive: true, force: true }));

  it('writes byte-identical output from two checkout directories', () => {
    expect([...one.keys()].sort()).toEqual([...two.keys()].sort());
    expect(one.has(path.join('stacks', 'images', 'cdk.tf.json'))).toBe(true);
    for (const [file, contents] of one) {
      expect({ file, same: contents.equals(two.get(file)!) }).toEqual({ file, same: true });
    }
  });

  it('writes no absolute path of the checkout, the home folder or the temp folder', () => {
    for (const [file, contents] of one) {
      const text = contents.toString('utf8');
      for (const forbidden of [first, parent, `${os.homedir()}/`, '/work/']) {
        expect({ file, contains: text.includes(forbidden) ? forbidden : null }).toEqual({ file, contains: null });
      }
    }
  });

  it('is stable across repeated synths of the same checkout', () => {
    const again = synthCheckout(first);
    const json = path.join('stacks', 'images', 'cdk.tf.json');
    expect(again.get(json)!.equals(one.get(json)!)).toBe(true);
  });
});
