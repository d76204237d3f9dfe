import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * The unit suite's global setup: TMPDIR points at a folder of the run's own, which unit-tmpdir-teardown.ts removes
 * whole. cdktf's `Testing` helpers make a `cdktf.outdir.*` folder under `os.tmpdir()` per synth and never remove
 * it: about 800 a run, left in /tmp before.
 */
export default function setUp(): void {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-unit-'));
  process.env.MODULUS_UNIT_TMPDIR = folder;
  process.env.TMPDIR = folder;
}
