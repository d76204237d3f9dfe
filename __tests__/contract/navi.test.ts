/**
 * Navi's side of the supervisord event-listener protocol, driven directly: the real /opt/modulus/bin/navi runs
 * in the run-base image (read-only root, mop, no network) with its stdin/stdout attached to this harness, which
 * plays supervisord: it waits for READY, sends a header line and payload, and expects `RESULT 2\nOK`.
 * A fake cgroup folder (--cgroup-root) lets the test raise the OOM-kill counter between events.
 */
import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as fs from 'fs';
import { buildImage } from './support/docker';
import { cleanup, restrictedRunArgs, RunVolume } from './support/run';

const MINUTES = 60_000;
jest.setTimeout(5 * MINUTES);
let ref = '';

beforeAll(() => {
  ref = buildImage('run-base');
}, 30 * MINUTES);

afterAll(() => cleanup());

class Harness {
  private readonly child: ChildProcessWithoutNullStreams;
  private stdout = Buffer.alloc(0);
  private serial = 0;
  readonly exited: Promise<number>;
  stderr = '';

  constructor(readonly volume: RunVolume, cgroupRoot = '/mnt/tmp/cg') {
    this.child = spawn('docker', [
      'run', '--rm', '-i', ...restrictedRunArgs(volume), ref,
      'navi', '--output', '/mnt/notifications', '--log', '/mnt/log/navi.log', '--cgroup-root', cgroupRoot,
    ]);
    this.child.stdout.on('data', (chunk: Buffer) => (this.stdout = Buffer.concat([this.stdout, chunk])));
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code ?? -1)));
  }

  /** Waits until Navi has written exactly `token` next on stdout, and consumes it. */
  async expectOutput(token: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.stdout.length < Buffer.byteLength(token) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const got = this.stdout.subarray(0, Buffer.byteLength(token)).toString();
    expect(got).toBe(token);
    this.stdout = this.stdout.subarray(Buffer.byteLength(token));
  }

  /** Raw bytes to Navi's stdin. */
  write(data: string | Buffer): void {
    this.child.stdin.write(data);
  }

  /** One supervisord event; waits for READY before and for the OK result after. */
  async event(eventname: string, payload: string | Buffer, extraHeader = ''): Promise<void> {
    await this.expectOutput('READY\n');
    this.serial += 1;
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    this.write(`ver:3.0 server:supervisor serial:${this.serial} pool:navi poolserial:${this.serial} eventname:${eventname}${extraHeader} len:${body.length}\n`);
    this.write(body);
    await this.expectOutput('RESULT 2\nOK');
  }

  /** Raw, possibly malformed, input between READY and the OK result. */
  async raw(data: string | Buffer): Promise<void> {
    await this.expectOutput('READY\n');
    this.write(data);
    await this.expectOutput('RESULT 2\nOK');
  }

  /** Closes Navi's stdin (supervisord went away). */
  endInput(): void {
    this.child.stdin.end();
  }

  async close(): Promise<number> {
    await this.expectOutput('READY\n');
    this.child.stdin.end();
    const code = await this.exited;
    expect(this.stdout.toString()).toBe('');
    return code;
  }
}

function exitedPayload(name: string, pid: number, expected = 0, group = name): string {
  return `processname:${name} groupname:${group} from_state:RUNNING expected:${expected} pid:${pid}`;
}

