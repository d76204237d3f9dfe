import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { copyCheckout } from '../../harness/checkout';
import { freePort } from '../../harness/ports';
import { Postgres, startPostgres } from './support/postgres';
import { bash, docker, ok, REPO_ROOT, Run, waitFor } from '../../harness/shell';

/**
 * Shared Terraform state in a real PostgreSQL (Debian's package, started here as a non-root user on a free port
 * of 127.0.0.1): two checkouts of a small two-stack app (support/pg-app.ts: images pg-base -> pg-leaf, and apps
 * with one container running pg-leaf through a cross-stack reference) deploy and plan against the same state,
 * with real Terraform applies on the real engine. Needs scripts/toolchain/setup.sh to have run.
 */
jest.setTimeout(10 * 60_000);

const ENV_SH = path.join(REPO_ROOT, 'scripts/toolchain/env.sh');
const ROOT_IMAGE = process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm';
// Names of our own on the shared engine and in the database: nothing here touches anyone else's images or state.
const PREFIX = `modulus-pg-e2e-${process.pid}/`;
const CONTAINER = `modulus-pg-e2e-${process.pid}-leaf`;
const SCHEMA_PREFIX = `e2e_${process.pid}_`;
const STACKS = ['images', 'apps'] as const;
/** The test app, run as cdktf.json runs main.ts (through the TypeScript loader of the checkout). */
const PG_APP = 'node --require ./scripts/typescript-loader.js __tests__/e2e/support/pg-app.ts';
type Stack = (typeof STACKS)[number];

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-pg-'));
const main = path.join(work, 'main');
const review = path.join(work, 'review');
let pg: Postgres;
const running = new Set<ChildProcess>();
/** The terraform_data `step` of the apps stack: its trigger as last deployed, and how long creating it sleeps. */
let step = { E2E_STEP: 'deploy', E2E_STEP_SECONDS: '0' };

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  ENV_SH,
  MODULUS_STATE: 'pg',
  PG_CONN_STR: pg.connStr,
  MODULUS_STATE_SCHEMA_PREFIX: SCHEMA_PREFIX,
  E2E_ROOT_IMAGE: ROOT_IMAGE,
  E2E_REPOSITORY_PREFIX: PREFIX,
  ...step,
  ...extra,
});
const stackDir = (checkout: string, stack: Stack) => path.join(checkout, 'cdktf.out', 'stacks', stack);
/** Runs a script with the toolchain on PATH (secrets only ever in the environment). */
const sh = (script: string, cwd: string, extra: Record<string, string> = {}): Run => bash(`source "$ENV_SH"\n${script}`, { cwd, env: env(extra) });
const terraform = (checkout: string, stack: Stack, args: string, extra: Record<string, string> = {}) =>
  sh(`terraform ${args} -no-color`, stackDir(checkout, stack), extra);

function synth(checkout: string, extra: Record<string, string> = {}): void {
  ok(sh(PG_APP, checkout, extra), 'synth');
  for (const stack of STACKS) ok(terraform(checkout, stack, 'init -input=false'), `terraform init ${stack}`);
}

function apply(checkout: string, stack: Stack, extra: Record<string, string> = {}, flags = ''): string {
  return ok(terraform(checkout, stack, `apply -input=false -auto-approve ${flags}`, extra), `terraform apply ${stack}`);
}

/** `terraform apply` in the background, in its own process group (so that a SIGKILL takes its providers too). */
function applyInBackground(checkout: string, stack: Stack, extra: Record<string, string> = {}, flags = '') {
  const child = spawn('bash', ['-c', `source "$ENV_SH"\nexec terraform apply -input=false -auto-approve -no-color ${flags}`], {
    cwd: stackDir(checkout, stack),
    env: { ...process.env, ...env(extra) },
    detached: true,
  });
  running.add(child);
  const result = { output: '', finishedAt: 0, status: undefined as number | null | undefined, child };
  child.stdout.on('data', (chunk) => (result.output += chunk));
  child.stderr.on('data', (chunk) => (result.output += chunk));
  const done = new Promise<typeof result>((resolve) =>
    child.on('close', (status) => {
      running.delete(child);
      Object.assign(result, { status, finishedAt: Date.now() });
      resolve(result);
    }),
  );
  return { result, done };
}

