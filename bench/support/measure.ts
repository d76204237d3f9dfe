import { spawn, spawnSync, SpawnSyncOptions } from 'child_process';
import * as path from 'path';
import { performance } from 'perf_hooks';

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** Median of the samples (the upper one of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no samples');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `1.23 s` / `456 ms`: seconds above 10 s, milliseconds below. */
export function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

/** One line of the results: a value or ratio against its goal. */
export interface Verdict {
  benchmark: string;
  measure: string;
  value: string;
  goal: string;
  met: boolean;
  note?: string;
}

const verdicts: Verdict[] = [];
const failures: string[] = [];

/** Prints "<what>: <value> (goal <op> <limit>) met|NOT met" and keeps it for the summary. Never fails the run. */
export function verdict(benchmark: string, measure: string, value: number, goal: { max?: number; equals?: number }, unit = '', note?: string): boolean {
  const met = goal.equals !== undefined ? value === goal.equals : value <= goal.max!;
  const goalText = goal.equals !== undefined ? `= ${goal.equals}` : `≤ ${goal.max}${unit}`;
  const valueText = Number.isInteger(value) ? `${value}${unit}` : `${value.toFixed(2)}${unit}`;
  console.log(`  ${measure}: ${valueText} (goal ${goalText}) ${met ? 'met' : 'NOT met'}${note ? `  [${note}]` : ''}`);
  verdicts.push({ benchmark, measure, value: valueText, goal: goalText, met, note });
  return met;
}

/** Keeps a verdict printed elsewhere (bench/synth.ts prints its own) for the summary. */
export function record(v: Verdict): void {
  verdicts.push(v);
}

/** A measurement that could not be taken: reported at the end, and the run exits non-zero. */
export function failed(benchmark: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`\n!! ${benchmark}: measurement could not be taken:\n${message}\n`);
  failures.push(`${benchmark}: ${message.split('\n')[0]}`);
}

/** The summary table (Markdown) and the list of measurements that could not be taken; exits 1 if there are any. */
export function summarize(): void {
  console.log('\n## Summary\n');
  console.log('| benchmark | measure | value | goal | |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const v of verdicts) console.log(`| ${v.benchmark} | ${v.measure} | ${v.value} | ${v.goal} | ${v.met ? 'met' : 'NOT met'} |`);
  if (failures.length > 0) {
    console.error(`\n${failures.length} measurement(s) could not be taken:`);
    for (const failure of failures) console.error(`  - ${failure}`);
    process.exitCode = 1;
  }
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program (no shell) and times it; never throws on a non-zero exit. */
export function run(command: string, args: readonly string[], options: SpawnSyncOptions = {}): Run {
  const start = performance.now();
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 512 << 20, ...options });
  const ms = performance.now() - start;
  if (result.error) throw result.error;
  return { status: result.status, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), ms };
}

/** Like `run`, but throws with the output's tail unless the exit status is one of `accept` (default 0). */
export function must(command: string, args: readonly string[], options: SpawnSyncOptions = {}, accept: readonly number[] = [0]): Run {
  const result = run(command, args, options);
  if (result.status === null || !accept.includes(result.status)) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}${options.cwd ? ` (in ${options.cwd})` : ''}\n` +
        `--- stdout (tail)\n${result.stdout.slice(-6000)}\n--- stderr (tail)\n${result.stderr.slice(-6000)}`,
    );
  }
  return result;
}

/** Runs `command` `runs` times after `warmup` untimed runs; returns the durations in ms. */
export function repeat(runs: number, warmup: number, once: () => number): number[] {
  for (let i = 0; i < warmup; i++) once();
  return Array.from({ length: runs }, () => once());
}

/** Starts a program without waiting; resolves with its exit status (rejects when it cannot start). */
export function start(command: string, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

/** GET http://127.0.0.1:port/ ; the status, or undefined when nothing answers within `timeoutMs`. */
export async function httpStatus(port: number, timeoutMs = 1000): Promise<number | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return undefined;
  }
}

/** Polls every `intervalMs` until GET / answers 200; the time from `since` (performance.now()) in ms. */
export async function timeToHttp200(port: number, since: number, timeoutMs = 120_000, intervalMs = 20): Promise<number> {
  const deadline = since + timeoutMs;
  while (performance.now() < deadline) {
    if ((await httpStatus(port, 500)) === 200) return performance.now() - since;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`nothing answered 200 on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Number of timed runs: BENCH_RUNS, else `fallback`. */
export function runCount(fallback: number): number {
  const runs = Number(process.env.BENCH_RUNS ?? fallback);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_RUNS "${process.env.BENCH_RUNS}" is not a positive integer`);
  return runs;
}

export function describeSamples(samples: readonly number[]): string {
  return `median ${formatMs(median(samples))} of ${samples.length} runs (min ${formatMs(Math.min(...samples))}, max ${formatMs(Math.max(...samples))})`;
}
