import { spawnSync } from 'child_process';
import { REPO_ROOT } from './checkout';

export { REPO_ROOT };

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A script that runs longer is stopped (SIGTERM to bash): a synchronous call holds jest's own timeouts, so without
 * this a hung script (a registry that stopped answering) would hold the whole run silently.
 */
const BASH_TIMEOUT_MS = 40 * 60_000;

/** Runs a bash script; never throws on a non-zero exit (status null when a signal ended it, e.g. the time limit). */
export function bash(script: string, options: { cwd?: string; env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Run {
  const timeoutMs = options.timeoutMs ?? BASH_TIMEOUT_MS;
  const result = spawnSync('bash', ['-c', `set -euo pipefail\n${script}`], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, CI: '1', ...options.env },
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    input: options.input,
    timeout: timeoutMs,
  });
  const timedOut = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  const stderr = timedOut ? `${result.stderr}\nharness: stopped after ${timeoutMs / 1000} s (the harness's limit for one script)\n` : result.stderr;
  return { status: result.status, stdout: result.stdout, stderr };
}

/** Fails with the command's whole output when it did not exit 0; returns stdout. */
export function ok(run: Run, what: string): string {
  if (run.status !== 0) {
    throw new Error(`${what} exited ${run.status}\n--- stdout\n${run.stdout.slice(-20000)}\n--- stderr\n${run.stderr.slice(-20000)}`);
  }
  return run.stdout;
}

export function docker(...args: string[]): Run {
  const result = spawnSync('docker', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Polls `probe` every 500 ms until it returns a value or `timeoutMs` passes; then throws with `what`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`);
}
