import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import { Fn, TerraformStack, TerraformVariable } from 'cdktf';
import { AppVolume } from '../../lib/app-volume';
import { destroyProvisioners, probeProgram, SshAccess, stepProvisioners } from '../../lib/private/host-steps';
import { errorMessage, resource as byPrefix, synthStack } from './support/app-runtime';

/** A null_resource by construct id: top-level ones keep their id as key, nested ones get a hash suffix. */
const resource = (json: any, type: string, id: string): any => json.resource[type][id] ?? byPrefix(json, type, id);

const IDENTITY = { MODULUS_APP: 'shop', MODULUS_BACKEND: 'loopfile', MODULUS_ROOT: '/var/lib/modulus/volumes/shop', MODULUS_LVM_VG: '', MODULUS_LVM_POOL: '' };
const DESTROY_ENV = {
  MODULUS_APP: '${self.triggers.modulus_volume}',
  MODULUS_BACKEND: '${self.triggers.backend}',
  MODULUS_ROOT: '${self.triggers.host_root}',
  MODULUS_LVM_VG: '${self.triggers.lvm_volume_group}',
  MODULUS_LVM_POOL: '${self.triggers.lvm_thin_pool}',
};

function access(stack: TerraformStack, extra: Partial<SshAccess> = {}): SshAccess {
  const key = new TerraformVariable(stack, 'ssh_key', { type: 'string', sensitive: true });
  return { hostName: 'web-2', user: 'root', address: '127.0.0.1', port: 2222, privateKey: key.stringValue, hostKeys: [{ type: 'ssh-ed25519', base64: 'AAAAC3Nza' }], ...extra };
}

/** Each provisioner of a synthesized resource as [type, body]. */
const provisioners = (step: any): Array<[string, any]> => (step.provisioner ?? []).map((p: any) => Object.entries(p)[0] as [string, any]);

