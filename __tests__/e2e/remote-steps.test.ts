import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataExternal } from '@cdktf/provider-external/lib/data-external';
import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import { App as CdktfApp, Fn, LocalBackend, TerraformStack, TerraformVariable } from 'cdktf';
import { destroyProvisioners, hostKeyCheck, privateKeyPreconditions, probeProgram, SshAccess, stepProvisioners, StepUpload } from '../../lib/private/host-steps';
import { parseHostKeys } from '../../lib/private/host-keys';
import { escapeTemplate } from '../../lib/private/terraform-values';
import { externalProvider, nullProvider } from '../../lib/private/providers';
import { bash, docker, ok, REPO_ROOT, Run, waitFor } from '../../harness/shell';
import { ROOT_IMAGE, startTestbed, Testbed } from '../../harness/testbed';
import { writeSourceArchive } from '../../lib/private/source-archive';

/**
 * The remote host steps (lib/private/host-steps.ts, scripts/volume/remote-step.sh and remote-probe.sh) with real
 * parts: a small cdktf stack built with the module, shaped like AppVolume (Volume with create + destroy,
 * RemovalPolicy, Config with a secret, Input uploading a source folder, a `data "external"` probe and Mount),
 * applied with the toolchain's Terraform 1.5.7 over SSH to the testbed's host B (a second engine in a container
 * of engine A, sshd on 127.0.0.1). Needs scripts/toolchain/setup.sh and the root image (testbed). The tests run in
 * order on one state: run the file whole.
 */
jest.setTimeout(10 * 60_000);

const ENV_SH = path.join(REPO_ROOT, 'scripts/toolchain/env.sh');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-remote-steps-'));
const stackDir = path.join(work, 'stacks', 'remote');
const statePath = path.join(work, 'remote.tfstate');
const APP = `rs${process.pid}`;
const ROOT = `/var/lib/modulus/volumes/${APP}`;
const MNT = `${ROOT}/mnt`;
const SECRET = 'rs-s3cr3t "quoted" 100% \\ $HOME';
/** A plain value that needs Terraform's and the env file's escaping: a backslash, quotes, %, `${`. */
const TRICKY = 'a\\b "q" 100% ${x}';
const SOURCE = path.join(work, 'source');
/** What BuildJob passes as the build's key: the SHA-256 of its inputs. */
const BUILD_KEY = 'b'.repeat(64);

let bed: Testbed | undefined;
let privateKey = '';
let secondKey = '';
const testbed = (): Testbed => {
  if (!bed) throw new Error('the testbed did not come up (see beforeAll)');
  return bed;
};
const output = (run: Run) => `${run.stdout}${run.stderr}`;

interface StackOptions {
  port?: number;
  /** The pinned host keys, "TYPE BASE64" lines. @default B's own */
  hostKeys?: string;
  policy?: 'retain' | 'destroy';
  /** How create-time steps connect: as B's ssh:// engine does (DockerHost's choice for it), or with the key. @default 'engine' */
  transport?: 'engine' | 'key';
}

