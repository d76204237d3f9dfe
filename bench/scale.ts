import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LANGUAGES } from '../lib/standard-images';
import { toolchainEnv } from './support/deployment';
import { describeSamples, failed, formatMs, median, must, REPO_ROOT, runCount, verdict } from './support/measure';
import { SCALE_STACK } from './support/scale-app';

const SYNTH = 'synth at scale';
const PLAN = 'plan at scale';
/** Synth ms per app at the largest count. */
const SYNTH_GOAL_MS = 5;
/** Memory per app at the largest count / at the smallest: above this, memory grows faster than the apps. */
const LINEAR_GOAL = 1.25;
const PLAN_GOAL_MS = 5000;
/** docker_image resources of the standard hierarchy. */
const IMAGES = 11;

interface ScaleRun {
  apps: number;
  ms: number;
  peakRssBytes: number;
  retainedHeapBytes: number;
  jsonBytes: number;
  resources: number;
  dataSources: number;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

function counts(variable: string, fallback: string): number[] {
  const values = (process.env[variable] ?? fallback).split(',').filter(Boolean).map(Number);
  if (values.length === 0 || values.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${variable} "${process.env[variable]}": give app counts, e.g. 100,400`);
  return values;
}

/** `apps` distinct app sources (a copy of a sample each, told apart by one file), as many apps have. */
function prepareSources(work: string, apps: number): string {
  const sources = path.join(work, 'sources');
  for (let i = 0; i < apps; i++) {
    const dir = path.join(sources, `app-${i}`);
    fs.cpSync(path.join(REPO_ROOT, 'samples', LANGUAGES[i % LANGUAGES.length]), dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'bench-app.txt'), `app-${i}\n`);
  }
  return sources;
}

/**
 * One synth of `apps` apps in a new process (bench/support/scale-app.ts). Its temp folder is a new one, so the
 * source archives that BuildJob keeps there are written again: the first synth of those sources.
 */
function synthApps(work: string, sources: string, apps: number, env: NodeJS.ProcessEnv = process.env): ScaleRun & { outdir: string } {
  const outdir = path.join(work, `out-${apps}-${Math.random().toString(36).slice(2)}`);
  const tmp = fs.mkdtempSync(path.join(work, 'tmp-'));
  const result = must('npx', ['ts-node', '--transpile-only', path.join('bench', 'support', 'scale-app.ts'), String(apps), outdir, sources], {
    cwd: REPO_ROOT,
    env: { ...env, TMPDIR: tmp },
  });
  fs.rmSync(tmp, { recursive: true, force: true });
  const line = result.stdout.trim().split('\n').pop()!;
  return { ...(JSON.parse(line) as ScaleRun), outdir };
}

/**
 * Synth of N apps (BENCH_SCALE_APPS, default 100,400) with the image hierarchy in one ModulusStack, each count
 * BENCH_RUNS times (default 3; medians): time per app (goal ≤ 5 ms at the largest N), peak RSS, the heap the
 * constructs keep and JSON size per app. Memory linear: the kept heap per app (above the hierarchy alone) at the
 * largest N against the smallest, goal ≤ 1.25. Peak RSS is printed beside it; it follows when the collector runs.
 */
export function synthAtScale(): void {
  console.log(`\n# ${SYNTH} (bench/scale.ts)`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-bench-scale-'));
  try {
    const sizes = counts('BENCH_SCALE_APPS', '100,400').sort((a, b) => a - b);
    const runs = runCount(3);
    const sources = prepareSources(work, sizes[sizes.length - 1]);
    const synthMedian = (apps: number): ScaleRun => {
      const all = Array.from({ length: runs }, () => {
        const r = synthApps(work, sources, apps);
        fs.rmSync(r.outdir, { recursive: true, force: true });
        return r;
      });
      const of = (field: 'ms' | 'peakRssBytes' | 'retainedHeapBytes') => median(all.map((r) => r[field]));
      const times = all.map((r) => r.ms);
      if (runs > 1) console.log(`  (${apps} apps: ${runs} runs, ${formatMs(Math.min(...times))} to ${formatMs(Math.max(...times))})`);
      return { ...all[0], ms: of('ms'), peakRssBytes: of('peakRssBytes'), retainedHeapBytes: of('retainedHeapBytes') };
    };
    const base = synthMedian(0);
    console.log(`  hierarchy alone: ${formatMs(base.ms)}, peak RSS ${mib(base.peakRssBytes)}, cdk.tf.json ${kib(base.jsonBytes)}`);
    const keptPerApp = new Map<number, number>();
    for (const apps of sizes) {
      const r = synthMedian(apps);
      const kept = (r.retainedHeapBytes - base.retainedHeapBytes) / apps;
      keptPerApp.set(apps, kept);
      console.log(
        `  ${apps} apps: ${formatMs(r.ms)} total, ${(r.ms / apps).toFixed(2)} ms per app; heap kept by the constructs ${mib(r.retainedHeapBytes)} (${kib(kept)} per app); ` +
          `peak RSS ${mib(r.peakRssBytes)} (${kib((r.peakRssBytes - base.peakRssBytes) / apps)} per app above the hierarchy alone); ` +
          `cdk.tf.json ${mib(r.jsonBytes)} (${kib((r.jsonBytes - base.jsonBytes) / apps)} per app); ` +
          `${((r.resources - base.resources) / apps).toFixed(1)} resources and ${((r.dataSources - base.dataSources) / apps).toFixed(1)} data sources per app`,
      );
      if (apps === sizes[sizes.length - 1]) verdict(SYNTH, `synth ms per app at ${apps} apps (median of ${runs})`, r.ms / apps, { max: SYNTH_GOAL_MS }, ' ms');
    }
    if (sizes.length > 1) {
      const [small, large] = [sizes[0], sizes[sizes.length - 1]];
      verdict(SYNTH, `heap kept per app at ${large} apps / at ${small} apps`, keptPerApp.get(large)! / keptPerApp.get(small)!, { max: LINEAR_GOAL }, '×');
    }
  } catch (error) {
    failed(SYNTH, error);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * `terraform plan` from scratch (no state) of BENCH_PLAN_APPS apps (default 100) with the hierarchy, BENCH_RUNS times
 * (default 3; the median) after an untimed `terraform init` from the toolchain's provider mirror; goal ≤ 5 s. From scratch no resource is read and
 * each volume's `data "external"` waits for its volume, so the plan asks the engine nothing but the docker
 * provider's ping and version: the stack's engine is a stand-in that answers only those (bench/support/ping-only-engine.js), and
 * the benchmark fails when the plan asked it anything else. The shared engine is never touched.
 */
export function planAtScale(): void {
  console.log(`\n# ${PLAN} (bench/scale.ts)`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-bench-plan-'));
  const socket = path.join(work, 'engine.sock');
  const requests = path.join(work, 'engine-requests.log');
  const engine = spawn(process.execPath, [path.join(__dirname, 'support', 'ping-only-engine.js'), socket, requests], { stdio: 'ignore' });
  try {
    const [apps] = counts('BENCH_PLAN_APPS', '100');
    const env = toolchainEnv();
    const sources = prepareSources(work, apps);
    const synth = synthApps(work, sources, apps, { ...process.env, BENCH_SCALE_DOCKER_HOST: `unix://${socket}` });
    if (!fs.existsSync(socket)) throw new Error(`the stand-in engine did not listen on ${socket}`);
    const dir = path.join(synth.outdir, 'stacks', SCALE_STACK);
    must('terraform', ['init', '-input=false', '-no-color'], { cwd: dir, env });
    const plans = Array.from({ length: runCount(3) }, () => must('terraform', ['plan', '-input=false', '-no-color', '-lock=false', '-out=plan.out'], { cwd: dir, env }));
    const plan = plans[plans.length - 1];
    const asked = fs.readFileSync(requests, 'utf8').split('\n').filter((line) => line && !/\/(_ping|version)$/.test(line));
    if (asked.length > 0) throw new Error(`the plan asked the engine more than its ping and version: ${asked.slice(0, 5).join('; ')}`);
    const summary = /Plan: (\d+) to add, (\d+) to change, (\d+) to destroy/.exec(plan.stdout);
    console.log(
      `  ${apps} apps: ${synth.resources} resources (${((synth.resources - IMAGES) / apps).toFixed(1)} per app beside ${IMAGES} images) and ` +
        `${synth.dataSources} data sources (${(synth.dataSources / apps).toFixed(1)} per app); plan: ${summary ? `${summary[1]} to add` : 'no summary line'}`,
    );
    console.log(`  terraform plan: ${describeSamples(plans.map((p) => p.ms))}`);
    verdict(PLAN, `terraform plan from scratch, ${apps} apps (median of ${plans.length}; -parallelism 10, the default)`, median(plans.map((p) => p.ms)) / 1000, { max: PLAN_GOAL_MS / 1000 }, ' s');
  } catch (error) {
    failed(PLAN, error);
  } finally {
    engine.kill();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const which = process.argv.slice(2);
  if (which.length === 0 || which.includes('synth')) synthAtScale();
  if (which.length === 0 || which.includes('plan')) planAtScale();
}
