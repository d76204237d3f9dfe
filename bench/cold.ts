import * as fs from 'fs';
import * as path from 'path';
import { PARENT_BUILD_ARG, STANDARD_IMAGES } from '../lib/standard-images';
import { cdktf, Checkout, prepareCheckout, stackDir, teardown, terraform } from './support/deployment';
import { failed, formatMs, median, must, run, verdict } from './support/measure';

const NAME = 'cold build';
const GOAL = 1.1;
const TF_PREFIX = 'modulus-bench-cold/';
const PLAIN_PREFIX = 'modulus-bench-plain/';

interface Interval {
  image: string;
  start: number;
  end: number;
}

/** Names of the images stack's docker_image resources by address, from the synthesized JSON. */
function imageAddresses(checkout: Checkout): Map<string, string> {
  const json = JSON.parse(fs.readFileSync(path.join(stackDir(checkout, 'images'), 'cdk.tf.json'), 'utf8'));
  const images = json.resource.docker_image as Record<string, { name: string; build: { no_cache?: boolean } }>;
  const byAddress = new Map<string, string>();
  for (const [id, image] of Object.entries(images)) {
    if (image.build.no_cache !== true) throw new Error(`docker_image.${id} is not built with no_cache = true`);
    byAddress.set(`docker_image.${id}`, image.name.replace(TF_PREFIX, '').replace(/:latest$/, ''));
  }
  return byAddress;
}

/** Per-image build intervals from `terraform apply -json` (apply_start / apply_complete events). */
function buildIntervals(jsonLines: string, addresses: Map<string, string>): Interval[] {
  const starts = new Map<string, number>();
  const intervals: Interval[] = [];
  for (const line of jsonLines.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line);
    const address: string | undefined = event.hook?.resource?.addr;
    if (!address || !addresses.has(address)) continue;
    const time = Date.parse(event['@timestamp']);
    if (event.type === 'apply_start') starts.set(address, time);
    if (event.type === 'apply_complete') intervals.push({ image: addresses.get(address)!, start: starts.get(address)!, end: time });
    if (event.type === 'apply_errored') throw new Error(`terraform failed to build ${addresses.get(address)}: ${line}`);
  }
  return intervals.sort((a, b) => a.start - b.start);
}

/** Largest number of builds running at once, and which ran at that moment. */
function peakConcurrency(intervals: Interval[]): { peak: number; images: string[] } {
  let best = { peak: 0, images: [] as string[] };
  for (const { start } of intervals) {
    const running = intervals.filter((i) => i.start <= start && i.end > start);
    if (running.length > best.peak) best = { peak: running.length, images: running.map((i) => i.image) };
  }
  return best;
}

/** Which builder made an image: BuildKit leaves `buildkit.dockerfile.v0` in the history comments. */
function builderOf(ref: string): string {
  const comments = must('docker', ['history', '--no-trunc', '--format', '{{.Comment}}', ref]).stdout;
  return comments.includes('buildkit.dockerfile.v0') ? 'BuildKit' : 'legacy builder';
}

/**
 * Proof that a build did not come from a cache: every history entry the image's own Dockerfile added (those above
 * its parent's) was created after `since` (ms since the epoch; history times have whole seconds).
 */
function assertBuiltSince(ref: string, parentRef: string, since: number): void {
  const history = (image: string) => must('docker', ['history', '--format', '{{.CreatedAt}}', image]).stdout.split('\n').filter(Boolean);
  const own = history(ref).slice(0, history(ref).length - history(parentRef).length);
  const stale = own.filter((created) => Date.parse(created) < since - 1000);
  if (own.length === 0 || stale.length > 0) throw new Error(`${ref} has ${stale.length} of ${own.length} layers from before the build: a cache was used`);
}

