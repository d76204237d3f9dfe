import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { combineSummaries, StackSummary, summarizePlan, volumeLosses } from './plan-summary';
import { orderStacks } from './stack-order';

/**
 * `npm run plan`: synthesizes, plans every stack with Terraform and writes a Markdown summary per stack to
 * plan/<stack>.md (and all of them to plan/summary.md, which the pull-request workflow posts).
 * Needs terraform on PATH with its providers reachable (source scripts/toolchain/env.sh offline).
 */
const root = path.join(__dirname, '..');
const outdir = path.join(root, 'cdktf.out');
const reportDir = path.join(root, 'plan');

function run(command: string, args: string[], cwd: string): string {
  console.error(`[plan] ${path.relative(root, cwd) || '.'}: ${command} ${args.join(' ')}`);
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 << 20 });
}

run('npx', ['cdktf', 'synth'], root);
const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
fs.mkdirSync(reportDir, { recursive: true });
const summaries: StackSummary[] = [];
// Plan in dependency order so a stack that reads another's outputs finds its state.
const stacks = orderStacks(Object.values<any>(manifest.stacks));
for (const stack of stacks) {
  const cwd = path.join(outdir, stack.workingDirectory);
  run('terraform', ['init', '-input=false', '-no-color'], cwd);
  let summary: string;
  let losses = 0;
  try {
    run('terraform', ['plan', '-input=false', '-no-color', '-lock=false', '-out=plan.tfplan'], cwd);
    const plan = JSON.parse(run('terraform', ['show', '-json', 'plan.tfplan'], cwd));
    summary = summarizePlan(stack.name, plan);
    losses = volumeLosses(plan).length;
  } catch (error) {
    // A stack that reads another stack's outputs cannot be planned before that stack is applied once.
    if (stack.dependencies.length === 0) throw error;
    summary =
      `## Plan for stack \`${stack.name}\`\n\nNot planned: it reads outputs of ${stack.dependencies.map((d: string) => `\`${d}\``).join(', ')}, ` +
      'which must be applied first (see the terraform error above).\n';
  }
  fs.writeFileSync(path.join(reportDir, `${stack.name}.md`), summary);
  summaries.push({ stack: stack.name, markdown: summary, volumeLosses: losses });
}
const combined = combineSummaries(summaries);
fs.writeFileSync(path.join(reportDir, 'summary.md'), combined);
process.stdout.write(combined);
