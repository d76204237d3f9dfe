import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { copyCheckout } from '../../harness/checkout';
import { must, REPO_ROOT, run, Run } from './measure';

/** The environment of scripts/toolchain/env.sh (Terraform 1.5.7 first on PATH, the mirror's CLI config). */
export function toolchainEnv(): NodeJS.ProcessEnv {
  const envScript = path.join(REPO_ROOT, 'scripts', 'toolchain', 'env.sh');
  const dump = must('bash', ['-c', `source "${envScript}" >/dev/null 2>&1 && env -0`]).stdout;
  const env: NodeJS.ProcessEnv = {};
  for (const entry of dump.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const terraform = env.TERRAFORM_BINARY_NAME;
  if (!terraform || !fs.existsSync(terraform) || !env.TF_CLI_CONFIG_FILE || !fs.existsSync(env.TF_CLI_CONFIG_FILE)) {
    throw new Error('the toolchain is not set up (no Terraform 1.5.7 or no CLI config): run `bash scripts/toolchain/setup.sh` first');
  }
  const version = must(terraform, ['version'], { env }).stdout;
  if (!/^Terraform v1\.5\.7\b/m.test(version)) throw new Error(`expected Terraform v1.5.7, found: ${version.split('\n')[0]}`);
  return env;
}

/** A copy of this checkout with its own cdktf app (bench/support/app.ts), state files, image prefix and volumes. */
export interface Checkout {
  work: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  prefix: string;
}

/**
 * Copies the checkout to a fresh folder under the temp dir (or reuses BENCH_WORK/checkout when it exists,
 * to measure against a deployment a previous run kept with BENCH_KEEP=1) and points its cdktf.json at the
 * benchmark app.
 */
export function prepareCheckout(name: string, prefix: string, extraEnv: Record<string, string> = {}): Checkout {
  const reuse = process.env.BENCH_WORK && name === 'deployed' ? process.env.BENCH_WORK : undefined;
  const work = reuse ?? fs.mkdtempSync(path.join(os.tmpdir(), `modulus-bench-${name}-`));
  const dir = path.join(work, 'checkout');
  if (!fs.existsSync(dir)) {
    copyCheckout(dir);
    const cdktfJson = JSON.parse(fs.readFileSync(path.join(dir, 'cdktf.json'), 'utf8'));
    cdktfJson.app = 'npx ts-node bench/support/app.ts';
    fs.writeFileSync(path.join(dir, 'cdktf.json'), `${JSON.stringify(cdktfJson, null, 2)}\n`);
  }
  const env: NodeJS.ProcessEnv = {
    ...toolchainEnv(),
    CI: '1',
    MODULUS_REPOSITORY_PREFIX: prefix,
    MODULUS_ROOT_IMAGE: process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm',
    MODULUS_NETWORK_MODE: 'host',
    MODULUS_VOLUME_ROOT: path.join(work, 'volumes'),
    ...extraEnv,
  };
  return { work, dir, env, prefix };
}

/** A copy running the product's main.ts (not the benchmark app), with its own image prefix, ports and volumes. */
export function mainCheckout(name: string, prefix: string, env: Record<string, string>): Checkout {
  const checkout = prepareCheckout(name, prefix, { MODULUS_VOLUME_REMOVAL: 'destroy', MODULUS_VOLUME_SIZE_MIB: '1024', ...env });
  const cdktfJson = path.join(checkout.dir, 'cdktf.json');
  fs.writeFileSync(cdktfJson, `${JSON.stringify({ ...JSON.parse(fs.readFileSync(cdktfJson, 'utf8')), app: 'npx ts-node --transpile-only main.ts' }, null, 2)}\n`);
  return checkout;
}

export function stackDir(checkout: Checkout, stack: string): string {
  return path.join(checkout.dir, 'cdktf.out', 'stacks', stack);
}

/** `scripts/toolchain/cdktf.sh <args> --no-color` in the copy (adds --skip-provider-lock), timed. */
export function cdktf(checkout: Checkout, args: string[], accept: readonly number[] = [0]): Run {
  return must('bash', [path.join(checkout.dir, 'scripts', 'toolchain', 'cdktf.sh'), ...args, '--no-color'], { cwd: checkout.dir, env: checkout.env }, accept);
}

/** Terraform 1.5.7 in a stack folder of the copy, timed; throws unless the exit status is accepted. */
export function terraform(checkout: Checkout, stack: string, args: string[], accept: readonly number[] = [0]): Run {
  return must(checkout.env.TERRAFORM_BINARY_NAME!, args, { cwd: stackDir(checkout, stack), env: checkout.env }, accept);
}

/** `terraform plan -detailed-exitcode` of a stack: 0 when it plans no change, 2 with changes (output attached). */
export function planStatus(checkout: Checkout, stack: string): { status: number; output: string } {
  const plan = terraform(checkout, stack, ['plan', '-input=false', '-no-color', '-lock=false', '-detailed-exitcode'], [0, 2]);
  return { status: plan.status!, output: plan.stdout };
}

/** Destroys what the copy deployed (apps first), removes the volumes left behind and the folder, unless BENCH_KEEP=1. */
export function teardown(checkout: Checkout, stacks: string[]): void {
  if (process.env.BENCH_KEEP === '1') {
    console.log(`BENCH_KEEP=1: left the deployment in ${checkout.work} (rerun with BENCH_WORK=${checkout.work})`);
    return;
  }
  if (stacks.length === 0) {
    fs.rmSync(checkout.work, { recursive: true, force: true });
    return;
  }
  const destroyOnce = () =>
    run('bash', [path.join(checkout.dir, 'scripts', 'toolchain', 'cdktf.sh'), 'destroy', ...stacks, '--auto-approve', '--no-color'], {
      cwd: checkout.dir,
      env: checkout.env,
    });
  let destroy = destroyOnce();
  if (destroy.status !== 0) {
    console.error(`cdktf destroy ${stacks.join(' ')} exited ${destroy.status}; trying once more:\n${destroy.stdout.slice(-2000)}`);
    destroy = destroyOnce();
  }
  if (destroy.status !== 0) {
    console.error(`cdktf destroy ${stacks.join(' ')} in ${checkout.dir} exited ${destroy.status}; the folder is kept:\n${destroy.stdout.slice(-3000)}\n${destroy.stderr.slice(-2000)}`);
    return;
  }
  const volumes = path.join(checkout.work, 'volumes');
  if (fs.existsSync(volumes)) {
    for (const app of fs.readdirSync(volumes)) {
      const env = { ...checkout.env, MODULUS_APP: app, MODULUS_ROOT: path.join(volumes, app) };
      run('bash', ['-c', 'MODULUS_REMOVAL_POLICY=destroy bash scripts/volume/modulus-volume.sh set-policy; bash scripts/volume/modulus-volume.sh destroy'], {
        cwd: checkout.dir,
        env,
      });
    }
  }
  fs.rmSync(checkout.work, { recursive: true, force: true });
}