function removeImages(prefix: string): void {
  const refs = run('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${prefix}*`]).stdout.split('\n').filter(Boolean);
  // Only our own prefix: the shared modulus/* images are the layer cache of everyone else.
  if (refs.some((ref) => !ref.startsWith(prefix))) throw new Error(`refusing to remove ${refs.join(' ')}`);
  if (refs.length > 0) run('docker', ['rmi', ...refs]);
}

/** The whole tree through Terraform (`terraform apply` of the images stack, every docker_image with no_cache). */
function terraformColdBuild(parallelism: number | undefined): { ms: number; intervals: Interval[]; builder: string } {
  const checkout = prepareCheckout('cold', TF_PREFIX, { BENCH_NO_CACHE: '1', BENCH_LANGUAGES: 'node' });
  try {
    removeImages(TF_PREFIX);
    cdktf(checkout, ['synth']);
    const addresses = imageAddresses(checkout);
    terraform(checkout, 'images', ['init', '-input=false', '-no-color']);
    const flags = parallelism === undefined ? [] : [`-parallelism=${parallelism}`];
    console.log(`  terraform apply ${flags.join(' ')} (cold, ${addresses.size} images) …`);
    const since = Date.now();
    const apply = terraform(checkout, 'images', ['apply', '-auto-approve', '-input=false', '-json', ...flags]);
    const intervals = buildIntervals(apply.stdout, addresses);
    if (intervals.length !== addresses.size) throw new Error(`expected ${addresses.size} image builds in the apply, saw ${intervals.length}`);
    for (const { name, parent } of STANDARD_IMAGES) {
      assertBuiltSince(`${TF_PREFIX}${name}:latest`, parent ? `${TF_PREFIX}${parent}:latest` : checkout.env.MODULUS_ROOT_IMAGE!, since);
    }
    const builder = builderOf(`${TF_PREFIX}run-node:latest`);
    terraform(checkout, 'images', ['destroy', '-auto-approve', '-input=false', '-no-color']);
    return { ms: apply.ms, intervals, builder };
  } finally {
    teardown(checkout, []);
    removeImages(TF_PREFIX);
  }
}

/** The same Dockerfiles with `docker build --no-cache`, one after another, parents first, same build args and labels. */
function plainColdBuild(): { ms: number; perImage: Record<string, number>; builder: string } {
  const checkout = prepareCheckout('plain', PLAIN_PREFIX);
  try {
    removeImages(PLAIN_PREFIX);
    const perImage: Record<string, number> = {};
    let total = 0;
    const since = Date.now();
    // STANDARD_IMAGES lists parents before children.
    for (const { name, parent } of STANDARD_IMAGES) {
      const parentRef = parent ? `${PLAIN_PREFIX}${parent}:latest` : checkout.env.MODULUS_ROOT_IMAGE!;
      const build = must('docker', [
        'build', '--no-cache', '--network', 'host', '--build-arg', `${PARENT_BUILD_ARG}=${parentRef}`, '--label', `org.modulus.image=${name}`,
        '-t', `${PLAIN_PREFIX}${name}:latest`, path.join(checkout.dir, 'images', name),
      ], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
      perImage[name] = build.ms;
      total += build.ms;
      console.log(`  docker build --no-cache ${name}: ${formatMs(build.ms)}`);
    }
    for (const { name, parent } of STANDARD_IMAGES) {
      assertBuiltSince(`${PLAIN_PREFIX}${name}:latest`, parent ? `${PLAIN_PREFIX}${parent}:latest` : checkout.env.MODULUS_ROOT_IMAGE!, since);
    }
    return { ms: total, perImage, builder: builderOf(`${PLAIN_PREFIX}run-node:latest`) };
  } finally {
    teardown(checkout, []);
    removeImages(PLAIN_PREFIX);
  }
}

/**
 * Cold build of the whole tree through Terraform versus a plain `docker build --no-cache` sequence of the same
 * Dockerfiles (goal ratio ≤ 1.1). Opt-in (BENCH_COLD=1): full builds without cache, BENCH_COLD_RUNS times
 * (default 1), each run Terraform first, then the sequence. Terraform's images get `no_cache = true` through an
 * override in bench/support/app.ts (the constructs have no option for it) and their own repository prefix; each
 * run checks from the image histories that no layer predates it. BENCH_COLD_PARALLELISM=N passes
 * `-parallelism=N` (1: one build at a time, to separate the gain of parallel branches from the builder's).
 * Builders differ and cannot be matched here: the provider always builds through the engine's BuildKit (its
 * "legacy" path too opens a BuildKit session on an engine that supports one), while the docker CLI 28 here has no
 * buildx plugin and builds with the legacy builder (DOCKER_BUILDKIT=1 would need buildx).
 */
export function coldBuild(): void {
  const runs = Number(process.env.BENCH_COLD_RUNS ?? 1);
  const parallelism = process.env.BENCH_COLD_PARALLELISM ? Number(process.env.BENCH_COLD_PARALLELISM) : undefined;
  console.log(`\n# ${NAME} (opt-in: BENCH_COLD=1; ${runs} run(s), Terraform first${parallelism ? `, -parallelism=${parallelism}` : ''})`);
  try {
    const tfTimes: number[] = [];
    const plainTimes: number[] = [];
    const peaks: number[] = [];
    let builders = '';
    for (let r = 0; r < runs; r++) {
      const tf = terraformColdBuild(parallelism);
      for (const i of tf.intervals) console.log(`  terraform: ${i.image.padEnd(14)} ${formatMs(i.end - i.start).padStart(8)} (from +${formatMs(i.start - tf.intervals[0].start)})`);
      const peak = peakConcurrency(tf.intervals);
      console.log(`  terraform apply total: ${formatMs(tf.ms)} (${tf.builder}); peak ${peak.peak} builds at once: ${peak.images.join(', ')}`);
      const plain = plainColdBuild();
      console.log(`  docker build sequence total: ${formatMs(plain.ms)} (${plain.builder})`);
      console.log(`  run ${r + 1}: ratio ${(tf.ms / plain.ms).toFixed(2)}`);
      tfTimes.push(tf.ms);
      plainTimes.push(plain.ms);
      peaks.push(peak.peak);
      builders = `${tf.builder} vs ${plain.builder}`;
    }
    const tf = median(tfTimes);
    const plain = median(plainTimes);
    const peak = Math.max(...peaks);
    verdict(NAME, `terraform apply${parallelism ? ` -parallelism=${parallelism}` : ''} / docker build sequence (${formatMs(tf)} / ${formatMs(plain)}, medians of ${runs}; ${builders})`, tf / plain, { max: GOAL }, '×',
      peak > 1 ? `independent branches built in parallel: up to ${peak} at once` : 'one build at a time');
  } catch (error) {
    failed(NAME, error);
  }
}
