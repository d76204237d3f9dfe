import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { Container } from '@cdktf/provider-docker/lib/container';
import { App, HttpBackend, LocalBackend, PgBackend, TerraformBackend, Testing } from 'cdktf';
import { ImageHierarchy } from '../../lib/image-hierarchy';
import { ModulusStack, ModulusStackProps } from '../../lib/modulus-stack';
import { pgSchemaName, privateStateFiles, StateBackend, stateBackendFromEnvironment, StateBackendType } from '../../lib/state-backend';
import { errorMessage } from './support/app-runtime';
import { copyCheckout, readTree, REPO_ROOT } from '../../harness/checkout';
import { makeImagesDirectory } from './support/fixtures';
import { tempDir } from './support/temp';

jest.setTimeout(120_000);

const PASSWORD = 'Unit-s3cret-Pa55word';
const CONN_STR = `postgres://state:${PASSWORD}@127.0.0.1:5432/state?sslmode=disable`;

/** An images-like producer and an apps-like consumer reading one image id across stacks, synthesized to disk. */
function synthPair(backend?: StateBackend): { producer: any; consumer: any; files: string } {
  const outdir = tempDir('modulus-state-out-');
  const app = new App({ outdir, skipValidation: true });
  const props: ModulusStackProps = { backend };
  const images = new ModulusStack(app, 'images', props);
  const hierarchy = new ImageHierarchy(images, 'hierarchy', { images: [{ name: 'leaf' }], imagesDirectory: makeImagesDirectory(['leaf']) });
  const apps = new ModulusStack(app, 'apps', props);
  new Container(apps, 'c', { name: 'c', image: hierarchy.image('leaf').imageId });
  app.synth();
  const read = (stack: string) => JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', stack, 'cdk.tf.json'), 'utf8'));
  const files = [...readTree(outdir).values()].map((content) => content.toString('utf8')).join('\n');
  return { producer: read('images'), consumer: read('apps'), files };
}

const remoteStates = (json: any) => Object.values<any>(json.data?.terraform_remote_state ?? {});

describe('ModulusStack backend', () => {
  it('defaults to a local state file relative to the stack folder', () => {
    const { producer, consumer } = synthPair();
    expect(producer.terraform.backend).toEqual({ local: { path: '../../../terraform.images.tfstate' } });
    expect(remoteStates(consumer)).toEqual([
      expect.objectContaining({ backend: 'local', config: { path: '../../../terraform.images.tfstate' } }),
    ]);
  });

  it('keeps each stack in its own PostgreSQL schema and reads the images outputs through a pg remote state', () => {
    const { producer, consumer } = synthPair({ type: StateBackendType.PG, schemaPrefix: 'team_a_' });
    expect(producer.terraform.backend).toEqual({ pg: { schema_name: 'team_a_images' } });
    expect(consumer.terraform.backend).toEqual({ pg: { schema_name: 'team_a_apps' } });
    const [remote] = remoteStates(consumer);
    expect(remoteStates(consumer)).toHaveLength(1);
    expect(remote).toMatchObject({ backend: 'pg', config: { schema_name: 'team_a_images' } });
    expect(Object.values<any>(consumer.resource.docker_container)[0].image).toContain('data.terraform_remote_state.');
  });

  it('uses schema prefix modulus_ by default and turns "-" in stack ids into "_"', () => {
    expect(pgSchemaName('images')).toBe('modulus_images');
    expect(pgSchemaName('e2e-base', 'ci_')).toBe('ci_e2e_base');
  });

  it('never writes the connection string or its password into cdktf.out', () => {
    const saved = process.env.PG_CONN_STR;
    process.env.PG_CONN_STR = CONN_STR;
    try {
      const { files, consumer } = synthPair(stateBackendFromEnvironment({ MODULUS_STATE: 'pg', PG_CONN_STR: CONN_STR }));
      expect(files).not.toContain(PASSWORD);
      expect(files).not.toContain('conn_str');
      expect(remoteStates(consumer)[0].config).toEqual({ schema_name: 'modulus_images' });
    } finally {
      if (saved === undefined) delete process.env.PG_CONN_STR;
      else process.env.PG_CONN_STR = saved;
    }
  });

  it('takes any cdktf backend from a factory, and the consumer reads through that backend kind', () => {
    const seen: string[] = [];
    const { producer, consumer } = synthPair((stack, id) => {
      seen.push(id);
      return new HttpBackend(stack, { address: `https://state.example.com/${id}` });
    });
    expect(seen).toEqual(['images', 'apps']);
    expect(producer.terraform.backend).toEqual({ http: { address: 'https://state.example.com/images' } });
    expect(remoteStates(consumer)[0]).toMatchObject({ backend: 'http', config: { address: 'https://state.example.com/images' } });
  });

  it('exposes the backend it created', () => {
    const app = Testing.app();
    expect(new ModulusStack(app, 'a').backend).toBeInstanceOf(LocalBackend);
    expect(new ModulusStack(app, 'b', { backend: { type: StateBackendType.PG } }).backend).toBeInstanceOf(PgBackend);
  });

  it('rejects an invalid schema prefix, naming the construct path, the field, the value and what is allowed', () => {
    expect(errorMessage(() => new ModulusStack(Testing.app(), 'images', { backend: { type: StateBackendType.PG, schemaPrefix: 'Team A;' } }))).toBe(
      "images: invalid backend.schemaPrefix 'Team A;': give a prefix that makes the schema name ('Team A;images') lower-case letters, digits and '_', " +
        "starting with a letter or '_', at most 63 characters",
    );
  });

  it('rejects an unknown backend type and a factory that returns no backend', () => {
    expect(errorMessage(() => new ModulusStack(Testing.app(), 'images', { backend: { type: 's3' } as unknown as StateBackend }))).toBe(
      `images: invalid backend {"type":"s3"}: give { type: StateBackendType.LOCAL }, { type: StateBackendType.PG } or a function returning a cdktf TerraformBackend`,
    );
    expect(errorMessage(() => new ModulusStack(Testing.app(), 'images', { backend: () => ({}) as TerraformBackend }))).toBe(
      'images: invalid backend {}: give a factory that returns a cdktf TerraformBackend created in the stack (this one returned the value shown)',
    );
  });
});

