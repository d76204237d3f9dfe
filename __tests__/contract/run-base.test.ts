/**
 * run-base on a real engine: supervisord as mop under the reaping init with the global config of the
 * standard (unix socket only), Navi's crash and OOM notifications, supervisorctl control, zombie reaping,
 * read-only root, the memory-limit helper the language images share, the end of a crash loop (the generated
 * startsecs/startretries) and require-volume's refusal to start without the app's volume.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { runContainerName } from '../../lib/run-container';
import { ctlCommand } from '../../scripts/ctl';
import { MOP_GID, MOP_UID, tempDir } from './support/build';
import { buildImage, docker, dockerRun } from './support/docker';
import {
  appPid,
  cleanup,
  exec,
  processes,
  restrictedRunArgs,
  runOnce,
  RunVolume,
  sleep,
  startContainer,
  supervisorStates,
  waitFor,
} from './support/run';

const MINUTES = 60_000;
const SUPERVISORD = '/usr/bin/python3 -I /opt/modulus/bin/start-supervisord';
/** The time of a supervisord.log line ("2026-12-07 11:30:45,765 INFO ..."), in ms. */
const logStamp = (line: string) => Date.parse(line.slice(0, 23).replace(' ', 'T').replace(',', '.'));
jest.setTimeout(5 * MINUTES);
let ref = '';

beforeAll(() => {
  ref = buildImage('run-base');
}, 30 * MINUTES);

afterAll(() => cleanup());

describe('image configuration', () => {
  test('USER mop, CMD start-supervisord behind require-volume, ENTRYPOINT the reaping init from base', () => {
    const config = JSON.parse(docker(['image', 'inspect', ref, '--format', '{{json .Config}}']));
    expect(config.User).toMatch(/^(mop|441)(:(mop|444))?$/);
    expect(config.Cmd).toEqual(['require-volume', 'start-supervisord']);
    expect(config.Entrypoint[0]).toBe('/opt/modulus/bin/init');
  });

  test('global supervisord.conf: logs in /mnt, 0700 unix socket and pid file in /dev/shm, include /mnt/supervisor.conf, no inet_http_server', () => {
    const volume = new RunVolume();
    const conf = runOnce(ref, volume, ['cat', '/etc/supervisor/supervisord.conf']).stdout;
    const settings = conf.split('\n').filter((line) => line.trim() && !line.startsWith(';'));
    expect(settings).toEqual(
      expect.arrayContaining([
        '[supervisord]', 'nodaemon=true', 'user=mop', 'logfile=/mnt/log/supervisord.log', 'pidfile=/dev/shm/supervisord.pid',
        '[unix_http_server]', 'file=/dev/shm/supervisor.sock', 'chmod=0700',
        '[supervisorctl]', 'serverurl=unix:///dev/shm/supervisor.sock',
        '[rpcinterface:supervisor]', '[include]', 'files = /mnt/supervisor.conf',
      ]),
    );
    expect(settings.filter((line) => /^\s*\[inet_http_server\]/.test(line))).toEqual([]);
  });

  test("supervisord loads its options without setuptools' pkg_resources (the stand-in resolves its specs)", () => {
    const run = runOnce(ref, new RunVolume(), ['python3', '-I', '-X', 'importtime', '/opt/modulus/bin/start-supervisord', '--version']);
    expect(run.stdout.trim()).toBe('4.2.5');
    expect(run.stderr).toMatch(/\| +supervisor\.options$/m);
    expect(run.stderr).not.toMatch(/pkg_resources/);
  });
});

