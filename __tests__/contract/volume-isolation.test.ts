/**
 * The volume script's privileged steps against a hostile app, for real (loop mounts, the engine, supervisord in
 * the run-base image): the app owns everything in its volume and replaces folders and files with links to a
 * canary folder of the host and to another app's volume; every step either works inside its own volume or fails
 * with a message, and the canary and the other volume stay byte for byte as they were. Then publish as a switch
 * between whole releases: killed after each of its engine calls, run twice, with supervisord gone or its socket
 * moved. Last, a run container replaced beside the serving one whose new slot fails.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeSourceArchive } from '../../lib/private/source-archive';
import { buildImage, docker, dockerRun } from './support/docker';
import { isMounted, loopDevices, mnt, ok, runVolumeScript, ScriptRun, VOLUME_SCRIPT, volumeStepImage } from './support/volume-host';

jest.setTimeout(1_800_000);

const TEMP = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-volume-isolation-'));
const roots: string[] = [];
const script = (command: string, root: string, env: Record<string, string> = {}) => runVolumeScript(TEMP, command, root, env);
const BUILD_KEY = '0123456789abcdef'.repeat(4);

function createVolume(name: string): string {
  const root = path.join(TEMP, name);
  roots.push(root);
  ok(script('create', root, { MODULUS_SIZE_MIB: '64' }));
  return root;
}

/** Every entry below `dir`: path, type, owner, mode, and content or link text. */
function snapshot(dir: string): string[] {
  const entries: string[] = [];
  const visit = (relative: string) => {
    const absolute = path.join(dir, relative);
    const stat = fs.lstatSync(absolute);
    const mode = (stat.mode & 0o7777).toString(8);
    const owner = `${stat.uid}:${stat.gid}`;
    if (stat.isSymbolicLink()) entries.push(`${relative} link ${owner} -> ${fs.readlinkSync(absolute)}`);
    else if (stat.isFile()) entries.push(`${relative} file ${owner} ${mode} ${fs.readFileSync(absolute, 'base64')}`);
    else if (stat.isDirectory()) {
      entries.push(`${relative} dir ${owner} ${mode}`);
      for (const name of fs.readdirSync(absolute).sort()) visit(path.join(relative, name));
    } else entries.push(`${relative} other ${owner} ${mode}`);
  };
  visit('.');
  return entries;
}

