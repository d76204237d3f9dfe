/**
 * The contract every run image keeps, as one jest `describe` per image (run-node, run-java, run-php,
 * run-static): identity and read-only root, environment, `start` on PATH, zombie reaping, serving the sample
 * over loopback with host networking, supervisorctl control, and a crash -> restart + Navi notification.
 */
import { buildImage } from './docker';
import { imageContract } from './image-contract';
import {
  appPid,
  cleanup,
  exec,
  freePort,
  httpGet,
  processes,
  RunVolume,
  startContainer,
  supervisorStates,
  waitFor,
  waitForHttp,
} from './run';

export interface RunImageSpec {
  /** Image name, e.g. 'run-node'. */
  image: string;
  /** Fills the volume's app/ folder with the built sample (runs after the image is built). */
  prepareApp: (appDir: string) => void;
  /** Something the sample's answer contains. */
  expectBody: RegExp;
  /** A command (run with docker exec) that makes the app crash. */
  crash: string[];
  /** Extra environment for [program:app]. */
  environment?: Record<string, string>;
  /** Extra docker run arguments (e.g. --memory). */
  extraArgs?: string[];
  /** Extra tests against the running container. */
  more?: (context: () => RunContext) => void;
}

export interface RunContext {
  /** The image under test. */
  image: string;
  container: string;
  volume: RunVolume;
  port: number;
}

const MINUTES = 60_000;

