/**
 * One synth at scale, run by bench/scale.ts in a process of its own (so that its peak memory is its own):
 * `ts-node bench/support/scale-app.ts <apps> <outdir> <sources>` synthesizes one ModulusStack holding the standard
 * image hierarchy and <apps> ModulusApps (languages in turn, ports from 20000, the ContainerSecurityPolicy as the
 * apps stack has it), each app from its own folder <sources>/app-<i> (bench/scale.ts prepares them), and prints
 * one line of JSON: the time of constructing the apps and synthesizing (module loading and a warm-up synth
 * excluded), the process's peak RSS, the heap the constructs keep (measured after a full garbage collection once
 * they are built, before synth) and the size of cdk.tf.json.
 *
 * BENCH_SCALE_DOCKER_HOST sets the stack's docker host (the plan benchmark points it at no engine).
 */
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as v8 from 'v8';
import { runInNewContext } from 'vm';
import { App, Aspects } from 'cdktf';
import { ModulusApp } from '../../lib/app';
import { ContainerSecurityPolicy } from '../../lib/container-policy';
import { ImageHierarchy } from '../../lib/image-hierarchy';
import { ModulusStack } from '../../lib/modulus-stack';
import { LANGUAGES } from '../../lib/standard-images';

export const SCALE_STACK = 'scale';

function synth(apps: number, outdir: string, sources: string, onBuilt: () => void = () => undefined): void {
  // As main.ts: cdktf's own validations run `terraform version` per null_resource.
  const app = new App({ outdir, skipValidation: true });
  const stack = new ModulusStack(app, SCALE_STACK, { dockerHost: process.env.BENCH_SCALE_DOCKER_HOST || undefined });
  const images = new ImageHierarchy(stack, 'Hierarchy', { rootImage: 'modulus/root:bookworm' });
  for (let i = 0; i < apps; i++) {
    const language = LANGUAGES[i % LANGUAGES.length];
    new ModulusApp(stack, `app-${i}`, {
      appName: `app-${i}`,
      language,
      source: path.join(sources, `app-${i}`),
      images,
      environment: { MODULUS_SAMPLE: language },
      run: { port: 20000 + i },
    });
  }
  Aspects.of(stack).add(new ContainerSecurityPolicy());
  onBuilt();
  app.synth();
}

function main(): void {
  const [appsArg, outdir, sources] = process.argv.slice(2);
  const apps = Number(appsArg);
  if (!Number.isInteger(apps) || apps < 0 || !outdir || !sources) throw new Error('usage: scale-app.ts <apps> <outdir> <sources>');
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Warm-up (JIT, lazily loaded modules): the hierarchy and a few apps, into a folder that is removed.
  const warm = `${outdir}.warm`;
  synth(Math.min(apps, 4), warm, sources);
  fs.rmSync(warm, { recursive: true, force: true });
  gc();
  const before = process.memoryUsage().heapUsed;
  let retained = 0;
  let paused = 0;
  const start = performance.now();
  synth(apps, outdir, sources, () => {
    // What the constructs keep (after a full collection, not counted in the time).
    const pause = performance.now();
    gc();
    retained = process.memoryUsage().heapUsed - before;
    paused = performance.now() - pause;
  });
  const ms = performance.now() - start - paused;
  const json = path.join(outdir, 'stacks', SCALE_STACK, 'cdk.tf.json');
  const config = JSON.parse(fs.readFileSync(json, 'utf8'));
  const count = (section: Record<string, Record<string, unknown>> | undefined) =>
    Object.values(section ?? {}).reduce((sum, byName) => sum + Object.keys(byName).length, 0);
  console.log(
    JSON.stringify({
      apps,
      ms,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      retainedHeapBytes: retained,
      jsonBytes: fs.statSync(json).size,
      resources: count(config.resource),
      dataSources: count(config.data),
    }),
  );
}

if (require.main === module) main();
