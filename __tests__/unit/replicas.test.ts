import * as fs from 'fs';
import * as path from 'path';
import { App, TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { ModulusApp, ModulusAppProps } from '../../lib/app';
import { DockerHost, DockerHostProps } from '../../lib/docker-host';
import { ImageHierarchy } from '../../lib/image-hierarchy';
import { ImageRegistry, PushedHierarchy, RegistryProtocol } from '../../lib/image-registry';
import { NetworkMode } from '../../lib/network-mode';
import { ReplicaOptions } from '../../lib/release';
import { ModulusRouter, ROUTER_IMAGE } from '../../lib/router';
import { errorMessage, resource, resourcesOf, sourceFolder } from './support/app-runtime';
import { appsOnPushedImages } from './support/fixtures';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx2bS0wZHVtbXkta2V5LWZvci10ZXN0cy1vbmx5';
const source = sourceFolder();

/** Host a (this machine) and host b (over SSH), the hierarchy pushed to a registry, a router on each host. */
function platform(hostA: Partial<DockerHostProps> = {}, hostB: Partial<DockerHostProps> = {}) {
  const stack = new TerraformStack(Testing.app(), 'test');
  const password = new TerraformVariable(stack, 'registry_password', { type: 'string', sensitive: true });
  const key = new TerraformVariable(stack, 'ssh_private_key_b', { type: 'string', sensitive: true });
  const registry = new ImageRegistry(stack, 'Registry', { address: '127.0.0.1:5000', username: 'ci', password: password.stringValue, protocol: RegistryProtocol.HTTP });
  const hierarchy = new ImageHierarchy(stack, 'Hierarchy', { repositoryPrefix: registry.repositoryPrefix('modulus/'), additionalImages: [ROUTER_IMAGE] });
  const a = new DockerHost(stack, 'HostA', { hostName: 'a', engine: 'unix:///var/run/docker.sock', registries: [registry], appAddress: '127.0.0.1', ...hostA });
  const b = new DockerHost(stack, 'HostB', {
    hostName: 'b',
    engine: 'ssh://root@127.0.0.1:2222',
    provisioning: { user: 'root', address: '127.0.0.1', port: 2222, privateKey: key.stringValue, hostKey: HOST_KEY },
    registries: [registry],
    ...hostB,
  });
  for (const image of hierarchy.images) image.resource.provider = a.resource;
  const pushed = new PushedHierarchy(stack, 'Pushed', { registry, hierarchy });
  const routerA = new ModulusRouter(stack, 'RouterA', { domain: 'apps.test', images: pushed, host: a, httpPort: 18000 });
  const routerB = new ModulusRouter(stack, 'RouterB', { domain: 'apps.test', images: pushed, host: b, httpPort: 18290 });
  return { stack, registry, pushed, a, b, routerA, routerB };
}

type Platform = ReturnType<typeof platform>;

function replicated(p: Platform, replicas: Partial<ReplicaOptions> = {}, props: Partial<ModulusAppProps> = {}): ModulusApp {
  return new ModulusApp(p.stack, 'web', {
    appName: 'web',
    language: 'static',
    source,
    images: p.pushed,
    networkMode: NetworkMode.HOST,
    run: { port: 18180 },
    release: { standbyPort: 18185 },
    replicas: { hosts: [p.a, p.b], routers: [p.routerA, p.routerB], ports: { b: 18280 }, ...replicas },
    ...props,
  });
}

function synth(p: Platform): any {
  return JSON.parse(Testing.synth(p.stack));
}

const provisioners = (step: any): any[] => step.provisioner ?? [];
/** A resource by its construct path below the stack (its key: the path's parts joined by '_', then a hash). */
const byPath = (json: any, type: string, path: string): any => resource(json, type, path.replace(/\//g, '_'));
const stepOf = (json: any, path: string) => byPath(json, 'null_resource', path);
const containerOf = (json: any, path: string) => byPath(json, 'docker_container', path);
const routesOf = (json: any, router: string): string => stepOf(json, `${router}/Routes`).triggers.routes;

describe('ModulusApp replicas: one instance per host', () => {
  const p = platform();
  const app = replicated(p);
  const json = synth(p);

  it('has one instance on each host, each with its own volume and run container on that host', () => {
    expect(app.instances.map((instance) => instance.host?.hostName)).toEqual(['a', 'b']);
    expect(app.instances.map((instance) => instance.volume.host)).toEqual([p.a, p.b]);
    expect(containerOf(json, 'web/Run/Container').provider).toBe('docker.a');
    expect(containerOf(json, 'web/instance-b/Run/Container').provider).toBe('docker.b');
    expect(containerOf(json, 'web/instance-b/Run/Container').env).toEqual(expect.arrayContaining(['PORT=18280']));
    // The volume of b is made on b, over SSH.
    expect(provisioners(stepOf(json, 'web/instance-b/Volume')).every((step: any) => /\/ssh-step\.sh /.test(step['local-exec'].command))).toBe(true);
  });

  it('builds once, on the first host: one build container, none on b', () => {
    const builds = Object.values(resourcesOf(json, 'docker_container')).filter((c: any) => String(c.name).startsWith('modulus-build-web'));
    expect(builds).toHaveLength(1);
    expect((builds[0] as any).provider).toBe('docker.a');
    // b pulls only the run image.
    const pulls = Object.values(resourcesOf(json, 'docker_image')).filter((image: any) => image.provider === 'docker.b').map((image: any) => image.name as string);
    expect(pulls.some((name) => name.includes('run-static'))).toBe(true);
    expect(pulls.some((name) => name.includes('build-static'))).toBe(false);
  });

  it("delivers the build to b: exported once from a's volume on this machine before a publishes, uploaded and staged by b's receive beside a's publish, then removed here; keyed on the build", () => {
    const exported = stepOf(json, 'web/Build/Export');
    const [exporting] = provisioners(exported).map((step: any) => step['local-exec']);
    expect(exporting.command).toMatch(/modulus-volume\.sh export-release$/);
    expect(exporting.environment).toMatchObject({
      MODULUS_APP: 'web',
      MODULUS_RELEASE: expect.stringMatching(/^\$\{docker_container\.web_Build_Container_[0-9A-F]{8}\.id\}$/),
      MODULUS_RELEASE_ARCHIVE: '.modulus-releases/web.tar',
      MODULUS_RELEASE_MAX_MIB: '2048',
    });
    // a publishes once the archive is written.
    expect(stepOf(json, 'web/Build/Publish').depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^null_resource\.web_Build_Export_/)]));
    expect(Object.keys(resourcesOf(json, 'null_resource')).filter((key) => /Deliver_/.test(key))).toEqual([]);
    // b receives once the archive is written: waiting for neither a's publish nor b's router.
    const receiveB = stepOf(json, 'web/instance-b/Receive');
    expect(receiveB.depends_on).toContainEqual(expect.stringMatching(/^null_resource\.web_Build_Export_/));
    expect(receiveB.depends_on.filter((dependency: string) => /Publish|Router/.test(dependency))).toEqual([]);
    const [receiving] = provisioners(receiveB);
    expect(receiving['local-exec'].command).toMatch(/\/ssh-step\.sh modulus-volume\.sh receive$/);
    expect(receiving['local-exec'].environment).toMatchObject({ MODULUS_RELEASE: exporting.environment.MODULUS_RELEASE, MODULUS_RELEASE_ARCHIVE: '.modulus-releases/web.tar', STEP_UPLOADS: 'MODULUS_RELEASE_ARCHIVE' });
    // b's publish switches to what b received: no upload, no staging of b's output/.
    const publishB = stepOf(json, 'web/instance-b/Publish');
    expect(publishB.depends_on).toContainEqual(expect.stringMatching(/^null_resource\.web_instance-b_Receive_/));
    const steps = provisioners(publishB);
    expect(steps).toHaveLength(1);
    expect(steps[0]['local-exec'].command).toMatch(/\/ssh-step\.sh modulus-volume\.sh publish$/);
    expect(steps[0]['local-exec'].environment).toMatchObject({ MODULUS_RELEASE_RECEIVED: 'true' });
    expect(steps[0]['local-exec'].environment.MODULUS_RELEASE_ARCHIVE).toBeUndefined();
    const delivered = stepOf(json, 'web/Build/Delivered');
    expect(provisioners(delivered)).toEqual([{ 'local-exec': { command: 'rm -f -- "$MODULUS_RELEASE_ARCHIVE"', environment: { MODULUS_RELEASE_ARCHIVE: '.modulus-releases/web.tar' } } }]);
    expect(delivered.depends_on).toEqual([expect.stringMatching(/^null_resource\.web_instance-b_Receive_/)]);
    expect(publishB.triggers.build).toMatch(/^\$\{docker_container\.web_Build_Container_[0-9A-F]{8}\.id\}$/);
    for (const step of [exported, delivered, receiveB]) expect(step.triggers.build).toBe(publishB.triggers.build);
  });

  it('exports once for every other instance, capped at the largest of their volumes', () => {
    const q = platform();
    const c = new DockerHost(q.stack, 'HostC', {
      hostName: 'c',
      engine: 'ssh://root@127.0.0.3:2222',
      provisioning: { user: 'root', address: '127.0.0.3', port: 2222, privateKey: new TerraformVariable(q.stack, 'ssh_private_key_c', { type: 'string', sensitive: true }).stringValue, hostKey: HOST_KEY },
      registries: [q.registry],
    });
    const routerC = new ModulusRouter(q.stack, 'RouterC', { domain: 'apps.test', images: q.pushed, host: c, httpPort: 18390 });
    replicated(q, { hosts: [q.a, q.b, c], routers: [q.routerA, q.routerB, routerC], ports: { b: 18280, c: 18380 } }, { volume: { sizeMiB: 4096 } });
    const synthesized = synth(q);
    expect(Object.keys(resourcesOf(synthesized, 'null_resource')).filter((key) => key.startsWith('web_Build_Export_'))).toHaveLength(1);
    expect(provisioners(stepOf(synthesized, 'web/Build/Export'))[0]['local-exec'].environment.MODULUS_RELEASE_MAX_MIB).toBe('4096');
    expect(stepOf(synthesized, 'web/Build/Delivered').depends_on).toHaveLength(2);
  });

  it("rolls out one instance at a time: b publishes after a has, behind b's router, on b's ports", () => {
    const publishB = stepOf(json, 'web/instance-b/Publish');
    expect(publishB.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^null_resource\.web_Build_Publish_/)]));
    // b's router: its publish and the run container's take-over come once it serves alone, with its routes.
    expect(publishB.depends_on).toContainEqual(expect.stringMatching(/^null_resource\.RouterB_TakeOver_/));
    expect(stepOf(json, 'web/instance-b/Run/TakeOver').depends_on).toContainEqual(expect.stringMatching(/^null_resource\.RouterB_TakeOver_/));
    expect(containerOf(json, 'web/instance-b/Run/Container').depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^null_resource\.web_instance-b_Publish_/)]));
    expect(provisioners(publishB)[0]['local-exec'].environment).toMatchObject({ MODULUS_SLOT_PORTS: '18280 18285', MODULUS_ROUTER_BACKEND: 'app-web' });
  });

  it('with batchSize 2, b does not wait for a', () => {
    const q = platform();
    replicated(q, { batchSize: 2 });
    const publishB = stepOf(synth(q), 'web/instance-b/Publish');
    expect(publishB.depends_on.some((dependency: string) => dependency.startsWith('null_resource.web_Build_Publish_'))).toBe(false);
  });

  it("gives every router every slot of every instance: its own host's on the loopback, the other's at that host's appAddress", () => {
    const a = routesOf(json, 'RouterA');
    expect(a).toContain('    server blue 127.0.0.1:18180\n    server green 127.0.0.1:18185\n    server b-blue 127.0.0.1:18280\n    server b-green 127.0.0.1:18285\n');
    const b = routesOf(json, 'RouterB');
    expect(b).toContain('    server a-blue 127.0.0.1:18180\n    server a-green 127.0.0.1:18185\n    server blue 127.0.0.1:18280\n    server green 127.0.0.1:18285\n');
    for (const routes of [a, b]) {
      expect(routes).toContain(
        '    retry-on conn-failure empty-response response-timeout\n    http-request disable-l7-retry unless METH_GET\n    http-request set-timeout server 10000ms if METH_GET\n',
      );
      expect(routes).toContain('    default-server check inter 1000ms fall 2 rise 2\n');
    }
  });

  it('count places instances on the first hosts only', () => {
    const q = platform();
    const one = replicated(q, { count: 1, ports: {} });
    expect(one.instances.map((instance) => instance.host?.hostName)).toEqual(['a']);
    expect(routesOf(synth(q), 'RouterB')).toContain('    server a-blue 127.0.0.1:18180\n');
  });
});