describe('Navi event-listener protocol', () => {
  test('EXITED of the app: one crash notification with the original keys and our additions', async () => {
    const volume = new RunVolume();
    volume.write('tmp/cg/memory/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n');
    const navi = new Harness(volume);
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 1234));
    expect(await navi.close()).toBe(0);
    const notes = volume.notifications();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toEqual({
      Header: { ver: '3.0', server: 'supervisor', serial: '1', pool: 'navi', poolserial: '1', eventname: 'PROCESS_STATE_EXITED', len: String(Buffer.byteLength(exitedPayload('app', 1234))) },
      Metadata: { processname: 'app', groupname: 'app', from_state: 'RUNNING', expected: '0', pid: '1234' },
      Payload: exitedPayload('app', 1234),
      ReceivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
      type: 'crash',
      process: 'app',
      group: 'app',
      pid: 1234,
      state: 'EXITED',
      exit_status: null, // no supervisord RPC in this harness: the status comes from supervisord's log
      signal: null,
      exit_description: null,
      expected: false,
      gave_up: false,
      oom_kill_count: 0,
    });
    expect(volume.notificationFiles()).toEqual([expect.stringMatching(/^\d{10,}-\d{9}-1-\d+-1\.json$/)]);
  });

  test('only exits are notified: STARTING/RUNNING/STOPPED/other events and navi\'s own exits are acknowledged silently', async () => {
    const volume = new RunVolume();
    const navi = new Harness(volume);
    await navi.event('PROCESS_STATE_STARTING', 'processname:app groupname:app from_state:STOPPED tries:0');
    await navi.event('PROCESS_STATE_RUNNING', 'processname:app groupname:app from_state:STARTING pid:7');
    await navi.event('PROCESS_STATE_STOPPED', 'processname:app groupname:app from_state:STOPPING pid:7');
    await navi.event('TICK_5', 'when:1700000000');
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('navi', 9));
    expect(await navi.close()).toBe(0);
    expect(volume.notificationFiles()).toEqual([]);
  });

  test('BACKOFF (exit during start-up) and FATAL (gave up) are notified, never as expected; only FATAL says gave_up', async () => {
    const volume = new RunVolume();
    const navi = new Harness(volume);
    await navi.event('PROCESS_STATE_BACKOFF', 'processname:app groupname:app from_state:STARTING tries:1');
    await navi.event('PROCESS_STATE_FATAL', 'processname:app groupname:app from_state:BACKOFF');
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 42, 1));
    expect(await navi.close()).toBe(0);
    expect(volume.notifications().map((n) => [n.state, n.type, n.expected, n.pid, n.gave_up])).toEqual([
      ['BACKOFF', 'crash', false, null, false],
      ['FATAL', 'crash', false, null, true],
      ['EXITED', 'crash', true, 42, false],
    ]);
  });

  test('the folder keeps the newest 100 of Navi\'s files: older ones are deleted, other files left alone', async () => {
    const volume = new RunVolume();
    // 105 earlier notifications (a platform that stopped collecting them), named the way Navi names them.
    const earlier = Array.from({ length: 105 }, (_, i) => `${1_600_000_000 + i}-000000000-${i + 1}-7-${i + 1}.json`);
    for (const name of earlier) volume.write(`notifications/${name}`, '{}\n');
    volume.write('notifications/platform-state.json', '{}\n');
    const navi = new Harness(volume);
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 1));
    const afterFirst = volume.notificationFiles();
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 2));
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 3));
    expect(await navi.close()).toBe(0);

    const ours = (files: string[]) => files.filter((name) => name !== 'platform-state.json');
    expect(ours(afterFirst)).toHaveLength(100);
    expect(ours(afterFirst)).toEqual([...earlier.slice(6), expect.stringMatching(/-1\.json$/)]);
    const files = volume.notificationFiles();
    expect(ours(files)).toHaveLength(100);
    expect(ours(files).slice(0, 97)).toEqual(earlier.slice(8));
    expect(files).toContain('platform-state.json');
    expect(volume.notifications().filter((n) => n.process === 'app').map((n) => n.pid)).toEqual([1, 2, 3]);
    expect(volume.read('log/navi.log')).toMatch(/notifications folder over its cap of 100: deleted the oldest 6/);
  });

  test('events in the same second get distinct files, each written atomically (no temp files left)', async () => {
    const volume = new RunVolume();
    const navi = new Harness(volume);
    for (let pid = 100; pid < 110; pid += 1) await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', pid));
    expect(await navi.close()).toBe(0);
    const files = volume.notificationFiles();
    expect(files).toHaveLength(10);
    expect(files.every((name) => name.endsWith('.json') && !name.startsWith('.'))).toBe(true);
    expect(volume.notifications().map((n) => n.pid)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
  });

  test('OOM: cgroup v1 memory.oom_control oom_kill rising since the last event makes the next exit "oom"', async () => {
    const volume = new RunVolume();
    const control = (count: number) => volume.write('tmp/cg/memory/memory.oom_control', `oom_kill_disable 0\nunder_oom 0\noom_kill ${count}\n`);
    control(2); // kills before Navi started do not count
    const navi = new Harness(volume);
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 1));
    control(3);
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 2));
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 3));
    control(5);
    await navi.event('PROCESS_STATE_BACKOFF', 'processname:app groupname:app from_state:STARTING tries:1');
    expect(await navi.close()).toBe(0);
    expect(volume.notifications().map((n) => [n.type, n.oom_kill_count])).toEqual([
      ['crash', 2],
      ['oom', 3],
      ['crash', 3],
      ['oom', 5],
    ]);
  });

  test('OOM: cgroup v2 memory.events oom_kill', async () => {
    const volume = new RunVolume();
    const events = (count: number) => volume.write('tmp/cg/memory.events', `low 0\nhigh 0\nmax 12\noom 1\noom_kill ${count}\noom_group_kill 0\n`);
    events(0);
    const navi = new Harness(volume);
    // Navi reads its baseline when it starts; an acknowledged event proves it has.
    await navi.event('PROCESS_STATE_STARTING', 'processname:app groupname:app from_state:STOPPED tries:0');
    events(1);
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 1));
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 2));
    expect(await navi.close()).toBe(0);
    expect(volume.notifications().map((n) => n.type)).toEqual(['oom', 'crash']);
  });

  test('malformed input is logged and acknowledged; the listener keeps working and ends cleanly at EOF', async () => {
    const volume = new RunVolume();
    const navi = new Harness(volume);
    await navi.raw('this is not a header\n');
    await navi.raw('ver:3.0 server:supervisor serial:1 eventname:PROCESS_STATE_EXITED\n'); // no len
    await navi.raw('ver:3.0 eventname:PROCESS_STATE_EXITED len:abc\n');
    await navi.raw('ver:3.0 eventname:PROCESS_STATE_EXITED len:-5\n');
    await navi.raw(Buffer.from([0xff, 0xfe, 0x00, 0x0a])); // not UTF-8
    await navi.event('PROCESS_STATE_EXITED', 'no colons in this payload');
    await navi.event('PROCESS_STATE_EXITED', ''); // empty payload: no process name
    // Multi-byte payload: len counts bytes; the data after the token line is kept.
    const unicode = `${exitedPayload('app', 77)}\nünïcödé ✓`;
    await navi.event('PROCESS_STATE_EXITED', unicode);
    // Still alive and correct after all of it.
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 78));
    // A payload cut short by EOF: acknowledged, then Navi ends with 0.
    await navi.expectOutput('READY\n');
    navi.write('ver:3.0 eventname:PROCESS_STATE_EXITED len:500\nprocessname:app');
    await new Promise((resolve) => setTimeout(resolve, 200));
    navi.endInput();
    expect(await navi.exited).toBe(0);
    const notes = volume.notifications();
    expect(notes.map((n) => n.pid)).toEqual([77, 78]);
    expect(notes[0].Data).toBe('ünïcödé ✓');
    const log = volume.read('log/navi.log');
    expect(log.match(/ ERROR event not handled/g)?.length).toBe(8);
    expect(log).toMatch(/short payload: 15 of 500 bytes/);
    expect(log).toMatch(/stdin closed; exiting/);
    expect(navi.stderr).toBe('');
  });

  test('an unwritable output folder is logged and acknowledged, not fatal', async () => {
    const volume = new RunVolume();
    const navi = new Harness(volume);
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 1));
    fs.chmodSync(volume.path('notifications'), 0o555);
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 2));
    fs.chmodSync(volume.path('notifications'), 0o755);
    await navi.event('PROCESS_STATE_EXITED', exitedPayload('app', 3));
    expect(await navi.close()).toBe(0);
    expect(volume.notifications().map((n) => n.pid)).toEqual([1, 3]);
    expect(volume.read('log/navi.log')).toMatch(/PermissionError/);
  });
});
