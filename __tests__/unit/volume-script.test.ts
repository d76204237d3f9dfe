/**
 * scripts/volume/modulus-volume.sh without touching the host: the commands through which it changes or probes
 * the system (LVM, mkfs, mount, loop devices, e2fs tools) are stand-ins on PATH (support/host-commands.sh)
 * that log their command lines and simulate the host's state in a temporary folder, so the lvm-thin backend,
 * which cannot run here (no device-mapper), runs with its exact command lines checked; everything else (the
 * volume's folders, the boot records, the boot unit) happens in that temporary folder. Also its
 * supervisor.conf rendering and its input checks. The loopfile backend runs for real in
 * __tests__/contract/volume.test.ts.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
import { validateSizeMiB } from '../../lib/private/names';
import { writeSourceArchive } from '../../lib/private/source-archive';
import { tempDir } from './support/temp';

const SCRIPTS = path.resolve(__dirname, '../../scripts/volume');
const SCRIPT = path.join(SCRIPTS, 'modulus-volume.sh');
const HOST_COMMANDS = path.resolve(__dirname, 'support/host-commands.sh');
const STUBBED = ['lvcreate', 'lvs', 'lvextend', 'lvremove', 'lvchange', 'mkfs.ext4', 'resize2fs', 'e2fsck', 'dumpe2fs', 'mount', 'umount', 'mountpoint', 'findmnt', 'losetup', 'docker', 'terraform'];
/** Stand-ins that only read the simulated host; left out of the expected command lines. */
const PROBE = /^(lvs|mountpoint|findmnt|dumpe2fs|losetup -j|terraform) /;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
  /** The command lines of the stand-ins that changed the simulated host during this run, in order. */
  changes: string[];
  /** The in-volume steps run in containers (`docker run in-volume ARGS`), in order. */
  volumeSteps: string[];
}

function script(command: string, env: Record<string, string>, input?: string): Omit<Run, 'changes' | 'volumeSteps'> {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('MODULUS_') && !key.startsWith('STUB_') && value !== undefined) clean[key] = value;
  }
  const result = spawnSync('bash', [SCRIPT, command], { env: { ...clean, ...env }, encoding: 'utf8', input });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A simulated host: the stand-ins first on PATH, the volume root, boot records and boot unit in a temporary folder. */
function host(backend: Record<string, string>) {
  const dir = tempDir('modulus-volume-script-');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  for (const command of STUBBED) fs.symlinkSync(HOST_COMMANDS, path.join(bin, command));
  const log = path.join(dir, 'commands.log');
  const root = path.join(dir, 'volumes', 'shop');
  const env = {
    PATH: `${bin}:${process.env.PATH}`,
    STUB_LOG: log,
    STUB_STATE: path.join(dir, 'state'),
    MODULUS_APP: 'shop',
    MODULUS_ROOT: root,
    MODULUS_REGISTRY: path.join(dir, 'etc', 'modulus'),
    MODULUS_BOOT_DIR: path.join(dir, 'lib', 'modulus'),
    MODULUS_SYSTEMD_DIR: path.join(dir, 'systemd'),
    MODULUS_CGROUP_FS: path.join(dir, 'cgroup'),
    MODULUS_IMAGE: 'run-image',
    ...backend,
  };
  return {
    dir,
    root,
    mnt: path.join(root, 'mnt'),
    env,
    run(command: string, extra: Record<string, string> = {}): Run {
      fs.writeFileSync(log, '');
      const run = script(command, { ...env, ...extra });
      const lines = fs.readFileSync(log, 'utf8').split('\n').filter((line) => line !== '' && !PROBE.test(line));
      const isStep = (line: string) => line.startsWith('docker run in-volume ');
      return { ...run, changes: lines.filter((line) => !isStep(line)), volumeSteps: lines.filter(isStep).map((line) => line.slice('docker run in-volume '.length)) };
    },
    /** What a reboot does to the volume: its mount is gone. */
    reboot() {
      if (spawnSync(path.join(bin, 'umount'), ['--', path.join(root, 'mnt')], { env }).status !== 0) throw new Error('umount failed');
    },
  };
}

function ok(run: Run): Run {
  if (run.status !== 0) throw new Error(`exited ${run.status}:\n${run.stderr}\n${run.stdout}`);
  return run;
}

const LVM = { MODULUS_BACKEND: 'lvm-thin', MODULUS_LVM_VG: 'vg0', MODULUS_LVM_POOL: 'pool0' };
const LVM_MOUNT = (mnt: string) => `mount -o nodev,nosuid -- /dev/vg0/modulus-shop ${mnt}`;
const modeOf = (file: string) => (fs.lstatSync(file).mode & 0o7777).toString(8).padStart(4, '0');
const ownerOf = (file: string) => `${fs.lstatSync(file).uid}:${fs.lstatSync(file).gid}`;
const statusOf = (run: Run) => Object.fromEntries(run.stdout.trim().split('\n').map((line) => line.split('=', 2)));

/** The files the volume script and the process-limit script source (a `source ".../<file>"` line). */
/** Every file the boot entry points (modulus-volume.sh, modulus-process-limit.sh) source, directly or not. */
function sourcedFiles(): string[] {
  const files = new Set<string>();
  const pending = ['modulus-volume.sh', 'modulus-process-limit.sh'];
  while (pending.length > 0) {
    for (const match of fs.readFileSync(path.join(SCRIPTS, pending.pop()!), 'utf8').matchAll(/^\s*source ".*\/([^"/]+)"$/gm)) {
      if (!files.has(match[1])) pending.push(match[1]);
      files.add(match[1]);
    }
  }
  return [...files].sort();
}