describe('ModulusApp replicas: validation', () => {
  const cases: Array<[string, (p: Platform) => unknown, string]> = [
    ['host and replicas', (p) => replicated(p, {}, { host: p.a }), 'test/web: invalid host'],
    ['router and replicas', (p) => replicated(p, {}, { router: p.routerA }), 'test/web: invalid router (construct test/RouterA): leave it out'],
    ['no hosts', (p) => replicated(p, { hosts: [] }), 'test/web: invalid replicas.hosts []: give one or more DockerHosts'],
    ['a host twice', (p) => replicated(p, { hosts: [p.a, p.a] }), "test/web: invalid replicas.hosts[1] 'a': give each host once"],
    ['a remote first host', (p) => replicated(p, { hosts: [p.b, p.a], ports: {} }), "test/web: invalid replicas.hosts[0] 'b': put a host of this machine's engine (unix://) first"],
    ['more instances than hosts', (p) => replicated(p, { count: 3 }), 'test/web: invalid replicas.count 3: use a whole number from 1 to 2'],
    ['a host without its router', (p) => replicated(p, { routers: [p.routerA] }), "give one router of host 'b' (replicas.hosts[1]): it has none"],
    ['a port of another host', (p) => replicated(p, { ports: { c: 1 } }), 'test/web: invalid replicas.ports.c 1: give ports of the instances\' hosts only: a, b'],
    ['a batch larger than the instances', (p) => replicated(p, { batchSize: 3 }), 'test/web: invalid replicas.batchSize 3: use a whole number from 1 to 2'],
    ['a retry beyond the server timeout', (p) => replicated(p, { retryGetAfterMillis: 90_000 }), 'test/web: invalid replicas.retryGetAfterMillis 90000: use a whole number from 100 to 60000'],
    ['a build host of its own', (p) => replicated(p, {}, { buildHost: p.a }), "test/web: invalid buildHost 'a': leave it out: with replicas, the first of replicas.hosts builds each release"],
  ];
  it.each(cases)('%s', (_, make, message) => {
    expect(errorMessage(() => make(platform()))).toContain(message);
  });

  it("with BRIDGE, needs each instance published on every address: other hosts' routers cannot reach 127.0.0.1", () => {
    const bridge = (run: object) => () => replicated(platform(), {}, { networkMode: NetworkMode.BRIDGE, run: { port: 18180, ...run } });
    expect(errorMessage(bridge({}))).toBe(
      "test/web: invalid run.publish.hostIp '127.0.0.1': give '0.0.0.0' (or NetworkMode.HOST): routers on other hosts reach the instances at their hosts' appAddress",
    );
    expect(errorMessage(bridge({ publish: false }))).toContain('test/web: invalid networkMode');
    const p = platform();
    replicated(p, {}, { networkMode: NetworkMode.BRIDGE, run: { port: 18180, publish: { hostIp: '0.0.0.0' } } });
    expect(routesOf(synth(p), 'RouterA')).toContain('    server b-blue 127.0.0.1:18280\n');
  });

  it('needs the appAddress of a host whose instance another host routes to', () => {
    expect(errorMessage(() => replicated(platform({ appAddress: undefined })))).toBe(
      "test/web: invalid replicas.hosts[0] 'a': give that DockerHost an appAddress: the router of host 'b' reaches its instance there",
    );
  });

  it("takes a DockerHost's appAddress from its provisioning address, and checks a given one", () => {
    expect(platform().b.appAddress).toBe('127.0.0.1');
    expect(errorMessage(() => platform({}, { appAddress: '0.0.0.0' }))).toBe(
      "test/HostB: invalid appAddress '0.0.0.0': give the IPv4 address of this host that other hosts reach, e.g. '10.0.0.12'",
    );
  });

  it('refuses release without router or replicas as before', () => {
    const stack = new TerraformStack(new App(), 'x');
    expect(errorMessage(() => new ModulusApp(stack, 'web', { appName: 'web', language: 'static', source, buildImage: 'b', runImage: 'r', release: {} }))).toContain(
      'invalid release',
    );
  });
});