/** What the app can do to its own volume: replace `entry` with a link (owned by mop) to `target`. */
function plant(root: string, entry: string, target: string): void {
  const file = path.join(mnt(root), entry);
  fs.rmSync(file, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.symlinkSync(target, file);
  fs.lchownSync(file, 441, 444);
}

/** A run container like RunContainer's, with supervisord from run-base and an app that prints /mnt/app/version. */
function startRunContainer(root: string, name: string): void {
  // `start` exists only in run-<language> images; startsecs=1 keeps each restart short.
  const conf = ok(script('render-config', root))
    .stdout.replace('command=start\n', `command=bash -c "v=$(cat /mnt/app/version); [ \\"$v\\" != broken ] || exit 1; echo serving $v; exec sleep infinity"\n`)
    .replace('startsecs=10', 'startsecs=1')
    .replace('startretries=5', 'startretries=0');
  startSupervised(root, name, conf);
}

/** A run container like RunContainer's, with supervisord from run-base and the supervisor.conf `conf`. */
function startSupervised(root: string, name: string, conf: string): void {
  fs.writeFileSync(path.join(mnt(root), 'supervisor.conf'), conf, { mode: 0o600 });
  fs.chownSync(path.join(mnt(root), 'supervisor.conf'), 441, 444);
  dockerRun(['rm', '-f', name]);
  docker(['run', '-d', '--name', name, '--network', 'none', '--user', '441:444', '--read-only', '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges:true', '--init', '-e', 'TINI_SUBREAPER=1', '-v', `${mnt(root)}:/mnt`, buildImage('run-base')]);
  for (let i = 0; i < 60 && !appInfo(name).includes('RUNNING'); i++) spawnSync('sleep', ['0.5']);
}

/** `supervisorctl status app` in the container (empty when supervisord does not answer). */
const appInfo = (name: string) => dockerRun(['exec', name, 'supervisorctl', 'status', 'app']).stdout;
const appPid = (name: string) => /pid (\d+)/.exec(appInfo(name))?.[1];

/** A build's output: `version` in output/, written as mop. */
function build(root: string, version: string): void {
  fs.rmSync(path.join(mnt(root), 'output'), { recursive: true, force: true });
  fs.mkdirSync(path.join(mnt(root), 'output'));
  fs.writeFileSync(path.join(mnt(root), 'output', 'version'), version);
  for (const file of ['output', 'output/version']) fs.chownSync(path.join(mnt(root), file), 441, 444);
}

const servedVersion = (root: string) => fs.readFileSync(path.join(mnt(root), 'app', 'version'), 'utf8');

afterAll(() => {
  for (const name of ['modulus-app-attacker', 'modulus-app-neighbour', 'modulus-app-switch', 'modulus-app-answer']) dockerRun(['rm', '-f', name]);
  for (const root of roots) {
    if (isMounted(mnt(root))) spawnSync('umount', [mnt(root)]);
    for (const device of loopDevices(root)) spawnSync('losetup', ['-d', device]);
  }
  fs.rmSync(TEMP, { recursive: true, force: true });
});

describe('privileged steps never follow a link the app planted', () => {
  const canary = path.join(TEMP, 'canary');
  let attacker: string;
  let neighbour: string;
  let source: string;
  /** A release as another instance's export writes it. */
  let delivered: string;
  let before: { canary: string[]; neighbour: string[] };

  beforeAll(() => {
    // A stand-in for a host folder such as /etc/cron.d: root's, with a file.
    fs.mkdirSync(canary, { mode: 0o755 });
    fs.writeFileSync(path.join(canary, 'job'), '* * * * * root true\n', { mode: 0o644 });
    attacker = createVolume('attacker');
    neighbour = createVolume('neighbour');
    fs.writeFileSync(path.join(mnt(neighbour), 'home', 'data'), 'the neighbour\'s\n');
    build(neighbour, 'n1');
    ok(script('publish', neighbour, { MODULUS_RELEASE: 'n1', MODULUS_RUN_CONTAINER: 'modulus-app-neighbour' }));
    startRunContainer(neighbour, 'modulus-app-neighbour');
    startRunContainer(attacker, 'modulus-app-attacker');
    const folder = path.join(TEMP, 'source');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'index.js'), 'console.log("hi")\n');
    source = path.join(TEMP, 'source.tar');
    writeSourceArchive(folder, source);
    fs.mkdirSync(path.join(TEMP, 'delivered'));
    fs.writeFileSync(path.join(TEMP, 'delivered', 'version'), 'delivered');
    delivered = path.join(TEMP, 'delivered.tar');
    expect(spawnSync('tar', ['-c', '-f', delivered, '-C', path.join(TEMP, 'delivered'), '.']).status).toBe(0);
    before = { canary: snapshot(canary), neighbour: snapshot(mnt(neighbour)) };
  });

  const ENTRIES = ['input', 'output', 'home', 'tmp', 'log', 'app', '.releases', 'supervisor.conf', '.build-secrets', '.output-key', '.modulus-volume', 'home/supervisor.sock'];
  // The entries take the two targets in turn: every step meets every entry as a link, and each kind of target.
  const targetOf = (entry: string) => (ENTRIES.indexOf(entry) % 2 === 0 ? canary : path.join(mnt(neighbour), 'home'));

  it.each(ENTRIES)('%s replaced by a link to the canary or (every other entry) to the other volume: every step stays inside the volume', (entry) => {
    const outcomes: Record<string, string> = {};
    const steps: Array<[string, () => ScriptRun]> = [
      ['create', () => script('create', attacker, { MODULUS_SIZE_MIB: '64' })],
      ['write-config', () => script('write-config', attacker, { MODULUS_ENV_NAMES: 'A', MODULUS_ENV_A: 'b' })],
      ['prepare-build', () => script('prepare-build', attacker, { MODULUS_SOURCE: source, MODULUS_BUILD_KEY: BUILD_KEY, MODULUS_BUILD_SECRET_NAMES: 'TOKEN', MODULUS_BUILD_SECRET_TOKEN: 't' })],
      ['publish', () => {
        build(attacker, `a-${entry}`);
        return script('publish', attacker, { MODULUS_RELEASE: `r-${entry.replace(/[^a-z]/g, '')}`, MODULUS_RUN_CONTAINER: 'modulus-app-attacker' });
      }],
      ['mount', () => script('mount', attacker, { MODULUS_HEAL_TOKEN: 'healed' })],
      ['apply-settings (the Mount step)', () => script('apply-settings', attacker, { MODULUS_HEAL_TOKEN: 'healed', MODULUS_SIZE_MIB: '64', MODULUS_REMOVAL_POLICY: 'retain' })],
      ['export-release', () => {
        build(attacker, `e-${entry}`);
        return script('export-release', attacker, { MODULUS_RELEASE: 'r-export', MODULUS_RELEASE_ARCHIVE: path.join(TEMP, 'exported.tar'), MODULUS_RELEASE_MAX_MIB: '16' });
      }],
      ['receive of a delivered release', () => script('receive', attacker, { MODULUS_RELEASE: `d-${entry.replace(/[^a-z]/g, '')}`, MODULUS_RELEASE_ARCHIVE: delivered })],
      ['publish of the received release', () =>
        script('publish', attacker, { MODULUS_RELEASE: `d-${entry.replace(/[^a-z]/g, '')}`, MODULUS_RUN_CONTAINER: 'modulus-app-attacker', MODULUS_RELEASE_RECEIVED: 'true' })],
    ];
    for (const [name, step] of steps) {
      plant(attacker, entry, targetOf(entry));
      const run = step();
      // Either done, or failed with a message of the script's.
      outcomes[name] = run.status === 0 ? 'ok' : /modulus-volume: error: .+/.exec(run.stderr)?.[0] ?? `no message: ${run.stderr}`;
    }
    expect(Object.values(outcomes).filter((outcome) => outcome.startsWith('no message'))).toEqual([]);
    expect(snapshot(canary)).toEqual(before.canary);
    expect(snapshot(mnt(neighbour))).toEqual(before.neighbour);
  });

  it("hand-over with supervisor.conf swapped for a link: refuses before it renames the run container; nothing outside the volume changes", () => {
    const release = {
      MODULUS_RUN_CONTAINER: 'modulus-app-attacker', MODULUS_SLOT_PORTS: '19801 19802', MODULUS_HEALTH_PATH: '/', MODULUS_HEALTH_STATUS: '200',
      MODULUS_HEALTH_INTERVAL_MS: '500', MODULUS_HEALTH_TIMEOUT_MS: '1000', MODULUS_START_TIMEOUT_SECONDS: '10', MODULUS_DRAIN_SECONDS: '1',
      MODULUS_ROUTER_CONTAINER: 'modulus-router', MODULUS_ROUTER_BACKEND: 'app-attacker',
    };
    for (const target of [path.join(canary, 'job'), path.join(mnt(neighbour), 'supervisor.conf')]) {
      plant(attacker, 'supervisor.conf', target);
      const run = script('hand-over', attacker, release);
      expect({ target, status: run.status }).toEqual({ target, status: 1 });
      expect(run.stderr).toMatch(/modulus-volume: error: cannot make the (blue|green) slot the one the new run container of app 'attacker' starts/);
      expect(docker(['inspect', '-f', '{{.Name}} {{.State.Status}}', 'modulus-app-attacker']).trim()).toBe('/modulus-app-attacker running');
    }
    expect(snapshot(canary)).toEqual(before.canary);
    expect(snapshot(mnt(neighbour))).toEqual(before.neighbour);
  });

  it('every step inside the volume runs as mop in a container whose only mount is the volume, no network, no capabilities', () => {
    // A stand-in docker first on PATH records each call, then runs the real one.
    const bin = path.join(TEMP, 'recording');
    const log = path.join(TEMP, 'docker-calls');
    fs.mkdirSync(bin, { recursive: true });
    const real = spawnSync('bash', ['-c', 'command -v docker'], { encoding: 'utf8' }).stdout.trim();
    fs.writeFileSync(path.join(bin, 'docker'), `#!/usr/bin/env bash\nprintf '%s\\0' "$@" >>"${log}"; printf '\\n' >>"${log}"\nexec "${real}" "$@"\n`, { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH}` };
    ok(script('create', attacker, { ...env, MODULUS_SIZE_MIB: '64' }));
    ok(script('write-config', attacker, { ...env, MODULUS_SECRET_NAMES: 'PW', MODULUS_SECRET_PW: 'write-config-secret' }));
    ok(script('prepare-build', attacker, { ...env, MODULUS_SOURCE: source, MODULUS_BUILD_KEY: BUILD_KEY, MODULUS_BUILD_SECRET_NAMES: 'TOKEN', MODULUS_BUILD_SECRET_TOKEN: 'build-secret' }));
    build(attacker, 'recorded');
    // (No run container to restart: the flags of the volume's own containers are what this checks.)
    ok(script('publish', attacker, { ...env, MODULUS_RELEASE: 'recorded', MODULUS_RUN_CONTAINER: 'modulus-app-recorded' }));
    const runs = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => line.split('\0').filter(Boolean)).filter((args) => args[0] === 'run');
    // layout, write-file, prepare-build, write-file (twice), stage, switch, prune (and layout again for create).
    expect(runs.length).toBeGreaterThanOrEqual(6);
    for (const args of runs) {
      const value = (flag: string) => args.filter((_, index) => args[index - 1] === flag);
      expect(value('--user')).toEqual(['441:444']);
      expect(value('--network')).toEqual(['none']);
      expect(value('--cap-drop')).toEqual(['ALL']);
      expect(value('--security-opt')).toEqual(['no-new-privileges']);
      expect(value('--mount')).toEqual([`type=bind,source=${mnt(attacker)},target=/mnt`]);
      expect(args).toContain('--read-only');
      expect(args.filter((arg) => /^(-v|--volume|--privileged|-e|--env|--cap-add|--device)$/.test(arg))).toEqual([]);
      // Secrets reach the container on stdin, never as arguments.
      expect(args.join(' ')).not.toMatch(/write-config-secret|build-secret/);
    }
  });

  it("publishing the attacker never restarts the neighbour's app: the control socket is in neither volume", () => {
    const pid = appPid('modulus-app-neighbour');
    expect(pid).toMatch(/^\d+$/);
    // The measured attack: home/ replaced by a link to the other app's home, socket and all.
    fs.renameSync(path.join(mnt(attacker), 'home'), path.join(mnt(attacker), 'home.old'));
    plant(attacker, 'home', path.join(mnt(neighbour), 'home'));
    build(attacker, 'a-socket');
    const run = script('publish', attacker, { MODULUS_RELEASE: 'r-socket', MODULUS_RUN_CONTAINER: 'modulus-app-attacker' });
    // Until 0.3 the socket was in home/ and this publish failed; now each supervisord's socket is in its own
    // container's /dev/shm, which no link in a volume reaches: the attacker's own supervisord answers.
    expect(run.stderr).not.toContain('does not answer');
    expect(run.stderr).toContain("app 'attacker'");
    expect(appPid('modulus-app-neighbour')).toBe(pid);
    expect(snapshot(mnt(neighbour))).toEqual(before.neighbour);
  });
});

describe('one build delivered to another instance: export-release, then publish with the archive', () => {
  const archive = path.join(TEMP, 'release.tar');
  const canary = path.join(TEMP, 'delivery-canary');
  let builder: string;
  let receiver: string;

  beforeAll(() => {
    fs.mkdirSync(canary, { mode: 0o755 });
    fs.writeFileSync(path.join(canary, 'secret'), 'host-only canary\n', { mode: 0o644 });
    builder = createVolume('builder');
    receiver = createVolume('receiver');
  });

  it("the receiver's receive stages the builder's release under the same id, and its publish serves it, file for file", () => {
    build(builder, 'b1');
    fs.mkdirSync(path.join(mnt(builder), 'output', 'lib'));
    fs.writeFileSync(path.join(mnt(builder), 'output', 'lib', 'code.js'), 'module.exports = 1;\n', { mode: 0o640 });
    for (const file of ['output/lib', 'output/lib/code.js']) fs.chownSync(path.join(mnt(builder), file), 441, 444);
    ok(script('publish', builder, { MODULUS_RELEASE: 'b1', MODULUS_RUN_CONTAINER: 'modulus-app-builder' }));
    // Exported after the builder published it: from .releases/b1.
    ok(script('export-release', builder, { MODULUS_RELEASE: 'b1', MODULUS_RELEASE_ARCHIVE: archive, MODULUS_RELEASE_MAX_MIB: '16' }));
    expect((fs.statSync(archive).mode & 0o777).toString(8)).toBe('600');
    const received = ok(script('receive', receiver, { MODULUS_RELEASE: 'b1', MODULUS_RELEASE_ARCHIVE: archive }));
    expect(received.stderr).toContain("received release b1 of app 'receiver' (staged; its publish serves it)");
    // Staged, not served yet.
    expect(fs.existsSync(path.join(mnt(receiver), '.releases', 'b1'))).toBe(true);
    expect(fs.existsSync(path.join(mnt(receiver), 'app')) && fs.lstatSync(path.join(mnt(receiver), 'app')).isSymbolicLink()).toBe(false);
    ok(script('publish', receiver, { MODULUS_RELEASE: 'b1', MODULUS_RUN_CONTAINER: 'modulus-app-receiver', MODULUS_RELEASE_RECEIVED: 'true' }));
    expect(snapshot(path.join(mnt(receiver), 'app', '.'))).toEqual(snapshot(path.join(mnt(builder), 'app', '.')));
    expect(fs.readlinkSync(path.join(mnt(receiver), 'app'))).toBe('.releases/b1');
    expect(servedVersion(receiver)).toBe('b1');
    // Again (a retried deploy): the release is staged already, so the archive is not unpacked again (output/,
    // which an unpack empties first, keeps what is there).
    fs.writeFileSync(path.join(mnt(receiver), 'output', 'kept'), 'kept');
    ok(script('receive', receiver, { MODULUS_RELEASE: 'b1', MODULUS_RELEASE_ARCHIVE: archive }));
    ok(script('publish', receiver, { MODULUS_RELEASE: 'b1', MODULUS_RUN_CONTAINER: 'modulus-app-receiver', MODULUS_RELEASE_RECEIVED: 'true' }));
    expect(fs.readFileSync(path.join(mnt(receiver), 'output', 'kept'), 'utf8')).toBe('kept');
    expect(fs.readlinkSync(path.join(mnt(receiver), 'app'))).toBe('.releases/b1');
    // A received release that never arrived: the publish fails naming it, and never serves output/ in its place.
    const missing = script('publish', receiver, { MODULUS_RELEASE: 'never', MODULUS_RUN_CONTAINER: 'modulus-app-receiver', MODULUS_RELEASE_RECEIVED: 'true' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('release never is not staged');
    expect(fs.existsSync(path.join(mnt(receiver), '.releases', 'never'))).toBe(false);
    expect(fs.readFileSync(path.join(mnt(receiver), 'output', 'kept'), 'utf8')).toBe('kept');
    expect(fs.readlinkSync(path.join(mnt(receiver), 'app'))).toBe('.releases/b1');
  });

  it('a release larger than the receiving volume allows fails the export and leaves no archive', () => {
    build(builder, 'big');
    fs.writeFileSync(path.join(mnt(builder), 'output', 'blob'), Buffer.alloc(2 * 1024 * 1024, 1));
    fs.chownSync(path.join(mnt(builder), 'output', 'blob'), 441, 444);
    fs.rmSync(archive, { force: true });
    const run = script('export-release', builder, { MODULUS_RELEASE: 'big', MODULUS_RELEASE_ARCHIVE: archive, MODULUS_RELEASE_MAX_MIB: '1' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("release big of app 'builder' is larger than 1 MiB");
    expect(fs.readdirSync(TEMP).filter((name) => name.startsWith('release.tar'))).toEqual([]);
  });

  it("output/ or the release replaced by a link to a host folder: the export fails or holds the app's own files, never the host's", () => {
    for (const entry of ['output', '.releases/linked']) {
      build(builder, 'links');
      plant(builder, entry, canary);
      fs.rmSync(archive, { force: true });
      const run = script('export-release', builder, { MODULUS_RELEASE: 'linked', MODULUS_RELEASE_ARCHIVE: archive, MODULUS_RELEASE_MAX_MIB: '16' });
      if (run.status === 0) {
        expect(spawnSync('tar', ['-xOf', archive], { encoding: 'utf8' }).stdout).not.toContain('host-only canary');
      } else {
        expect(run.stderr).toMatch(/modulus-volume: error: cannot export release linked of app 'builder'/);
      }
      fs.rmSync(path.join(mnt(builder), entry), { force: true });
    }
    expect(snapshot(canary)).toEqual(['. dir 0:0 755', 'secret file 0:0 644 aG9zdC1vbmx5IGNhbmFyeQo=']);
  });
});

describe('publish: a switch between whole releases', () => {
  const name = 'modulus-app-switch';
  const stub = path.join(TEMP, 'stub');
  let root: string;
  const publish = (release: string, env: Record<string, string> = {}) => script('publish', root, { MODULUS_RELEASE: release, MODULUS_RUN_CONTAINER: name, ...env });

  beforeAll(() => {
    root = createVolume('switch');
    build(root, 'v0');
    ok(publish('v0'));
    startRunContainer(root, name);
    // A stand-in docker first on PATH: runs the real one, then kills the whole publish (its own process group)
    // after call number $KILL_AFTER, as a killed deploy would stop it.
    const real = spawnSync('bash', ['-c', 'command -v docker'], { encoding: 'utf8' }).stdout.trim();
    fs.mkdirSync(stub);
    fs.writeFileSync(
      path.join(stub, 'docker'),
      [
        '#!/usr/bin/env bash',
        'n=$(( $(cat "$KILL_COUNT" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$KILL_COUNT"',
        `status=0; "${real}" "$@" || status=$?`,
        'if [[ "$n" == "$KILL_AFTER" ]]; then kill -KILL -- "-$(ps -o pgid= -p $$ | tr -d " ")"; fi',
        'exit "$status"',
      ].join('\n'),
      { mode: 0o755 },
    );
  });

  /** publish in a process group of its own, killed after its engine call number `after`. */
  function killedPublish(release: string, after: number): number {
    const count = path.join(TEMP, `count-${release}-${after}`);
    const result = spawnSync('setsid', ['bash', VOLUME_SCRIPT, 'publish'], {
      env: {
        ...process.env,
        PATH: `${stub}:${process.env.PATH}`,
        KILL_AFTER: String(after),
        KILL_COUNT: count,
        MODULUS_APP: 'switch',
        MODULUS_ROOT: root,
        MODULUS_IMAGE: volumeStepImage(),
        MODULUS_RELEASE: release,
        MODULUS_RUN_CONTAINER: name,
      },
      encoding: 'utf8',
    });
    return result.status ?? -1;
  }

  it('killed after each of its engine calls, app is the old build or the new one; publishing again serves the new one', () => {
    let served = 'v0';
    for (let after = 1; after <= 8; after++) {
      const release = `v${after}`;
      build(root, release);
      const status = killedPublish(release, after);
      const seen = servedVersion(root);
      // Whole: one of the two builds, never a mix, never missing.
      expect([after, [served, release].includes(seen)]).toEqual([after, true]);
      if (status === 0) {
        expect([after, seen]).toEqual([after, release]);
      }
      ok(publish(release));
      expect([after, servedVersion(root)]).toEqual([after, release]);
      expect([after, appInfo(name)]).toEqual([after, expect.stringMatching(/RUNNING/)]);
      const log = fs.readFileSync(path.join(mnt(root), 'log', 'app.log'), 'utf8').trim().split('\n');
      expect([after, log[log.length - 1]]).toEqual([after, `serving ${release}`]);
      served = release;
    }
  });

  it('run twice, the second run changes nothing: no restart', () => {
    build(root, 'twice');
    ok(publish('twice'));
    const pid = appPid(name);
    const again = ok(publish('twice'));
    expect(again.stderr).toContain('is published and running: nothing to do');
    expect(appPid(name)).toBe(pid);
    expect(servedVersion(root)).toBe('twice');
    // The empty output/ a first publish left is never published.
    expect(fs.readdirSync(path.join(mnt(root), 'output'))).toEqual([]);
  });

  it('a build that does not start is switched back: the previous release serves again and publish fails', () => {
    build(root, 'broken');
    const run = publish('broken');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("app/ is back on release twice, the new one stays in .releases/broken");
    expect(servedVersion(root)).toBe('twice');
    expect(appInfo(name)).toMatch(/RUNNING/);
  });

  it('a socket the app moved away: publish restarts the run container (supervisord makes it again) and serves', () => {
    docker(['exec', name, 'mv', '/dev/shm/supervisor.sock', '/dev/shm/moved.sock']);
    build(root, 'unanswered');
    const run = publish('unanswered');
    expect(run.stderr).toContain("supervisord of app 'switch' does not answer in its run container modulus-app-switch: restarting the container");
    expect(run.status).toBe(0);
    expect(servedVersion(root)).toBe('unanswered');
    expect(appInfo(name)).toMatch(/RUNNING/);
  });

  it('a stopped run container is started and the app restarted with the new release', () => {
    docker(['stop', '-t', '2', name]);
    build(root, 'restarted');
    ok(publish('restarted'));
    expect(appInfo(name)).toMatch(/RUNNING/);
    expect(servedVersion(root)).toBe('restarted');
  });
  it("a run container crash-looping in Docker's restart back-off is restarted at once (not left to its next try) and serves", () => {
    const log = path.join(mnt(root), 'log');
    const state = () => dockerRun(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', name]).stdout.trim().split(' ');
    // The app breaks its own supervisord: log/ moved away, supervisord cannot open its log and exits.
    docker(['update', '--restart', 'unless-stopped', name]);
    fs.renameSync(log, `${log}.away`);
    try {
      // Killed from outside Docker (`docker kill` counts as a stop by hand, which the policy leaves stopped).
      process.kill(Number(dockerRun(['inspect', '-f', '{{.State.Pid}}', name]).stdout.trim()), 'SIGKILL');
      // Eight restarts in a row: Docker now waits 25.6 s before the next try, time enough to publish in it on a
      // loaded machine (12.8 s after seven was not always).
      for (let i = 0; i < 480 && !(state()[0] === 'restarting' && Number(state()[1]) >= 8); i++) spawnSync('sleep', ['0.25']);
      expect(state()).toEqual(['restarting', expect.stringMatching(/^([89]|\d\d)$/)]);
      build(root, 'after-crashes');
    } finally {
      fs.renameSync(`${log}.away`, log);
    }
    const run = ok(publish('after-crashes'));
    expect(run.stderr).toContain(`the run container ${name} of app 'switch' is restarting (crashed): restarting it now`);
    // Restarted by publish, not by Docker's back-off (which counts on).
    expect(state()).toEqual(['running', '0']);
    expect(servedVersion(root)).toBe('after-crashes');
    expect(appInfo(name)).toMatch(/RUNNING/);
    docker(['update', '--restart', 'no', name]);
  });
});

describe("publish with the run container's health check: started once the new build answers", () => {
  const name = 'modulus-app-answer';
  const port = '9110';
  let root: string;
  const publish = (release: string) =>
    script('publish', root, {
      MODULUS_RELEASE: release,
      MODULUS_RUN_CONTAINER: name,
      MODULUS_READY_PORTS: port,
      MODULUS_HEALTH_PATH: '/',
      MODULUS_HEALTH_TIMEOUT_SECONDS: '2',
      MODULUS_READY_TIMEOUT_SECONDS: '60',
    });

  beforeAll(() => {
    root = createVolume('answer');
    build(root, 'v0');
    ok(script('publish', root, { MODULUS_RELEASE: 'v0', MODULUS_RUN_CONTAINER: name }));
    // supervisord's own settings (startsecs=10): the app serves HTTP on the port, or exits when it is the broken build.
    const conf = ok(script('render-config', root)).stdout.replace(
      'command=start\n',
      `command=bash -c "v=$(cat /mnt/app/version); [ \\"$v\\" != broken ] || exit 1; echo serving $v; exec python3 -m http.server ${port} --bind 127.0.0.1"\n`,
    );
    startSupervised(root, name, conf);
  });

  afterAll(() => {
    dockerRun(['rm', '-f', name]);
  });

  it('ends once the new build answers, before supervisord calls it started (startsecs, 10 s)', () => {
    build(root, 'v1');
    const run = ok(publish('v1'));
    expect(run.stderr).toMatch(/the new build of app 'answer' answers \(waited \d+\.\d s\)/);
    expect(appInfo(name)).toMatch(/^app\s+STARTING/);
    expect(servedVersion(root)).toBe('v1');
    expect(docker(['exec', name, 'cat', '/mnt/log/app.log'])).toContain('serving v1');
  });

  it('a build that exits before it answers is switched back: the previous release serves again and publish fails', () => {
    build(root, 'broken');
    const run = publish('broken');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/the new build of app 'answer' did not start: supervisord has it (BACKOFF|FATAL) before it answered on http:\/\/127\.0\.0\.1:9110\//);
    expect(run.stderr).toContain('app/ is back on release v1, the new one stays in .releases/broken');
    expect(servedVersion(root)).toBe('v1');
    expect(docker(['exec', name, 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/`])).toBe('200');
  });
});

