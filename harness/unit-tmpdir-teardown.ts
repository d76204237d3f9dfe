import * as fs from 'fs';

/** The unit suite's global teardown: removes the folder unit-tmpdir-setup.ts made, with everything in it. */
export default function tearDown(): void {
  const folder = process.env.MODULUS_UNIT_TMPDIR;
  if (folder) fs.rmSync(folder, { recursive: true, force: true });
}
