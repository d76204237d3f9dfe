#!/usr/bin/env node
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { combineSummaries, planComment, ReplacedImage, replacedImages, StackSummary, summarizePlan, volumeLosses } from './plan-summary';
import { orderStacks } from './stack-order';

/**
 * `modulus-plan` (the package's binary) or `npm run plan` (in this repository), in a cdktf project's folder:
 * synthesizes (`npx cdktf synth`: the project's cdktf CLI), plans every stack with Terraform against its real
 * state and the real Docker engine(s), read-only (`-lock=false`: a plan never writes state, and never waits for a deploy), and writes
 * plan/<stack>.md (one stack's summary), plan/summary.md (all of them), plan/plan.txt (the full plan text) and
 * plan/comment.md (what the pull-request workflow posts: the summary, then the full plan folded and cut to fit a
 * GitHub comment). Needs terraform on PATH with its providers reachable (source scripts/toolchain/env.sh offline)
 * and, with MODULUS_STATE=pg, PG_CONN_STR. Exits 1 when a terraform run fails or dies of a signal (then with one
 * line naming the stack), except a plan of a stack whose upstream stacks were never applied, which is reported in
 * its summary.
 */
// The project: the folder it runs in (npm runs scripts in the package's folder).
const root = process.cwd();
const outdir = path.join(root, 'cdktf.out');
const reportDir = path.join(root, 'plan');

function run(command: string, args: string[], cwd: string): string {
  console.error(`[plan] ${path.relative(root, cwd) || '.'}: ${command} ${args.join(' ')}`);
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 << 20 });
}

/**
 * Runs terraform for one stack. A terraform that died of a signal (killed, out of memory, cancelled) ends the whole
 * plan here with exit status 1 and one line naming the stack, whatever the caller would make of a failure: a plan
 * that did not finish must never pass for one that failed in a way it may ignore (a stack waiting for another's
 * outputs, below) nor for a backend that cannot be used.
 */
function terraform(stack: string, args: string[], cwd: string): string {
  try {
    return run('terraform', args, cwd);
  } catch (error) {
    const signal = (error as { signal?: NodeJS.Signals | null }).signal;
    if (signal) {
      console.error(`[plan] stack '${stack}': terraform ${args[0]} did not finish (killed by ${signal}); nothing after it was planned.`);
      // process.exit skips the callers' `finally`: the saved plan (every variable's value) goes here.
      fs.rmSync(path.join(cwd, 'plan.tfplan'), { force: true });
      process.exit(1);
    }
    throw error;
  }
}

run('npx', ['cdktf', 'synth'], root);
// From here on every file Terraform writes is its owner's alone: plan.tfplan holds every variable's value, and the
// state files their secrets (ModulusStack also makes them 0600 at synth). Not before the synth: cdktf.out's
// image build contexts keep the mode they are written with, and Docker copies it into the images.
process.umask(0o077);
const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
fs.mkdirSync(reportDir, { recursive: true });
const summaries: StackSummary[] = [];
// Plan in dependency order so a stack that reads another's outputs finds its state.
const stacks = orderStacks(Object.values<any>(manifest.stacks));
const upstreamImages: ReplacedImage[] = [];
const texts: { stack: string; text: string }[] = [];
for (const stack of stacks) {
  const cwd = path.join(outdir, stack.workingDirectory);
  try {
    terraform(stack.name, ['init', '-input=false', '-no-color'], cwd);
  } catch {
    const config = JSON.parse(fs.readFileSync(path.join(outdir, stack.synthesizedStackPath), 'utf8'));
    const backend = Object.keys(config.terraform?.backend ?? { local: {} })[0];
    console.error(
      `[plan] stack ${stack.name}: terraform init failed: its state backend "${backend}"` +
        (backend === 'pg' ? ' (PostgreSQL, connection string from PG_CONN_STR)' : '') +
        ' could not be used; see terraform\'s error above. Nothing was planned or changed.',
    );
    process.exit(1);
  }
  let summary: string;
  let losses = 0;
  try {
    terraform(stack.name, ['plan', '-input=false', '-no-color', '-lock=false', '-out=plan.tfplan'], cwd);
    const plan = JSON.parse(terraform(stack.name, ['show', '-json', 'plan.tfplan'], cwd));
    texts.push({ stack: stack.name, text: terraform(stack.name, ['show', '-no-color', 'plan.tfplan'], cwd) });
    summary = summarizePlan(stack.name, plan, upstreamImages);
    losses = volumeLosses(plan).length;
    upstreamImages.push(...replacedImages(stack.name, plan));
  } catch (error) {
    // A stack that reads another stack's outputs cannot be planned before that stack is applied once.
    if (stack.dependencies.length === 0) throw error;
    summary =
      `## Plan for stack \`${stack.name}\`\n\nNot planned: it reads outputs of ${stack.dependencies.map((d: string) => `\`${d}\``).join(', ')}, ` +
      'which must be applied first (see the terraform error above).\n';
  } finally {
    // A saved plan holds every variable's value, sensitive ones included (registry password, SSH keys).
    fs.rmSync(path.join(cwd, 'plan.tfplan'), { force: true });
  }
  fs.writeFileSync(path.join(reportDir, `${stack.name}.md`), summary);
  summaries.push({ stack: stack.name, markdown: summary, volumeLosses: losses });
}
const combined = combineSummaries(summaries);
fs.writeFileSync(path.join(reportDir, 'summary.md'), combined);
fs.writeFileSync(path.join(reportDir, 'plan.txt'), texts.map(({ stack, text }) => `### ${stack}\n\n${text}`).join('\n'));
fs.writeFileSync(path.join(reportDir, 'comment.md'), planComment(combined, texts));
process.stdout.write(combined);