/** Planned changes of a stack: '' when none (exit 0), else the plan text. */
function pendingChanges(checkout: string, stack: Stack): string {
  const plan = terraform(checkout, stack, 'plan -input=false -lock=false -detailed-exitcode');
  if (plan.status === 0) return '';
  if (plan.status === 2) return plan.stdout;
  throw new Error(`terraform plan ${stack} exited ${plan.status}\n${plan.stdout}\n${plan.stderr}`);
}

interface StateFacts {
  serial: number;
  lineage: string;
  resources: string[];
}
const state = (stack: Stack): StateFacts => {
  const pulled = JSON.parse(ok(terraform(main, stack, 'state pull'), `state pull ${stack}`));
  const resources = pulled.resources.filter((r: any) => r.mode === 'managed').map((r: any) => `${r.type}.${r.name}`);
  return { serial: pulled.serial, lineage: pulled.lineage, resources: resources.sort() };
};

/** Sessions holding an advisory lock (Terraform's pg backend locks a workspace with one): `<application_name> <pid>`. */
const lockHolders = () =>
  pg
    .sql("SELECT a.application_name || ' ' || a.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted")
    .split('\n')
    .filter((line) => line !== '');

const containerId = () => ok(docker('inspect', '-f', '{{.Id}} {{.Image}}', CONTAINER), 'docker inspect').trim();
const imageId = (name: string) => ok(docker('image', 'inspect', '-f', '{{.Id}}', `${PREFIX}${name}:latest`), name).trim();

beforeAll(async () => {
  pg = await startPostgres();
  for (const checkout of [main, review]) {
    copyCheckout(checkout);
    // These checkouts' project is the test app: cdktf (and so `npm run plan`) synthesizes it.
    const config = JSON.parse(fs.readFileSync(path.join(checkout, 'cdktf.json'), 'utf8'));
    config.app = PG_APP;
    fs.writeFileSync(path.join(checkout, 'cdktf.json'), JSON.stringify(config, null, 2));
  }
});

