import { ChildProcess, spawn } from 'child_process';

/**
 * One Docker engine, several jest processes: `npm run test:all` runs the contract suite beside the e2e suite
 * (scripts/test-all.sh). Most test files share the engine well (their own names, ports and image prefixes), but a
 * test that stops the engine (a host reboot) or deploys under the default names (the quick start retags and
 * removes the `modulus/*` images the contract suite runs) must have it to itself.
 *
 * MODULUS_ENGINE_LOCK names a lock file (flock(1)). Every contract and e2e test file holds it shared while it runs
 * (harness/engine-lock-environment.ts); such a test takes it exclusive for as long as it needs, then shared again.
 * Without MODULUS_ENGINE_LOCK (one suite at a time) nothing waits. A holder is a `flock` process reading its
 * stdin: the lock goes when this process releases it or dies.
 */
export class EngineLock {
  private holder?: ChildProcess;

  constructor(private readonly file: string | undefined) {}

  /** Waits until the engine is held in `mode` (after letting go of what this process held). */
  async hold(mode: 'shared' | 'exclusive'): Promise<void> {
    if (!this.file) return;
    await this.release();
    const holder = spawn('flock', ['--no-fork', mode === 'shared' ? '--shared' : '--exclusive', this.file, 'sh', '-c', 'echo held; exec cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.holder = holder;
    const waiting = setTimeout(() => process.stderr.write(`engine-lock: waiting for the engine (${mode}): another test has it to itself\n`), 5_000);
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`flock ${this.file} exited ${code} before holding the lock`)));
        holder.once('error', reject);
      });
    } finally {
      clearTimeout(waiting);
    }
  }

  /** Lets go of the lock (if held) and waits until it is free of this process. */
  async release(): Promise<void> {
    const holder = this.holder;
    this.holder = undefined;
    if (!holder || holder.exitCode !== null || holder.signalCode !== null) return;
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.stdin!.end();
    holder.kill('SIGTERM');
    await exited;
  }
}

/** Where the test environment puts the file's lock for the test code (the test's own global object). */
export const ENGINE_LOCK_GLOBAL = '__modulusEngineLock';

/** The lock this test file holds (set by the test environment); undefined outside it (unit tests). */
function fileLock(): EngineLock | undefined {
  return (globalThis as Record<string, unknown>)[ENGINE_LOCK_GLOBAL] as EngineLock | undefined;
}

/** For a test that needs the engine to itself: waits until every other test file using it has finished. */
export async function holdEngineExclusively(): Promise<void> {
  await fileLock()?.hold('exclusive');
}

/** Back to sharing the engine after holdEngineExclusively. */
export async function shareEngine(): Promise<void> {
  await fileLock()?.hold('shared');
}
