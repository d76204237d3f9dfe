import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeSamples, failed, formatMs, median, must, repeat, REPO_ROOT, runCount, verdict } from './support/measure';

const NAME = 'synth (cdktf CLI)';
const GOAL = 1.2;

/**
 * `cdktf synth` as a user runs it (`npm run synth`: a new process, ts-node compiling the app) of this project's
 * main.ts (images and apps stacks) versus the same command on a one-resource app (bench/support/one-resource.ts),
 * goal ratio ≤ 1.2. bench/synth.ts measures the in-process synth alone (module loading excluded).
 */
export function synthCli(): void {
  const runs = runCount(5);
  console.log(`\n# ${NAME}`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-bench-synth-'));
  try {
    const env = { ...process.env, CHECKPOINT_DISABLE: '1', DISABLE_VERSION_CHECK: 'true' };
    const synth = (app: string) => () =>
      must('npx', ['cdktf', 'synth', '--app', app, '--output', path.join(out, String(Math.random()).slice(2))], { cwd: REPO_ROOT, env }).ms;
    // The same command cdktf.json gives `cdktf synth`, for main.ts and for the one-resource app.
    const app: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdktf.json'), 'utf8')).app;
    const full = repeat(runs, 1, synth(app));
    const one = repeat(runs, 1, synth(app.replace(/main\.ts$/, 'bench/support/one-resource.ts')));
    console.log(`  cdktf synth, main.ts (images + apps stacks): ${describeSamples(full)}`);
    console.log(`  cdktf synth, one-resource app: ${describeSamples(one)}`);
    verdict(NAME, `main.ts / one-resource app (${formatMs(median(full))} / ${formatMs(median(one))}, medians of ${runs})`, median(full) / median(one), { max: GOAL }, '×');
  } catch (error) {
    failed(NAME, error);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