describe('local (no SSH access): exactly today\'s shape', () => {
  it('the Volume\'s create and destroy provisioners are those AppVolume synthesizes today', () => {
    const { json } = synthStack((stack) => {
      new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' });
      const create = stepProvisioners(stack, undefined, { script: 'modulus-volume.sh', command: 'create', environment: { ...IDENTITY, MODULUS_SIZE_MIB: '2048' } });
      const destroy = destroyProvisioners(stack, undefined, { script: 'modulus-volume.sh', command: 'destroy', environment: DESTROY_ENV });
      expect(destroy.triggers).toEqual({});
      expect(destroy.lifecycle).toBeUndefined();
      new NullResource(stack, 'Mine', { provisioners: [...create.provisioners, ...destroy.provisioners] });
    });
    const today = resource(json, 'null_resource', 'Vol_Volume').provisioner;
    expect(today).toHaveLength(2);
    expect(resource(json, 'null_resource', 'Mine').provisioner).toEqual(today);
  });

  it('a step with secrets is the same local-exec (sensitive values stay in its environment), and the probe is unchanged', () => {
    const { json } = synthStack((stack) => {
      const secret = new TerraformVariable(stack, 'pw', { type: 'string', sensitive: true });
      new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image', secretEnvironment: { PW: secret.stringValue } });
      const config = stepProvisioners(stack, undefined, {
        script: 'modulus-volume.sh',
        command: 'write-config',
        environment: { ...IDENTITY, MODULUS_IMAGE: 'run-image', MODULUS_ENV_NAMES: '', MODULUS_SECRET_NAMES: 'PW', MODULUS_SECRET_PW: Fn.sensitive('${local.Vol_Secret_PW_1B9E5C2A}') },
      });
      new NullResource(stack, 'Mine', { provisioners: config.provisioners });
      const probe = probeProgram(stack, undefined, { app: 'shop' });
      new NullResource(stack, 'Probe', { triggers: { program: probe.program.join(' ') } });
    });
    const [[type, body]] = provisioners(resource(json, 'null_resource', 'Mine'));
    const [[, today]] = provisioners(resource(json, 'null_resource', 'Vol_Config'));
    expect(type).toBe('local-exec');
    expect(body.command).toBe(today.command);
    expect(Object.keys(body.environment).sort()).toEqual(Object.keys(today.environment).sort());
    expect(body.environment.MODULUS_SECRET_PW).toMatch(/^\$\{sensitive\(/);
    const state = Object.values(json.data.external as Record<string, any>)[0];
    expect(resource(json, 'null_resource', 'Probe').triggers.program).toBe(state.program.join(' '));
  });

  it('an upload passes the local folder in its variable; resourceId adds MODULUS_RESOURCE_ID=${self.id}', () => {
    const { json } = synthStack((stack) => {
      const input = stepProvisioners(stack, undefined, {
        script: 'modulus-volume.sh',
        command: 'prepare-build',
        environment: IDENTITY,
        uploads: [{ source: 'assets/Source/ABC/source.tar', env: 'MODULUS_SOURCE' }],
        resourceId: true,
      });
      new NullResource(stack, 'Mine', { provisioners: input.provisioners });
    });
    const [[, body]] = provisioners(resource(json, 'null_resource', 'Mine'));
    expect(body.environment).toMatchObject({ MODULUS_SOURCE: 'assets/Source/ABC/source.tar', MODULUS_RESOURCE_ID: '${self.id}' });
  });
});

describe('remote (SSH access)', () => {
  const PLAIN = 'plain-value-7c1 "q" \\ $${x}';
  const synthRemote = (extra: Partial<SshAccess> = {}) =>
    synthStack((stack) => {
      const ssh = access(stack, extra);
      const secret = new TerraformVariable(stack, 'pw', { type: 'string', sensitive: true });
      const create = stepProvisioners(stack, ssh, { script: 'modulus-volume.sh', command: 'create', environment: { ...IDENTITY, MODULUS_SIZE_MIB: '64' }, resourceId: true });
      const destroy = destroyProvisioners(stack, ssh, { script: 'modulus-volume.sh', command: 'destroy', environment: DESTROY_ENV, resourceId: true });
      new NullResource(stack, 'Volume', {
        triggers: { modulus_volume: 'shop', ...destroy.triggers },
        provisioners: [...create.provisioners, ...destroy.provisioners],
        lifecycle: destroy.lifecycle,
      });
      const config = stepProvisioners(stack, ssh, {
        script: 'modulus-volume.sh',
        command: 'write-config',
        environment: { ...IDENTITY, MODULUS_ENV_NAMES: 'A', MODULUS_ENV_A: PLAIN, MODULUS_ENV_B: `pre "${secret.stringValue}" post`, MODULUS_SECRET_NAMES: 'PW', MODULUS_SECRET_PW: Fn.sensitive(secret.stringValue) },
      });
      new NullResource(stack, 'Config', { provisioners: config.provisioners });
      const input = stepProvisioners(stack, ssh, {
        script: 'modulus-volume.sh',
        command: 'prepare-build',
        environment: IDENTITY,
        uploads: [{ source: 'assets/Source/ABC/source.tar', env: 'MODULUS_SOURCE' }],
      });
      new NullResource(stack, 'Input', { provisioners: input.provisioners });
      const limit = destroyProvisioners(stack, ssh, { script: 'modulus-process-limit.sh', command: 'remove', environment: { MODULUS_APP: '${self.triggers.app}' } });
      new NullResource(stack, 'Limit', { triggers: { app: 'shop', ...limit.triggers }, provisioners: limit.provisioners, lifecycle: limit.lifecycle });
      const probe = probeProgram(stack, ssh, { app: 'shop', backend: 'loopfile', root: IDENTITY.MODULUS_ROOT, lvm_volume_group: '', lvm_thin_pool: '' });
      new NullResource(stack, 'Probe', { triggers: probe.query });
      new NullResource(stack, 'ProbeProgram', { triggers: { program: probe.program.join(' ') } });
    }).json;
  const json = synthRemote();

  const SCRIPTS = /^bash assets\/ModulusVolumeScript\/[0-9A-F]{32}\/ssh-step\.sh /;
  const CONNECTION = {
    STEP_SSH_HOST_NAME: 'web-2',
    STEP_SSH_USER: 'root',
    STEP_SSH_ADDRESS: '127.0.0.1',
    STEP_SSH_PORT: '2222',
    STEP_SSH_CONNECT_TIMEOUT: '30',
    STEP_SSH_HOST_KEYS: 'ssh-ed25519 AAAAC3Nza',
    STEP_SSH_TRANSPORT: 'key',
    STEP_SSH_PRIVATE_KEY: '${sensitive(var.ssh_key)}',
  };

  it('is one local-exec of ssh-step.sh: the step\'s variables and the pinned connection in its environment, STEP_VARIABLES naming what reaches the host', () => {
    const config = provisioners(resource(json, 'null_resource', 'Config'));
    expect(config.map(([type]) => type)).toEqual(['local-exec']);
    const [[, body]] = config;
    expect(body.command).toMatch(SCRIPTS);
    expect(body.command.replace(SCRIPTS, '')).toBe('modulus-volume.sh write-config');
    expect(body.when).toBeUndefined();
    expect(body.environment).toEqual({
      ...IDENTITY,
      MODULUS_ENV_NAMES: 'A',
      MODULUS_ENV_A: PLAIN,
      MODULUS_ENV_B: 'pre "${var.pw}" post',
      MODULUS_SECRET_NAMES: 'PW',
      MODULUS_SECRET_PW: '${sensitive(var.pw)}',
      MODULUS_RESOURCE_ID: '${self.id}',
      STEP_VARIABLES: 'MODULUS_APP MODULUS_BACKEND MODULUS_ENV_A MODULUS_ENV_B MODULUS_ENV_NAMES MODULUS_LVM_POOL MODULUS_LVM_VG MODULUS_RESOURCE_ID MODULUS_ROOT MODULUS_SECRET_NAMES MODULUS_SECRET_PW',
      STEP_UPLOADS: '',
      ...CONNECTION,
    });

    const [[, input]] = provisioners(resource(json, 'null_resource', 'Input'));
    expect(input.environment).toMatchObject({ MODULUS_SOURCE: 'assets/Source/ABC/source.tar', STEP_UPLOADS: 'MODULUS_SOURCE' });
    expect(input.environment.STEP_VARIABLES.split(' ')).toContain('MODULUS_SOURCE');
  });

  it('puts no value on any command line: only the script and command names', () => {
    for (const name of ['Volume', 'Config', 'Input', 'Limit']) {
      for (const [type, body] of provisioners(resource(json, 'null_resource', name))) {
        expect(type).toBe('local-exec');
        expect(body.command.replace(SCRIPTS, '')).toMatch(/^modulus-(volume|process-limit)\.sh [a-z-]+$/);
      }
    }
  });

  it("with the engine's SSH connection, create-time steps go that way (no key in their config); destroy-time steps keep the key", () => {
    const engine = { address: 'web-2.internal', port: 2200, options: ['-i', '/ci/keys/deploy', '-o', 'UserKnownHostsFile=/ci/known hosts'] };
    const viaEngine = synthRemote({ engine });
    const [[, body]] = provisioners(resource(viaEngine, 'null_resource', 'Input'));
    expect(body.environment).toMatchObject({
      STEP_SSH_ADDRESS: 'web-2.internal',
      STEP_SSH_PORT: '2200',
      STEP_SSH_TRANSPORT: 'engine',
      STEP_SSH_OPTIONS: '-i\n/ci/keys/deploy\n-o\nUserKnownHostsFile=/ci/known hosts',
    });
    expect(JSON.stringify(body)).not.toContain('ssh_key');
    const destroy = provisioners(resource(viaEngine, 'null_resource', 'Volume')).find(([, step]) => step.when === 'destroy')![1];
    expect(destroy.environment.STEP_SSH_TRANSPORT).toBe('key');
  });

  it('destroy: connection from self.triggers (the key sensitive), when = destroy, create_before_destroy for the Volume only', () => {
    const volume = resource(json, 'null_resource', 'Volume');
    expect(volume.triggers).toEqual({
      modulus_volume: 'shop',
      ssh_host_name: 'web-2',
      ssh_user: 'root',
      ssh_address: '127.0.0.1',
      ssh_port: '2222',
      ssh_host_key: 'ssh-ed25519 AAAAC3Nza',
      ssh_private_key: '${sensitive(var.ssh_key)}',
    });
    expect(volume.lifecycle).toEqual({ create_before_destroy: true });
    const all = provisioners(volume);
    expect(all.map(([type, body]) => `${type}${body.when ? `@${body.when}` : ''}`)).toEqual(['local-exec', 'local-exec@destroy']);
    const destroy = all[1][1];
    expect(destroy.command.replace(SCRIPTS, '')).toBe('modulus-volume.sh destroy');
    expect(destroy.environment).toEqual({
      ...DESTROY_ENV,
      MODULUS_RESOURCE_ID: '${self.id}',
      STEP_VARIABLES: 'MODULUS_APP MODULUS_BACKEND MODULUS_LVM_POOL MODULUS_LVM_VG MODULUS_RESOURCE_ID MODULUS_ROOT',
      STEP_UPLOADS: '',
      STEP_SSH_HOST_NAME: '${self.triggers.ssh_host_name}',
      STEP_SSH_USER: '${self.triggers.ssh_user}',
      STEP_SSH_ADDRESS: '${self.triggers.ssh_address}',
      STEP_SSH_PORT: '${self.triggers.ssh_port}',
      STEP_SSH_CONNECT_TIMEOUT: '30',
      STEP_SSH_HOST_KEYS: '${self.triggers.ssh_host_key}',
      STEP_SSH_TRANSPORT: 'key',
      STEP_SSH_PRIVATE_KEY: '${self.triggers.ssh_private_key}',
    });
    // Only self (and literals): what Terraform allows at destroy time.
    expect(JSON.stringify(destroy)).not.toMatch(/\b(var|local|data|null_resource|module)\./);
    const limit = resource(json, 'null_resource', 'Limit');
    expect(limit.lifecycle).toBeUndefined();
    expect(provisioners(limit)[0][1].command.replace(SCRIPTS, '')).toBe('modulus-process-limit.sh remove');
  });

  /** The volume's identity and the host's SSH fields, whichever way the probe connects. */
  const PROBE_HOST = {
    app: 'shop',
    backend: 'loopfile',
    root: IDENTITY.MODULUS_ROOT,
    lvm_volume_group: '',
    lvm_thin_pool: '',
    ssh_host_name: 'web-2',
    ssh_user: 'root',
    ssh_address: '127.0.0.1',
    ssh_port: '2222',
    ssh_host_keys: 'ssh-ed25519 AAAAC3Nza',
  };

  it('the probe runs remote-probe.sh with the SSH fields in the query, the key as given and sensitive', () => {
    expect(resource(json, 'null_resource', 'ProbeProgram').triggers.program).toMatch(/^bash assets\/ModulusVolumeScript\/[0-9A-F]{32}\/remote-probe\.sh$/);
    expect(resource(json, 'null_resource', 'Probe').triggers).toEqual({
      ...PROBE_HOST,
      ssh_transport: 'key',
      ssh_private_key: '${sensitive(var.ssh_key)}',
    });
  });

  it("with the engine's SSH connection, the probe goes that way: its options in the query, no key and no host key", () => {
    const engine = { address: 'web-2.internal', port: 2200, options: ['-i', '/ci/keys/deploy', '-o', 'UserKnownHostsFile=/ci/known hosts'] };
    const probe = resource(synthRemote({ engine }), 'null_resource', 'Probe').triggers;
    expect(probe).toEqual({
      ...PROBE_HOST,
      ssh_transport: 'engine',
      ssh_engine_address: 'web-2.internal',
      ssh_engine_port: '2200',
      ssh_options: '-i\n/ci/keys/deploy\n-o\nUserKnownHostsFile=/ci/known hosts',
    });
  });

  it('refuses variables the host wrapper would not export, and uploads at destroy time (DockerHost validates the access itself)', () => {
    const refuse = (fill: (stack: TerraformStack) => void) => errorMessage(() => synthStack(fill));
    expect(
      refuse((stack) => stepProvisioners(stack, access(stack), { script: 'modulus-volume.sh', command: 'create', environment: { PATH: '/tmp' } })),
    ).toBe("test: invalid environment name 'PATH': give a MODULUS_* variable: remote-step.sh exports only those");
    expect(
      refuse((stack) => destroyProvisioners(stack, access(stack), { script: 'modulus-volume.sh', command: 'destroy', environment: {}, uploads: [{ source: 'x', env: 'MODULUS_SOURCE' }] })),
    ).toContain('a destroy step cannot upload files');
  });
});