describe('stateBackendFromEnvironment', () => {
  it('is local unless MODULUS_STATE says pg', () => {
    expect(stateBackendFromEnvironment({})).toEqual({ type: StateBackendType.LOCAL });
    expect(stateBackendFromEnvironment({ MODULUS_STATE: 'local' })).toEqual({ type: StateBackendType.LOCAL });
    expect(stateBackendFromEnvironment({ MODULUS_STATE: 'pg', PG_CONN_STR: CONN_STR, MODULUS_STATE_SCHEMA_PREFIX: 'ci_' })).toEqual({
      type: StateBackendType.PG,
      schemaPrefix: 'ci_',
    });
  });

  it('rejects an unknown MODULUS_STATE, naming the value and the choices', () => {
    expect(errorMessage(() => stateBackendFromEnvironment({ MODULUS_STATE: 'foo' }))).toBe(
      "invalid MODULUS_STATE 'foo': use 'local' (default, a state file per stack next to cdktf.json) or 'pg' (PostgreSQL, with PG_CONN_STR)",
    );
  });

  it('rejects pg without PG_CONN_STR', () => {
    expect(errorMessage(() => stateBackendFromEnvironment({ MODULUS_STATE: 'pg' }))).toBe(
      "invalid PG_CONN_STR (not set): MODULUS_STATE 'pg' needs it: the PostgreSQL connection string (postgres://user:password@host:port/database), " +
        'read by Terraform from the environment and never written into cdktf.out',
    );
  });
});

