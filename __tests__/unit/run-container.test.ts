import { Testing } from 'cdktf';
import { AppVolume } from '../../lib/app-volume';
import { NetworkMode } from '../../lib/network-mode';
import { RestartPolicy, RunContainer, RunContainerProps, runContainerName } from '../../lib/run-container';
import { BuildJob } from '../../lib/build-job';
import { errorMessage, localExecs, resource, resourceKey, resourcesOf, sourceFolder, synthStack } from './support/app-runtime';

const IMAGE = 'modulus/run-node:latest';

function synthRun(props: Partial<RunContainerProps> = {}) {
  let run!: RunContainer;
  const result = synthStack((stack) => {
    const volume = new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' });
    run = new RunContainer(stack, 'Run', { volume, image: IMAGE, language: 'node', ...props });
  });
  return { ...result, run, container: resource(result.json, 'docker_container', 'Run_Container') };
}

const runError = (props: Partial<RunContainerProps>): string => errorMessage(() => synthRun(props));

describe('RunContainer: secure defaults', () => {
  const { json, raw, run, container } = synthRun();

  it('is named modulus-app-<app>, derivable from the app name', () => {
    expect(container.name).toBe('modulus-app-shop');
    expect(run.containerName).toBe(runContainerName('shop'));
    expect(run.node.defaultChild).toBe(run.resource);
    expect(run.resource.node.path).toBe('test/Run/Container');
    expect(Testing.toHaveResourceWithProperties(raw, 'docker_container', { name: 'modulus-app-shop', image: IMAGE })).toBe(true);
  });

  it('runs as mop with a read-only root, no capabilities, no-new-privileges and an init', () => {
    expect(container).toMatchObject({
      user: '441:444',
      read_only: true,
      capabilities: { drop: ['ALL'] },
      security_opts: ['no-new-privileges:true'],
      init: true,
      must_run: true,
    });
    expect(container.privileged).toBeUndefined();
  });

  it('limits memory (512 MiB by default) without swap and passes it as SERVO_SIZE', () => {
    expect(container).toMatchObject({ memory: 512, memory_swap: 512 });
    expect(container.env).toEqual(['HOST=0.0.0.0', 'PORT=8080', 'SERVO_SIZE=512', 'TINI_SUBREAPER=1']);
  });

  it('mounts the volume at /mnt and starts after the volume, supervisor.conf and the mount step (its settings and process limit)', () => {
    expect(container.mounts).toEqual([{ type: 'bind', source: '/var/lib/modulus/volumes/shop/mnt', target: '/mnt' }]);
    expect(container.depends_on).toEqual(
      ['Volume', 'Config', 'Mount'].map((name) => `null_resource.${resourceKey(json, 'null_resource', `Vol_${name}`)}`),
    );
  });

  it("runs under the app's own parent cgroup, whose process limit (512 by default) the volume's mount step sets first, keyed on it", () => {
    expect(container.cgroup_parent).toBe('/modulus/shop');
    const mount = resource(json, 'null_resource', 'Vol_Mount');
    expect(mount.triggers).toMatchObject({
      volume: `\${null_resource.${resourceKey(json, 'null_resource', 'Vol_Volume')}.id}`,
      pids_max: '512',
      scripts_sha256: expect.stringMatching(/^[0-9A-F]{32}$/),
    });
    const [apply, ...rest] = localExecs(mount);
    expect(apply.command).toMatch(/^bash assets\/ModulusVolumeScript\/[0-9A-F]{32}\/modulus-volume\.sh apply-settings$/);
    expect(apply.environment).toMatchObject({ MODULUS_APP: 'shop', MODULUS_PIDS_MAX: '512' });
    // No destroy step: the Volume's destroy removes the limit (a second one would need a remote host's SSH key).
    expect(rest).toEqual([]);
    expect(resource(synthRun({ processLimit: 64 }).json, 'null_resource', 'Vol_Mount').triggers.pids_max).toBe('64');
    // Of its own, only the step that waits for the app to answer.
    expect(Object.keys(resourcesOf(json, 'null_resource')).filter((key) => key.startsWith('Run_'))).toEqual([resourceKey(json, 'null_resource', 'Run_Ready')]);
  });

  it('the build runs under the same cgroup: it waits for the mount step that sets the process limit', () => {
    const { json } = synthStack((stack) => {
      const volume = new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' });
      const build = new BuildJob(stack, 'Build', { volume, image: 'build-image', language: 'node', source: sourceFolder() });
      new RunContainer(stack, 'Run', { volume, image: IMAGE, language: 'node', build });
    });
    const build = resource(json, 'docker_container', 'Build_Container');
    expect(build.cgroup_parent).toBe('/modulus/shop');
    expect(build.depends_on).toContain(`null_resource.${resourceKey(json, 'null_resource', 'Build_Input')}`);
    expect(resource(json, 'null_resource', 'Build_Input').depends_on).toContain(`null_resource.${resourceKey(json, 'null_resource', 'Vol_Mount')}`);
    expect(resource(json, 'null_resource', 'Vol_Mount').triggers.pids_max).toBe('512');
  });

  it('refuses a second run container of the volume with another process limit, naming both', () => {
    expect(
      errorMessage(() =>
        synthStack((stack) => {
          const volume = new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' });
          new RunContainer(stack, 'Run', { volume, image: IMAGE, language: 'node' });
          new RunContainer(stack, 'Other', { volume, image: IMAGE, language: 'node', processLimit: 64, port: 8081 });
        }),
      ),
    ).toBe("test/Other: invalid processLimit 64: give the app's containers one limit: test/Vol already has 512");
  });

  it('restarts unless stopped, rotates its log and stops gracefully', () => {
    expect(container).toMatchObject({
      restart: 'unless-stopped',
      log_driver: 'json-file',
      log_opts: { 'max-size': '10m', 'max-file': '3' },
      destroy_grace_seconds: 10,
    });
  });

  it('checks health over HTTP on PORT and waits for it on deploy', () => {
    expect(container.healthcheck).toEqual({
      test: ['CMD', 'curl', '-sS', '-o', '/dev/null', '--noproxy', '*', '--max-time', '5', 'http://127.0.0.1:8080/'],
      interval: '15s',
      timeout: '6s',
      retries: 3,
      start_period: '30s',
    });
    // Not Docker's wait: its first probe comes only after the interval. The Ready step asks the app every 0.1 s.
    expect(container.wait).toBeUndefined();
    const ready = resource(json, 'null_resource', 'Run_Ready');
    expect(ready.triggers.container).toBe(`\${docker_container.${resourceKey(json, 'docker_container', 'Run_Container')}.id}`);
    expect(ready.depends_on).toEqual([`docker_container.${resourceKey(json, 'docker_container', 'Run_Container')}`]);
    const [step, ...rest] = localExecs(ready);
    expect(rest).toEqual([]);
    expect(step.command).toMatch(/\/modulus-volume\.sh await-ready$/);
    expect(step.environment).toMatchObject({
      MODULUS_APP: 'shop',
      MODULUS_IMAGE: 'run-image',
      MODULUS_RUN_CONTAINER: 'modulus-app-shop',
      MODULUS_READY_PORTS: '8080',
      MODULUS_HEALTH_PATH: '/',
      MODULUS_HEALTH_TIMEOUT_SECONDS: '5',
      MODULUS_READY_TIMEOUT_SECONDS: '120',
    });
    expect(run.ready).toBe(run.node.findChild('Ready'));
  });

  it('publishes the port on the host loopback with the default bridge network', () => {
    expect(container.network_mode).toBe('bridge');
    expect(container.ports).toEqual([{ internal: 8080, external: 8080, ip: '127.0.0.1', protocol: 'tcp' }]);
  });

  it('is replaced when the volume or its supervisor.conf is', () => {
    const labels = Object.fromEntries(container.labels.map((label: any) => [label.label, label.value]));
    expect(labels).toEqual({
      'org.modulus.app': 'shop',
      'org.modulus.role': 'run',
      'org.modulus.language': 'node',
      'org.modulus.volume': `\${null_resource.${resourceKey(json, 'null_resource', 'Vol_Volume')}.id}`,
      'org.modulus.config': `\${null_resource.${resourceKey(json, 'null_resource', 'Vol_Config')}.id}`,
    });
  });
});

