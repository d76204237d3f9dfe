/**
 * `npm run bench`: every benchmark, with numbers and ratios against their goals ("met" / "NOT met"; a missed goal
 * never fails the run, a measurement that could not be taken does, after the others have run).
 *
 *   npm run bench                      synth, then on one deployment: no-op redeploy, rebuild precision, app ready,
 *                                      deploy downtime, then the router added (overhead, redeploys); then hosts, replicas
 *   npm run bench -- synth ready       only those (synth, scale, plan, noop, rebuild, ready, downtime, router, hosts, replicas, cold)
 *   npm run bench -- scale plan        synth of 100 and 400 apps in one stack; `terraform plan` of 100 apps (bench/scale.ts)
 *   npm run bench -- hosts             the same apps deployed across two hosts (a registry, host B over SSH) / one
 *   npm run bench -- replicas          node on A and B behind two routers: rolling releases, B frozen, delivery time
 *   BENCH_COLD=1 npm run bench         adds the cold build (two full builds without cache: slow)
 *
 * Environment: BENCH_RUNS (timed runs per measurement), BENCH_KEEP=1 (keep the deployment and print its folder),
 * BENCH_WORK=<folder> (measure against a kept deployment), BENCH_LANGUAGES (apps to deploy, default all),
 * BENCH_READY_LANGUAGES (samples timed by the app ready benchmark, default node,java), BENCH_COLD_RUNS,
 * BENCH_COLD_PARALLELISM, BENCH_ROUTER_REQUESTS (requests each way of the router's latency, default 1000),
 * MODULUS_ROOT_IMAGE (default modulus/root:bookworm), BENCH_SCALE_APPS (app counts of the synth at scale, default
 * 100,400), BENCH_PLAN_APPS (apps of the plan at scale, default 100), BENCH_REPLICA_RELEASES (rolling releases of the
 * replicas benchmark, default 5).
 * Needs the toolchain (scripts/toolchain/setup.sh) for everything but synth and scale.
 */
import * as path from 'path';
import { coldBuild } from './cold';
import { twoHostsAgainstOne } from './hosts';
import { replicaBenchmarks } from './replicas';
import { sourceChangeDowntime } from './downtime';
import { noopRedeploy } from './noop';
import { appReadyTime } from './ready';
import { rebuildPrecision } from './rebuild';
import { routerBenchmarks } from './router';
import { planAtScale, synthAtScale } from './scale';
import { synthCli } from './synth-cli';
import { Language } from '../lib/standard-images';
import { benchLanguages } from './support/app';
import { cdktf, Checkout, prepareCheckout, teardown } from './support/deployment';
import { failed, formatMs, must, record, REPO_ROOT, summarize } from './support/measure';

const ALL = ['synth', 'scale', 'plan', 'noop', 'rebuild', 'ready', 'downtime', 'router', 'hosts', 'replicas', 'cold'] as const;
type Benchmark = (typeof ALL)[number];

function selected(): Set<Benchmark> {
  const args = process.argv.slice(2);
  for (const arg of args) {
    if (!(ALL as readonly string[]).includes(arg)) throw new Error(`unknown benchmark "${arg}"; choose from ${ALL.join(', ')}`);
  }
  const chosen = new Set<Benchmark>(args.length > 0 ? (args as Benchmark[]) : ALL.filter((b) => b !== 'cold'));
  if (process.env.BENCH_COLD === '1') chosen.add('cold');
  return chosen;
}

/**
 * Deploys images and the benchmark apps in a copy. `stacks`: what deployed completely (apps may fail while images
 * work); `created`: what to destroy afterwards (a failed apps deploy may have created part of its resources).
 */
