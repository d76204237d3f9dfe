import * as fs from 'fs';
import * as path from 'path';
import { App, TerraformVariable } from 'cdktf';
import { Container } from '@cdktf/provider-docker/lib/container';
import { DockerHost, ModulusApp, ModulusAppProps, ModulusImage, ModulusStack, NetworkMode } from '../../lib';
import { stateBackendFromEnvironment } from '../../lib/state-backend';
import { errorMessage, sourceFolder } from './support/app-runtime';
import { tempDir } from './support/temp';

/** A consumer-style stack: a ModulusStack with apps (and hosts), synthesized as `app.synth()` does it. */
function consumer(fill: (stack: ModulusStack, add: (appName: string, props?: Partial<ModulusAppProps>) => ModulusApp) => void) {
  const outdir = path.join(tempDir('modulus-conflicts-'), 'cdktf.out');
  const app = new App({ outdir, skipValidation: true });
  const stack = new ModulusStack(app, 'platform');
  const source = sourceFolder();
  const add = (appName: string, props: Partial<ModulusAppProps> = {}) =>
    new ModulusApp(stack, appName, {
      appName,
      language: 'node',
      source,
      buildImage: 'modulus/build-node:latest',
      runImage: 'modulus/run-node:latest',
      ...props,
    });
  fill(stack, add);
  return { app, outdir };
}