afterAll(() => {
  for (const child of running) if (child.pid) process.kill(-child.pid, 'SIGKILL');
  if (pg) {
    for (const stack of ['apps', 'images'] as const) {
      if (fs.existsSync(stackDir(main, stack))) terraform(main, stack, 'destroy -input=false -auto-approve -lock-timeout=60s');
    }
    pg.stop();
  }
  docker('rm', '-f', CONTAINER);
  for (const name of ['pg-leaf', 'pg-base']) docker('image', 'rm', '-f', `${PREFIX}${name}:latest`);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('shared state in PostgreSQL', () => {
  it('deploys both stacks from one checkout, each into its own schema, with no secret on disk', () => {
    synth(main);
    expect(apply(main, 'images')).toMatch(/Apply complete! Resources: 2 added, 0 changed, 0 destroyed\./);
    expect(apply(main, 'apps')).toMatch(/Apply complete! Resources: 2 added, 0 changed, 0 destroyed\./);
    expect(containerId().split(' ')[1]).toBe(imageId('pg-leaf'));
    const schemas = pg.sql(`SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '${SCHEMA_PREFIX}%' ORDER BY 1`);
    expect(schemas.split('\n')).toEqual([`${SCHEMA_PREFIX}apps`, `${SCHEMA_PREFIX}images`]);
    for (const stack of STACKS) {
      expect(pg.sql(`SELECT name FROM ${SCHEMA_PREFIX}${stack}.states`)).toBe('default');
      // Terraform keeps the backend configuration of each initialised folder in .terraform/terraform.tfstate.
      const files = ['cdk.tf.json', '.terraform/terraform.tfstate'].map((file) => fs.readFileSync(path.join(stackDir(main, stack), file), 'utf8'));
      for (const file of files) expect(file).not.toContain(pg.password);
    }
    expect(fs.readdirSync(main).filter((file) => file.endsWith('.tfstate'))).toEqual([]);
  });

  it('plans "No changes" from a second checkout in another folder', () => {
    synth(review);
    for (const stack of STACKS) {
      const plan = terraform(review, stack, 'plan -input=false -detailed-exitcode');
      expect({ stack, status: plan.status, output: plan.stdout.match(/No changes\./)?.[0] }).toEqual({ stack, status: 0, output: 'No changes.' });
    }
  });

  it('lets one of two simultaneous applies fail on the lock and the other wait, and keeps the state intact', async () => {
    const before = state('apps');
    step = { E2E_STEP: 'lock', E2E_STEP_SECONDS: '15' };
    synth(main);
    synth(review);
    const first = applyInBackground(main, 'apps', { PGAPPNAME: 'e2e-apply-main' });
    // The holder is visible in PostgreSQL: libpq's PGAPPNAME (or application_name in PG_CONN_STR) names it.
    await waitFor('the first apply to hold the lock', () => (lockHolders().some((holder) => holder.startsWith('e2e-apply-main ')) ? true : undefined));
    const failed = terraform(review, 'apps', 'apply -input=false -auto-approve');
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toContain('Error acquiring the state lock');
    expect(failed.stderr).toContain('Workspace is already locked: default');
    // force-unlock cannot end another session's advisory lock: Terraform 1.5's pg backend reports success and the
    // lock stays (README: end the holder's session instead).
    const unlock = terraform(review, 'apps', 'force-unlock -force 00000000-0000-0000-0000-000000000000');
    expect(unlock.stdout).toContain('Terraform state has been successfully unlocked!');
    expect(lockHolders().filter((holder) => holder.startsWith('e2e-apply-main '))).toHaveLength(1);
    const waiting = applyInBackground(review, 'apps', {}, '-lock-timeout=120s');
    const [one, two] = await Promise.all([first.done, waiting.done]);
    expect(one).toMatchObject({ status: 0 });
    expect(one.output).toMatch(/Apply complete! Resources: 1 added, 0 changed, 1 destroyed\./);
    // The waiting apply planned after the first one finished, so there was nothing left for it to do.
    expect(two).toMatchObject({ status: 0 });
    expect(two.output).toMatch(/Apply complete! Resources: 0 added, 0 changed, 0 destroyed\./);
    expect(two.finishedAt).toBeGreaterThan(one.finishedAt);
    const after = state('apps');
    expect(after.lineage).toBe(before.lineage);
    expect(after.serial).toBeGreaterThan(before.serial);
    expect(after.resources).toEqual(before.resources);
    expect(after.resources).toEqual(['docker_container.leaf', 'terraform_data.step']);
    expect(lockHolders()).toEqual([]);
    for (const checkout of [main, review]) for (const stack of STACKS) expect(pendingChanges(checkout, stack)).toBe('');
  });

  it('releases the lock of an apply killed with SIGKILL halfway, and the next apply converges', async () => {
    const before = state('apps');
    step = { E2E_STEP: 'kill', E2E_STEP_SECONDS: '120' };
    synth(main);
    const killed = applyInBackground(main, 'apps');
    await waitFor('the apply to be creating the step', () => (/terraform_data\.step: Creating\.\.\./.test(killed.result.output) ? true : undefined));
    expect(lockHolders()).toHaveLength(1);
    process.kill(-killed.result.child.pid!, 'SIGKILL');
    expect((await killed.done).status).toBeNull();
    // The advisory lock belonged to the killed process's session, which ended with it.
    await waitFor('the lock to be released', () => (lockHolders().length === 0 ? true : undefined), 15_000);
    step = { E2E_STEP: 'kill', E2E_STEP_SECONDS: '0' };
    synth(main);
    expect(apply(main, 'apps')).toMatch(/Apply complete!/);
    expect(pendingChanges(main, 'apps')).toBe('');
    const after = state('apps');
    expect(after.lineage).toBe(before.lineage);
    expect(after.resources).toEqual(before.resources);
  });

  it('fails clearly when the database cannot be reached, naming the backend and changing nothing', async () => {
    const before = { apps: state('apps'), images: state('images'), container: containerId(), leaf: imageId('pg-leaf') };
    const secret = 'unreachable-Pa55word';
    const unreachable = { PG_CONN_STR: `postgres://state:${secret}@127.0.0.1:${await freePort()}/state?sslmode=disable` };
    // A pending change (the step) that must not happen.
    synth(main, { E2E_STEP: 'unreachable' });
    const applied = terraform(main, 'apps', 'apply -input=false -auto-approve', { ...unreachable, E2E_STEP: 'unreachable' });
    expect(applied.status).not.toBe(0);
    expect(applied.stderr).toMatch(/connection refused/);
    const deployed = sh('scripts/toolchain/cdktf.sh deploy images apps --auto-approve --no-color', main, unreachable);
    expect(deployed.status).not.toBe(0);
    expect(deployed.stderr).toContain(
      `modulus: the "pg" state backend (PostgreSQL, from PG_CONN_STR) cannot be reached at 127.0.0.1:${unreachable.PG_CONN_STR.split(/[:/@]/)[6]}; nothing was planned or changed.`,
    );
    const planned = sh('npm run --silent plan', main, unreachable);
    expect(planned.status).not.toBe(0);
    expect(planned.stderr).toContain(
      '[plan] stack images: terraform init failed: its state backend "pg" (PostgreSQL, connection string from PG_CONN_STR) could not be used',
    );
    for (const output of [applied.stdout, applied.stderr, deployed.stdout, deployed.stderr, planned.stdout, planned.stderr]) expect(output).not.toContain(secret);
    expect({ apps: state('apps'), images: state('images'), container: containerId(), leaf: imageId('pg-leaf') }).toEqual(before);
  });
});

describe('pull-request review against the real state', () => {
  // What the workflow gets: a role that can only read the state, and Terraform told not to create anything.
  const readOnly: Record<string, string> = { PG_SKIP_SCHEMA_CREATION: 'true', PG_SKIP_TABLE_CREATION: 'true', PG_SKIP_INDEX_CREATION: 'true' };
  beforeAll(() => {
    const password = `ro-${process.pid}-Pa55word`;
    pg.sql(
      `CREATE ROLE plan_ro LOGIN PASSWORD '${password}'; ` +
        `GRANT USAGE ON SCHEMA ${SCHEMA_PREFIX}images, ${SCHEMA_PREFIX}apps TO plan_ro; ` +
        `GRANT SELECT ON ${SCHEMA_PREFIX}images.states, ${SCHEMA_PREFIX}apps.states TO plan_ro;`,
    );
    readOnly.PG_CONN_STR = pg.connStr.replace(/^postgres:\/\/state:[^@]*@/, `postgres://plan_ro:${password}@`);
    expect(readOnly.PG_CONN_STR).toContain('plan_ro');
  });

  const stateRows = () => pg.sql(`SELECT md5(data) FROM ${SCHEMA_PREFIX}images.states UNION ALL SELECT md5(data) FROM ${SCHEMA_PREFIX}apps.states`);
  const plan = (checkout: string) => {
    const rows = stateRows();
    const run = sh('npm run --silent plan', checkout, readOnly);
    // Planning wrote nothing.
    expect(stateRows()).toBe(rows);
    ok(run, 'npm run plan');
    expect(run.stdout + run.stderr).not.toContain(readOnly.PG_CONN_STR.split(/[:@]/)[2]);
    const read = (file: string) => fs.readFileSync(path.join(checkout, 'plan', file), 'utf8');
    return { summary: read('summary.md'), comment: read('comment.md'), images: read('images.md'), apps: read('apps.md') };
  };

  it('shows exactly the edited leaf image and its container as replaced', () => {
    fs.appendFileSync(path.join(review, '__tests__/e2e/support/fixtures/pg-images/pg-leaf/Dockerfile'), 'LABEL org.modulus.e2e-edit="1"\n');
    const { images, apps, comment } = plan(review);
    expect(images).toContain('| create | 0 |\n| update | 0 |\n| replace | 1 |\n| destroy | 0 |');
    expect(images).toMatch(/<details><summary>replace \(1\)<\/summary>\n\n- `docker_image\.Hierarchy_pg-leaf_Image_[0-9A-F]{8}`\n/);
    expect(apps).toContain('| create | 0 |\n| update | 0 |\n| replace | 1 |\n| destroy | 0 |');
    expect(apps).toMatch(/- `docker_container\.leaf` \(runs `docker_image\.Hierarchy_pg-leaf_Image_[0-9A-F]{8}`, which stack `images` replaces/);
    expect(comment.indexOf('| action | count |')).toBeLessThan(comment.indexOf('<details><summary>Full plan output</summary>'));
    expect(comment).toMatch(/# docker_image\.Hierarchy_pg-leaf_Image_[0-9A-F]{8} must be replaced/);
    expect(comment).not.toContain(pg.password);
  });

  it('shows "No changes" for an untouched checkout', () => {
    const { summary } = plan(main);
    expect(summary.match(/No changes: the infrastructure matches the configuration\./g)).toHaveLength(2);
    expect(summary).not.toMatch(/\| (create|update|replace|destroy) [1-9]/);
  });
});
