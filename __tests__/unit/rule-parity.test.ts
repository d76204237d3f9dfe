/**
 * Rules the constructs and the host scripts both check, from one source (scripts/volume/rules.env, read by
 * lib/private/host-rules.ts and sourced by the scripts). One table of good and bad values per rule goes through
 * the construct that takes the value and through each script that checks it again on the host; every side must
 * give the table's verdict, so a rule changed on one side only fails here. The size limits
 * (volume-script.test.ts) and the volume roots (host-roots.test.ts) have tables of their own.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { AppVolume } from '../../lib/app-volume';
import { VolumeBackend } from '../../lib/volume-storage';
import { DockerHost } from '../../lib/docker-host';
import { releaseSettings } from '../../lib/private/release';
import { REPO_ROOT } from '../../harness/checkout';
import { publicKeys } from './support/ssh-keys';
import { tempDir } from './support/temp';

const SCRIPTS = path.join(REPO_ROOT, 'scripts/volume');

interface ScriptRun {
  status: number;
  stdout: string;
  stderr: string;
}

function script(name: string, args: string[], env: Record<string, string>, input?: string): ScriptRun {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('MODULUS_') && value !== undefined) clean[key] = value;
  }
  const result = spawnSync('bash', [path.join(SCRIPTS, name), ...args], { env: { ...clean, ...env }, encoding: 'utf8', input });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Whether the script refused the value with exit status 2 and a message matching `refusal`; throws on anything else. */
function scriptAccepts(run: ScriptRun, refusal: RegExp, acceptedStatus = 0, accepted?: RegExp): boolean {
  if (run.status === 2 && refusal.test(run.stderr)) return false;
  expect({ status: run.status, refused: refusal.test(run.stderr) }).toEqual({ status: acceptedStatus, refused: false });
  if (accepted) expect(run.stderr).toMatch(accepted);
  return true;
}

/** Whether `make` runs without a validation error naming `field`; throws on any other error. */
function constructAccepts(make: () => unknown, field: string): boolean {
  try {
    make();
    return true;
  } catch (error) {
    expect((error as Error).message).toMatch(new RegExp(`^test(/\\w+)*: invalid ${field.replace(/[.[\]]/g, '\\$&')} `));
    return false;
  }
}

const stack = () => new TerraformStack(Testing.app(), 'test');
const volume = (props: Partial<ConstructorParameters<typeof AppVolume>[2]>) => () => new AppVolume(stack(), 'Vol', { appName: 'shop', image: 'run-image', ...props });

const verdicts = (table: Array<[unknown, boolean]>) => table.map(([value, ok]) => [JSON.stringify(value).slice(0, 48), value, ok] as const);

describe('app names: AppVolume, modulus-volume.sh and modulus-process-limit.sh (APP_NAME_PATTERN)', () => {
  const root = tempDir('modulus-parity-');
  it.each(
    verdicts([
      ['shop', true],
      ['a', true],
      ['shop-api', true],
      ['a1', true],
      ['x'.repeat(40), true],
      ['x'.repeat(41), false],
      ['Shop', false],
      ['1shop', false],
      ['-shop', false],
      ['shop-', false],
      ['sh_op', false],
      ['sh op', false],
      ['shop\n', false],
      ['', false],
    ]),
  )('%s', (_shown, value, ok) => {
    const app = value as string;
    expect(constructAccepts(volume({ appName: app }), 'appName')).toBe(ok);
    const status = script('modulus-volume.sh', ['status'], { MODULUS_APP: app, MODULUS_ROOT: root });
    expect(scriptAccepts(status, /MODULUS_APP is required|invalid app name/)).toBe(ok);
    const limit = script('modulus-process-limit.sh', ['status'], { MODULUS_APP: app, MODULUS_CGROUP_FS: root, MODULUS_REGISTRY: root });
    expect(scriptAccepts(limit, /invalid MODULUS_APP/)).toBe(ok);
  });
});

