import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TerraformOutput, TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { AppVolume, AppVolumeProps, VolumeRemovalPolicy } from '../../lib/app-volume';
import { VolumeBackend } from '../../lib/volume-storage';
import { ModulusStack } from '../../lib/modulus-stack';
import { errorMessage, localExecs, resource, resourceKey, resourcesOf, synthStack } from './support/app-runtime';

const REPO_ROOT = path.resolve(__dirname, '../..');

function synthVolume(props: Partial<AppVolumeProps> = {}) {
  let volume!: AppVolume;
  const result = synthStack((stack) => {
    volume = new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image', ...props });
  });
  return { ...result, volume };
}

const volumeError = (props: Partial<AppVolumeProps>): string => errorMessage(() => synthVolume(props));

describe('AppVolume: resources', () => {
  const { json, raw, volume } = synthVolume();
  const steps = resourcesOf(json, 'null_resource');

  it('creates the volume, supervisor.conf and mount steps (three resources: the settings are the mount step\'s)', () => {
    expect(Object.keys(steps).sort()).toEqual(
      ['Config', 'Mount', 'Volume'].map((name) => resourceKey(json, 'null_resource', `Vol_${name}`)).sort(),
    );
    expect(Testing.toHaveResource(raw, 'null_resource')).toBe(true);
  });

  it('runs its steps as null_resources of a hashicorp/null provider it adds to any stack, pinned to exactly 3.2.4', () => {
    expect(json.terraform.required_providers.null).toEqual({ source: 'hashicorp/null', version: '3.2.4' });
    expect(Object.keys(json.provider)).toContain('null');
    expect(Object.values(steps).map((step: any) => step.provider)).toEqual(Object.values(steps).map(() => 'null'));
    expect(json.resource.terraform_data).toBeUndefined();
  });

  it("re-runs the supervisor.conf and mount steps when the scripts change (their content hash), never the volume", () => {
    const scripts = /assets\/ModulusVolumeScript\/([0-9A-F]{32})\//.exec(localExecs(resource(json, 'null_resource', 'Vol_Config'))[0].command)![1];
    expect(resource(json, 'null_resource', 'Vol_Config').triggers.scripts_sha256).toBe(scripts);
    expect(resource(json, 'null_resource', 'Vol_Mount').triggers.scripts_sha256).toBe(scripts);
    for (const step of ['Volume']) {
      expect({ step, triggers: JSON.stringify(resource(json, 'null_resource', `Vol_${step}`).triggers) }).not.toEqual({
        step,
        triggers: expect.stringContaining(scripts),
      });
    }
  });

  it('keys the volume on its identity only (app, backend, host root, LVM location), marked for the plan summary', () => {
    expect(resource(json, 'null_resource', 'Vol_Volume').triggers).toEqual({
      modulus_volume: 'shop',
      backend: 'loopfile',
      host_root: '/var/lib/modulus/volumes/shop',
      lvm_volume_group: '',
      lvm_thin_pool: '',
    });
  });

  it('creates with the default size 2 GiB under /var/lib/modulus/volumes/<app>', () => {
    const [create, destroy] = localExecs(resource(json, 'null_resource', 'Vol_Volume'));
    expect(create.command).toMatch(/^bash assets\/ModulusVolumeScript\/[0-9A-F]{32}\/modulus-volume\.sh create$/);
    expect(create.environment).toEqual({
      MODULUS_APP: 'shop',
      MODULUS_BACKEND: 'loopfile',
      MODULUS_ROOT: '/var/lib/modulus/volumes/shop',
      MODULUS_LVM_VG: '',
      MODULUS_LVM_POOL: '',
      MODULUS_SIZE_MIB: '2048',
    });
    expect(create.when).toBeUndefined();
    expect(volume.sizeMiB).toBe(2048);
    expect(volume.hostPath).toBe('/var/lib/modulus/volumes/shop/mnt');
    expect(destroy.when).toBe('destroy');
  });

  it('gives the destroy provisioner only self.triggers (what Terraform allows at destroy time)', () => {
    const destroy = localExecs(resource(json, 'null_resource', 'Vol_Volume'))[1];
    expect(destroy.command).toMatch(/modulus-volume\.sh destroy$/);
    for (const value of Object.values(destroy.environment) as string[]) {
      expect(value).toMatch(/^\$\{self\.triggers\.[a-z_]+\}$/);
      const key = value.slice('${self.triggers.'.length, -1);
      expect(Object.keys(resource(json, 'null_resource', 'Vol_Volume').triggers)).toContain(key);
    }
  });

  it('keeps the size out of the volume triggers: the mount step, keyed on the size, grows it in place', () => {
    const mount = resource(json, 'null_resource', 'Vol_Mount');
    expect(mount.triggers).toMatchObject({ volume: `\${null_resource.${resourceKey(json, 'null_resource', 'Vol_Volume')}.id}`, size_mib: '2048' });
    expect(localExecs(mount)).toHaveLength(1);
    expect(localExecs(mount)[0].command).toMatch(/modulus-volume\.sh apply-settings$/);
    expect(localExecs(mount)[0].environment.MODULUS_SIZE_MIB).toBe('2048');
  });

  it('records the removal policy (default retain) in the mount step, keyed on it', () => {
    const mount = resource(json, 'null_resource', 'Vol_Mount');
    expect(mount.triggers.removal_policy).toBe('retain');
    expect(localExecs(mount)[0].environment.MODULUS_REMOVAL_POLICY).toBe('retain');
    expect(volume.removalPolicy).toBe(VolumeRemovalPolicy.RETAIN);
  });

  it('without a run container sets no process limit (the step restores a recorded one)', () => {
    const mount = resource(json, 'null_resource', 'Vol_Mount');
    expect(mount.triggers.pids_max).toBe('');
    expect(localExecs(mount)[0].environment.MODULUS_PIDS_MAX).toBe('');
  });

  it('exposes ids that change with the volume and with supervisor.conf', () => {
    const { json: withOutputs } = synthStack((stack) => {
      const v = new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' });
      new TerraformOutput(stack, 'volume_id', { value: v.volumeId });
      new TerraformOutput(stack, 'config_id', { value: v.configId });
    });
    expect(withOutputs.output.volume_id.value).toBe(`\${null_resource.${resourceKey(withOutputs, 'null_resource', 'Vol_Volume')}.id}`);
    expect(withOutputs.output.config_id.value).toBe(`\${null_resource.${resourceKey(withOutputs, 'null_resource', 'Vol_Config')}.id}`);
  });
});

