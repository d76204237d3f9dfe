import * as fs from 'fs';
import * as path from 'path';
import { App, TerraformVariable } from 'cdktf';
import { Container } from '@cdktf/provider-docker/lib/container';
import { DockerHost, ModulusApp, ModulusAppProps, ModulusImage, ModulusStack } from '../../lib';
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