describe('volume script, lvm-thin through stand-in commands: the exact command lines', () => {
  it('creates a thin volume of the default 2 GiB, formats, mounts and lays it out', () => {
    const machine = host(LVM);
    const run = ok(machine.run('create'));
    expect(run.changes).toEqual([
      'lvcreate --yes --virtualsize 2048m --thin vg0/pool0 --name modulus-shop',
      'mkfs.ext4 -q -m 0 -E root_owner=441:444 -- /dev/vg0/modulus-shop',
      LVM_MOUNT(machine.mnt),
    ]);
    expect([modeOf(machine.root), ownerOf(machine.root)]).toEqual(['0700', '0:0']);
    expect([modeOf(machine.mnt), ownerOf(machine.mnt)]).toEqual(['0750', '441:444']);
    // Everything inside the volume is laid out as mop, in the volume only.
    expect(run.volumeSteps).toEqual(['layout']);
    const layout = Object.fromEntries(['app', 'home', 'log', 'notifications', 'tmp', 'input', 'output', '.releases'].map((dir) => [dir, modeOf(path.join(machine.mnt, dir))]));
    expect(layout).toEqual({ app: '0750', home: '0700', log: '0750', notifications: '0750', tmp: '0700', input: '0750', output: '0750', '.releases': '0750' });
    for (const dir of Object.keys(layout)) expect(ownerOf(path.join(machine.mnt, dir))).toBe('441:444');
    expect([modeOf(path.join(machine.mnt, 'supervisor.conf')), ownerOf(path.join(machine.mnt, 'supervisor.conf'))]).toEqual(['0600', '441:444']);
    // require-volume's marker, on every create (existing volumes get it too).
    expect([modeOf(path.join(machine.mnt, '.modulus-volume')), ownerOf(path.join(machine.mnt, '.modulus-volume'))]).toEqual(['0640', '441:444']);
    expect(statusOf(ok(machine.run('status')))).toMatchObject({ backend: 'lvm-thin', exists: 'true', mounted: 'true', size_mib: '2048', policy: 'retain' });
  });

  it('create without an image (the Volume step) leaves the layout inside the volume to the Mount step', () => {
    const machine = host(LVM);
    const create = ok(machine.run('create', { MODULUS_IMAGE: '' }));
    expect(create.volumeSteps).toEqual([]);
    expect([modeOf(machine.mnt), ownerOf(machine.mnt)]).toEqual(['0750', '441:444']);
    expect(create.stderr).toContain("the layout inside the volume of app 'shop' is left to the next mount with MODULUS_IMAGE");
    expect(ok(machine.run('mount', { MODULUS_HEAL_TOKEN: 'heal-1' })).volumeSteps).toEqual(['layout']);
    expect(fs.readFileSync(path.join(machine.root, 'health-token'), 'utf8')).toBe('heal-1\n');
  });

  describe('a run container an interrupted apply left outside the state (issue 21)', () => {
    const ID = 'a'.repeat(64);
    const OTHER = 'b'.repeat(64);
    const NAME = 'modulus-app-shop';
    /** A mounted volume healed with token heal-1, the run container NAME (id, app, role) on its engine. */
    const healed = (container = `${NAME} ${ID} shop run`) => {
      const machine = host(LVM);
      ok(machine.run('create'));
      ok(machine.run('mount', { MODULUS_HEAL_TOKEN: 'heal-1', MODULUS_RUN_CONTAINER: NAME }));
      const stateFile = path.join(machine.dir, 'state.json');
      const probe = (state: string | undefined, query: Record<string, string> = { state_check: 'terraform' }) => {
        if (state !== undefined) fs.writeFileSync(stateFile, state);
        const extra = { STUB_RUN_CONTAINER: container, ...(state !== undefined ? { STUB_TERRAFORM_STATE: stateFile } : {}) };
        const run = script('probe', { ...machine.env, ...extra }, JSON.stringify({ app: 'shop', backend: 'lvm-thin', root: machine.root, lvm_volume_group: 'vg0', lvm_thin_pool: 'pool0', run_container: NAME, ...query }));
        if (run.status !== 0) throw new Error(`probe exited ${run.status}: ${run.stderr}`);
        return JSON.parse(run.stdout) as Record<string, string>;
      };
      return { machine, probe, mount: (token: string) => ok(machine.run('mount', { MODULUS_HEAL_TOKEN: token, MODULUS_RUN_CONTAINER: NAME, STUB_RUN_CONTAINER: container })) };
    };
    const stateWith = (...ids: string[]) => JSON.stringify({ version: 4, resources: ids.map((id) => ({ type: 'docker_container', instances: [{ attributes: { id } }] })) });

    it('the probe: healthy while the state records the container; a token naming it when the state lacks it', () => {
      const { probe } = healed();
      expect(probe(stateWith(ID))).toEqual({ exists: 'true', mounted: 'true', health: 'heal-1', run_container: ID });
      const orphan = probe(stateWith(OTHER));
      expect(orphan.health).toMatch(new RegExp(`^heal-orphan-${ID}-[0-9a-f]{16}$`));
      // New on every plan, as every heal token is.
      expect(probe(stateWith(OTHER)).health).not.toBe(orphan.health);
    });

    it('the probe never guesses: no state to read, no state check asked (a remote host), or not the app\'s run container', () => {
      expect(healed().probe(undefined).health).toBe('heal-1');
      expect(healed().probe(stateWith(OTHER), {})).toMatchObject({ health: 'heal-1', run_container: ID });
      expect(healed(`${NAME} ${ID} other run`).probe(stateWith(OTHER))).toMatchObject({ health: 'heal-1', run_container: '' });
      expect(healed(`${NAME} ${ID} shop build`).probe(stateWith(OTHER))).toMatchObject({ health: 'heal-1', run_container: '' });
    });

    it('mount removes the container the token names, only while it is still the app\'s run container under that name', () => {
      const { machine, mount } = healed();
      const token = `heal-orphan-${ID}-0123456789abcdef`;
      const removed = mount(token);
      expect(removed.changes).toContain(`docker rm --force -- ${ID}`);
      expect(removed.stderr).toContain(`removed the run container ${NAME} (${ID.slice(0, 12)}) that an interrupted deploy left outside Terraform's state`);
      expect(fs.readFileSync(path.join(machine.root, 'health-token'), 'utf8')).toBe(`${token}\n`);
      // Another container took the name since the plan, or none has it: nothing removed.
      const since = healed(`${NAME} ${OTHER} shop run`).mount(token);
      expect(since.changes.filter((line) => line.startsWith('docker rm'))).toEqual([]);
      expect(since.stderr).toContain('is gone already');
      expect(healed().mount('heal-2').changes.filter((line) => line.startsWith('docker rm'))).toEqual([]);
    });
  });

  it('create registers the volume for boot: its record, a copy of every file the scripts source, the boot unit', () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    expect(fs.readFileSync(path.join(machine.env.MODULUS_REGISTRY, 'volumes', 'shop.env'), 'utf8')).toBe(
      `MODULUS_APP=shop\nMODULUS_BACKEND=lvm-thin\nMODULUS_ROOT=${machine.root}\nMODULUS_LVM_VG=vg0\nMODULUS_LVM_POOL=pool0\n`,
    );
    const bootDir = machine.env.MODULUS_BOOT_DIR;
    expect(sourcedFiles()).toEqual(expect.arrayContaining(['limits.env', 'messages.sh', 'device.sh']));
    for (const file of ['modulus-volume.sh', 'modulus-process-limit.sh', 'in-volume.sh', 'forbidden-roots', ...sourcedFiles()]) {
      expect(fs.readFileSync(path.join(bootDir, file), 'utf8')).toBe(fs.readFileSync(path.join(SCRIPTS, file), 'utf8'));
    }
    const unit = path.join(machine.env.MODULUS_SYSTEMD_DIR, 'modulus-volumes.service');
    expect(fs.readFileSync(unit, 'utf8')).toContain(`\nExecStart=${bootDir}/modulus-volume.sh boot\n`);
    expect(fs.readlinkSync(path.join(machine.env.MODULUS_SYSTEMD_DIR, 'docker.service.wants', 'modulus-volumes.service'))).toBe(unit);
  });

  it('re-running create on an existing, mounted volume keeps it: no lvcreate, mkfs, mount or new supervisor.conf', () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    fs.writeFileSync(path.join(machine.mnt, 'supervisor.conf'), '[program:app]\n');
    const run = ok(machine.run('create'));
    expect(run.changes).toEqual([]);
    expect(run.stderr).toContain("volume of app 'shop' exists; keeping its data");
    expect(fs.readFileSync(path.join(machine.mnt, 'supervisor.conf'), 'utf8')).toBe('[program:app]\n');
  });

  it('grows in place with lvextend and an online resize2fs', () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    expect(ok(machine.run('resize', { MODULUS_SIZE_MIB: '5120' })).changes).toEqual(['lvextend --size 5120m vg0/modulus-shop', 'resize2fs -- /dev/vg0/modulus-shop']);
    expect(statusOf(ok(machine.run('status')))).toMatchObject({ size_mib: '5120' });
  });

  it('does nothing when the size is unchanged', () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    const run = ok(machine.run('resize', { MODULUS_SIZE_MIB: '2048' }));
    expect(run.changes).toEqual([]);
    expect(run.stderr).toContain("volume of app 'shop' is already 2048 MiB");
  });

  it('refuses to shrink before changing anything (exit 3)', () => {
    const machine = host(LVM);
    ok(machine.run('create', { MODULUS_SIZE_MIB: '4096' }));
    const run = machine.run('resize', { MODULUS_SIZE_MIB: '2048' });
    expect(run.status).toBe(3);
    expect(run.changes).toEqual([]);
    expect(run.stderr).toContain("refusing to shrink the volume of app 'shop' from 4096 MiB to 2048 MiB");
    expect(run.stderr).toContain('Nothing was changed');
  });

  it('create also refuses to adopt a larger existing volume at a smaller size', () => {
    const machine = host(LVM);
    ok(machine.run('create', { MODULUS_SIZE_MIB: '4096' }));
    const run = machine.run('create', { MODULUS_SIZE_MIB: '2048' });
    expect(run.status).toBe(3);
    expect(run.changes.some((line) => /lvcreate|mkfs|lvextend|resize2fs/.test(line))).toBe(false);
  });

  it('mount after a reboot activates the thin volume and mounts it, without creating or resizing', () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    fs.writeFileSync(path.join(machine.mnt, 'supervisor.conf'), '[program:app]\n');
    machine.reboot();
    expect(fs.readdirSync(machine.mnt)).toEqual([]);
    expect(ok(machine.run('mount')).changes).toEqual(['lvchange --activate y vg0/modulus-shop', LVM_MOUNT(machine.mnt)]);
    expect(fs.readFileSync(path.join(machine.mnt, 'supervisor.conf'), 'utf8')).toBe('[program:app]\n');
    expect(ok(machine.run('mount')).changes).toEqual([]);
  });

  describe('apply-settings (the Mount step): mount, size, removal policy and process limit in one step', () => {
    const settings = { MODULUS_SIZE_MIB: '5120', MODULUS_REMOVAL_POLICY: 'destroy', MODULUS_PIDS_MAX: '64', MODULUS_HEAL_TOKEN: 'heal-2' };
    const rebooted = () => {
      const machine = host(LVM);
      ok(machine.run('create'));
      fs.mkdirSync(path.join(machine.dir, 'cgroup', 'pids'), { recursive: true });
      machine.reboot();
      return machine;
    };
    const pidsMax = (machine: ReturnType<typeof host>) => path.join(machine.dir, 'cgroup', 'pids', 'modulus', 'shop', 'pids.max');

    it('after a reboot mounts, lays out, grows, records the policy and sets the process limit, then records the token', () => {
      const machine = rebooted();
      const run = ok(machine.run('apply-settings', settings));
      expect(run.changes).toEqual(['lvchange --activate y vg0/modulus-shop', LVM_MOUNT(machine.mnt), 'lvextend --size 5120m vg0/modulus-shop', 'resize2fs -- /dev/vg0/modulus-shop']);
      expect(run.volumeSteps).toEqual(['layout']);
      expect(statusOf(ok(machine.run('status')))).toMatchObject({ mounted: 'true', size_mib: '5120', policy: 'destroy' });
      expect(fs.readFileSync(pidsMax(machine), 'utf8')).toBe('64');
      expect(fs.readFileSync(path.join(machine.env.MODULUS_REGISTRY, 'process-limits', 'shop'), 'utf8')).toBe('64\n');
      expect(fs.readFileSync(path.join(machine.root, 'health-token'), 'utf8')).toBe('heal-2\n');
      // The same settings again (a new token, the scripts' upgrade): nothing on the host changes.
      expect(ok(machine.run('apply-settings', { ...settings, MODULUS_HEAL_TOKEN: 'heal-3' })).changes).toEqual([]);
    });

    it('without MODULUS_PIDS_MAX restores the recorded process limit (a volume without a run container sets none)', () => {
      const machine = rebooted();
      ok(machine.run('apply-settings', settings));
      fs.writeFileSync(pidsMax(machine), 'max');
      ok(machine.run('apply-settings', { ...settings, MODULUS_PIDS_MAX: '' }));
      expect(fs.readFileSync(pidsMax(machine), 'utf8')).toBe('64');
    });

    it.each([
      [{ MODULUS_REMOVAL_POLICY: 'keep' }, "invalid MODULUS_REMOVAL_POLICY 'keep': use retain or destroy"],
      [{ MODULUS_SIZE_MIB: '2GiB' }, "invalid MODULUS_SIZE_MIB '2GiB'"],
    ])('refuses %j (exit 2) before it mounts or records anything', (bad, message) => {
      const machine = rebooted();
      const run = machine.run('apply-settings', { ...settings, ...bad });
      expect([run.status, run.changes]).toEqual([2, []]);
      expect(run.stderr).toContain(message);
      expect(fs.existsSync(path.join(machine.root, 'removal-policy'))).toBe(false);
      expect(fs.existsSync(path.join(machine.root, 'health-token'))).toBe(false);
    });

    it('refuses to shrink (exit 3) and records neither the policy nor the token: the next plan runs the step again', () => {
      const machine = host(LVM);
      ok(machine.run('create', { MODULUS_SIZE_MIB: '8192' }));
      const run = machine.run('apply-settings', settings);
      expect(run.status).toBe(3);
      expect(run.changes.some((line) => /lvextend|resize2fs/.test(line))).toBe(false);
      expect(run.stderr).toContain("refusing to shrink the volume of app 'shop' from 8192 MiB to 5120 MiB");
      expect(fs.existsSync(path.join(machine.root, 'removal-policy'))).toBe(false);
      expect(fs.existsSync(path.join(machine.root, 'health-token'))).toBe(false);
    });
  });

  it("mount renews the boot record and the boot unit's scripts (after an upgrade that created no volume); the boot itself does not", () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    const bootScript = path.join(machine.env.MODULUS_BOOT_DIR, 'modulus-volume.sh');
    const record = path.join(machine.env.MODULUS_REGISTRY, 'volumes', 'shop.env');
    fs.writeFileSync(bootScript, '# the scripts of an older release\n');
    fs.rmSync(record);
    ok(machine.run('mount', { MODULUS_IMAGE: '' }));
    expect(fs.readFileSync(bootScript, 'utf8')).toBe('# the scripts of an older release\n');
    ok(machine.run('mount'));
    expect(fs.readFileSync(bootScript, 'utf8')).toBe(fs.readFileSync(SCRIPT, 'utf8'));
    expect(fs.readFileSync(record, 'utf8')).toContain('MODULUS_APP=shop\n');
  });

  it('destroy with the policy destroy unmounts and removes the logical volume, its folder, record and boot unit', () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    ok(machine.run('set-policy', { MODULUS_REMOVAL_POLICY: 'destroy' }));
    const run = ok(machine.run('destroy'));
    expect(run.changes).toEqual([`umount -- ${machine.mnt}`, 'lvremove --yes vg0/modulus-shop']);
    expect(fs.existsSync(machine.root)).toBe(false);
    expect(fs.readdirSync(path.join(machine.env.MODULUS_REGISTRY, 'volumes'))).toEqual([]);
    expect(fs.existsSync(path.join(machine.env.MODULUS_SYSTEMD_DIR, 'modulus-volumes.service'))).toBe(false);
    expect(fs.readdirSync(path.join(machine.env.MODULUS_SYSTEMD_DIR, 'docker.service.wants'))).toEqual([]);
    expect(statusOf(ok(machine.run('status')))).toMatchObject({ exists: 'false', mounted: 'false' });
  });

  it.each([['retain'], ['none recorded']])('destroy with the policy %s keeps the volume as it is and removes the process limit', (policy) => {
    const machine = host(LVM);
    ok(machine.run('create'));
    if (policy === 'retain') ok(machine.run('set-policy', { MODULUS_REMOVAL_POLICY: 'retain' }));
    const limits = path.join(machine.env.MODULUS_REGISTRY, 'process-limits');
    fs.mkdirSync(limits, { recursive: true });
    fs.writeFileSync(path.join(limits, 'shop'), '512');
    const run = ok(machine.run('destroy'));
    expect(run.changes).toEqual([]);
    expect(run.stderr).toContain("removal policy is 'retain': keeping the volume of app 'shop'");
    expect(run.stderr).toContain("app 'shop': process limit removed");
    expect(fs.existsSync(path.join(limits, 'shop'))).toBe(false);
    expect(statusOf(ok(machine.run('status')))).toMatchObject({ exists: 'true', mounted: 'true', size_mib: '2048' });
  });

  it('prepare-build and publish work inside the volume only, as mop: source archive in, release out', () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    const folder = path.join(machine.dir, 'src');
    fs.mkdirSync(path.join(folder, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'lib', 'main.py'), 'print("hi")\n', { mode: 0o644 });
    fs.symlinkSync('main.py', path.join(folder, 'lib', 'start.py'));
    const source = path.join(machine.dir, 'src.tar');
    writeSourceArchive(folder, source);
    fs.writeFileSync(path.join(machine.mnt, 'output', 'stale'), '');
    fs.writeFileSync(path.join(machine.mnt, 'input', 'stale'), '');

    const key = 'c0ffee'.padEnd(64, '0');
    expect(machine.run('prepare-build', { MODULUS_SOURCE: source, MODULUS_BUILD_KEY: 'C0FFEE' }).stderr).toContain('invalid MODULUS_BUILD_KEY');
    const prepare = ok(machine.run('prepare-build', { MODULUS_SOURCE: source, MODULUS_BUILD_KEY: key, MODULUS_BUILD_SECRET_NAMES: 'NPM_TOKEN', MODULUS_BUILD_SECRET_NPM_TOKEN: 's3cret=' }));
    // Each step that reads stdin gets the byte count of what it is sent, and reads no more (not waiting for its end).
    const secretsBytes = fs.statSync(path.join(machine.mnt, '.build-secrets')).size;
    expect(secretsBytes).toBeGreaterThan(0);
    expect([prepare.changes, prepare.volumeSteps]).toEqual([[], [`prepare-build ${fs.statSync(source).size}`, `write-file .build-secrets ${secretsBytes}`, 'write-file .build-key 65']]);
    expect(fs.readFileSync(path.join(machine.mnt, '.build-key'), 'utf8')).toBe(`${key}\n`);
    expect(fs.readdirSync(path.join(machine.mnt, 'input'))).toEqual(['lib']);
    expect(fs.readdirSync(path.join(machine.mnt, 'output'))).toEqual([]);
    const copied = path.join(machine.mnt, 'input', 'lib', 'main.py');
    expect(fs.readFileSync(copied, 'utf8')).toBe('print("hi")\n');
    expect([modeOf(copied), ownerOf(copied)]).toEqual(['0640', '441:444']);
    expect(fs.readlinkSync(path.join(machine.mnt, 'input', 'lib', 'start.py'))).toBe('main.py');
    const secrets = path.join(machine.mnt, '.build-secrets');
    expect([fs.readFileSync(secrets, 'utf8'), modeOf(secrets), ownerOf(secrets)]).toEqual([`NPM_TOKEN=${Buffer.from('s3cret=').toString('base64')}\n`, '0600', '441:444']);
    expect(prepare.stdout + prepare.stderr).not.toContain('s3cret');

    fs.writeFileSync(path.join(machine.mnt, 'app', 'old'), '');
    fs.writeFileSync(path.join(machine.mnt, 'output', 'built'), '');
    // What the build container does with the key: output/ is the build of these inputs.
    fs.renameSync(path.join(machine.mnt, '.build-key'), path.join(machine.mnt, '.output-key'));
    const publish = ok(machine.run('publish', { MODULUS_RELEASE: 'abc123', MODULUS_RUN_CONTAINER: 'modulus-app-shop' }));
    expect(fs.readFileSync(path.join(machine.mnt, '.releases', 'abc123.key'), 'utf8')).toBe(`${key}\n`);
    expect([publish.changes, publish.volumeSteps]).toEqual([[], ['stage abc123', 'switch abc123', 'prune abc123 before-abc123']]);
    expect(publish.stderr).toContain("app 'shop' has no run container yet (modulus-app-shop): it will start with this release");
    expect(fs.readlinkSync(path.join(machine.mnt, 'app'))).toBe('.releases/abc123');
    expect(fs.readdirSync(path.join(machine.mnt, 'app'))).toEqual(['built']);
    // The app/ folder of a release before 0.3 became a release of its own, the way back.
    expect(fs.readdirSync(path.join(machine.mnt, '.releases', 'before-abc123'))).toEqual(['old']);
    expect(fs.readdirSync(path.join(machine.mnt, 'output'))).toEqual([]);
    expect([modeOf(path.join(machine.mnt, '.releases', 'abc123')), modeOf(path.join(machine.mnt, 'output'))]).toEqual(['0750', '0750']);
  });

  it("publish removes the app's stopped build containers that an interrupted deploy left behind, never the one it publishes", () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    fs.writeFileSync(path.join(machine.mnt, 'output', 'built'), '');
    // The stand-in answers only the query for this app's stopped build containers (labels org.modulus.app and
    // org.modulus.role=build).
    const publish = ok(machine.run('publish', { MODULUS_RELEASE: 'abc123', MODULUS_RUN_CONTAINER: 'modulus-app-shop', STUB_APP: 'shop', STUB_BUILD_CONTAINERS: 'left1 abc123 left2' }));
    expect(publish.changes).toEqual(['docker rm -- left1', 'docker rm -- left2']);
    expect(publish.stderr).toContain("removed build container left1 of app 'shop', left behind by an interrupted deploy");
    // Another app's containers are not this app's to remove.
    const again = ok(machine.run('publish', { MODULUS_RELEASE: 'abc123', MODULUS_RUN_CONTAINER: 'modulus-app-shop', STUB_APP: 'other', STUB_BUILD_CONTAINERS: 'left3' }));
    expect(again.changes).toEqual([]);
    expect(fs.readlinkSync(path.join(machine.mnt, 'app'))).toBe('.releases/abc123');
  });

  it.each([
    ['a release id with a slash', { MODULUS_RELEASE: '../x', MODULUS_RUN_CONTAINER: 'c' }, "invalid MODULUS_RELEASE '../x'"],
    ['no run container', { MODULUS_RELEASE: 'abc' }, "invalid MODULUS_RUN_CONTAINER ''"],
    ['no image', { MODULUS_RELEASE: 'abc', MODULUS_RUN_CONTAINER: 'c', MODULUS_IMAGE: '' }, 'MODULUS_IMAGE is required by publish'],
  ])('publish refuses %s (exit 2, nothing done)', (_, env, message) => {
    const machine = host(LVM);
    ok(machine.run('create'));
    const run = machine.run('publish', env);
    expect([run.status, run.changes, run.volumeSteps]).toEqual([2, [], []]);
    expect(run.stderr).toContain(message);
  });
});

