import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EngineLock } from '../../harness/engine-lock';

/** The engine lock of test-all's two suites at once (harness/engine-lock.ts), with real flock(1) processes. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-engine-lock-'));
const file = path.join(dir, 'engine.lock');
const settled = async (promise: Promise<void>, ms: number) => Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())]);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('shared holders run together; an exclusive one waits until each has let go, and holds off the next shared one', async () => {
  const [a, b, c, d] = [new EngineLock(file), new EngineLock(file), new EngineLock(file), new EngineLock(file)];
  await a.hold('shared');
  expect(await settled(b.hold('shared'), 2_000)).toBe(true);
  const exclusive = c.hold('exclusive');
  expect(await settled(exclusive, 500)).toBe(false);
  await a.release();
  expect(await settled(exclusive, 500)).toBe(false);
  await b.release();
  expect(await settled(exclusive, 2_000)).toBe(true);
  const shared = d.hold('shared');
  expect(await settled(shared, 500)).toBe(false);
  await c.hold('shared');
  expect(await settled(shared, 2_000)).toBe(true);
  await Promise.all([c.release(), d.release()]);
});

test('a holder that dies without releasing frees the lock', async () => {
  const script = `const { EngineLock } = require(${JSON.stringify(path.resolve(__dirname, '../../harness/engine-lock'))}); new EngineLock(${JSON.stringify(file)}).hold('exclusive').then(() => console.log('held'));`;
  const child = spawn('node', ['-r', 'ts-node/register/transpile-only', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const lock = new EngineLock(file);
  const waiting = lock.hold('shared');
  expect(await settled(waiting, 500)).toBe(false);
  child.kill('SIGKILL');
  expect(await settled(waiting, 5_000)).toBe(true);
  await lock.release();
});

test('without a lock file nothing waits', async () => {
  const lock = new EngineLock(undefined);
  expect(await settled(lock.hold('exclusive'), 100)).toBe(true);
  expect(await settled(new EngineLock(undefined).hold('exclusive'), 100)).toBe(true);
});
