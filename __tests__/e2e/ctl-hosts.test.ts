import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runContainerName } from '../../lib/run-container';
import { synthCtlStack } from '../unit/support/ctl-stack';
import { bash, docker, ok, Run } from './support/shell';
import { ROOT_IMAGE, startTestbed, Testbed } from './support/testbed';

/**
 * `npm run ctl` on several Docker hosts (issue 13), with real parts: the testbed's host B (a second dockerd
 * reached only over SSH), a run container on B from the run-base image (copied from engine A with
 * `docker save | docker -H ssh://... load`), supervisord running on a volume laid out like the platform's, and
 * an apps stack synthesized by cdktf with two docker providers (the default unix:// one and `b`, ssh:// with the
 * testbed's ssh_opts). Engine A holds a decoy of the same name without supervisorctl: a command that reached A
 * would fail there. Needs the run-base image on engine A (npm run test:contract builds it).
 */
jest.setTimeout(5 * 60_000);

const RUN_IMAGE = process.env.MODULUS_RUN_IMAGE ?? 'modulus/run-base:latest';
const id = randomBytes(4).toString('hex');
const APP = `ctl-${id}`;
const CONTAINER = runContainerName(APP);
const ABSENT = `absent-${id}`;
const VOLUME_ON_B = `/var/lib/modulus/ctl-${id}`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-ctl-hosts-'));

let bed: Testbed | undefined;
let stackFile = '';
let decoy = false;

const testbed = (): Testbed => {
  if (!bed) throw new Error('the testbed did not come up (see beforeAll)');
  return bed;
};

/** `npm run ctl -- <app> <action>` from the checkout, with the synthesized stack. */
function ctl(app: string, action: string): Run {
  return bash('npm run --silent ctl -- "$APP" "$ACTION"', { env: { APP: app, ACTION: action, MODULUS_CTL_STACK: stackFile } });
}

/** supervisorctl status on B itself, not through ctl. */
const statusOnB = () => testbed().hostB.docker(['exec', CONTAINER, 'supervisorctl', 'status', 'app']).stdout;