describe('volume script, loopfile through stand-in commands', () => {
  it('creates a sparse file under a temporary name, formats it and mounts it through a loop device', () => {
    const machine = host({});
    const run = ok(machine.run('create', { MODULUS_SIZE_MIB: '512' }));
    const image = path.join(machine.root, 'volume.img');
    expect(run.changes).toEqual([`mkfs.ext4 -q -m 0 -E root_owner=441:444 -- ${image}.new`, `mount -o loop,nodev,nosuid -- ${image} ${machine.mnt}`]);
    expect([fs.statSync(image).size, modeOf(image), fs.existsSync(`${image}.new`)]).toEqual([512 * 1048576, '0600', false]);
  });

  it('destroy: a loop device the kernel clears between the listing and the detach counts as detached', () => {
    const machine = host({});
    ok(machine.run('create', { MODULUS_SIZE_MIB: '512' }));
    ok(machine.run('set-policy', { MODULUS_REMOVAL_POLICY: 'destroy' }));
    const run = ok(machine.run('destroy', { STUB_AUTOCLEAR_LATE: '1' }));
    expect(run.changes).toEqual(expect.arrayContaining([`umount -- ${machine.mnt}`, 'losetup -d /dev/loop7']));
    expect(fs.existsSync(machine.root)).toBe(false);
  });

  it('grows by extending the file, refreshing the loop device and resizing online', () => {
    const machine = host({});
    ok(machine.run('create', { MODULUS_SIZE_MIB: '2048' }));
    const run = ok(machine.run('resize', { MODULUS_SIZE_MIB: '3072' }));
    expect(run.changes).toEqual(['losetup --set-capacity /dev/loop7', 'resize2fs -- /dev/loop7']);
    expect(fs.statSync(path.join(machine.root, 'volume.img')).size).toBe(3072 * 1048576);
  });
});