function deploy(): { checkout: Checkout; stacks: string[]; created: string[] } {
  const checkout = prepareCheckout('deployed', 'modulus-bench/');
  console.log(`\n# deployment (copy in ${checkout.work}, images modulus-bench/*, apps bench-{${benchLanguages().join(',')}})`);
  let images;
  try {
    images = cdktf(checkout, ['deploy', 'images', '--auto-approve']);
  } catch (error) {
    teardown(checkout, ['images']);
    throw error;
  }
  console.log(`  cdktf deploy images: ${formatMs(images.ms)}`);
  try {
    const apps = cdktf(checkout, ['deploy', 'images', 'apps', '--auto-approve']);
    console.log(`  cdktf deploy images apps (images unchanged): ${formatMs(apps.ms)}`);
    return { checkout, stacks: ['images', 'apps'], created: ['apps', 'images'] };
  } catch (error) {
    failed('deployment of the apps stack', error);
    return { checkout, stacks: ['images'], created: ['apps', 'images'] };
  }
}

/** The samples whose ready time is measured: BENCH_READY_LANGUAGES, default node and java (deployed ones only). */
function readyLanguages(): Language[] {
  const wanted = (process.env.BENCH_READY_LANGUAGES ?? 'node,java').split(',').filter(Boolean);
  return benchLanguages().filter((language) => wanted.includes(language));
}

async function main(): Promise<void> {
  const chosen = selected();
  console.log(`modulus-images benchmarks, ${new Date().toISOString()}, ${require('os').cpus().length} cores; ${[...chosen].join(', ')}`);
  if (chosen.has('synth')) {
    console.log('\n# synth (bench/synth.ts)');
    try {
      const out = must('npx', ['ts-node', path.join('bench', 'synth.ts')], { cwd: REPO_ROOT }).stdout;
      process.stdout.write(out.replace(/^/gm, '  '));
      const full = /^synth full hierarchy\s*:\s*([\d.]+ ms)/m.exec(out);
      const one = /^synth one-resource app\s*:\s*([\d.]+ ms) \(median of (\d+)\)/m.exec(out);
      const ratio = /^ratio\s*:\s*([\d.]+) \(goal ≤ ([\d.]+)\) (met|NOT met)/m.exec(out);
      if (!full || !one || !ratio) throw new Error(`unexpected output of bench/synth.ts:\n${out}`);
      record({
        benchmark: 'synth',
        measure: `full hierarchy / one-resource app (${full[1]} / ${one[1]}, medians of ${one[2]})`,
        value: `${ratio[1]}×`,
        goal: `≤ ${ratio[2]}×`,
        met: ratio[3] === 'met',
      });
    } catch (error) {
      failed('synth', error);
    }
    synthCli();
  }
  if (chosen.has('scale')) synthAtScale();
  if (chosen.has('plan')) planAtScale();
  if (chosen.has('noop') || chosen.has('rebuild') || chosen.has('ready') || chosen.has('downtime') || chosen.has('router')) {
    let deployment: ReturnType<typeof deploy> | undefined;
    try {
      deployment = deploy();
      if (chosen.has('noop')) noopRedeploy(deployment.checkout, deployment.stacks);
      if (chosen.has('rebuild')) rebuildPrecision(deployment.checkout);
      // A failed apps deploy may still have started some apps: measure those that answer.
      if (chosen.has('ready')) await appReadyTime(readyLanguages());
      if (chosen.has('downtime') && benchLanguages().includes('node')) await sourceChangeDowntime(deployment.checkout);
      // Last: it adds the router to the deployment, which the ones above measure without.
      if (chosen.has('router') && benchLanguages().includes('node')) await routerBenchmarks(deployment.checkout);
    } catch (error) {
      failed('deployment', error);
    } finally {
      if (deployment) teardown(deployment.checkout, deployment.created);
    }
  }
  if (chosen.has('hosts')) await twoHostsAgainstOne();
  if (chosen.has('replicas')) await replicaBenchmarks();
  if (chosen.has('cold')) coldBuild();
  summarize();
}

main().catch((error) => {
  failed('bench', error);
  summarize();
});