/** The stack: shaped like AppVolume, with every step built by host-steps for host B. */
function synth(options: StackOptions = {}): void {
  const { hostB } = testbed();
  const app = new CdktfApp({ outdir: work });
  const stack = new TerraformStack(app, 'remote');
  new LocalBackend(stack, { path: statePath });
  const key = new TerraformVariable(stack, 'ssh_private_key', { type: 'string', sensitive: true });
  const secret = new TerraformVariable(stack, 'db_password', { type: 'string', sensitive: true });
  // A value mixing literal text and a token (its parts are joined inside base64encode).
  const region = new TerraformVariable(stack, 'region', { type: 'string', default: 'eu\\x' });
  const access: SshAccess = {
    hostName: 'host-b',
    user: 'root',
    address: hostB.sshHost,
    port: options.port ?? hostB.sshPort,
    privateKey: key.stringValue,
    hostKeys: parseHostKeys(stack, 'hostKeys', options.hostKeys ?? hostB.hostPublicKeys),
    connectTimeoutSeconds: 10,
    ...((options.transport ?? 'engine') === 'engine' ? { engine: { address: hostB.sshHost, port: hostB.sshPort, options: hostB.sshOpts } } : {}),
  };
  // The in-volume steps run in B's copy of the root image (bash, coreutils, tar), loaded in beforeAll.
  const identity = { MODULUS_APP: APP, MODULUS_BACKEND: 'loopfile', MODULUS_ROOT: ROOT, MODULUS_LVM_VG: '', MODULUS_LVM_POOL: '', MODULUS_IMAGE: ROOT_IMAGE };
  const provider = nullProvider(stack);
  const create = stepProvisioners(stack, access, {
    script: 'modulus-volume.sh',
    command: 'create',
    environment: { ...identity, MODULUS_SIZE_MIB: '64' },
    resourceId: true,
  });
  const destroy = destroyProvisioners(stack, access, {
    script: 'modulus-volume.sh',
    command: 'destroy',
    environment: {
      MODULUS_APP: '${self.triggers.modulus_volume}',
      MODULUS_BACKEND: '${self.triggers.backend}',
      MODULUS_ROOT: '${self.triggers.host_root}',
      MODULUS_LVM_VG: '${self.triggers.lvm_volume_group}',
      MODULUS_LVM_POOL: '${self.triggers.lvm_thin_pool}',
    },
    resourceId: true,
  });
  const volume = new NullResource(stack, 'Volume', {
    provider,
    triggers: { modulus_volume: APP, backend: 'loopfile', host_root: ROOT, lvm_volume_group: '', lvm_thin_pool: '', ...destroy.triggers },
    provisioners: [...create.provisioners, ...destroy.provisioners],
    lifecycle: { ...destroy.lifecycle, precondition: privateKeyPreconditions(access) },
  });
  const step = (id: string, command: string, triggers: Record<string, string>, environment: Record<string, string>, uploads?: StepUpload[]) =>
    new NullResource(stack, id, {
      provider,
      triggers: { volume: volume.id, ...triggers },
      ...stepProvisioners(stack, access, { script: 'modulus-volume.sh', command, environment: { ...identity, ...environment }, uploads }),
    });
  const escaped = escapeTemplate(TRICKY);
  step('RemovalPolicy', 'set-policy', { removal_policy: options.policy ?? 'destroy' }, { MODULUS_REMOVAL_POLICY: options.policy ?? 'destroy' });
  step(
    'Config',
    'write-config',
    { env_NODE_ENV: escaped, env_ZONE: `zone-${region.stringValue}-1`, secret_DB_PASSWORD_sha256: Fn.sensitive(Fn.sha256(secret.stringValue)) },
    {
      MODULUS_ENV_NAMES: 'NODE_ENV ZONE',
      MODULUS_ENV_ZONE: `zone-${region.stringValue}-1`,
      MODULUS_SECRET_NAMES: 'DB_PASSWORD',
      MODULUS_ENV_NODE_ENV: escaped,
      MODULUS_SECRET_DB_PASSWORD: Fn.sensitive(secret.stringValue),
    },
  );
  step('Input', 'prepare-build', { source: 'v1' }, { MODULUS_BUILD_KEY: BUILD_KEY }, [{ source: `${SOURCE}.tar`, env: 'MODULUS_SOURCE' }]);
  const check = hostKeyCheck(stack, access);
  new DataExternal(stack, 'HostKeys', { provider: externalProvider(stack), program: check.program, query: check.query });
  const probe = probeProgram(stack, access, { app: APP, backend: 'loopfile', root: ROOT, lvm_volume_group: '', lvm_thin_pool: '' });
  const state = new DataExternal(stack, 'State', { provider: externalProvider(stack), program: probe.program, query: probe.query, dependsOn: [volume] });
  step('Mount', 'mount', { health: state.result.lookup('health') }, { MODULUS_HEAL_TOKEN: state.result.lookup('health') });
  app.synth();
}

/** Terraform in the synthesized stack; values through the environment only. */
function tf(args: string, key = privateKey): Run {
  return bash(`source "$ENV_SH"\nterraform ${args} -no-color`, {
    cwd: stackDir,
    env: { ENV_SH, TF_IN_AUTOMATION: '1', TF_VAR_ssh_private_key: key, TF_VAR_db_password: SECRET },
  });
}