describe('LVM names: AppVolume lvm and modulus-volume.sh (LVM_NAME_PATTERN)', () => {
  const root = tempDir('modulus-parity-');
  it.each(
    verdicts([
      ['vg0', true],
      ['data_vg', true],
      ['a.b+c-d', true],
      ['VG', true],
      ['+vg', true],
      ['-vg', false],
      ['v g', false],
      ['vg/0', false],
      ['vg$', false],
      ['', false],
    ]),
  )('%s', (_shown, value, ok) => {
    const name = value as string;
    for (const [field, lvm, env] of [
      ['lvm.volumeGroup', { volumeGroup: name, thinPool: 'pool0' }, { MODULUS_LVM_VG: name, MODULUS_LVM_POOL: 'pool0' }],
      ['lvm.thinPool', { volumeGroup: 'vg0', thinPool: name }, { MODULUS_LVM_VG: 'vg0', MODULUS_LVM_POOL: name }],
    ] as const) {
      expect(constructAccepts(volume({ backend: VolumeBackend.LVM_THIN, lvm }), field)).toBe(ok);
      const run = script('modulus-volume.sh', ['status'], { MODULUS_APP: 'shop', MODULUS_ROOT: root, MODULUS_BACKEND: 'lvm-thin', ...env });
      expect(scriptAccepts(run, /lvm-thin needs MODULUS_LVM_(VG|POOL)/)).toBe(ok);
    }
  });
});