describe('supervisord and Navi in a restricted container', () => {
  let volume: RunVolume;
  let container = '';

  beforeAll(async () => {
    // The app orphans a child at every start (the reaper must collect it) and then runs in the foreground.
    volume = new RunVolume({ command: `/bin/sh -c "sh -c 'sleep 2 &'; exec sleep 100000"` });
    container = startContainer(ref, volume, { network: 'none' });
    const ready = await waitFor(() => {
      const states = supervisorStates(container);
      return states.app === 'RUNNING' && states.navi === 'RUNNING';
    }, 60_000);
    if (!ready) throw new Error(`supervisord did not start:\n${volume.read('log/supervisord.log')}`);
  }, 5 * MINUTES);

  test('supervisord runs as mop under the init (PID 1), with app and navi as its children', () => {
    const procs = processes(container);
    const init = procs.find((p) => p.pid === 1)!;
    expect(init.args).toMatch(/^\/opt\/modulus\/bin\/init -- require-volume start-supervisord/);
    const supervisord = procs.find((p) => p.ppid === 1 && p.args.includes(SUPERVISORD))!;
    expect(supervisord.user).toBe('mop');
    const children = procs.filter((p) => p.ppid === supervisord.pid).map((p) => p.args);
    expect(children).toEqual(expect.arrayContaining(['sleep 100000', expect.stringContaining('/opt/modulus/bin/navi --output /mnt/notifications')]));
    expect(procs.every((p) => p.user === 'mop')).toBe(true);
  });

  test('supervisord starts its programs at once, not after its main loop\'s first wait (a second), and logs no pid it did not start', () => {
    const log = volume.read('log/supervisord.log');
    const at = (pattern: RegExp) => {
      const line = log.split('\n').find((l) => pattern.test(l));
      if (!line) throw new Error(`no ${pattern} in supervisord.log:\n${log}`);
      return logStamp(line);
    };
    expect(at(/spawned: 'app'/) - at(/supervisord started/)).toBeLessThan(900);
    expect(log).not.toMatch(/reaped unknown pid/);
  });

  test('socket and pid in the container\'s own /dev/shm, logs under /mnt; the socket is mop-only (0700); nothing listens on TCP', () => {
    const out = exec(container, ['sh', '-c', 'stat -c "%a %U %F" /dev/shm/supervisor.sock; cat /dev/shm/supervisord.pid']).stdout.split('\n');
    expect(out[0]).toBe('700 mop socket');
    expect(Number(out[1])).toBe(processes(container).find((p) => p.args.includes(SUPERVISORD))!.pid);
    expect(volume.read('log/supervisord.log')).toMatch(/supervisord started/);
    // --network none: the container's own namespace; state 0A = LISTEN.
    const listening = exec(container, ['sh', '-c', "awk 'NR > 1 && $4 == \"0A\"' /proc/net/tcp /proc/net/tcp6"]).stdout;
    expect(listening).toBe('');
  });

  test('a second container on the same volume (a replacement beside the serving one) runs a supervisord of its own', async () => {
    const second = startContainer(ref, volume, { network: 'none', name: `${container}-beside` });
    try {
      const ready = await waitFor(() => supervisorStates(second).app === 'RUNNING', 60_000);
      expect(ready).toBe(true);
      // Each answers on its own socket, for its own processes: the first one's app is not the second one's.
      expect(supervisorStates(container).app).toBe('RUNNING');
      expect(appPid(second)).toBeGreaterThan(0);
      const pids = [container, second].map((c) => exec(c, ['cat', '/dev/shm/supervisord.pid']).stdout.trim());
      expect(pids.every((pid) => /^\d+$/.test(pid))).toBe(true);
      expect(volume.read('log/supervisord.log')).not.toMatch(/Another program is already listening/);
    } finally {
      docker(['rm', '-f', second]);
    }
    expect(supervisorStates(container).app).toBe('RUNNING');
  });

  test('root file system is read-only for mop, /mnt is writable', () => {
    for (const target of ['/etc/x', '/opt/modulus/bin/x', '/usr/local/bin/x', '/tmp/x', '/var/tmp/x', '/x']) {
      expect({ target, status: exec(container, ['sh', '-c', `: > ${target}`]).status }).not.toEqual({ target, status: 0 });
    }
    expect(exec(container, ['sh', '-c', ': > /mnt/tmp/x && rm /mnt/tmp/x']).status).toBe(0);
  });

  test('orphaned grandchildren are reaped by the init: no zombies', async () => {
    exec(container, ['sh', '-c', 'for i in 1 2 3 4 5; do sh -c "sleep 1 & sleep 1 &"; done']);
    const clean = await waitFor(() => processes(container).every((p) => !p.stat.startsWith('Z') && p.args !== 'sleep 1' && p.args !== 'sleep 2'), 20_000);
    expect(processes(container).filter((p) => p.stat.startsWith('Z'))).toEqual([]);
    expect(clean).toBe(true);
  });

  test('supervisorctl status / restart app / signal work as mop via the socket, and a stop is not a crash', async () => {
    expect(exec(container, ['supervisorctl', 'status']).stdout).toMatch(/^app\s+RUNNING\s+pid \d+/m);
    const before = appPid(container);
    const restart = exec(container, ['supervisorctl', 'restart', 'app']);
    expect(restart.stdout).toMatch(/app: stopped\napp: started/);
    expect(appPid(container)).not.toBe(before);
    expect(volume.notifications()).toEqual([]);
  });

  test('killing the app: supervisord restarts it and Navi writes one crash notification', async () => {
    const before = appPid(container);
    expect(exec(container, ['supervisorctl', 'signal', 'KILL', 'app']).status).toBe(0);
    const notes = await waitFor(() => (volume.notifications().length > 0 ? volume.notifications() : null), 30_000);
    expect(notes).toHaveLength(1);
    const note = notes![0];
    expect(note).toMatchObject({
      type: 'crash',
      process: 'app',
      group: 'app',
      state: 'EXITED',
      expected: false,
      exit_status: null,
      signal: 'SIGKILL',
      exit_description: 'terminated by SIGKILL',
      pid: before,
      Header: expect.objectContaining({ eventname: 'PROCESS_STATE_EXITED', ver: '3.0' }),
      Metadata: expect.objectContaining({ processname: 'app', groupname: 'app', from_state: 'RUNNING', expected: '0', pid: String(before) }),
      Payload: `processname:app groupname:app from_state:RUNNING expected:0 pid:${before}`,
    });
    expect(new Date(note.ReceivedAt as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(note.ReceivedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const restarted = await waitFor(() => {
      const pid = appPid(container);
      return pid > 0 && pid !== before ? pid : 0;
    }, 30_000);
    expect(restarted).toBeGreaterThan(0);
  });

  test('a signal is reported by name; notification files are uniquely named, no temp files left', async () => {
    const existing = volume.notifications().length;
    exec(container, ['supervisorctl', 'signal', 'TERM', 'app']);
    const notes = await waitFor(() => (volume.notifications().length > existing ? volume.notifications().slice(existing) : null), 30_000);
    expect(notes![0]).toMatchObject({ type: 'crash', signal: 'SIGTERM', exit_status: null, expected: false });
    const files = volume.notificationFiles();
    expect(files.every((name) => /^\d+-\d{9}-\d+-\d+-\d+\.json$/.test(name))).toBe(true);
    expect(new Set(files).size).toBe(files.length);
  });
});

describe('exit statuses, expected exits and start-up crashes', () => {
  test('EXITED with a status (expected and not), BACKOFF and FATAL are all notified; navi itself never', async () => {
    const volume = new RunVolume({
      command: `/bin/sh -c "sleep 2; exit $(cat /mnt/home/next-exit 2>/dev/null || echo 7)"`,
      // startsecs=1: a run of 2 s counts as started, so its exits are EXITED, not BACKOFF.
      extra: ['exitcodes=0', 'startretries=1', 'startsecs=1'],
    });
    const container = startContainer(ref, volume, { network: 'none' });
    const first = await waitFor(() => (volume.notifications().length >= 1 ? volume.notifications() : null), 60_000);
    expect(first![0]).toMatchObject({ type: 'crash', state: 'EXITED', exit_status: 7, expected: false, signal: null });
    volume.write('home/next-exit', '0\n');
    const expected = await waitFor(() => volume.notifications().find((n) => n.expected === true), 60_000);
    expect(expected).toMatchObject({ state: 'EXITED', exit_status: 0, expected: true, Metadata: expect.objectContaining({ expected: '1' }) });

    // Now make the program die at once: supervisord calls that BACKOFF, then gives up (FATAL).
    volume.write('supervisor.conf', volume.read('supervisor.conf').replace(/command=.*/, 'command=/bin/sh -c "exit 5"'));
    expect(exec(container, ['supervisorctl', 'update']).status).toBe(0);
    const fatal = await waitFor(() => volume.notifications().find((n) => n.state === 'FATAL'), 60_000);
    expect(fatal).toMatchObject({ type: 'crash', process: 'app', expected: false });
    const backoffs = volume.notifications().filter((n) => n.state === 'BACKOFF');
    expect(backoffs.length).toBeGreaterThanOrEqual(1);
    expect(backoffs[0]).toMatchObject({ exit_status: 5, expected: false });
    expect(volume.notifications().some((n) => n.process === 'navi')).toBe(false);
  }, 5 * MINUTES);
});

describe('out of memory', () => {
  test('a program killed by the kernel for exceeding --memory 128m gives an oom notification', async () => {
    const hog = `/usr/bin/python3 -c "import time; time.sleep(2); x = [b'x' * (1 << 20) for _ in range(1024)]"`;
    const volume = new RunVolume({ command: hog });
    startContainer(ref, volume, { network: 'none', memory: '128m' });
    const oom = await waitFor(() => volume.notifications().find((n) => n.type === 'oom'), 60_000);
    expect(oom).toMatchObject({ type: 'oom', process: 'app', signal: 'SIGKILL', expected: false });
    expect(oom!.oom_kill_count).toBeGreaterThanOrEqual(1);
  }, 3 * MINUTES);

  test('memory-limit: 75 % of the cgroup limit (v1 here), SERVO_SIZE override, nothing when unlimited', () => {
    const volume = new RunVolume();
    expect(runOnce(ref, volume, ['memory-limit', '75'], { memory: '512m' }).stdout.trim()).toBe('384');
    expect(runOnce(ref, volume, ['memory-limit'], { memory: '512m' }).stdout.trim()).toBe('512');
    expect(runOnce(ref, volume, ['memory-limit', '75'], { env: { SERVO_SIZE: '1024' } }).stdout.trim()).toBe('768');
    const unlimited = runOnce(ref, volume, ['memory-limit', '75']);
    expect(unlimited).toMatchObject({ status: 0, stdout: '' });
    expect(runOnce(ref, volume, ['memory-limit', '0']).status).toBe(2);
  });

  test('memory-limit reads cgroup v2 memory.max ("max" = unlimited)', () => {
    const volume = new RunVolume();
    volume.write('tmp/cg/memory.max', '268435456\n');
    expect(runOnce(ref, volume, ['memory-limit', '75'], { env: { MODULUS_CGROUP_ROOT: '/mnt/tmp/cg' } }).stdout.trim()).toBe('192');
    volume.write('tmp/cg/memory.max', 'max\n');
    expect(runOnce(ref, volume, ['memory-limit', '75'], { env: { MODULUS_CGROUP_ROOT: '/mnt/tmp/cg' } }).stdout).toBe('');
  });
});

describe('crash loop: backed off, bounded, one "gave up"', () => {
  test('an app that dies 2 s after every start is retried 5 times with delays of 1 to 5 s, then FATAL', async () => {
    // Today's endless loop: `npm start` outlives supervisord's default startsecs (1 s) before the app crashes.
    const volume = new RunVolume({ command: `/bin/sh -c "read -r up rest < /proc/uptime; echo $up >> /mnt/home/starts; sleep 2; exit 1"` });
    startContainer(ref, volume, { network: 'none', name: runContainerName('crashloop') });
    const began = Date.now();
    const [command, ...args] = ctlCommand('crashloop', 'status');
    const ctlStatus = () => spawnSync(command, args, { encoding: 'utf8' });
    const fatal = await waitFor(() => /^app\s+FATAL/.test(ctlStatus().stdout), 90_000, 500);
    const tookMs = Date.now() - began;
    expect({ fatal, log: fatal ? '' : volume.read('log/supervisord.log') }).toEqual({ fatal: true, log: '' });
    expect(tookMs).toBeLessThan(60_000); // 6 runs of 2 s + 1+2+3+4+5 s of back-off: about 30 s

    // `npm run ctl -- <app> status` says so (supervisorctl exits 3 for a program that is not running).
    const status = ctlStatus();
    expect(status.stdout).toMatch(/^app\s+FATAL\s+Exited too quickly/);
    expect(status.status).toBe(3);

    const starts = () => volume.read('home/starts').trim().split('\n');
    expect(starts()).toHaveLength(6);
    // The delay before each retry, from supervisord's own log: each `spawned:` after the `exited:` before it.
    // 1, 2, 3, 4, 5 s; supervisord acts on its 1 s tick, so up to a second later (plus slack for a busy host).
    const events = volume.read('log/supervisord.log').split('\n').filter((l) => / (INFO|WARN) (spawned: 'app'|exited: app )/.test(l));
    const delays = events.flatMap((l, i) => (i > 0 && l.includes('spawned:') ? [(logStamp(l) - logStamp(events[i - 1])) / 1000] : []));
    const outOfRange = delays.filter((delay, i) => delay < i + 1 - 0.05 || delay >= i + 2.5);
    expect({ delays, outOfRange }).toEqual({ delays: [expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number)], outOfRange: [] });

    const notes = volume.notifications();
    expect(notes.map((n) => n.state)).toEqual(['BACKOFF', 'BACKOFF', 'BACKOFF', 'BACKOFF', 'BACKOFF', 'BACKOFF', 'FATAL']);
    expect(notes.filter((n) => n.gave_up === true)).toEqual([expect.objectContaining({ state: 'FATAL', process: 'app', type: 'crash' })]);
    expect(notes.filter((n) => n.state === 'BACKOFF').every((n) => n.exit_status === 1)).toBe(true);

    // It stays down: no new start, no new notification.
    await sleep(10_000);
    expect(starts()).toHaveLength(6);
    expect(volume.notifications()).toHaveLength(7);
    expect(ctlStatus().stdout).toMatch(/^app\s+FATAL/);
  }, 3 * MINUTES);
});

describe('without the app volume on /mnt (not mounted on the host, e.g. after a reboot)', () => {
  const line = "modulus: /mnt is not the app's volume (not mounted on the host?): refusing to start\n";

  test.each([
    ['an empty folder mop could even write to', 0o755, MOP_UID, MOP_GID],
    ['the closed mount point the volume script leaves (root, mode 0000)', 0o000, 0, 0],
  ])('%s: exits 69 at once with one line, no traceback, and writes nothing', (_, mode, uid, gid) => {
    const dir = tempDir('modulus-unmounted-');
    fs.chownSync(dir, uid, gid);
    fs.chmodSync(dir, mode);
    const began = Date.now();
    const result = dockerRun(['run', '--rm', ...restrictedRunArgs({ dir }), ref]);
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(result).toEqual({ status: 69, stdout: '', stderr: line });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