describe('volume script: input checks (exit 2, nothing done)', () => {
  it.each([
    ['an invalid app name', { MODULUS_APP: 'Bad_Name' }, "invalid app name 'Bad_Name'"],
    ['a missing app name', { MODULUS_APP: '' }, 'MODULUS_APP is required'],
    ['a relative root', { MODULUS_ROOT: 'relative/x' }, "invalid MODULUS_ROOT 'relative/x'"],
    ['a root with ..', { MODULUS_ROOT: '/var/../etc' }, "without '.' or '..' components"],
    ['an unknown backend', { MODULUS_BACKEND: 'zfs' }, "unknown MODULUS_BACKEND 'zfs'"],
    ['lvm-thin without a volume group', { MODULUS_BACKEND: 'lvm-thin', MODULUS_LVM_POOL: 'p' }, 'lvm-thin needs MODULUS_LVM_VG'],
    ['a size with a unit', { MODULUS_SIZE_MIB: '2G' }, "invalid MODULUS_SIZE_MIB '2G'"],
    ['a negative size', { MODULUS_SIZE_MIB: '-5' }, "invalid MODULUS_SIZE_MIB '-5'"],
    ['a tiny size', { MODULUS_SIZE_MIB: '8' }, 'below the minimum of 64 MiB'],
  ])('refuses %s', (_what, env, message) => {
    const machine = host({});
    const run = machine.run('create', env);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
    expect(run.changes).toEqual([]);
    expect(fs.existsSync(machine.root)).toBe(false);
  });

  it('refuses unknown commands and policies', () => {
    const machine = host({});
    expect(machine.run('shrink').status).toBe(2);
    const policy = machine.run('set-policy', { MODULUS_REMOVAL_POLICY: 'maybe' });
    expect(policy.status).toBe(2);
    expect(policy.stderr).toContain("invalid MODULUS_REMOVAL_POLICY 'maybe'");
  });
});