describe("environment names and values: AppVolume and modulus-volume.sh's supervisor.conf (ENV_NAME_PATTERN, value_problem)", () => {
  const render = (env: Record<string, string>) => script('modulus-volume.sh', ['render-config'], { MODULUS_APP: 'shop', ...env });

  it.each(
    verdicts([
      ['PORT', true],
      ['_X', true],
      ['a1', true],
      ['A_B_C', true],
      ['1A', false],
      ['A-B', false],
      ['A.B', false],
      ['Ä', false],
    ]),
  )('name %s', (_shown, value, ok) => {
    const name = value as string;
    expect(constructAccepts(volume({ environment: { [name]: 'x' } }), 'environment name')).toBe(ok);
    expect(scriptAccepts(render({ MODULUS_ENV_NAMES: name, [`MODULUS_ENV_${name}`]: 'x' }), /invalid environment variable name/)).toBe(ok);
  });

  // The same reason on both sides: the construct's message and the script's name it after the variable.
  it.each([
    ['plain', undefined],
    ['100% a\\b $HOME ${X}', undefined],
    ['a;b#c', undefined],
    ['say "hi" now', undefined],
    ["it's", undefined],
    ['line\nbreak', 'contains a line break'],
    ['cr\r', 'contains a line break'],
    ['a ;b', "contains whitespace followed by ';' or '#' (supervisor would cut it there as a comment)"],
    ['a\t#b', "contains whitespace followed by ';' or '#' (supervisor would cut it there as a comment)"],
    // Python's str.isspace, not the locale's: a no-break space, an ideographic space, a file separator.
    ['a\u00a0;b', "contains whitespace followed by ';' or '#' (supervisor would cut it there as a comment)"],
    ['a\u3000#b', "contains whitespace followed by ';' or '#' (supervisor would cut it there as a comment)"],
    ['a\u001c;b', "contains whitespace followed by ';' or '#' (supervisor would cut it there as a comment)"],
    ['a\ufeff;b', undefined],
    ['a\u00e9;b', undefined],
    ['at %(here)s', "contains '%(here)s' (supervisor substitutes it even when escaped)"],
    ['it\'s "x" now', 'contains both single and double quotes'],
    ['"quoted', 'starts or ends with a quote character (supervisor strips those)'],
    ["end'", 'starts or ends with a quote character (supervisor strips those)'],
  ])('value %j', (value, problem) => {
    let message = '';
    try {
      volume({ secretEnvironment: { TOKEN: value } })();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(problem ? `test/Vol: invalid secretEnvironment.TOKEN (value hidden): the value ${problem}; give one supervisor.conf can hold unchanged` : '');
    const run = render({ MODULUS_SECRET_NAMES: 'TOKEN', MODULUS_SECRET_TOKEN: value });
    if (problem) {
      expect(run).toEqual({ status: 2, stdout: '', stderr: `modulus-volume: error: the value of environment variable TOKEN ${problem}\n` });
    } else {
      expect(run.status).toBe(0);
    }
  });
});

describe('health check paths: ModulusApp release and the publish step (HEALTH_PATH_PATTERN)', () => {
  /** publish up to its checks of the release settings: a valid path goes on to ask for MODULUS_IMAGE. */
  const publish = (healthPath: string) =>
    script('modulus-volume.sh', ['publish'], {
      MODULUS_APP: 'shop',
      MODULUS_RELEASE: 'r1',
      MODULUS_RUN_CONTAINER: 'modulus-app-shop',
      MODULUS_SLOT_PORTS: '8080 8081',
      MODULUS_HEALTH_PATH: healthPath,
      MODULUS_HEALTH_STATUS: '200',
      MODULUS_HEALTH_INTERVAL_MS: '1000',
      MODULUS_HEALTH_TIMEOUT_MS: '2000',
      MODULUS_START_TIMEOUT_SECONDS: '120',
      MODULUS_DRAIN_SECONDS: '10',
      MODULUS_ROUTER_CONTAINER: 'modulus-router',
      MODULUS_ROUTER_BACKEND: 'app-shop',
    });

  it.each(
    verdicts([
      ['/', true],
      ['/health', true],
      ['/health?deep=1&x=(a)', true],
      [`/${'x'.repeat(199)}`, true],
      [`/${'x'.repeat(200)}`, false],
      ['health', false],
      ["/o'k", false],
      ['/a b', false],
      ['/a"b', false],
      ['/a#b', false],
    ]),
  )('%s', (_shown, value, ok) => {
    const healthCheckPath = value as string;
    expect(constructAccepts(() => releaseSettings(stack(), { healthCheckPath }, 8080), 'release.healthCheckPath')).toBe(ok);
    expect(scriptAccepts(publish(healthCheckPath), /invalid MODULUS_HEALTH_PATH/, 2, /MODULUS_IMAGE is required by publish/)).toBe(ok);
  });
});

describe('SSH fields: DockerHost provisioning, remote-probe.sh, ssh-step.sh and host-keys.sh (SSH_*_PATTERN, HOST_KEY_TYPES)', () => {
  const KEYS = publicKeys();
  const fields = { user: 'root', address: '127.0.0.1', port: 22, hostKeys: KEYS.ed25519 };
  const host = (provisioning: Partial<typeof fields>) => () => {
    const scope = stack();
    const key = new TerraformVariable(scope, 'key', { type: 'string', sensitive: true });
    return new DockerHost(scope, 'Host', { hostName: 'edge', engine: 'tcp://127.0.0.1:2376', provisioning: { ...fields, ...provisioning, privateKey: key.stringValue } });
  };
  /** remote-probe.sh up to its checks of the query: a valid one fails next on the transport "none", before any connection. */
  const probe = (values: Partial<typeof fields>) => {
    const query = { ...fields, ...values };
    const input = JSON.stringify({
      ssh_host_name: 'edge',
      ssh_user: query.user,
      ssh_address: query.address,
      ssh_port: String(query.port),
      ssh_host_keys: query.hostKeys,
      ssh_transport: 'none',
    });
    return script('remote-probe.sh', [], {}, input);
  };
  const probeAccepts = (field: string, values: Partial<typeof fields>) =>
    scriptAccepts(probe(values), new RegExp(`invalid ${field}|${field} is not`), 2, /ssh transport 'none' is neither/);
  /** ssh-step.sh up to its checks of the connection: a valid one fails next on the transport "none", before any connection. */
  const stepAccepts = (field: string, values: Partial<typeof fields>) => {
    const query = { ...fields, ...values };
    const env = {
      STEP_SSH_HOST_NAME: 'edge',
      STEP_SSH_USER: query.user,
      STEP_SSH_ADDRESS: query.address,
      STEP_SSH_PORT: String(query.port),
      STEP_SSH_HOST_KEYS: query.hostKeys,
      STEP_SSH_TRANSPORT: 'none',
    };
    return scriptAccepts(script('ssh-step.sh', ['modulus-volume.sh', 'status'], env), new RegExp(`invalid ${field}|${field} is not`), 2, /ssh transport 'none' is neither/);
  };

  /** host-keys.sh up to its checks: a valid query goes on to ssh-keyscan 127.0.0.1, which answers or refuses at once. */
  const keyCheckAccepts = (values: Partial<typeof fields>) => {
    const query = { ...fields, ...values };
    const input = JSON.stringify({ host_name: 'edge', user: query.user, address: query.address, port: String(query.port), host_keys: query.hostKeys });
    const run = script('host-keys.sh', [], {}, input);
    if (run.status === 2 && /invalid (port|host_keys)|host_keys is not/.test(run.stderr)) return false;
    expect(run.stderr).not.toMatch(/invalid|is not 'TYPE BASE64'/);
    return true;
  };

  it.each(verdicts([['root', true], ['deploy', true], ['_ci', true], ['a-b_c', true], ['x'.repeat(32), true], ['x'.repeat(33), false], ['Root', false], ['1user', false], ['us er', false], ['', false]]))(
    'user %s',
    (_shown, value, ok) => {
      expect(constructAccepts(host({ user: value as string }), 'provisioning.user')).toBe(ok);
      expect(probeAccepts('ssh_user', { user: value as string })).toBe(ok);
      expect(stepAccepts('STEP_SSH_USER', { user: value as string })).toBe(ok);
    },
  );

  it.each(verdicts([['b.example.com', true], ['10.0.0.1', true], ['fe80::1', true], ['EDGE-1', true], ['::1', false], ['-x', false], ['a b', false], ['host_name', false], ['', false]]))(
    'address %s',
    (_shown, value, ok) => {
      expect(constructAccepts(host({ address: value as string }), 'provisioning.address')).toBe(ok);
      expect(probeAccepts('ssh_address', { address: value as string })).toBe(ok);
      expect(stepAccepts('STEP_SSH_ADDRESS', { address: value as string })).toBe(ok);
    },
  );

  it.each(verdicts([[22, true], [1, true], [65535, true], [0, false], [65536, false], [100000, false], [22.5, false]]))('port %s', (_shown, value, ok) => {
    expect(constructAccepts(host({ port: value as number }), 'provisioning.port')).toBe(ok);
    expect(probeAccepts('ssh_port', { port: value as number })).toBe(ok);
    expect(stepAccepts('STEP_SSH_PORT', { port: value as number })).toBe(ok);
    // Port 1 of 127.0.0.1 stands for every valid port here: nothing listens there, so ssh-keyscan fails at once.
    expect(keyCheckAccepts({ port: ok ? 1 : (value as number) })).toBe(ok);
  });

  // 'TYPE BASE64' lines, as the constructs pass the pinned keys to the scripts. (The constructs also check that
  // the blob names the line's type, which the scripts leave to ssh.)
  it.each(
    verdicts([
      [KEYS.ed25519, true],
      [`${KEYS.ecdsa}\n${KEYS.rsa}`, true],
      [KEYS.ecdsa384, true],
      [`ssh-dss ${KEYS.ed25519.split(' ')[1]}`, false],
      [`ssh-ed448 ${KEYS.ed25519.split(' ')[1]}`, false],
      [`${KEYS.ed25519}$`, false],
      ['ssh-ed25519', false],
      ['', false],
    ]),
  )('host keys %s', (_shown, value, ok) => {
    expect(constructAccepts(host({ hostKeys: value as string }), 'provisioning.hostKeys( line \\d+)?')).toBe(ok);
    expect(probeAccepts('ssh_host_keys', { hostKeys: value as string })).toBe(ok);
    expect(stepAccepts('STEP_SSH_HOST_KEYS', { hostKeys: value as string })).toBe(ok);
    expect(keyCheckAccepts({ port: 1, hostKeys: value as string })).toBe(ok);
  });
});