const sshHost = (stack: ModulusStack, id: string, hostName: string) => {
  const key = new TerraformVariable(stack, `${id}_key`, { type: 'string', sensitive: true });
  return new DockerHost(stack, id, {
    hostName,
    engine: 'ssh://root@10.0.0.1',
    provisioning: { user: 'root', address: '10.0.0.1', privateKey: key.stringValue, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl' },
  });
};

describe('conflicts between constructs fail the synth, in the one error form, and no stack is written', () => {
  const cases: Array<[string, Parameters<typeof consumer>[0], string[]]> = [
    [
      'two apps with one name on the stack engine',
      (stack, add) => {
        add('shop', { run: { publish: { hostPort: 8081 } } });
        new ModulusApp(stack, 'Shop2', { appName: 'shop', language: 'node', source: sourceFolder(), buildImage: 'b', runImage: 'r', run: { publish: { hostPort: 8082 } } });
      },
      [
        "platform/Shop2/Volume: invalid appName 'shop': give each app on the stack's Docker engine its own name (it names the volume, cgroup and containers): platform/shop/Volume has it",
      ],
    ],
    [
      'two apps with one name on two hosts: allowed',
      (stack, add) => {
        add('shop', { host: sshHost(stack, 'EdgeA', 'edge-a') });
        new ModulusApp(stack, 'Shop2', { appName: 'shop', language: 'node', source: sourceFolder(), buildImage: 'b', runImage: 'r', host: sshHost(stack, 'EdgeB', 'edge-b') });
      },
      [],
    ],
    [
      'two DockerHosts with one name',
      (stack) => {
        sshHost(stack, 'EdgeA', 'edge');
        sshHost(stack, 'EdgeB', 'edge');
      },
      ["platform/EdgeB: invalid hostName 'edge': give each DockerHost of a stack its own name (it is its docker provider's alias): platform/EdgeA has it"],
    ],
    [
      'two apps published on one host address and port',
      (_, add) => {
        add('shop', { run: { port: 8080 } });
        add('blog', { run: { port: 9000, publish: { hostPort: 8080 } } });
      },
      ["platform/blog/Run: invalid publish '127.0.0.1:8080': give each app on the stack's Docker engine its own host address and port: platform/shop/Run publishes 127.0.0.1:8080"],
    ],
    [
      'one port on 0.0.0.0 and on 127.0.0.1 of one host',
      (stack, add) => {
        const host = sshHost(stack, 'Edge', 'edge');
        add('shop', { host, run: { publish: { hostIp: '0.0.0.0', hostPort: 80 } } });
        add('blog', { host, run: { publish: { hostPort: 80 } } });
      },
      ["platform/blog/Run: invalid publish '127.0.0.1:80': give each app on host 'edge' its own host address and port: platform/shop/Run publishes 0.0.0.0:80"],
    ],
    [
      'two apps with host networking on one port, and one with host networking on a port another publishes',
      (_, add) => {
        add('shop', { networkMode: NetworkMode.HOST, run: { port: 8080 } });
        add('blog', { networkMode: NetworkMode.HOST, run: { port: 8080 } });
        add('wiki', { run: { port: 9000, publish: { hostPort: 9090 } } });
        add('docs', { networkMode: NetworkMode.HOST, run: { port: 9090 } });
      },
      [
        "platform/blog/Run: invalid port 8080: give each app on the stack's Docker engine its own host address and port: platform/shop/Run listens on port 8080 of the host (host networking)",
        "platform/docs/Run: invalid port 9090: give each app on the stack's Docker engine its own host address and port: platform/wiki/Run publishes 127.0.0.1:9090",
      ],
    ],
    [
      'one port on two addresses, or on two hosts: allowed',
      (stack, add) => {
        add('shop', { run: { publish: { hostIp: '127.0.0.1', hostPort: 80 } } });
        add('blog', { run: { publish: { hostIp: '127.0.0.2', hostPort: 80 } } });
        add('wiki', { host: sshHost(stack, 'Edge', 'edge'), run: { publish: { hostPort: 80 } } });
      },
      [],
    ],
    [
      'a container of the user with the name of an app container',
      (stack, add) => {
        add('shop');
        new Container(stack, 'Sidecar', { name: 'modulus-app-shop', image: 'busybox' });
      },
      ["platform/Sidecar: invalid name 'modulus-app-shop': give each container on the stack's Docker engine its own name: platform/shop/Run/Container has it"],
    ],
  ];

  it.each(cases)('%s', (_, fill, expected) => {
    const { app, outdir } = consumer(fill);
    // A stack an earlier synth wrote is removed too; the rest of the folder (a local state file) is kept.
    fs.mkdirSync(path.join(outdir, 'stacks', 'platform'), { recursive: true });
    fs.writeFileSync(path.join(outdir, 'stacks', 'platform', 'cdk.tf.json'), '{}');
    fs.writeFileSync(path.join(outdir, 'stacks', 'platform', 'terraform.tfstate'), '{}');
    if (expected.length === 0) {
      app.synth();
      expect(fs.existsSync(path.join(outdir, 'stacks', 'platform', 'cdk.tf.json'))).toBe(true);
      return;
    }
    const message = errorMessage(() => app.synth());
    expect(message.split('\n')).toEqual([`platform: ${expected.length} error${expected.length === 1 ? '' : 's'}, no stack written:`, ...expected]);
    expect(fs.existsSync(path.join(outdir, 'stacks', 'platform', 'cdk.tf.json'))).toBe(false);
    expect(fs.existsSync(path.join(outdir, 'stacks', 'platform', 'terraform.tfstate'))).toBe(true);
  });

  it('reports every conflict, each once', () => {
    const { app } = consumer((stack, add) => {
      add('shop');
      new ModulusApp(stack, 'Shop2', { appName: 'shop', language: 'node', source: sourceFolder(), buildImage: 'b', runImage: 'r', run: { port: 9000 } });
      add('blog', { run: { port: 9000 } });
      sshHost(stack, 'EdgeA', 'edge');
      sshHost(stack, 'EdgeB', 'edge');
    });
    expect(errorMessage(() => app.synth()).split('\n')).toEqual([
      'platform: 3 errors, no stack written:',
      "platform/Shop2/Volume: invalid appName 'shop': give each app on the stack's Docker engine its own name (it names the volume, cgroup and containers): platform/shop/Volume has it",
      "platform/blog/Run: invalid publish '127.0.0.1:9000': give each app on the stack's Docker engine its own host address and port: platform/Shop2/Run publishes 127.0.0.1:9000",
      "platform/EdgeB: invalid hostName 'edge': give each DockerHost of a stack its own name (it is its docker provider's alias): platform/EdgeA has it",
    ]);
  });
});

describe('single-construct checks of issue 18', () => {
  const stack = () => new ModulusStack(new App({ outdir: tempDir('modulus-checks-'), skipValidation: true }), 'platform');
  const run = (logOptions: Record<string, string>) => () =>
    new ModulusApp(stack(), 'shop', { appName: 'shop', language: 'node', source: sourceFolder(), buildImage: 'b', runImage: 'r', run: { logOptions } });

  it.each<[Record<string, string>, string]>([
    [{ 'max-size': 'lots' }, "platform/shop/Run: invalid logOptions['max-size'] 'lots': give a size such as '10m' (a whole number, then k, m or g)"],
    [{ 'max-file': '0' }, "platform/shop/Run: invalid logOptions['max-file'] '0': give a whole number of files such as '3'"],
    [{ 'max-age': '1d' }, "platform/shop/Run: invalid logOptions 'max-age': use json-file options: max-size, max-file, compress, labels, labels-regex, env, env-regex, tag"],
  ])('log options %j', (logOptions, expected) => {
    expect(errorMessage(run(logOptions))).toBe(expected);
  });

  it('accepts json-file log options of the documented forms', () => {
    expect(() => run({ 'max-size': '10m', 'max-file': '3', compress: 'true' })()).not.toThrow();
  });

  it('a 300-character image name: at most 255 characters, in a short message', () => {
    const repository = `modulus/${'a'.repeat(292)}`;
    const message = errorMessage(() => new ModulusImage(stack(), 'Image', { repository, directory: sourceFolder(), parent: 'debian:bookworm-slim' }));
    expect(message).toBe(`platform/Image: invalid repository 'modulus/${'a'.repeat(52)}...' (300 characters): use at most 255 characters in the repository name (this one has 300)`);
  });

  it('an unset PG_CONN_STR says so', () => {
    expect(errorMessage(() => stateBackendFromEnvironment({ MODULUS_STATE: 'pg' }))).toMatch(/^invalid PG_CONN_STR \(not set\): MODULUS_STATE 'pg' needs it/);
  });
});

describe('typed container options', () => {
  const synth = (run: Partial<ModulusAppProps['run']>, build: Partial<ModulusAppProps['build']> = {}, networkMode?: NetworkMode) => {
    const outdir = path.join(tempDir('modulus-options-'), 'cdktf.out');
    const app = new App({ outdir, skipValidation: true });
    const stack = new ModulusStack(app, 'platform');
    new ModulusApp(stack, 'shop', { appName: 'shop', language: 'node', source: sourceFolder(), buildImage: 'b', runImage: 'r', networkMode, run, build });
    app.synth();
    const json = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', 'platform', 'cdk.tf.json'), 'utf8'));
    const containers = Object.values<any>(json.resource.docker_container);
    return { run: containers.find((c) => c.name === 'modulus-app-shop'), build: containers.find((c) => c.name.startsWith('modulus-build-shop')) };
  };

  it('adds labels, networks, read-only bind mounts and further published ports to the run container', () => {
    const { run } = synth({
      labels: { 'com.example.team': 'shop' },
      networks: ['backend'],
      mounts: [{ source: '/srv/shared/config', target: '/etc/shop' }, { source: '/srv/spool', target: '/var/spool/shop', readOnly: false }],
      additionalPorts: [{ containerPort: 9100, hostPort: 19100 }],
    });
    expect(run.labels).toContainEqual({ label: 'com.example.team', value: 'shop' });
    expect(run.labels).toContainEqual({ label: 'org.modulus.app', value: 'shop' });
    expect(run.networks_advanced).toEqual([{ name: 'backend' }]);
    expect(run.mounts.map((m: any) => [m.source, m.target, m.read_only])).toEqual([
      [expect.stringMatching(/\/mnt$/), '/mnt', undefined],
      ['/srv/shared/config', '/etc/shop', true],
      ['/srv/spool', '/var/spool/shop', false],
    ]);
    expect(run.ports).toEqual([
      { internal: 8080, external: 8080, ip: '127.0.0.1', protocol: 'tcp' },
      { internal: 9100, external: 19100, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
  });

  it('runs a build command of the user in place of `build`, and the same container command without one', () => {
    const given = synth({}, { command: ['bash', '-c', 'make dist && build'] }).build.command;
    expect(given.slice(3)).toEqual(['modulus-build', '930', '30', 'bash', '-c', 'make dist && build']);
    expect(given[2]).toContain('timeout --kill-after=10 "$1" "$${@:3}" 2>&1');
    const plain = synth({}).build.command;
    expect(plain.slice(3)).toEqual(['modulus-build', '930', '30']);
    expect(plain[2]).toContain('timeout --kill-after=10 "$1" build 2>&1');
  });

  it.each<[string, Partial<ModulusAppProps['run']>, Partial<ModulusAppProps['build']>, NetworkMode | undefined, string]>([
    ['a label of the package', { labels: { 'org.modulus.app': 'x' } }, {}, undefined,
      "platform/shop/Run: invalid labels 'org.modulus.app': use lowercase letters, digits, '.' and '-' (e.g. 'com.example.team'), not the package's own org.modulus. prefix"],
    ['an uppercase label', { labels: { Team: 'x' } }, {}, undefined,
      "platform/shop/Run: invalid labels 'Team': use lowercase letters, digits, '.' and '-' (e.g. 'com.example.team'), not the package's own org.modulus. prefix"],
    ['networks with host networking', { networks: ['backend'] }, {}, NetworkMode.HOST,
      `platform/shop/Run: invalid networks ["backend"]: leave it out: network mode 'host' joins no other network`],
    ['the host network by name', { networks: ['host'] }, {}, undefined,
      "platform/shop/Run: invalid networks[0] 'host': give the name of a user-defined Docker network (letters, digits, '_', '.', '-'; not bridge, host or none)"],
    ['a mount into the volume', { mounts: [{ source: '/srv/x', target: '/mnt/app/x' }] }, {}, undefined,
      "platform/shop/Run: invalid mounts[0].target '/mnt/app/x': give an absolute container path outside /mnt (the app's volume) other than /"],
    ['the Docker socket', { mounts: [{ source: '/var/run/docker.sock', target: '/run/docker.sock' }] }, {}, undefined,
      "platform/shop/Run: invalid mounts[0].source '/var/run/docker.sock': give an absolute host path other than / and the Docker socket"],
    ['a relative source', { mounts: [{ source: 'data', target: '/data' }] }, {}, undefined,
      "platform/shop/Run: invalid mounts[0].source 'data': give an absolute host path other than / and the Docker socket"],
    ['a further port without bridge networking', { additionalPorts: [{ containerPort: 9100 }] }, {}, NetworkMode.HOST,
      `platform/shop/Run: invalid additionalPorts [{"containerPort":9100}]: leave it out: ports cannot be published with network mode 'host'`],
    ['a further port out of range', { additionalPorts: [{ containerPort: 70000 }] }, {}, undefined,
      'platform/shop/Run: invalid additionalPorts[0].containerPort 70000: use a whole number from 1 to 65535'],
    ['an empty build command', {}, { command: [] }, undefined,
      "platform/shop/Build: invalid command []: give the command and its arguments as a non-empty list, e.g. ['build', '--verbose']"],
  ])('refuses %s', (_, run, build, networkMode, expected) => {
    expect(errorMessage(() => synth(run, build, networkMode))).toBe(expected);
  });

  it('finds a further port that another app publishes, and one an app publishes twice', () => {
    const { app } = consumer((_, add) => {
      add('shop', { run: { additionalPorts: [{ containerPort: 9100, hostPort: 9000 }] } });
      add('blog', { run: { port: 9000 } });
      add('wiki', { run: { port: 7000, additionalPorts: [{ containerPort: 7001, hostPort: 7000 }] } });
    });
    expect(errorMessage(() => app.synth()).split('\n')).toEqual([
      'platform: 2 errors, no stack written:',
      "platform/blog/Run: invalid publish '127.0.0.1:9000': give each app on the stack's Docker engine its own host address and port: platform/shop/Run publishes 127.0.0.1:9000",
      "platform/wiki/Run: invalid publish '127.0.0.1:7000': give each app on the stack's Docker engine its own host address and port: another of its ports has it",
    ]);
  });
});