export function describeRunImage(spec: RunImageSpec): void {
  describe(`${spec.image} contract`, () => {
    let ref = '';
    let context: RunContext;

    beforeAll(async () => {
      ref = buildImage(spec.image);
      const port = await freePort();
      const volume = new RunVolume({ environment: { PORT: String(port), HOST: '127.0.0.1', ...spec.environment } });
      spec.prepareApp(volume.path('app'));
      const container = startContainer(ref, volume, { network: 'host', extraArgs: spec.extraArgs });
      context = { image: ref, container, volume, port };
      const answer = await waitForHttp(port, '/', 3 * MINUTES);
      if (answer.status !== 200) {
        const tail = (file: string) => volume.read(file).slice(-3000);
        throw new Error(`${spec.image} did not serve the sample on ${port}:\n${tail('log/app.log')}\n${tail('log/supervisord.log')}`);
      }
    }, 30 * MINUTES);

    afterAll(() => cleanup());

    describe('image contract (shared with base and the build images)', () => {
      imageContract(() => ref, { commands: ['start', 'navi', 'memory-limit', 'nginx-conf'] });
    });

    test('runs as mop 441:444, supervisord and the app included, nothing as root', () => {
      const ids = exec(context.container, ['sh', '-c', 'id -u; id -g']).stdout.split('\n');
      expect(ids.slice(0, 2)).toEqual(['441', '444']);
      const procs = processes(context.container);
      expect(procs.find((p) => p.args.includes('supervisord'))?.user).toBe('mop');
      expect(procs.filter((p) => p.user !== 'mop' && p.user !== '441')).toEqual([]);
    });

    test('writing outside /mnt fails; /mnt is writable', () => {
      for (const target of ['/etc/modulus-test', '/opt/modulus/bin/x', '/usr/local/bin/x', '/tmp/x', '/var/tmp/x', '/x']) {
        const result = exec(context.container, ['sh', '-c', `echo x > ${target}`]);
        expect({ target, failed: result.status !== 0 }).toEqual({ target, failed: true });
      }
      expect(exec(context.container, ['sh', '-c', 'echo x > /mnt/tmp/x && rm /mnt/tmp/x']).status).toBe(0);
    });

    test('environment: HOME, TMPDIR/TEMP_DIR/TMP_DIR, PATH with /opt/modulus/bin; start, navi, supervisorctl on PATH', () => {
      const out = exec(context.container, [
        'sh', '-c', 'echo "$HOME|$TMPDIR|$TEMP_DIR|$TMP_DIR|$PATH"; for c in start navi supervisorctl memory-limit; do command -v "$c"; done',
      ]).stdout.split('\n');
      const [home, tmpdir, tempDir, tmpDir, pathVar] = out[0].split('|');
      expect({ home, tmpdir, tempDir, tmpDir }).toEqual({ home: '/mnt/home', tmpdir: '/mnt/tmp', tempDir: '/mnt/tmp', tmpDir: '/mnt/tmp' });
      expect(pathVar.split(':')).toContain('/opt/modulus/bin');
      expect(out.slice(1, 5)).toEqual([
        '/opt/modulus/bin/start', '/opt/modulus/bin/navi', '/usr/bin/supervisorctl', '/opt/modulus/bin/memory-limit',
      ]);
    });

    test('serves the sample with HTTP 200 on the loopback port', async () => {
      const answer = await httpGet(context.port);
      const logs = answer.status === 200 ? '' : `${context.volume.read('log/app.log')}\n${context.volume.read('log/supervisord.log')}`;
      expect({ status: answer.status, logs }).toEqual({ status: 200, logs: '' });
      expect(answer.body).toMatch(spec.expectBody);
    });

    test('orphaned children are reaped: no zombies', async () => {
      // Each `sh -c` exits at once, orphaning its background sleeps; PID 1 (the init) must reap them.
      expect(exec(context.container, ['sh', '-c', 'for i in 1 2 3 4 5; do sh -c "sleep 1 & sleep 1 &"; done']).status).toBe(0);
      const zombies = await waitFor(() => {
        const procs = processes(context.container);
        const sleeping = procs.filter((p) => p.args === 'sleep 1');
        const dead = procs.filter((p) => p.stat.startsWith('Z'));
        return sleeping.length === 0 && dead.length === 0 ? [] : null;
      }, 20_000);
      expect(zombies).toEqual([]);
    });

    test('`supervisorctl status` and `supervisorctl restart app` work through the unix socket', async () => {
      // RUNNING once the app has stayed up for startsecs (10 s), which may come after its first answer.
      const running = await waitFor(() => {
        const states = supervisorStates(context.container);
        return states.app === 'RUNNING' && states.navi === 'RUNNING' ? states : null;
      }, 60_000);
      expect(running).toEqual({ app: 'RUNNING', navi: 'RUNNING' });
      const before = appPid(context.container);
      const restart = exec(context.container, ['supervisorctl', 'restart', 'app']);
      expect(restart.stdout).toMatch(/app: started/);
      const after = appPid(context.container);
      expect(after).toBeGreaterThan(0);
      expect(after).not.toBe(before);
      expect((await waitForHttp(context.port, '/', 2 * MINUTES)).status).toBe(200);
      // A deliberate restart is not a crash: no notification.
      expect(context.volume.notifications()).toEqual([]);
    }, 5 * MINUTES);

    test('a crashed app is restarted by supervisord and Navi writes a crash notification', async () => {
      const before = appPid(context.container);
      const existing = context.volume.notifications().length;
      const crash = exec(context.container, spec.crash);
      expect({ status: crash.status, stderr: crash.stderr }).toEqual({ status: 0, stderr: '' });
      const notes = await waitFor(() => {
        const all = context.volume.notifications();
        return all.length > existing ? all.slice(existing) : null;
      }, 60_000);
      expect(notes).not.toBeNull();
      expect(notes![0]).toMatchObject({ type: 'crash', process: 'app', expected: false });
      expect(notes![0]).toHaveProperty('Header.eventname', expect.stringMatching(/^PROCESS_STATE_(EXITED|BACKOFF)$/));
      const restarted = await waitFor(() => {
        const pid = appPid(context.container);
        return pid > 0 && pid !== before && supervisorStates(context.container).app === 'RUNNING' ? pid : 0;
      }, 2 * MINUTES);
      expect(restarted).toBeGreaterThan(0);
      expect((await waitForHttp(context.port, '/', 2 * MINUTES)).status).toBe(200);
      expect(context.volume.notificationFiles().filter((name) => !name.endsWith('.json'))).toEqual([]);
    }, 5 * MINUTES);

    spec.more?.(() => context);
  });
}