/**
 * One source of truth for the size limits (scripts/volume/limits.env): each row goes through the construct's
 * check of sizeMiB and the script's own check (a create of a thin volume of that size), and both must agree with the row.
 */
describe('volume size limits: the AppVolume construct and the script refuse the same sizes', () => {
  const stack = new TerraformStack(Testing.app(), 'limits');
  const construct = (mib: number) => {
    try {
      return { ok: validateSizeMiB(stack, 'sizeMiB', mib) === mib, error: '' };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  };
  const viaScript = (mib: number) => host(LVM).run('create', { MODULUS_SIZE_MIB: String(mib) });

  it.each([
    [8, false, 'below the minimum of 64 MiB'],
    [16, false, 'below the minimum of 64 MiB'],
    [63, false, 'below the minimum of 64 MiB'],
    [64, true, ''],
    [2048, true, ''],
    [16 * 1024 * 1024, true, ''],
    [16 * 1024 * 1024 + 1, false, 'above the maximum of 16777216 MiB'],
    [64 * 1024 * 1024, false, 'above the maximum of 16777216 MiB'],
  ])('%d MiB: allowed %s', (mib, allowed, scriptMessage) => {
    const fromConstruct = construct(mib);
    expect(fromConstruct.ok).toBe(allowed);
    const run = viaScript(mib);
    expect(run.status).toBe(allowed ? 0 : 2);
    if (allowed) {
      expect(fromConstruct.error).toBe('');
      expect(run.changes[0]).toBe(`lvcreate --yes --virtualsize ${mib}m --thin vg0/pool0 --name modulus-shop`);
    } else {
      expect(fromConstruct.error).toBe(`limits: invalid sizeMiB ${mib}: use a whole number from 64 to 16777216`);
      expect(run.stderr).toContain(scriptMessage);
      expect(run.stdout).toBe('');
      expect(run.changes).toEqual([]);
    }
  });
});

describe('volume script: supervisor.conf', () => {
  const render = (env: Record<string, string>) => script('render-config', { MODULUS_APP: 'shop', ...env });

  it('renders [program:app] and Navi with values quoted the way supervisor 4 reads them', () => {
    const run = render({
      MODULUS_ENV_NAMES: 'PORT NODE_ENV GREETING',
      MODULUS_ENV_PORT: '8080',
      MODULUS_ENV_NODE_ENV: 'production',
      MODULUS_ENV_GREETING: 'say "hi", 100% a\\b $HOME ${X} a;b#c',
      MODULUS_SECRET_NAMES: 'DB_PASSWORD',
      MODULUS_SECRET_DB_PASSWORD: "p@ss'w0rd,=%s",
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      [
        "; /mnt/supervisor.conf for app 'shop', generated by modulus-images (AppVolume) on every deploy.",
        "; Included by the run image's /etc/supervisor/supervisord.conf; edits here are overwritten.",
        '',
        '[program:app]',
        'command=start',
        `environment=DB_PASSWORD="p@ss'w0rd,=%%s",GREETING='say "hi", 100%% a\\b $HOME \${X} a;b#c',NODE_ENV="production",PORT="8080"`,
        'stdout_logfile=/mnt/log/app.log',
        'stdout_logfile_maxbytes=10MB',
        'stdout_logfile_backups=5',
        'redirect_stderr=true',
        'autostart=true',
        'autorestart=true',
        'startsecs=10',
        'startretries=5',
        'stopasgroup=true',
        'killasgroup=true',
        '',
        '[eventlistener:navi]',
        'command=navi --output /mnt/notifications',
        'events=PROCESS_STATE',
        'buffer_size=100',
        'autostart=true',
        'autorestart=true',
        'stdout_logfile=NONE',
        'stderr_logfile=/mnt/log/navi.log',
        'stderr_logfile_maxbytes=1MB',
        'stderr_logfile_backups=2',
        '',
      ].join('\n'),
    );
  });

  it('renders two slots for an app behind a router, each with its port, the serving one (recorded on the host) starting with the container', () => {
    const root = tempDir('modulus-slots-');
    const slots = (record?: string) => {
      if (record) fs.writeFileSync(path.join(root, 'served-slot'), `${record}\n`);
      const run = render({ MODULUS_ROOT: root, MODULUS_SLOT_PORTS: '9001 9002', MODULUS_ENV_NAMES: 'A', MODULUS_ENV_A: 'x' });
      expect(run.status).toBe(0);
      return [...run.stdout.matchAll(/^\[program:(app-\w+)\]\ncommand=start\nenvironment=(.*)\n(?:.*\n)*?autostart=(\w+)$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    };
    expect(slots()).toEqual(['app-blue A="x",MODULUS_SLOT="blue",PORT="9001" true', 'app-green A="x",MODULUS_SLOT="green",PORT="9002" false']);
    expect(slots('green')).toEqual(['app-blue A="x",MODULUS_SLOT="blue",PORT="9001" false', 'app-green A="x",MODULUS_SLOT="green",PORT="9002" true']);
    expect(render({ MODULUS_SLOT_PORTS: '9001 9002' }).stdout).toContain('[program:app-green]\ncommand=start\nenvironment=MODULUS_SLOT="green",PORT="9002"\n');
    expect(render({ MODULUS_SLOT_PORTS: '9001 9002' }).stdout).not.toContain('[program:app]');
  });

  it.each([
    [{ MODULUS_SLOT_PORTS: '9001' }, "invalid MODULUS_SLOT_PORTS '9001'"],
    [{ MODULUS_SLOT_PORTS: '9001 9001' }, "invalid MODULUS_SLOT_PORTS '9001 9001'"],
    [{ MODULUS_SLOT_PORTS: '9001 70000' }, "invalid MODULUS_SLOT_PORTS '9001 70000'"],
    [{ MODULUS_SLOT_PORTS: '9001 9002', MODULUS_ENV_NAMES: 'PORT', MODULUS_ENV_PORT: '1' }, 'environment variable PORT is set per slot'],
    [{ MODULUS_SLOT_PORTS: '9001 9002', MODULUS_SECRET_NAMES: 'MODULUS_SLOT', MODULUS_SECRET_MODULUS_SLOT: 'x' }, 'environment variable MODULUS_SLOT is set per slot'],
  ])('refuses slots it cannot render: %j', (env, message) => {
    const run = render(env);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
  });

  it('leaves out environment= when there is none', () => {
    const run = render({});
    expect(run.status).toBe(0);
    expect(run.stdout).not.toContain('environment=');
    expect(run.stdout).toContain('[program:app]\ncommand=start\nstdout_logfile=/mnt/log/app.log\n');
  });

  it.each([
    ['a line break', 'a\nb', 'contains a line break'],
    ['an inline comment', 'x ;y', "contains whitespace followed by ';' or '#'"],
    ['both quotes', `it's "it"`, 'contains both single and double quotes'],
    ['an edge quote', "'x", 'starts or ends with a quote'],
    ['%(here)s', 'a%(here)s', "contains '%(here)s'"],
  ])('refuses a secret with %s, naming the variable, never printing the value', (_what, value, reason) => {
    const run = render({ MODULUS_SECRET_NAMES: 'TOKEN', MODULUS_SECRET_TOKEN: value });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`the value of environment variable TOKEN ${reason}`);
    expect(run.stderr).not.toContain(value);
  });

  it('refuses a variable given as plain and secret, and a missing value', () => {
    expect(render({ MODULUS_ENV_NAMES: 'A', MODULUS_ENV_A: '1', MODULUS_SECRET_NAMES: 'A', MODULUS_SECRET_A: '2' }).stderr).toContain(
      'environment variable A is given both as a plain and as a secret value',
    );
    expect(render({ MODULUS_ENV_NAMES: 'B' }).stderr).toContain('MODULUS_ENV_B is not set');
  });

  it('write-config writes the rendered file (0600, mop) and reports no value', () => {
    const machine = host(LVM);
    ok(machine.run('create'));
    const secret = { MODULUS_SECRET_NAMES: 'TOKEN', MODULUS_SECRET_TOKEN: 'hunter2-secret' };
    const run = ok(machine.run('write-config', secret));
    const conf = path.join(machine.mnt, 'supervisor.conf');
    expect(fs.readFileSync(conf, 'utf8')).toBe(ok(machine.run('render-config', secret)).stdout);
    expect(fs.readFileSync(conf, 'utf8')).toContain('environment=TOKEN="hunter2-secret"\n');
    expect([modeOf(conf), ownerOf(conf)]).toEqual(['0600', '441:444']);
    expect(run.stdout + run.stderr).not.toContain('hunter2-secret');
  });
});

describe('volume script: publish reads supervisord\'s answers', () => {
  // supervisord's XML-RPC answers as it writes them: one element per line.
  const fault = (code: number, reason: string) =>
    `<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>${code}</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>${reason}</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n`;
  const success = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><boolean>1</boolean></value>\n</param>\n</params>\n</methodResponse>\n";
  const faultOf = (response: string) =>
    spawnSync('bash', ['-c', `source "${SCRIPTS}/staging.sh"; supervisor_fault "$RESPONSE"`], { env: { ...process.env, RESPONSE: response }, encoding: 'utf8' }).stdout;

  it.each([
    ['a start that failed', fault(50, 'SPAWN_ERROR: app'), 'SPAWN_ERROR: app'],
    ['a stop of a stopped app', fault(70, 'NOT_RUNNING: app'), 'NOT_RUNNING: app'],
    ['a success', success, ''],
  ])('%s', (_, response, expected) => {
    expect(faultOf(response)).toBe(expected);
  });
});

describe('volume script: a release waits for a router that is being replaced', () => {
  /** await_router with a stand-in docker on PATH whose first `failures` calls fail as the engine does for a missing container. */
  const awaitRouter = (failures: number) => {
    const dir = tempDir('await-router');
    fs.writeFileSync(
      path.join(dir, 'docker'),
      `#!/usr/bin/env bash\nn=$(cat "${dir}/calls" 2>/dev/null || echo 0); echo $((n + 1)) > "${dir}/calls"\n` +
        `if ((n < ${failures})); then echo 'Error response from daemon: No such container: modulus-router' >&2; exit 1; fi\necho 'UP 0'\n`,
      { mode: 0o755 },
    );
    const run = spawnSync('bash', ['-c', `PROGRAM=modulus-volume; source "${SCRIPTS}/messages.sh"; source "${SCRIPTS}/staging.sh"; ROUTER_CONTAINER=modulus-router ROUTER_BACKEND=app-shop; await_router green && echo waited`], {
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    return { ...run, calls: Number(fs.readFileSync(path.join(dir, 'calls'), 'utf8')) };
  };

  it('asks again until the router knows the server, saying once what it waits for', () => {
    const run = awaitRouter(3);
    expect(run.stdout).toBe('waited\n');
    expect(run.calls).toBe(4);
    expect(run.stderr).toBe('modulus-volume: waiting for the router modulus-router to know app-shop/green (Error response from daemon: No such container: modulus-router)\n');
  });

  it('asks once when the router answers', () => {
    const run = awaitRouter(0);
    expect([run.stdout, run.stderr, run.calls]).toEqual(['waited\n', '', 1]);
  });
});

describe('volume script: lint', () => {
  it('every script and sourced file passes shellcheck; the entry point runs under set -euo pipefail', () => {
    const files = [...fs.readdirSync(SCRIPTS).filter((file) => file.endsWith('.sh')).map((file) => path.join(SCRIPTS, file)), HOST_COMMANDS];
    const result = spawnSync('shellcheck', ['-x', ...files], { encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
    const text = fs.readFileSync(SCRIPT, 'utf8');
    expect(text.startsWith('#!/usr/bin/env bash\n')).toBe(true);
    expect(text).toMatch(/^set -euo pipefail$/m);
  });
});
