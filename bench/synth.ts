import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { Image } from '@cdktf/provider-docker/lib/image';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { App, TerraformStack } from 'cdktf';
import { ImagesStack } from '../stacks/images-stack';

/**
 * In-process synth of the full image hierarchy versus a one-resource cdktf app (goal: ratio ≤ 1.2).
 * Both run `RUNS` times after a warm-up; the median is reported, so module loading is not counted.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function time(synth: (outdir: string) => void): number {
  const samples: number[] = [];
  for (let run = -2; run < RUNS; run++) {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-bench-'));
    const start = performance.now();
    synth(outdir);
    const elapsed = performance.now() - start;
    fs.rmSync(outdir, { recursive: true, force: true });
    if (run >= 0) samples.push(elapsed);
  }
  return median(samples);
}

const oneResource = time((outdir) => {
  const app = new App({ outdir });
  const stack = new TerraformStack(app, 'one');
  new DockerProvider(stack, 'docker', {});
  new Image(stack, 'image', { name: 'debian:bookworm-slim' });
  app.synth();
});

const hierarchy = time((outdir) => {
  const app = new App({ outdir });
  new ImagesStack(app, 'images');
  app.synth();
});

const ratio = hierarchy / oneResource;
console.log(`synth one-resource app : ${oneResource.toFixed(1)} ms (median of ${RUNS})`);
console.log(`synth full hierarchy   : ${hierarchy.toFixed(1)} ms (median of ${RUNS})`);
console.log(`ratio                  : ${ratio.toFixed(2)} (goal ≤ 1.20) ${ratio <= 1.2 ? 'met' : 'NOT met'}`);