describe('npx cdktf synth with MODULUS_STATE', () => {
  const checkout = copyCheckout(tempDir('modulus-state-cli-'));
  const synth = (env: Record<string, string>) =>
    spawnSync('npx', ['cdktf', 'synth'], { cwd: checkout, env: { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1', ...env }, encoding: 'utf8' });

  it('puts both stacks of main.ts in PostgreSQL without the password, and fails clearly without PG_CONN_STR', () => {
    const result = synth({ MODULUS_STATE: 'pg', PG_CONN_STR: CONN_STR });
    expect(result.status).toBe(0);
    const out = path.join(checkout, 'cdktf.out');
    const apps = JSON.parse(fs.readFileSync(path.join(out, 'stacks/apps/cdk.tf.json'), 'utf8'));
    expect(apps.terraform.backend).toEqual({ pg: { schema_name: 'modulus_apps' } });
    expect(remoteStates(apps)[0]).toMatchObject({ backend: 'pg', config: { schema_name: 'modulus_images' } });
    const everything = [...readTree(out).values()].map((content) => content.toString('utf8')).join('\n');
    expect(everything).not.toContain(PASSWORD);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);

    const missing = synth({ MODULUS_STATE: 'pg', PG_CONN_STR: '' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain("modulus-images: synth failed: invalid PG_CONN_STR '': MODULUS_STATE 'pg' needs it: the PostgreSQL connection string");
    expect(fs.existsSync(path.join(out, 'stacks/apps'))).toBe(false);
  });
});

describe('scripts/state-check.sh', () => {
  const check = (env: Record<string, string>) =>
    spawnSync('bash', [path.join(REPO_ROOT, 'scripts/state-check.sh')], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  let server: net.Server;
  let open: number;
  let closed: number;
  beforeAll(async () => {
    const listen = () =>
      new Promise<net.Server>((resolve) => {
        const s = net.createServer((socket) => socket.destroy());
        s.listen(0, '127.0.0.1', () => resolve(s));
      });
    server = await listen();
    open = (server.address() as net.AddressInfo).port;
    const spare = await listen();
    closed = (spare.address() as net.AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('names the unreachable backend, host and port, never the password', () => {
    for (const conn of [
      `postgres://state:${PASSWORD}@127.0.0.1:${closed}/state?sslmode=disable`,
      `postgresql://state:${PASSWORD}@db.invalid:1/state?host=127.0.0.1&port=${closed}`,
      `host=127.0.0.1 port=${closed} user=state password=${PASSWORD}`,
    ]) {
      const result = check({ MODULUS_STATE: 'pg', PG_CONN_STR: conn });
      expect({ conn, status: result.status, stderr: result.stderr }).toEqual({
        conn,
        status: 1,
        stderr: `modulus: the "pg" state backend (PostgreSQL, from PG_CONN_STR) cannot be reached at 127.0.0.1:${closed}; nothing was planned or changed.\n`,
      });
    }
  });

  it('never takes part of a password for the host: "@" in it, values that look like host=, query values', () => {
    const unreachable = `modulus: the "pg" state backend (PostgreSQL, from PG_CONN_STR) cannot be reached at 127.0.0.1:${closed}; nothing was planned or changed.\n`;
    for (const [conn, password] of [
      // The user information runs to the last '@' before the host (as Go's net/url, which Terraform's pg backend uses).
      [`postgresql://state:Unit-s3cret@Pa55@127.0.0.1:${closed}/state`, 'Unit-s3cret@Pa55'],
      [`postgres://state:a@Leak-one@Leak-two@127.0.0.1:${closed}/state?sslmode=disable`, 'a@Leak-one@Leak-two'],
      // keyword=value: a quoted or escaped value is one value, whatever it holds.
      [`password='x host=Leak-quoted port=1' host=127.0.0.1 port=${closed}`, 'x host=Leak-quoted port=1'],
      [`password=Leak\\ host=Leak-escaped host = 127.0.0.1 port= ${closed} user=state`, 'Leak host=Leak-escaped'],
      // A query value is one value up to '&'.
      [`postgres://state@127.0.0.1:${closed}/state?password=Leak?host=Leak-query`, 'Leak?host=Leak-query'],
    ]) {
      const result = check({ MODULUS_STATE: 'pg', PG_CONN_STR: conn });
      expect({ conn, status: result.status, output: result.stdout + result.stderr }).toEqual({ conn, status: 1, output: unreachable });
      for (const part of password.split(/[@ ?=]/).filter((piece) => piece.length >= 4)) expect(result.stderr).not.toContain(part);
    }
  });

  it('leaves to Terraform, printing nothing, connection strings where host and password cannot be told apart', () => {
    for (const conn of [
      `postgres://state:1234/Leak-slash@127.0.0.1:${closed}/state`, // '/' in the password: Go takes 'state:1234' for host:port
      `postgres://state:p?Leak-question@127.0.0.1:${closed}/state`,
      `postgres://state:p#Leak-hash@127.0.0.1:${closed}/state`,
      `host=127.0.0.1 port=${closed} password='Leak-unterminated`,
      `host=127.0.0.1 port=${closed} password=Leak-trailing\\`,
      `postgres://state:${PASSWORD}@[::1]:${closed}/state`,
    ]) {
      const result = check({ MODULUS_STATE: 'pg', PG_CONN_STR: conn });
      expect({ conn, status: result.status, output: result.stdout + result.stderr }).toEqual({ conn, status: 0, output: '' });
    }
  });

  it('passes a reachable server, the local backend and connection strings it leaves to Terraform', () => {
    for (const env of <Record<string, string>[]>[
      { MODULUS_STATE: 'pg', PG_CONN_STR: `postgres://state:${PASSWORD}@127.0.0.1:${open}/state` },
      { MODULUS_STATE: 'pg', PG_CONN_STR: '', PGHOST: '127.0.0.1', PGPORT: String(open) },
      { MODULUS_STATE: 'pg', PG_CONN_STR: 'postgres://state@/state?host=/var/run/postgresql' },
      { MODULUS_STATE: 'local', PG_CONN_STR: `postgres://state:${PASSWORD}@127.0.0.1:${closed}/state` },
    ]) {
      const result = check(env);
      expect({ env, status: result.status, output: result.stdout + result.stderr }).toEqual({ env, status: 0, output: '' });
    }
  });
});

const modeOf = (file: string) => (fs.statSync(file).mode & 0o777).toString(8).padStart(4, '0');

describe('local state files are their owner\'s alone (they hold the stack\'s secrets)', () => {
  it('privateStateFiles creates the state file and its backup empty with 0600, and takes group and others off the existing ones', () => {
    const dir = tempDir('modulus-state-private-');
    const state = path.join(dir, 'terraform.images.tfstate');
    privateStateFiles(state);
    expect([modeOf(state), modeOf(`${state}.backup`), fs.readFileSync(state, 'utf8')]).toEqual(['0600', '0600', '']);

    fs.writeFileSync(state, '{"serial": 1}');
    fs.chmodSync(state, 0o644);
    fs.writeFileSync(`${state}.1700000000.backup`, '{}', { mode: 0o664 });
    fs.writeFileSync(path.join(dir, 'terraform.apps.tfstate'), '{}', { mode: 0o644 });
    privateStateFiles(state);
    expect([modeOf(state), modeOf(`${state}.1700000000.backup`), fs.readFileSync(state, 'utf8')]).toEqual(['0600', '0600', '{"serial": 1}']);
    expect(modeOf(path.join(dir, 'terraform.apps.tfstate'))).toBe('0644');

    // A state file that is a symbolic link: Terraform writes its target, so that is what becomes private.
    const target = path.join(dir, 'elsewhere.json');
    fs.writeFileSync(target, '{}', { mode: 0o644 });
    fs.symlinkSync(target, path.join(dir, 'linked.tfstate'));
    privateStateFiles(path.join(dir, 'linked.tfstate'));
    expect(modeOf(target)).toBe('0600');

    const nested = path.join(dir, 'state', 'deeper', 'x.tfstate');
    privateStateFiles(nested);
    expect([modeOf(path.dirname(nested)), modeOf(nested)]).toEqual(['0700', '0600']);
  });

  describe('at synth', () => {
    const saved = process.env.CDKTF_OUTDIR;
    afterEach(() => {
      if (saved === undefined) delete process.env.CDKTF_OUTDIR;
      else process.env.CDKTF_OUTDIR = saved;
    });
    const project = (backend?: StateBackend) => {
      const dir = tempDir('modulus-state-synth-');
      const outdir = path.join(dir, 'cdktf.out');
      const app = new App({ outdir, skipValidation: true });
      new ModulusStack(app, 'images', { backend });
      return { dir, outdir, app };
    };

    it('as the cdktf CLI runs it (CDKTF_OUTDIR): state file and backup 0600, the stack folder 0700', () => {
      const { dir, outdir, app } = project();
      process.env.CDKTF_OUTDIR = outdir;
      app.synth();
      expect(fs.readdirSync(dir).sort()).toEqual(['cdktf.out', 'terraform.images.tfstate', 'terraform.images.tfstate.backup']);
      expect(['terraform.images.tfstate', 'terraform.images.tfstate.backup'].map((file) => modeOf(path.join(dir, file)))).toEqual(['0600', '0600']);
      expect(modeOf(path.join(outdir, 'stacks', 'images'))).toBe('0700');
    });

    it('of another outdir, or with another backend: no file outside the outdir', () => {
      const other = project();
      process.env.CDKTF_OUTDIR = path.join(other.dir, 'elsewhere');
      other.app.synth();
      expect(fs.readdirSync(other.dir)).toEqual(['cdktf.out']);
      expect(modeOf(path.join(other.outdir, 'stacks', 'images'))).toBe('0700');

      const pg = project({ type: StateBackendType.PG });
      process.env.CDKTF_OUTDIR = pg.outdir;
      pg.app.synth();
      expect(fs.readdirSync(pg.dir)).toEqual(['cdktf.out']);
    });
  });
});