describe('a run container replaced beside the serving one: hand-over, then take-over', () => {
  const name = 'modulus-app-handover';
  const release = {
    MODULUS_RUN_CONTAINER: name, MODULUS_SLOT_PORTS: '19811 19812', MODULUS_HEALTH_PATH: '/version', MODULUS_HEALTH_STATUS: '200',
    MODULUS_HEALTH_INTERVAL_MS: '300', MODULUS_HEALTH_TIMEOUT_MS: '1000', MODULUS_START_TIMEOUT_SECONDS: '15', MODULUS_DRAIN_SECONDS: '1',
    MODULUS_ROUTER_CONTAINER: 'modulus-router-absent', MODULUS_ROUTER_BACKEND: 'app-handover',
  };
  let root: string;
  /** A run container like RunContainer's with host networking; each slot serves app/ on its port, unless it is `failing`. */
  const startSlots = (failing: string) => {
    const conf = fs.readFileSync(path.join(mnt(root), 'supervisor.conf'), 'utf8')
      .replace(/command=start\n/g, `command=bash -c "[ \\"$MODULUS_SLOT\\" != ${failing} ] || exit 3; exec python3 -m http.server --bind 127.0.0.1 --directory /mnt/app $PORT"\n`)
      .replace(/startsecs=10/g, 'startsecs=1')
      .replace(/startretries=5/g, 'startretries=0');
    fs.writeFileSync(path.join(mnt(root), 'supervisor.conf'), conf, { mode: 0o600 });
    fs.chownSync(path.join(mnt(root), 'supervisor.conf'), 441, 444);
    docker(['run', '-d', '--name', name, '--network', 'host', '--user', '441:444', '--read-only', '--cap-drop', 'ALL',
      '--security-opt', 'no-new-privileges:true', '--init', '-e', 'TINI_SUBREAPER=1', '--label', 'org.modulus.app=handover',
      '--label', 'org.modulus.role=run', '-v', `${mnt(root)}:/mnt`, buildImage('run-base')]);
  };
  const programs = (container: string) => dockerRun(['exec', container, 'supervisorctl', 'status']).stdout;
  const id = (container: string) => dockerRun(['inspect', '-f', '{{.Id}}', container]).stdout.trim();

  beforeAll(() => {
    root = createVolume('handover');
    build(root, 'v1');
    ok(script('publish', root, { MODULUS_RELEASE: 'v1', MODULUS_RUN_CONTAINER: name }));
    ok(script('write-config', root, release));
    startSlots('none');
    for (let i = 0; i < 60 && !/^app-blue\s+RUNNING/m.test(programs(name)); i++) spawnSync('sleep', ['0.5']);
  });
  afterAll(() => {
    const ids = dockerRun(['ps', '-a', '-q', '--filter', 'label=org.modulus.app=handover']).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) dockerRun(['rm', '-f', ...ids]);
  });

  it('a new container whose slot fails its check takes no request: take-over fails with its log, the old one serves on', () => {
    expect(programs(name)).toMatch(/^app-blue\s+RUNNING/m);
    const old = id(name);
    const handover = ok(script('hand-over', root, release));
    expect(handover.stderr).toContain("the new run container of app 'handover' starts its green slot beside the blue slot, which serves until it takes over");
    // The old container gave up its name and serves on; the new one starts green (supervisor.conf says so).
    expect(dockerRun(['inspect', '-f', '{{.Name}} {{.State.Status}}', old]).stdout.trim()).toBe(`/${name}-${old.slice(0, 12)} running`);
    // So does supervisor.conf as the deploy's Config step writes it again (it starts the recorded slot).
    ok(script('write-config', root, release));
    const green = fs.readFileSync(path.join(mnt(root), 'supervisor.conf'), 'utf8').split('[program:app-green]\n')[1].split('\n[')[0];
    expect(green).toContain('\nautostart=true\n');
    startSlots('green');
    const takeOver = script('take-over', root, release);
    expect(takeOver.status).toBe(1);
    expect(takeOver.stderr).toMatch(/modulus-volume: error: the new run container of app 'handover' exited in the green slot \(supervisord: (FATAL|EXITED)\)/);
    expect(takeOver.stderr).toContain('the blue slot of the previous run container goes on serving');
    expect(dockerRun(['inspect', '-f', '{{.State.Status}}', old]).stdout.trim()).toBe('running');
    expect(spawnSync('curl', ['-sS', '--noproxy', '*', 'http://127.0.0.1:19811/version'], { encoding: 'utf8' }).stdout).toBe('v1');
    expect(fs.existsSync(path.join(root, 'served-slot'))).toBe(false);

    // The next deploy's hand-over: the failed new container serves nothing and stops; the old one still serves.
    const failed = id(name);
    const again = ok(script('hand-over', root, release));
    expect(again.stderr).toContain(`stopped run container ${failed.slice(0, 12)} of app 'handover': it served neither slot`);
    expect(dockerRun(['inspect', '-f', '{{.State.Status}}', old]).stdout.trim()).toBe('running');
    expect(dockerRun(['inspect', '-f', '{{.Name}} {{.State.Status}}', failed]).stdout.trim()).toBe(`/${name}-${failed.slice(0, 12)} exited`);
  });
});