/** Actions per resource (construct id) of a saved plan. */
function planActions(key = privateKey): Record<string, string[]> {
  ok(tf('plan -input=false -out=plan.bin', key), 'terraform plan');
  const plan = JSON.parse(ok(tf('show -json plan.bin', key), 'terraform show -json'));
  return Object.fromEntries(plan.resource_changes.map((change: any) => [change.address.replace(/^\w+\.(\w+?)(_[0-9A-F]{8})?$/, '$1'), change.change.actions]));
}

/** key=value lines of `modulus-volume.sh status` on B (the boot copy that create installs). */
function statusOnB(): Record<string, string> {
  const run = testbed().hostB.ssh('bash /usr/local/lib/modulus/modulus-volume.sh status', { MODULUS_APP: APP, MODULUS_ROOT: ROOT });
  return Object.fromEntries(ok(run, 'status on B').trim().split('\n').map((line) => line.split('=', 2) as [string, string]));
}

/**
 * Samples `ps -eo args` inside B (through engine A, not SSH) every 20 ms into a file until stop(), which asks
 * the loop to end (a flag file in B) and waits for it.
 */
function samplePs(file: string): { stop: () => string } {
  const { hostB } = testbed();
  const flag = `/tmp/ps-sampler-${process.pid}.stop`;
  const out = fs.openSync(file, 'w');
  const child = spawn('docker', ['exec', hostB.container, 'bash', '-c', `while [ ! -e ${flag} ]; do ps -eo args; echo ---; sleep 0.02; done; rm -f ${flag}`], {
    stdio: ['ignore', out, 'ignore'],
  });
  return {
    stop: () => {
      ok(docker('exec', hostB.container, 'touch', flag), 'stop the ps sampler');
      // The loop removes the flag as it ends (the exec client is reaped later, when the event loop runs).
      ok(docker('exec', hostB.container, 'timeout', '20', 'bash', '-c', `while [ -e ${flag} ]; do sleep 0.05; done`), 'the ps sampler ends');
      void child;
      fs.closeSync(out);
      return fs.readFileSync(file, 'utf8');
    },
  };
}

beforeAll(async () => {
  bed = await startTestbed();
  privateKey = fs.readFileSync(bed.hostB.privateKeyPath, 'utf8');
  fs.mkdirSync(path.join(SOURCE, 'src'), { recursive: true });
  fs.writeFileSync(path.join(SOURCE, 'src', 'index.js'), 'console.log("hello from A")\n');
  writeSourceArchive(SOURCE, `${SOURCE}.tar`);
  ok(bash(`docker save "${ROOT_IMAGE}" | docker exec -i "${bed.hostB.container}" docker load`), 'the root image on B');
  synth();
  ok(tf('init -input=false'), 'terraform init');
}, 20 * 60_000);