describe('AppVolume: changes', () => {
  const base = synthVolume().json;
  const triggersOf = (json: any, name: string) => resource(json, 'null_resource', `Vol_${name}`).triggers;

  it('growing changes only the mount step, never the volume or supervisor.conf triggers (no replacement, no restart)', () => {
    const grown = synthVolume({ sizeMiB: 5120 }).json;
    expect(triggersOf(grown, 'Volume')).toEqual(triggersOf(base, 'Volume'));
    expect(triggersOf(grown, 'Mount')).toEqual({ ...triggersOf(base, 'Mount'), size_mib: '5120' });
    expect(triggersOf(grown, 'Config')).toEqual(triggersOf(base, 'Config'));
  });

  it('changing the environment touches only supervisor.conf', () => {
    const changed = synthVolume({ environment: { NODE_ENV: 'production' } }).json;
    expect(triggersOf(changed, 'Volume')).toEqual(triggersOf(base, 'Volume'));
    expect(triggersOf(changed, 'Mount')).toEqual(triggersOf(base, 'Mount'));
    expect(triggersOf(changed, 'Config')).not.toEqual(triggersOf(base, 'Config'));
  });

  it('changing the removal policy does not replace the volume (it would run the old policy)', () => {
    const changed = synthVolume({ removalPolicy: VolumeRemovalPolicy.DESTROY }).json;
    expect(triggersOf(changed, 'Volume')).toEqual(triggersOf(base, 'Volume'));
    expect(triggersOf(changed, 'Mount')).toEqual({ ...triggersOf(base, 'Mount'), removal_policy: 'destroy' });
    expect(triggersOf(changed, 'Config')).toEqual(triggersOf(base, 'Config'));
  });

  it('a new host root or backend is a new volume (identity)', () => {
    expect(triggersOf(synthVolume({ hostRoot: '/srv/volumes/shop' }).json, 'Volume').host_root).toBe('/srv/volumes/shop');
    expect(synthVolume({ hostRoot: '/srv/volumes/shop' }).volume.hostPath).toBe('/srv/volumes/shop/mnt');
  });
});