beforeAll(async () => {
  ok(docker('image', 'inspect', '--format', '{{.Id}}', RUN_IMAGE), `the run image ${RUN_IMAGE} on engine A (build it with npm run test:contract)`);
  bed = await startTestbed();
  const { hostB } = bed;

  const copied = Date.now();
  ok(bash('docker save "$IMAGE" | docker -H "$HOST_B" load', { env: { IMAGE: RUN_IMAGE, HOST_B: hostB.dockerHost, ...hostB.env } }), `copy ${RUN_IMAGE} to host B`);
  console.log(`docker save | docker -H ssh:// load of ${RUN_IMAGE}: ${((Date.now() - copied) / 1000).toFixed(1)} s`);

  // The app volume on B, laid out like the volume script's: mop's folders, the program, the root-owned marker.
  ok(
    hostB.ssh(
      [
        'mkdir -p "$DIR"/app "$DIR"/home "$DIR"/log "$DIR"/notifications "$DIR"/tmp',
        'printf "%s\\n" "$CONF" > "$DIR/supervisor.conf"',
        'chown -R 441:444 "$DIR"',
        'chmod 755 "$DIR"',
        'install -m 0444 /dev/null "$DIR/.modulus-volume"',
      ].join('\n'),
      { DIR: VOLUME_ON_B, CONF: ['[program:app]', 'command=/bin/sleep 86400', 'startsecs=1', 'stdout_logfile=/mnt/log/app.log', 'redirect_stderr=true'].join('\n') },
    ),
    'lay out the app volume on B',
  );
  ok(
    hostB.docker([
      'run', '--detach', '--name', CONTAINER,
      '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--user', '441:444', '--network', 'none',
      '-v', `${VOLUME_ON_B}:/mnt`,
      RUN_IMAGE,
    ]),
    `docker run ${CONTAINER} on B`,
  );
  const deadline = Date.now() + 60_000;
  while (!/^app\s+RUNNING/m.test(statusOnB())) {
    if (Date.now() > deadline) throw new Error(`supervisord on B did not start the app:\n${statusOnB()}\n${hostB.docker(['logs', CONTAINER]).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  // The decoy on A: same name, no supervisorctl.
  ok(docker('run', '--detach', '--name', CONTAINER, '--network', 'none', ROOT_IMAGE, 'sleep', '86400'), 'decoy on A');
  decoy = true;

  stackFile = synthCtlStack(work, [
    { host: 'unix:///var/run/docker.sock', apps: [`other-${id}`] },
    { alias: 'b', host: hostB.dockerHost, sshOpts: hostB.sshOpts, apps: [APP] },
  ]);
}, 20 * 60_000);

afterAll(async () => {
  if (decoy) docker('rm', '--force', CONTAINER);
  await bed?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('npm run ctl -- <app> on the host of its provider', () => {
  it('the synthesized stack puts the run container on docker.b, ssh:// with the testbed ssh_opts', () => {
    const stack = JSON.parse(fs.readFileSync(stackFile, 'utf8'));
    const { hostB } = testbed();
    expect(stack.provider.docker).toEqual([{ host: 'unix:///var/run/docker.sock' }, { alias: 'b', host: hostB.dockerHost, ssh_opts: hostB.sshOpts }]);
    const containers = Object.values(stack.resource.docker_container) as Array<Record<string, unknown>>;
    expect(containers.filter((c) => c.name === CONTAINER).map((c) => c.provider)).toEqual(['docker.b']);
    // Engine A's container of that name has no supervisorctl: anything that reaches A fails.
    expect(docker('exec', CONTAINER, 'supervisorctl', 'status').status).not.toBe(0);
  });

  it('status reaches B and prints supervisor status (exit 0)', () => {
    const status = ctl(APP, 'status');
    expect({ status: status.status, stderr: status.stderr }).toEqual({ status: 0, stderr: '' });
    expect(status.stdout).toMatch(/^app\s+RUNNING\s+pid \d+, uptime \d+:\d\d:\d\d\s*$/m);
  });

  it('stop and start act on B; status passes supervisorctl\'s exit 3 (not running) through', () => {
    const stop = ctl(APP, 'stop');
    expect({ status: stop.status, stdout: stop.stdout }).toEqual({ status: 0, stdout: 'app: stopped\n' });
    expect(statusOnB()).toMatch(/^app\s+STOPPED/m);
    expect(testbed().hostB.docker(['exec', CONTAINER, 'cat', '/mnt/log/supervisord.log']).stdout).toMatch(/ WARN stopped: app \(terminated by SIGTERM\)/);

    const stopped = ctl(APP, 'status');
    expect(stopped.status).toBe(3);
    expect(stopped.stdout).toMatch(/^app\s+STOPPED/m);

    const start = ctl(APP, 'start');
    expect({ status: start.status, stdout: start.stdout }).toEqual({ status: 0, stdout: 'app: started\n' });
    expect(statusOnB()).toMatch(/^app\s+RUNNING/m);
    expect(ctl(APP, 'status').status).toBe(0);

    const restart = ctl(APP, 'restart');
    expect({ status: restart.status, stdout: restart.stdout }).toEqual({ status: 0, stdout: 'app: stopped\napp: started\n' });
  });

  it('an app absent from the stack says so and falls back to the local engine, where it fails with docker\'s message', () => {
    const absent = ctl(ABSENT, 'status');
    expect(absent.status).not.toBe(0);
    expect(absent.stdout).toBe('');
    expect(absent.stderr).toContain(
      `ctl: app '${ABSENT}' has no run container (docker_container named ${runContainerName(ABSENT)}) in the apps stack: using the local engine (${stackFile})\n`,
    );
    expect(absent.stderr).toMatch(new RegExp(`No such container: ${runContainerName(ABSENT)}`));

    // Without the stack file ctl uses the local engine, silently: there the app's name is A's decoy, which has no
    // supervisorctl (so the passing status above came from B).
    const local = bash('npm run --silent ctl -- "$APP" status', { env: { APP, MODULUS_CTL_STACK: path.join(work, 'absent.tf.json') } });
    expect(`${local.stdout}${local.stderr}`).toMatch(/"supervisorctl": executable file not found/);
    expect([126, 127]).toContain(local.status); // the engine's code for an exec that cannot start (20.10: 126)
    expect(local.stderr).not.toContain('ctl: app');
  });

  it('an app on an alias the stack does not configure is refused (exit 2), naming the app, the alias and the providers', () => {
    const stack = JSON.parse(fs.readFileSync(stackFile, 'utf8'));
    const entry = Object.values(stack.resource.docker_container).find((c) => (c as Record<string, unknown>).name === CONTAINER) as Record<string, unknown>;
    entry.provider = 'docker.c';
    const broken = path.join(work, 'broken.tf.json');
    fs.writeFileSync(broken, JSON.stringify(stack));
    const refused = bash('npm run --silent ctl -- "$APP" status', { env: { APP, MODULUS_CTL_STACK: broken } });
    expect({ status: refused.status, stdout: refused.stdout }).toEqual({ status: 2, stdout: '' });
    expect(refused.stderr).toContain(
      `ctl: app '${APP}': docker_container.Run-${APP} uses provider docker.c, but the apps stack has no docker provider with alias 'c'; the stack's docker providers are docker, docker.b\n`,
    );
  });
});