afterAll(async () => {
  // Whatever a failed test left: the volume on B goes with B's container (its teardown unmounts).
  await bed?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('remote host steps over SSH (host B)', () => {
  it('creates the volume on B (not A) with supervisor.conf and the uploaded source; the secret is in no output and in no ps line on B', () => {
    const { hostB } = testbed();
    const ps = samplePs(path.join(work, 'ps.txt'));
    let apply: Run;
    let samples = '';
    try {
      apply = tf('apply -input=false -auto-approve');
    } finally {
      samples = ps.stop();
    }
    ok(apply, 'terraform apply');
    expect(output(apply)).not.toContain('rs-s3cr3t');
    // The steps connect as B's engine does (no key in their config): Terraform prints a step's output unless
    // its environment holds a sensitive value (Config's secret).
    expect(output(apply)).toMatch(/null_resource\.Config \(local-exec\): \(output suppressed due to sensitive value in config\)/);
    expect(output(apply)).not.toContain('wrote supervisor.conf');
    expect(output(apply)).toContain("null_resource.RemovalPolicy (local-exec): modulus-volume: removal policy of app");
    // The sampler saw the steps run on B (so it could have seen a value), and never a value.
    expect(samples).toMatch(/remote-step\.sh modulus-volume\.sh (create|set-policy|write-config|prepare-build|mount)/);
    console.log(`ps samples on B: ${samples.split('---').length}; write-config seen: ${/remote-step\.sh modulus-volume\.sh write-config/.test(samples)}`);
    expect(samples).not.toContain('rs-s3cr3t');
    expect(samples).not.toContain('100% ${x}');

    expect(statusOnB()).toMatchObject({ app: APP, backend: 'loopfile', exists: 'true', mounted: 'true', size_mib: '64', policy: 'destroy', mount: MNT });
    expect(fs.existsSync(ROOT)).toBe(false);
    const conf = ok(hostB.ssh('cat "$MNT/supervisor.conf"', { MNT }), 'supervisor.conf on B');
    expect(conf).toContain(`environment=DB_PASSWORD='rs-s3cr3t "quoted" 100%% \\ $HOME',NODE_ENV='a\\b "q" 100%% \${x}',ZONE="zone-eu\\x-1"\n`);
    expect(ok(hostB.ssh('cat "$MNT/input/src/index.js"; stat -c %u:%g "$MNT/input/src/index.js"', { MNT }), 'input on B')).toBe('console.log("hello from A")\n441:444\n');
    expect(ok(hostB.ssh('cat "$MNT/.build-key"', { MNT }), 'build key on B')).toBe(`${BUILD_KEY}\n`);
    // No staging folder, env file or Terraform inline script on B holds a value.
    expect(ok(hostB.ssh('ls -d /tmp/modulus-step-* 2>/dev/null || true'), 'staging').trim()).toBe('');
    expect(ok(hostB.ssh('grep -rlF "rs-s3cr3t" /tmp /root /etc/modulus /usr/local/lib/modulus 2>/dev/null || true'), 'grep on B').trim()).toBe('');

    const show = ok(tf('show'), 'terraform show');
    expect(show).not.toContain('rs-s3cr3t');
    const plan = tf('plan -input=false');
    ok(plan, 'terraform plan');
    expect(output(plan)).not.toContain('rs-s3cr3t');
    expect(output(plan)).toContain('No changes.');
    expect(fs.readFileSync(statePath, 'utf8')).not.toContain('rs-s3cr3t');
  });

  it('enforces the size on B: writing past 64 MiB fails', () => {
    const run = testbed().hostB.ssh('dd if=/dev/zero of="$MNT/tmp/fill" bs=1M count=100 status=none && echo wrote-all || echo "dd=$?"; rm -f "$MNT/tmp/fill"', { MNT });
    expect(run.stdout.trim()).toMatch(/^dd=[1-9]\d*$/);
    expect(run.stderr).toMatch(/No space left on device/);
  });

  it('the probe sees a volume unmounted on B: the plan replaces Mount, and apply mounts it again', () => {
    const { hostB } = testbed();
    ok(hostB.ssh('echo precious > "$MNT/app/keep.txt" && umount "$MNT"', { MNT }), 'unmount on B');
    expect(statusOnB().mounted).toBe('false');
    const actions = planActions();
    expect(actions).toEqual({ Volume: ['no-op'], RemovalPolicy: ['no-op'], Config: ['no-op'], Input: ['no-op'], Mount: ['delete', 'create'] });
    ok(tf('apply -input=false -auto-approve'), 'terraform apply (heal)');
    expect(statusOnB().mounted).toBe('true');
    expect(ok(hostB.ssh('cat "$MNT/app/keep.txt"', { MNT }), 'data').trim()).toBe('precious');
    // Healed: the probe answers the token the heal recorded, so nothing is left to do.
    expect(Object.values(planActions()).every((a) => a.join() === 'no-op')).toBe(true);
  });

  it("the probe through the engine's own SSH options (what DockerHost uses when the engine logs in as the provisioning user) answers with no key in its query", () => {
    const { hostB } = testbed();
    const probe = (options: string[]) => {
      const query = { app: APP, backend: 'loopfile', root: ROOT, lvm_volume_group: '', lvm_thin_pool: '', ssh_host_name: 'host-b', ssh_user: 'root' };
      const address = { ssh_address: hostB.sshHost, ssh_port: String(hostB.sshPort), ssh_host_keys: hostB.hostPublicKeys };
      const engine = { ssh_transport: 'engine', ssh_engine_address: hostB.sshHost, ssh_engine_port: String(hostB.sshPort), ssh_options: options.join('\n') };
      const input = JSON.stringify({ ...query, ...address, ...engine });
      return bash('bash "$PROBE"', { env: { PROBE: path.join(REPO_ROOT, 'scripts/volume/remote-probe.sh') }, input });
    };
    const recorded = ok(hostB.ssh('cat "$ROOT/health-token"', { ROOT }), 'health token on B').trim();
    // No run container named in the query: none reported.
    expect(JSON.parse(ok(probe(hostB.sshOpts), 'probe through the engine options'))).toEqual({ exists: 'true', mounted: 'true', health: recorded, run_container: '' });
    // Without the engine's options (no key, B's host key unknown): refused, never asked, naming the host.
    const refused = probe(['-F', '/dev/null']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain(`remote-probe: error: cannot reach Docker host 'host-b' (root@${hostB.sshHost}:${hostB.sshPort})`);
  });

  it("a stock sshd's MaxStartups dropping connections before its banner: the host key check, the probe and the steps try again, and the apply succeeds", async () => {
    const { hostB } = testbed();
    // sshd drops every new connection while one is not yet logged in (stock: 10:30:100; the testbed raises it).
    // sshd keeps the last MaxStartups it reads (unlike most keywords): this drop-in comes after the testbed's.
    const dropIn = '/etc/ssh/sshd_config.d/zz-max-startups.conf';
    const reload = async (change: string, what: string) => {
      ok(docker('exec', hostB.container, 'bash', '-c', `${change} && sshd -t && kill -HUP "$(cat /run/sshd.pid)"`), what);
      // sshd re-executes itself on SIGHUP: it answers again a moment later.
      await waitFor(`B's sshd after ${what}`, () => (hostB.ssh('true').status === 0 ? true : undefined), 5_000);
    };
    const drops = () => (ok(docker('exec', hostB.container, 'cat', '/var/log/sshd.log'), "B's sshd log").match(/past MaxStartups/g) ?? []).length;
    const before = drops();
    await reload(`echo "MaxStartups 1:100:1" >${dropIn}`, 'MaxStartups 1 on B');
    let apply: Run;
    try {
      // Three steps at once (none with a sensitive value: Terraform prints what they say), after the plan's host key
      // scan (a connection per key type) and probe.
      const addresses: string[] = JSON.parse(ok(tf('show -json'), 'terraform show -json')).values.root_module.resources.map((resource: { address: string }) => resource.address);
      const replaced = ['RemovalPolicy', 'Input', 'Mount'].map((id) => `-replace=${addresses.find((address) => new RegExp(`^null_resource\\.${id}(_[0-9A-F]{8})?$`).test(address))}`);
      apply = tf(`apply -input=false -auto-approve ${replaced.join(' ')}`);
    } finally {
      await reload(`rm ${dropIn}`, "B's own MaxStartups again");
    }
    console.log(`MaxStartups 1 on B: ${drops() - before} connections dropped during the apply`);
    ok(apply, 'apply with MaxStartups 1');
    expect(output(apply)).toMatch(/closed the connection before its SSH banner \(sshd's MaxStartups\?\): attempt 1 of 4/);
    expect(drops()).toBeGreaterThan(before);
    expect(Object.values(planActions()).every((a) => a.join() === 'no-op')).toBe(true);
  });

  it("host keys: the host's Ed25519 key alone is enough for the steps and the probe; another key of a type the host has fails the plan naming host and type", () => {
    const { hostB } = testbed();
    const keys = hostB.hostPublicKeys.split('\n');
    expect(keys.map((key) => key.split(' ')[0]).sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa']);
    const ed25519 = keys.find((key) => key.startsWith('ssh-ed25519 '))!;
    ok(bash('ssh-keygen -q -t ed25519 -N "" -f "$F" </dev/null >/dev/null', { env: { F: path.join(work, 'other-ed25519') } }), 'ssh-keygen');
    const otherEd25519 = fs.readFileSync(path.join(work, 'other-ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    try {
      // The destroy steps' pinned key changes (it was the ECDSA key): the Volume is replaced, its steps connecting
      // with the key and a known hosts file of the Ed25519 key only.
      synth({ hostKeys: ed25519, transport: 'key' });
      expect(planActions().Volume).toEqual(['create', 'delete']);
      ok(tf('apply -input=false -auto-approve'), 'terraform apply (Ed25519 key pinned alone)');
      expect(statusOnB()).toMatchObject({ exists: 'true', mounted: 'true' });

      synth({ hostKeys: otherEd25519, transport: 'key' });
      const plan = tf('plan -input=false');
      expect(plan.status).not.toBe(0);
      const text = output(plan).replace(/\s+/g, ' ');
      // Whatever the plan would change (the Volume, again): the per-host check runs on every plan.
      expect(text).toContain(`host-keys: error: Docker host 'host-b' (root@${hostB.sshHost}:${hostB.sshPort}): its ssh-ed25519 host key is not the pinned one (offered SHA256:`);
    } finally {
      synth();
    }
    ok(tf('apply -input=false -auto-approve'), 'terraform apply (every key pinned again)');
    expect(Object.values(planActions()).every((a) => a.join() === 'no-op')).toBe(true);
  });

  it('a private key with a passphrase, or a text that is no key, fails the plan saying so; Windows line ends work', () => {
    ok(bash('ssh-keygen -q -t ed25519 -N "a passphrase" -f "$F" </dev/null >/dev/null', { env: { F: path.join(work, 'locked') } }), 'ssh-keygen');
    const locked = tf('plan -input=false', fs.readFileSync(path.join(work, 'locked'), 'utf8'));
    expect(locked.status).not.toBe(0);
    expect(output(locked).replace(/\s+/g, ' ')).toContain(
      "Docker host 'host-b' (provisioning.privateKey): the key is protected by a passphrase, which a deploy cannot ask for",
    );
    const garbage = tf('plan -input=false', 'ssh-ed25519 AAAAC3Nza this is a public key');
    expect(garbage.status).not.toBe(0);
    expect(output(garbage).replace(/\s+/g, ' ')).toContain("Docker host 'host-b' (provisioning.privateKey): the key is not an OpenSSH or PEM private key");
    expect(output(garbage)).not.toContain('this is a public key');
    // The probe (transport "key") repairs Windows line ends itself; the Volume's trigger holds the text as given.
    const crlf = tf('plan -input=false', privateKey.replace(/\n/g, '\r\n'));
    ok(crlf, 'terraform plan (key with Windows line ends)');
  });

  it('an unreachable host fails terraform plan with one message naming it', () => {
    const { hostB } = testbed();
    // B's sshd stops answering (SIGSTOP: the entrypoint would end B if sshd exited); the kernel still accepts
    // the connection, so this is the slow case: no banner until the probe's ConnectTimeout.
    const pid = ok(docker('exec', hostB.container, 'cat', '/run/sshd.pid'), 'sshd pid').trim();
    expect(pid).toMatch(/^\d+$/);
    ok(docker('exec', hostB.container, 'kill', '-STOP', pid), 'stop sshd');
    let plan: Run;
    try {
      plan = tf('plan -input=false');
    } finally {
      ok(docker('exec', hostB.container, 'kill', '-CONT', pid), 'continue sshd');
    }
    expect(plan.status).not.toBe(0);
    const text = output(plan).replace(/\s+/g, ' ');
    expect(text).toContain(`cannot reach Docker host 'host-b' (root@127.0.0.1:${hostB.sshPort})`);
    console.log(`unreachable host, terraform plan says: ${/remote-probe: error: [^│]*/.exec(text)?.[0]}`);
    expect(text).toMatch(/timed out/i);
    expect(text).not.toContain('rs-s3cr3t');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(Buffer.from(privateKey).toString('base64').slice(0, 40));
    // Reachable again: the plan is empty.
    expect(Object.values(planActions()).every((a) => a.join() === 'no-op')).toBe(true);
  });

  it('rotating the SSH key replaces the Volume create-before-destroy and keeps the data under the policy destroy (steps connecting with the key)', () => {
    const { hostB } = testbed();
    synth({ transport: 'key' });
    ok(bash('ssh-keygen -q -t ed25519 -N "" -f "$F" </dev/null >/dev/null', { env: { F: path.join(work, 'second') } }), 'ssh-keygen');
    secondKey = fs.readFileSync(path.join(work, 'second'), 'utf8');
    const pub = fs.readFileSync(path.join(work, 'second.pub'), 'utf8').trim();
    ok(hostB.ssh('printf "%s\\n" "$PUB" >> /root/.ssh/authorized_keys', { PUB: pub }), 'authorize the second key');
    const before = ok(hostB.ssh('cat "$ROOT/resource-id"', { ROOT }), 'resource id').trim();
    const actions = planActions(secondKey);
    expect(actions.Volume).toEqual(['create', 'delete']);
    const apply = tf('apply -input=false -auto-approve', secondKey);
    ok(apply, 'terraform apply (rotated key)');
    // The old Volume goes as a deposed object. Terraform 1.5.7 runs no destroy-time provisioner for deposed
    // objects (hashicorp/terraform#13395, #31266), so its destroy step does not run at all; were it to run, it
    // would find the volume taken over (resource-id) and keep it.
    const text = output(apply);
    expect(text).toMatch(/null_resource\.Volume \(deposed object \w+\): Destroying\.\.\./);
    const deposedRan = /null_resource\.Volume \(deposed object \w+\) \(local-exec\)/.test(text);
    console.log(`key rotation: the deposed Volume's destroy step ${deposedRan ? 'ran' : 'did not run'}`);
    if (deposedRan) expect(text).toMatch(/was taken over by resource \d+ \(this is \d+\): superseded, keeping it/);
    expect(output(apply)).not.toContain('PRIVATE KEY');
    // The key is in the steps' config now (sensitive): Terraform silences their output.
    expect(text).toMatch(/null_resource\.Volume \(local-exec\): \(output suppressed due to sensitive value in config\)/);
    privateKey = secondKey;
    expect(statusOnB()).toMatchObject({ exists: 'true', mounted: 'true', policy: 'destroy' });
    expect(ok(hostB.ssh('cat "$MNT/app/keep.txt"', { MNT }), 'data after rotation').trim()).toBe('precious');
    const after = ok(hostB.ssh('cat "$ROOT/resource-id"', { ROOT }), 'resource id').trim();
    expect(after).not.toBe(before);
    expect(Object.values(planActions()).every((a) => a.join() === 'no-op')).toBe(true);
  });

  it('terraform destroy honours the policy: retain keeps the volume and its data, destroy removes it', () => {
    const { hostB } = testbed();
    synth({ policy: 'retain' });
    ok(tf('apply -input=false -auto-approve'), 'terraform apply (retain)');
    ok(tf('destroy -input=false -auto-approve'), 'terraform destroy (retain)');
    expect(statusOnB()).toMatchObject({ exists: 'true', mounted: 'true' });
    expect(ok(hostB.ssh('cat "$MNT/app/keep.txt"', { MNT }), 'data after destroy (retain)').trim()).toBe('precious');

    synth({ policy: 'destroy' });
    ok(tf('apply -input=false -auto-approve'), 'terraform apply (adopt, destroy policy)');
    expect(ok(hostB.ssh('cat "$MNT/app/keep.txt"', { MNT }), 'data after adopting').trim()).toBe('precious');
    const destroy = tf('destroy -input=false -auto-approve');
    ok(destroy, 'terraform destroy (destroy)');
    expect(output(destroy)).not.toContain('rs-s3cr3t');
    expect(ok(hostB.ssh('test -e "$ROOT" && echo left || echo gone; findmnt -rn -o TARGET | grep -c "$APP" || true', { ROOT, APP }), 'after destroy').trim().split('\n')).toEqual(['gone', '0']);
  });
});
