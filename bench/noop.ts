import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cdktf, Checkout, planStatus, terraform } from './support/deployment';
import { describeSamples, failed, formatMs, median, must, repeat, runCount, verdict } from './support/measure';
import { PROVIDER_VERSIONS } from '../lib/modulus-stack';

const NAME = 'no-op redeploy';
const GOAL = 1.5;

/**
 * `terraform plan` of an initialised configuration: `main.tf` empty (the goal's baseline, the floor of any
 * Terraform run here), or only the docker provider block (what starting the provider adds, informational).
 */
function planSamples(env: NodeJS.ProcessEnv, runs: number, mainTf: string): number[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-bench-empty-'));
  try {
    fs.writeFileSync(path.join(dir, 'main.tf'), mainTf);
    must(env.TERRAFORM_BINARY_NAME!, ['init', '-input=false', '-no-color'], { cwd: dir, env });
    return repeat(runs, 1, () => must(env.TERRAFORM_BINARY_NAME!, ['plan', '-input=false', '-no-color'], { cwd: dir, env }).ms);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A redeploy that changes nothing, against `terraform plan` of an empty config (goal ≤ 1.5×), on a deployed
 * copy: first the plans must be empty (`terraform plan -detailed-exitcode` = 0), then `terraform apply
 * -auto-approve` of each stack and `cdktf deploy` of all stacks are timed. The goal is judged on `terraform apply`
 * of the images stack (Terraform's own no-op: refresh of every image plus an empty apply); cdktf deploy adds a
 * synth (a ts-node process) and a `terraform init` per stack, printed as well.
 */
export function noopRedeploy(checkout: Checkout, stacks: string[]): void {
  const runs = runCount(5);
  console.log(`\n# ${NAME} (stacks: ${stacks.join(', ')})`);
  try {
    for (const stack of stacks) {
      const plan = planStatus(checkout, stack);
      console.log(`  plan of ${stack}: terraform plan -detailed-exitcode = ${plan.status}`);
      verdict(NAME, `${stack}: planned changes after deploy (detailed exit code)`, plan.status, { equals: 0 }, '', plan.status === 0 ? undefined : plan.output.slice(-2000));
    }

    // The docker provider reads an image by listing every image of the engine, so their number matters.
    const engineImages = must('docker', ['images', '-q', '--all']).stdout.split('\n').filter(Boolean).length;
    console.log(`  images in the engine (shared with the other engineers' builds): ${engineImages}`);
    const empty = planSamples(checkout.env, runs, '');
    const floor = median(empty);
    console.log(`  terraform plan, empty config: ${describeSamples(empty)}`);
    const providerOnly = planSamples(checkout.env, runs, dockerProviderOnly(PROVIDER_VERSIONS.docker));
    console.log(`  terraform plan, only the docker provider configured (no resource): ${describeSamples(providerOnly)}`);
    console.log(`  (docker provider alone / empty plan: ${(median(providerOnly) / floor).toFixed(2)}×: starting the provider alone costs ${formatMs(median(providerOnly) - floor)})`);

    for (const stack of stacks) {
      const resources = countResources(checkout, stack);
      const applies = repeat(runs, 1, () => {
        const apply = terraform(checkout, stack, ['apply', '-auto-approve', '-input=false', '-no-color']);
        if (changed(apply.stdout)) {
          throw new Error(`terraform apply of ${stack} changed something:\n${apply.stdout.slice(-3000)}`);
        }
        return apply.ms;
      });
      const noRefresh = repeat(runs, 0, () => terraform(checkout, stack, ['plan', '-refresh=false', '-input=false', '-no-color']).ms);
      console.log(`  terraform apply -auto-approve, ${stack} (${resources} resources in state, no change): ${describeSamples(applies)}`);
      console.log(`  (terraform plan -refresh=false, ${stack}: ${describeSamples(noRefresh)}: the rest is refreshing the resources)`);
      verdict(NAME, `terraform apply ${stack} / empty plan (${formatMs(median(applies))} / ${formatMs(floor)}, ${runs} runs)`, median(applies) / floor, { max: GOAL }, '×');
      console.log(`  (terraform apply ${stack} / provider-only plan: ${(median(applies) / median(providerOnly)).toFixed(2)}×)`);
    }

    const deployRuns = Math.min(runs, 3);
    const deploys = repeat(deployRuns, 0, () => {
      const deploy = cdktf(checkout, ['deploy', ...stacks, '--auto-approve']);
      if (changed(deploy.stdout)) {
        throw new Error(`cdktf deploy changed something:\n${deploy.stdout.slice(-3000)}`);
      }
      return deploy.ms;
    });
    console.log(`  cdktf deploy ${stacks.join(' ')} --auto-approve (synth + init + plan/apply of each stack): ${describeSamples(deploys)}`);
    verdict(NAME, `cdktf deploy ${stacks.join('+')} / empty plan (${formatMs(median(deploys))} / ${formatMs(floor)}, ${deployRuns} runs)`, median(deploys) / floor, { max: GOAL }, '×', 'the command users run; includes synth and terraform init');
  } catch (error) {
    failed(NAME, error);
  }
}

function dockerProviderOnly(version: string): string {
  return [
    'terraform {',
    `  required_providers {\n    docker = {\n      source  = "kreuzwerker/docker"\n      version = "${version}"\n    }\n  }`,
    '}',
    'provider "docker" {\n  host = "unix:///var/run/docker.sock"\n}',
    '',
  ].join('\n');
}

/** Whether Terraform's output reports any resource added, changed or destroyed. */
function changed(output: string): boolean {
  return [...output.matchAll(/Resources: (\d+) added, (\d+) changed, (\d+) destroyed/g)].some((m) => m.slice(1).some((n) => n !== '0'));
}

function countResources(checkout: Checkout, stack: string): number {
  return terraform(checkout, stack, ['state', 'list']).stdout.split('\n').filter(Boolean).length;
}