describe('the apps stack: a language on two hosts runs as replicas', () => {
  const HOST_KEYS = `[127.0.0.1]:2222 ${HOST_KEY}`;
  const stacks = (routerOnA: boolean) => {
    const { app: other, apps } = appsOnPushedImages('modulus-replicas-stack-', {
      volumeRoot: '/srv/e2e-volumes',
      router: { domain: 'modulus.test' },
      hosts: [
        { hostName: 'a', engine: 'unix:///var/run/docker.sock', appAddress: '127.0.0.1', languages: ['node'], router: routerOnA ? { httpPort: 19300 } : undefined },
        {
          hostName: 'b',
          engine: 'ssh://root@127.0.0.1:2222',
          provisioning: { user: 'root', address: '127.0.0.1', port: 2222, hostKeys: HOST_KEYS },
          volumes: { root: '/srv/b-volumes' },
          languages: ['static', 'node'],
          router: { httpPort: 19200 },
          replicaPortOffset: 1000,
        },
      ],
    });
    return { other, apps };
  };

  it('places sample-node on a (which builds) and b, b on its port offset, behind both routers; static stays on b alone', () => {
    const { other, apps } = stacks(true);
    expect(apps.apps.node.instances.map((instance) => [instance.host?.hostName, instance.run.port])).toEqual([
      ['a', 19000],
      ['b', 20000],
    ]);
    expect(apps.apps.static.instances.map((instance) => instance.host?.hostName)).toEqual(['b']);
    // One folder name for both instances: b has a root of its own but a has not.
    expect(apps.apps.node.instances.map((instance) => instance.volume.hostRoot)).toEqual(['/srv/e2e-volumes/sample-node', '/srv/e2e-volumes/sample-node']);
    expect(apps.apps.static.volume.hostRoot).toBe('/srv/b-volumes/sample-static');
    other.synth();
    const json = JSON.parse(fs.readFileSync(path.join(other.outdir, 'stacks', 'apps', 'cdk.tf.json'), 'utf8'));
    expect(routesOf(json, 'router-a')).toContain('    server blue 127.0.0.1:19000\n    server green 127.0.0.1:19100\n    server b-blue 127.0.0.1:20000\n    server b-green 127.0.0.1:20100\n');
    expect(routesOf(json, 'router-b')).toContain('    server a-blue 127.0.0.1:19000\n    server a-green 127.0.0.1:19100\n    server blue 127.0.0.1:20000\n    server green 127.0.0.1:20100\n');
    // A sample answers within milliseconds: a GET an instance leaves unanswered for 1 s goes to the other.
    expect(routesOf(json, 'router-a')).toContain('    http-request set-timeout server 1000ms if METH_GET\n');
  });

  it('refuses a replicated language on a host without a router', () => {
    expect(errorMessage(() => stacks(false))).toBe(
      "apps: invalid hosts[0].router undefined: give host 'a' a router: sample-node runs as replicas, behind the router of each of its hosts",
    );
  });
});