describe('AppVolume: sizes', () => {
  it.each([64, 512, 1536, 2048, 1048576, 16777216])('%d MiB is accepted as it is', (sizeMiB) => {
    const { json, volume } = synthVolume({ sizeMiB });
    expect(volume.sizeMiB).toBe(sizeMiB);
    expect(resource(json, 'null_resource', 'Vol_Mount').triggers.size_mib).toBe(String(sizeMiB));
  });

  it.each([0, -1, 63, 16777217, 1.5, 2048.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses %d with the construct path, field, value and what is allowed',
    (sizeMiB) => {
      expect(volumeError({ sizeMiB })).toBe(`test/Vol: invalid sizeMiB ${sizeMiB}: use a whole number from 64 to 16777216`);
    },
  );

  it.each(['2GiB', '2048', ''])('refuses the string %j (sizes are a number of MiB)', (size) => {
    expect(volumeError({ sizeMiB: size as any })).toBe(`test/Vol: invalid sizeMiB '${size}': use a whole number from 64 to 16777216`);
  });
});

describe('AppVolume: validation', () => {
  it.each(['Shop', '1shop', 'shop-', 'sh_op', 'a'.repeat(41), '', 'shop api', '-shop'])('refuses the app name %j', (appName) => {
    expect(volumeError({ appName })).toBe(
      `test/Vol: invalid appName '${appName}': use a lowercase letter, then lowercase letters, digits or '-', ending in a letter or digit, at most 40 characters (e.g. 'shop-api')`,
    );
  });

  it('accepts app names up to 40 characters', () => {
    expect(synthVolume({ appName: `a${'b'.repeat(38)}9` }).volume.appName).toHaveLength(40);
  });

  it('refuses unknown backends and policies', () => {
    expect(volumeError({ backend: 'zfs' as any })).toBe(
      "test/Vol: invalid backend 'zfs': use one of VolumeBackend.LOOPFILE ('loopfile'), VolumeBackend.LVM_THIN ('lvm-thin')",
    );
    expect(volumeError({ removalPolicy: 'snapshot' as any })).toBe(
      "test/Vol: invalid removalPolicy 'snapshot': use one of VolumeRemovalPolicy.RETAIN ('retain'), VolumeRemovalPolicy.DESTROY ('destroy')",
    );
  });

  it('needs lvm settings exactly with the lvm-thin backend', () => {
    expect(volumeError({ backend: VolumeBackend.LVM_THIN })).toBe(
      'test/Vol: invalid lvm undefined: give { volumeGroup, thinPool } with VolumeBackend.LVM_THIN',
    );
    expect(volumeError({ lvm: { volumeGroup: 'vg0', thinPool: 'pool0' } })).toBe(
      `test/Vol: invalid lvm {"volumeGroup":"vg0","thinPool":"pool0"}: leave it out: it is only used with VolumeBackend.LVM_THIN, not 'loopfile'`,
    );
    expect(volumeError({ backend: VolumeBackend.LVM_THIN, lvm: { volumeGroup: 'vg 0', thinPool: 'pool0' } })).toBe(
      "test/Vol: invalid lvm.volumeGroup 'vg 0': use an LVM name: letters, digits, '_', '.', '+' and '-', not starting with '-'",
    );
  });

  it('refuses relative or unsafe host roots', () => {
    for (const hostRoot of ['var/lib/x', '/var/lib/../x', '/var/lib/x/', '/var lib', '/', '/var//x']) {
      expect(volumeError({ hostRoot })).toBe(
        `test/Vol: invalid hostRoot '${hostRoot}': use an absolute path of letters, digits, '.', '_', '-' and '/', without '.' or '..' components, empty components or a trailing '/'`,
      );
    }
  });

  it('refuses invalid variable names and a name given both plain and secret', () => {
    expect(volumeError({ environment: { '1X': 'a' } })).toBe("test/Vol: invalid environment name '1X': use letters, digits and '_', not starting with a digit");
    expect(volumeError({ environment: { A: 'a' }, secretEnvironment: { A: 'b' } })).toBe(
      "test/Vol: invalid secretEnvironment name 'A': give each variable once: it is also in environment",
    );
  });

  it.each([
    ['a\nb', 'line break'],
    ['a ;b', "whitespace followed by ';' or '#'"],
    ['a #b', "whitespace followed by ';' or '#'"],
    [`it's "x"`, 'both single and double quotes'],
    ['"quoted"', 'starts or ends with a quote'],
    ['x%(here)s', '%(here)s'],
  ])('refuses %j, which supervisor cannot read back, naming the variable but not the value', (value, reason) => {
    const message = volumeError({ secretEnvironment: { DB_PASSWORD: value } });
    expect(message).toMatch(/^test\/Vol: invalid secretEnvironment\.DB_PASSWORD \(value hidden\): the value (contains|starts or ends with) .+; give one supervisor\.conf can hold unchanged$/);
    expect(message).toContain(reason);
    expect(message).not.toContain(value);
  });
});

describe('AppVolume: supervisor.conf and secrets', () => {
  it('passes the environment to the volume script by name, values escaped for Terraform templates', () => {
    const { json } = synthVolume({ environment: { NODE_ENV: 'production', GREETING: 'costs 100% ${HOME} %{x} a\\b "q" end' } });
    const config = resource(json, 'null_resource', 'Vol_Config');
    const [write] = localExecs(config);
    expect(write.command).toMatch(/modulus-volume\.sh write-config$/);
    expect(write.environment).toMatchObject({
      MODULUS_ENV_NAMES: 'GREETING NODE_ENV',
      MODULUS_SECRET_NAMES: '',
      MODULUS_ENV_NODE_ENV: 'production',
      MODULUS_ENV_GREETING: 'costs 100% $${HOME} %%{x} a\\b "q" end',
    });
    expect(config.triggers).toMatchObject({ env_NODE_ENV: 'production' });
  });

  it('keeps secrets out of command lines and triggers: sensitive environment and a sensitive hash only', () => {
    const secret = 's3cr3t-literal-value';
    const { json, raw } = synthStack((stack) => {
      const variable = new TerraformVariable(stack, 'db_password', { type: 'string', sensitive: true });
      new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image', secretEnvironment: { DB_PASSWORD: variable.stringValue, API_KEY: secret } });
    });
    const config = resource(json, 'null_resource', 'Vol_Config');
    const [write] = localExecs(config);
    expect(write.environment.MODULUS_SECRET_NAMES).toBe('API_KEY DB_PASSWORD');
    expect(write.environment.MODULUS_SECRET_DB_PASSWORD).toMatch(/^\$\{sensitive\(local\.Vol_Secret_DB_PASSWORD_[0-9A-F]{8}\)\}$/);
    expect(write.environment.MODULUS_SECRET_API_KEY).toMatch(/^\$\{sensitive\(local\.Vol_Secret_API_KEY_[0-9A-F]{8}\)\}$/);
    expect(config.triggers.secret_DB_PASSWORD_sha256).toMatch(/^\$\{sensitive\(sha256\(local\.Vol_Secret_DB_PASSWORD_[0-9A-F]{8}\)\)\}$/);
    // The literal secret appears once in the whole JSON: as the value of its local, nowhere else.
    expect(raw.split(secret)).toHaveLength(2);
    expect(Object.values(json.locals)).toContain(secret);
    for (const step of Object.values(resourcesOf(json, 'null_resource'))) {
      for (const exec of localExecs(step)) {
        expect(exec.command).not.toContain(secret);
        expect(exec.command).not.toContain('var.db_password');
        expect(exec.command).not.toMatch(/\$\{/);
      }
      expect(JSON.stringify(step.triggers)).not.toContain(secret);
      expect(JSON.stringify(step.triggers)).not.toContain('var.db_password}');
    }
    expect(json.variable.db_password.sensitive).toBe(true);
  });
});

describe('AppVolume: lvm-thin', () => {
  it('passes the volume group and thin pool and keys the volume on them', () => {
    const { json } = synthVolume({ backend: VolumeBackend.LVM_THIN, lvm: { volumeGroup: 'vg0', thinPool: 'pool0' }, sizeMiB: 10240 });
    const volume = resource(json, 'null_resource', 'Vol_Volume');
    expect(volume.triggers).toMatchObject({ backend: 'lvm-thin', lvm_volume_group: 'vg0', lvm_thin_pool: 'pool0' });
    expect(localExecs(volume)[0].environment).toMatchObject({ MODULUS_BACKEND: 'lvm-thin', MODULUS_LVM_VG: 'vg0', MODULUS_LVM_POOL: 'pool0', MODULUS_SIZE_MIB: '10240' });
  });
});

describe('AppVolume: synthesized output', () => {
  it('is deterministic and free of absolute paths of this machine', () => {
    const first = synthVolume({ environment: { A: 'b' } }).raw;
    const second = synthVolume({ environment: { A: 'b' } }).raw;
    expect(second).toBe(first);
    expect(first).not.toContain(REPO_ROOT);
    expect(first).not.toMatch(new RegExp(`"${os.tmpdir()}/`));
    expect(first).not.toContain(os.homedir());
  });

  it('ships the volume script once per stack, at the relative path the provisioners call', () => {
    const stack = new TerraformStack(Testing.app(), 'shipped');
    new AppVolume(stack, 'One', { appName: 'one', image: 'run-image' });
    new AppVolume(stack, 'Two', { appName: 'two', image: 'run-image' });
    const outdir = Testing.fullSynth(stack);
    const stackDir = path.join(outdir, 'stacks', 'shipped');
    const json = JSON.parse(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8'));
    const commands = Object.values(json.resource.null_resource).flatMap((r: any) => localExecs(r).map((exec) => exec.command as string));
    const scripts = new Set(commands.map((command) => command.split(' ')[1]));
    expect(scripts.size).toBe(1);
    const [script] = [...scripts];
    expect(path.isAbsolute(script)).toBe(false);
    expect(fs.readFileSync(path.join(stackDir, script), 'utf8')).toBe(
      fs.readFileSync(path.join(REPO_ROOT, 'scripts/volume/modulus-volume.sh'), 'utf8'),
    );
  });
});

describe('AppVolume: steps inside the volume and reboot drift', () => {
  it('runs its in-volume steps in the given image on the stack engine, and refuses a missing image', () => {
    const app = Testing.app();
    const stack = new ModulusStack(app, 'test', { dockerHost: 'unix:///run/other.sock' });
    new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' });
    const json = JSON.parse(Testing.synth(stack));
    // Not the Volume step: the probe waits for it, and must not wait for an image on an unreachable host.
    expect(localExecs(resource(json, 'null_resource', 'Vol_Volume'))[0].environment.MODULUS_IMAGE).toBeUndefined();
    for (const step of ['Config', 'Mount']) {
      expect([step, localExecs(resource(json, 'null_resource', `Vol_${step}`))[0].environment]).toEqual([
        step,
        expect.objectContaining({ MODULUS_IMAGE: 'run-image', MODULUS_DOCKER_HOST: 'unix:///run/other.sock' }),
      ]);
    }
    expect(errorMessage(() => synthStack((s) => new AppVolume(s, 'Vol', { appName: 'shop', image: '' })))).toBe(
      "test/Vol: invalid image '': give an image id or reference with bash, coreutils and tar (e.g. the app's run image)",
    );
  });

  it('refuses a stack engine that is not this machine when no DockerHost places the volume', () => {
    const stack = new ModulusStack(Testing.app(), 'test', { dockerHost: 'ssh://deploy@remote.example' });
    expect(errorMessage(() => new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' }))).toBe(
      "test/Vol: invalid host undefined: give a DockerHost with provisioning access: the stack's engine ssh://deploy@remote.example is not this machine, and the volume of app 'shop' must be made where its containers run",
    );
  });

  it('keys the Mount step on the probe\'s health token and records that token when it heals', () => {
    const { json } = synthStack((stack) => new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' }));
    const mount = resource(json, 'null_resource', 'Vol_Mount');
    const state = `\${data.external.${Object.keys(json.data.external)[0]}.result["health"]}`;
    expect(mount.triggers.health).toBe(state);
    expect(localExecs(mount)[0].environment.MODULUS_HEAL_TOKEN).toBe(state);
  });

  it('has the probe look for the app\'s run container outside the state (read here, where Terraform runs), and the Mount step remove it', () => {
    const { json } = synthStack((stack) => new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' }));
    const probe = Object.values(json.data.external)[0] as { query: Record<string, string> };
    expect(probe.query).toMatchObject({ app: 'shop', run_container: 'modulus-app-shop', state_check: 'terraform' });
    expect(localExecs(resource(json, 'null_resource', 'Vol_Mount'))[0].environment.MODULUS_RUN_CONTAINER).toBe('modulus-app-shop');
  });
});