describe('RunContainer: options', () => {
  it('host networking (CI): nothing published, the app binds loopback only', () => {
    const { container } = synthRun({ networkMode: NetworkMode.HOST });
    expect(container.network_mode).toBe('host');
    expect(container.ports).toBeUndefined();
    expect(container.env).toContain('HOST=127.0.0.1');
  });

  it('custom port, publication, memory, restart, health check, init and logs', () => {
    const { json, container } = synthRun({
      port: 3000,
      publish: { hostIp: '0.0.0.0', hostPort: 80 },
      memoryMiB: 1024,
      restart: RestartPolicy.ON_FAILURE,
      healthCheck: { path: '/healthz?deep=1', intervalSeconds: 5, timeoutSeconds: 2, retries: 5, startPeriodSeconds: 0, waitTimeoutSeconds: 30 },
      init: false,
      logOptions: { 'max-size': '1m' },
    });
    expect(container.ports).toEqual([{ internal: 3000, external: 80, ip: '0.0.0.0', protocol: 'tcp' }]);
    expect(container).toMatchObject({ memory: 1024, memory_swap: 1024, restart: 'on-failure', init: false, log_opts: { 'max-size': '1m' } });
    expect(localExecs(resource(json, 'null_resource', 'Run_Ready'))[0].environment).toMatchObject({
      MODULUS_READY_PORTS: '3000',
      MODULUS_HEALTH_PATH: '/healthz?deep=1',
      MODULUS_HEALTH_TIMEOUT_SECONDS: '2',
      MODULUS_READY_TIMEOUT_SECONDS: '30',
    });
    expect(container.env).toEqual(['HOST=0.0.0.0', 'PORT=3000', 'SERVO_SIZE=1024']);
    expect(container.healthcheck.test.at(-1)).toBe('http://127.0.0.1:3000/healthz?deep=1');
  });

  it('no health check, or no wait for it: no Ready step, and the container is what to depend on', () => {
    for (const healthCheck of [false, { waitForHealthy: false }] as const) {
      const { json, run, container } = synthRun({ healthCheck });
      expect(container.healthcheck === undefined).toBe(healthCheck === false);
      expect(Object.keys(resourcesOf(json, 'null_resource')).filter((key) => key.startsWith('Run_'))).toEqual([]);
      expect(run.ready).toBe(run.resource);
    }
  });

  it('publish: false publishes nothing on a bridge', () => {
    expect(synthRun({ publish: false }).container.ports).toBeUndefined();
  });


  const URL_PATH = "give a URL path: start with '/', no spaces or quotes";
  it.each<[Partial<RunContainerProps>, string]>([
    [{ language: 'c++' }, "test/Run: invalid language 'c++': use a lowercase letter, then lowercase letters or digits, at most 30 characters (e.g. 'node' or 'python')"],
    [{ port: 0 }, 'test/Run: invalid port 0: use a whole number from 1 to 65535'],
    [{ processLimit: 8 }, 'test/Run: invalid processLimit 8: use a whole number from 16 to 4194304'],
    [{ port: 70000 }, 'test/Run: invalid port 70000: use a whole number from 1 to 65535'],
    [{ memoryMiB: 32 }, 'test/Run: invalid memoryMiB 32: use a whole number from 64 to 1048576'],
    [
      { restart: 'sometimes' as any },
      "test/Run: invalid restart 'sometimes': use one of RestartPolicy.NO ('no'), RestartPolicy.ON_FAILURE ('on-failure'), RestartPolicy.ALWAYS ('always'), RestartPolicy.UNLESS_STOPPED ('unless-stopped')",
    ],
    [
      { networkMode: NetworkMode.HOST, publish: { hostPort: 80 } },
      `test/Run: invalid publish {"hostPort":80}: leave it out or give false: ports cannot be published with network mode 'host'`,
    ],
    [
      { networkMode: NetworkMode.NONE, publish: { hostPort: 80 } },
      `test/Run: invalid publish {"hostPort":80}: leave it out or give false: ports cannot be published with network mode 'none'`,
    ],
    // Named Docker networks are no longer accepted.
    [
      { networkMode: 'my-network' as any },
      "test/Run: invalid networkMode 'my-network': use one of NetworkMode.BRIDGE ('bridge'), NetworkMode.HOST ('host'), NetworkMode.NONE ('none')",
    ],
    [{ publish: { hostIp: 'localhost' } }, "test/Run: invalid publish.hostIp 'localhost': give an IP address (e.g. '127.0.0.1' or '0.0.0.0')"],
    [{ healthCheck: { path: 'health' } }, `test/Run: invalid healthCheck.path 'health': ${URL_PATH}`],
    [{ healthCheck: { path: '/a b' } }, `test/Run: invalid healthCheck.path '/a b': ${URL_PATH}`],
    [{ image: ' ' }, "test/Run: invalid image ' ': give a non-empty image id or reference (e.g. modulusImage.imageId)"],
  ])('refuses %j', (props, message) => {
    expect(runError(props)).toBe(message);
  });
});

describe('runContainerName', () => {
  it('derives the name from the app and refuses invalid app names', () => {
    expect(runContainerName('my-app2')).toBe('modulus-app-my-app2');
    expect(() => runContainerName('My App')).toThrow("invalid app name 'My App'");
    expect(() => runContainerName('')).toThrow("invalid app name ''");
  });
});
