import * as fs from 'fs';
import * as path from 'path';
import { Aspects, App, Lazy, TerraformStack, TerraformVariable } from 'cdktf';
import { ModulusApp, ModulusAppProps } from '../../lib/app';
import { ContainerSecurityPolicy } from '../../lib/container-policy';
import { NetworkMode } from '../../lib/network-mode';
import { ModulusRouter, ModulusRouterProps, ROUTER_IMAGE } from '../../lib/router';
import { STANDARD_IMAGES } from '../../lib/standard-images';
import { AppsStack } from '../../stacks/apps-stack';
import { ImagesStack } from '../../stacks/images-stack';
import { routerFromEnvironment } from '../../stacks/router-settings';
import { annotations, errorMessage, localExecs, resource, sourceFolder, synthStack } from './support/app-runtime';
import { tempDir } from './support/temp';
import { appsOnPushedImages } from './support/fixtures';

const SOURCE = sourceFolder();
/** What a certificate and key look like; they must appear nowhere in the synthesized stack. */
const SECRET_CERT = '-----BEGIN CERTIFICATE-----\nMIIBcertificate-e2e-marker\n-----END CERTIFICATE-----';
const SECRET_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEkey-e2e-marker-do-not-leak\n-----END PRIVATE KEY-----';

function app(stack: TerraformStack, name: string, props: Partial<ModulusAppProps> = {}): ModulusApp {
  return new ModulusApp(stack, name, {
    appName: name,
    language: 'node',
    source: SOURCE,
    buildImage: 'modulus/build-node:test',
    runImage: 'modulus/run-node:test',
    networkMode: NetworkMode.HOST,
    ...props,
  });
}

function synthRouter(props: Partial<ModulusRouterProps> = {}, apps: (stack: TerraformStack, router: ModulusRouter) => void = () => undefined) {
  let router!: ModulusRouter;
  const result = synthStack((stack) => {
    router = new ModulusRouter(stack, 'Router', { domain: 'apps.example.test', image: 'modulus/router:test', ...props });
    apps(stack, router);
    Aspects.of(stack).add(new ContainerSecurityPolicy());
  });
  const routes = resource(result.json, 'null_resource', 'Router_Routes');
  return { ...result, router, container: resource(result.json, 'docker_container', 'Router_Container'), routes, config: routes.triggers.routes as string };
}

/** The error of building a router (and apps) with these props. */
function routerError(props: Partial<ModulusRouterProps>, apps: (stack: TerraformStack, router: ModulusRouter) => void = () => undefined): string {
  return errorMessage(() => synthRouter(props, apps));
}

describe('ModulusRouter: the container', () => {
  const { container, stack, json } = synthRouter();

  it('runs hardened as the apps do: mop, read-only root, no capability, no-new-privileges, init, memory without swap', () => {
    expect(container).toMatchObject({
      name: 'modulus-router',
      image: 'modulus/router:test',
      user: '441:444',
      read_only: true,
      capabilities: { drop: ['ALL'] },
      security_opts: ['no-new-privileges:true'],
      init: true,
      memory: 128,
      memory_swap: 128,
      restart: 'unless-stopped',
      network_mode: 'host',
      cgroup_parent: '/modulus/modulus-router',
    });
    expect(container.capabilities.add).toBeUndefined();
    expect(container.privileged).toBeUndefined();
    expect(annotations(stack).filter((annotation) => annotation.level !== 'info')).toEqual([]);
  });

  it('writes only to a small tmpfs of its own user, without exec, and its own Docker volume (what it applied, for a restart)', () => {
    expect(container.tmpfs).toEqual({ '/run/modulus-router': 'rw,noexec,nosuid,nodev,size=16m,mode=0700,uid=441,gid=444' });
    expect(container.mounts).toEqual([{ type: 'volume', source: expect.stringMatching(/^\$\{docker_volume\.Router_State_[0-9A-F]{8}\.name\}$/), target: '/var/lib/modulus-router' }]);
    expect(resource(json, 'docker_volume', 'Router_State')).toMatchObject({ name: 'modulus-router-state' });
  });

  it('limits its processes through its own cgroup, set before the container and removed after it', () => {
    const { json } = synthRouter({ processLimit: 64 });
    const limit = resource(json, 'null_resource', 'Router_ProcessLimit');
    const [apply, remove] = localExecs(limit);
    expect(apply.command).toMatch(/modulus-process-limit\.sh apply$/);
    expect(apply.environment).toEqual({ MODULUS_APP: 'modulus-router', MODULUS_PIDS_MAX: '64' });
    expect(remove).toMatchObject({ when: 'destroy', environment: { MODULUS_APP: 'modulus-router' } });
    expect(remove.command).toMatch(/modulus-process-limit\.sh remove$/);
    expect(resource(json, 'docker_container', 'Router_Container').depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^null_resource\.Router_ProcessLimit_/)]));
  });

  it('probes on every plan for a router container an interrupted apply left outside the state, and removes exactly that one before creating its own', () => {
    const orphan = Object.entries<any>(json.data.external).find(([key]) => key.startsWith('Router_Orphan_'))![1];
    expect(orphan.program).toEqual(['bash', expect.stringMatching(/^assets\/ModulusVolumeScript\/[0-9A-F]{32}\/modulus-router\.sh$/), 'probe']);
    expect(orphan.query).toEqual({ container: 'modulus-router', domain: expect.any(String), state_check: 'terraform' });
    // Read at plan time: it waits for nothing.
    expect(orphan.depends_on).toBeUndefined();
    const heal = resource(json, 'null_resource', 'Router_Heal');
    expect(heal.triggers).toEqual({ orphan: expect.stringMatching(/^\$\{data\.external\.Router_Orphan_[0-9A-F]{8}\.result\["orphan"\]\}$/) });
    const [[type, step]] = heal.provisioner.map((p: any) => Object.entries(p)[0]);
    expect(type).toBe('local-exec');
    expect(step.command).toMatch(/modulus-router\.sh remove-orphan$/);
    expect(step.environment).toEqual({ MODULUS_ROUTER_CONTAINER: 'modulus-router', MODULUS_ROUTER_DOMAIN: orphan.query.domain, MODULUS_HEAL_TOKEN: '${self.triggers.orphan}' });
    expect(resource(json, 'docker_container', 'Router_Container').depends_on).toContain(`null_resource.${Object.keys(json.resource.null_resource).find((key) => key.startsWith('Router_Heal_'))}`);
  });

  it('is replaced beside the router that serves: hand over (after the heal), create, routes, take over, then destroy', () => {
    const address = (type: string, prefix: string) => `${type}.${Object.keys(json.resource[type]).find((key) => key.startsWith(prefix))}`;
    const handover = resource(json, 'null_resource', 'Router_Handover');
    const takeOver = resource(json, 'null_resource', 'Router_TakeOver');
    expect(container.lifecycle).toEqual({ create_before_destroy: true, replace_triggered_by: [address('null_resource', 'Router_Handover_')] });
    expect(container.depends_on).toContain(address('null_resource', 'Router_Handover_'));
    expect(handover.depends_on).toContain(address('null_resource', 'Router_Heal_'));
    expect(takeOver.depends_on).toEqual([address('null_resource', 'Router_Routes_')]);
    expect(takeOver.triggers).toEqual({ container: `\${${address('docker_container', 'Router_Container_')}.id}` });
    const domain = { MODULUS_ROUTER_CONTAINER: 'modulus-router', MODULUS_ROUTER_DOMAIN: 'apps.example.test' };
    expect(localExecs(handover)).toEqual([expect.objectContaining({ command: expect.stringMatching(/modulus-router\.sh hand-over$/), environment: domain })]);
    expect(localExecs(takeOver)).toEqual([
      expect.objectContaining({
        command: expect.stringMatching(/modulus-router\.sh take-over$/),
        environment: { ...domain, MODULUS_ROUTER_ID: '${self.triggers.container}', MODULUS_ROUTER_HEALTH_URL: 'http://127.0.0.1:18000/.modulus/router-health' },
      }),
    ]);
    // Every setting keys the hand-over: what Terraform alone knows as it is (the state volume's name), the rest hashed.
    expect(handover.triggers).toEqual({ settings_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), inputs: expect.stringContaining('${docker_volume.Router_State_') });
    const other = resource(synthRouter({ memoryMiB: 256 }).json, 'null_resource', 'Router_Handover');
    expect(other.triggers.settings_sha256).not.toBe(handover.triggers.settings_sha256);
  });

  it('is healthy when HAProxy answers its monitor path, and the deploy waits for it in TakeOver, not for Docker', () => {
    expect(container.healthcheck.test).toEqual(['CMD', 'curl', '-fsS', '-o', '/dev/null', '--noproxy', '*', '--max-time', '2', 'http://127.0.0.1:18000/.modulus/router-health']);
    // Docker 20.10 probes first after the interval (10 s): the deploy would wait that long for every new router.
    expect(container.wait).toBeUndefined();
    expect(localExecs(resource(json, 'null_resource', 'Router_TakeOver'))[0].environment).toMatchObject({ MODULUS_ROUTER_HEALTH_URL: 'http://127.0.0.1:18000/.modulus/router-health' });
    expect(container.env).toEqual(['MODULUS_ROUTER_HTTP_BIND=0.0.0.0:18000', 'TINI_SUBREAPER=1']);
  });
});

describe('ModulusRouter: routes', () => {
  const { config, routes, json } = synthRouter({}, (stack, router) => {
    app(stack, 'shop', { router, run: { port: 19001 } });
    app(stack, 'blog', { router, networkMode: NetworkMode.BRIDGE, run: { port: 8080, publish: { hostPort: 19002 } } });
    app(stack, 'wiki', { router, run: { port: 19003 }, maintenance: 'Back at 10:00, sorry!' });
    app(stack, 'alone', { run: { port: 19004 } });
  });

  it('routes <app>.<domain> to each registered app where its host reaches it, sorted by app name', () => {
    expect(config).toContain('    use_backend app-blog if { var(txn.host) -m str blog.apps.example.test }\n    use_backend app-shop if { var(txn.host) -m str shop.apps.example.test }\n');
    // Two slots per app, health-checked (health-gated releases are on behind a router): see 'ModulusRouter: releases'.
    expect(config).toMatch(/backend app-shop\n(    .*\n)*    server blue 127\.0\.0\.1:19001\n    server green 127\.0\.0\.1:19002\n/);
    expect(config).toMatch(/backend app-blog\n(    .*\n)*    server blue 127\.0\.0\.1:19002\n    server green 127\.0\.0\.1:19003\n/);
    expect(config).not.toContain('alone');
    expect(config).toContain("backend no-app\n    http-request return status 404 content-type text/plain string 'no app at this host name'\n");
  });

  it('answers 503 with the message for an app in maintenance, and sends it nothing', () => {
    expect(config).toContain("    http-request return status 503 content-type text/plain string 'Back at 10:00, sorry!' if { var(txn.host) -m str wiki.apps.example.test }\n");
    expect(config).not.toContain('use_backend app-wiki');
    // Its backend stays (unused), so that a release of the app finds its servers.
    expect(config).toContain('backend app-wiki\n');
  });

  it('listens on HTTP only without TLS', () => {
    expect(config.match(/^ {4}bind .*$/gm)).toEqual(['    bind 0.0.0.0:18000']);
  });

  it('hands the routes to the running router (docker exec), again for a new container, never by replacing it', () => {
    const [step] = localExecs(routes);
    expect(step.command).toMatch(/^bash assets\/ModulusVolumeScript\/[0-9A-F]+\/modulus-router\.sh apply$/);
    expect(step.environment).toEqual({ MODULUS_ROUTER_CONTAINER: 'modulus-router', MODULUS_ROUTER_ROUTES: '${self.triggers.routes}' });
    expect(routes.triggers.container).toMatch(/^\$\{docker_container\.Router_Container_[0-9A-F]{8}\.id\}$/);
    // Nothing of the routes in the container: a route change leaves it alone.
    expect(JSON.stringify(resource(json, 'docker_container', 'Router_Container'))).not.toContain('shop');
  });

  it('renders the same routes whatever order the apps register in', () => {
    const other = synthRouter({}, (stack, router) => {
      app(stack, 'wiki', { router, run: { port: 19003 }, maintenance: 'Back at 10:00, sorry!' });
      app(stack, 'blog', { router, networkMode: NetworkMode.BRIDGE, run: { port: 8080, publish: { hostPort: 19002 } } });
      app(stack, 'shop', { router, run: { port: 19001 } });
    });
    expect(other.config).toBe(config);
  });
});

describe('ModulusRouter: TLS', () => {
  // The certificate as a sensitive variable's default (so the test can look for it), the key as a variable without one.
  const { raw, json } = synthStack((stack) => {
    const certificate = new TerraformVariable(stack, 'cert', { type: 'string', sensitive: true, default: SECRET_CERT }).stringValue;
    const privateKey = new TerraformVariable(stack, 'key', { type: 'string', sensitive: true }).stringValue;
    const router = new ModulusRouter(stack, 'Router', { domain: 'apps.example.test', image: 'modulus/router:test', httpsPort: 18444, tls: { certificate, privateKey } });
    app(stack, 'shop', { router, run: { port: 19001 } });
  });
  const routes = resource(json, 'null_resource', 'Router_Routes');
  const config: string = routes.triggers.routes;

  it('serves HTTPS on its port with the certificate and key from the tmpfs', () => {
    expect(config.match(/^ {4}bind .*$/gm)).toEqual(['    bind 0.0.0.0:18000', '    bind 0.0.0.0:18444 ssl crt /run/modulus-router/tls/router.pem alpn h2,http/1.1']);
  });

  it('passes the certificate and key only as sensitive step environment, and as sensitive hashes in the triggers', () => {
    const [step] = localExecs(routes);
    expect(step.environment.MODULUS_ROUTER_TLS_CERTIFICATE).toMatch(/^\$\{sensitive\(local\.Router_Secret_CERTIFICATE_[0-9A-F]{8}\)\}$/);
    expect(step.environment.MODULUS_ROUTER_TLS_KEY).toMatch(/^\$\{sensitive\(local\.Router_Secret_KEY_[0-9A-F]{8}\)\}$/);
    expect(routes.triggers.secret_CERTIFICATE_sha256).toMatch(/^\$\{sensitive\(sha256\(local\.Router_Secret_CERTIFICATE_[0-9A-F]{8}\)\)\}$/);
    expect(routes.triggers.secret_KEY_sha256).toMatch(/^\$\{sensitive\(sha256\(local\.Router_Secret_KEY_[0-9A-F]{8}\)\)\}$/);
  });

  it('never writes the key into the synthesized JSON, nor either of them into the container', () => {
    expect(raw).not.toContain('key-e2e-marker');
    // Only the variable's own default (the test's choice) holds the certificate.
    expect(raw.split('certificate-e2e-marker')).toHaveLength(2);
    expect(json.variable.cert.sensitive).toBe(true);
    expect(JSON.stringify(json.resource.docker_container)).not.toMatch(/Secret_|variable|BEGIN/);
  });

  it('refuses a literal certificate or key without showing it', () => {
    const token = Lazy.stringValue({ produce: () => 'resolved by Terraform' });
    for (const tls of [
      { certificate: SECRET_CERT, privateKey: token },
      { certificate: token, privateKey: SECRET_KEY },
    ]) {
      const field = tls.certificate === SECRET_CERT ? 'certificate' : 'privateKey';
      const message = routerError({ tls });
      expect(message).toBe(
        `test/Router: invalid tls.${field} (value hidden): give a token of a sensitive Terraform variable (a literal would be written into the synthesized JSON)`,
      );
      expect(message).not.toContain('marker');
    }
  });
});

describe('ModulusRouter: validation, in the one error form', () => {
  it.each([
    [{ domain: 'Apps.Example' }, "test/Router: invalid domain 'Apps.Example': give a DNS name in lowercase: labels of letters, digits and '-', joined by '.', at most 200 characters"],
    [{ domain: 'apps..test' }, "test/Router: invalid domain 'apps..test': give a DNS name in lowercase: labels of letters, digits and '-', joined by '.', at most 200 characters"],
    [{ httpPort: 80 }, 'test/Router: invalid httpPort 80: use a whole number from 1025 to 65535'],
    [{ httpsPort: 18443 }, 'test/Router: invalid httpsPort 18443: leave it out, or give tls: HTTPS needs a certificate and key'],
    [{ httpPort: 18443, tls: { certificate: '${var.c}', privateKey: '${var.k}' } }, 'test/Router: invalid httpsPort 18443: give a port other than httpPort (18443)'],
    [{ address: 'localhost' }, "test/Router: invalid address 'localhost': give an IPv4 address, e.g. '0.0.0.0' or '127.0.0.1'"],
    [{ memoryMiB: 8 }, 'test/Router: invalid memoryMiB 8: use a whole number from 32 to 65536'],
    [{ image: undefined }, 'test/Router: invalid image undefined: give an image, or images: a hierarchy with ROUTER_IMAGE'],
  ] as Array<[Partial<ModulusRouterProps>, string]>)('%j', (props, expected) => {
    expect(routerError(props)).toBe(expected);
  });

  it('refuses a maintenance message HAProxy or Terraform would not hold unchanged', () => {
    for (const message of ["it's down", 'cost: $5', 'line\nbreak', '', 'x'.repeat(201), '%{x}']) {
      expect(routerError({}, (stack, router) => app(stack, 'shop', { router, maintenance: message }))).toMatch(
        /^test\/shop: invalid maintenance [\s\S]*: give a message of 1 to 200 characters: letters, digits, spaces and \. , : ; ! \? \( \) \/ @ & \+ = _ -$/,
      );
    }
  });

  it('refuses maintenance without a router', () => {
    expect(errorMessage(() => synthStack((stack) => app(stack, 'shop', { maintenance: 'Back soon' })))).toBe(
      "test/shop: invalid maintenance 'Back soon': leave it out, or give router: the router answers for an app in maintenance",
    );
  });

  it('refuses a routed app its host cannot reach, and a second route for one app name', () => {
    expect(routerError({}, (stack, router) => app(stack, 'shop', { router, networkMode: NetworkMode.BRIDGE, run: { publish: false } }))).toBe(
      'test/shop: invalid router (construct test/Router): leave it out, or let the host reach the app: network mode host, or bridge with its port published',
    );
    expect(
      routerError({}, (stack, router) => {
        app(stack, 'shop', { router, run: { port: 19001 } });
        new ModulusApp(stack, 'shop-again', { appName: 'shop', language: 'node', source: SOURCE, buildImage: 'b', runImage: 'r', networkMode: NetworkMode.HOST, router });
      }),
    ).toBe("test/shop-again: invalid router (construct test/Router): give each app name one route: app 'shop' already has one on test/Router");
  });

  it('names the hierarchy when it lacks the router image', () => {
    const app = new App({ outdir: tempDir('modulus-router-synth-'), skipValidation: true });
    const images = new ImagesStack(app, 'images', { images: [{ name: 'base' }] });
    expect(errorMessage(() => new ModulusRouter(images, 'Router', { domain: 'apps.test', images: images.hierarchy }))).toBe(
      'images/Router: invalid image undefined: give an image, or an images hierarchy with the router image (images/Hierarchy has base): add ROUTER_IMAGE through additionalImages',
    );
  });
});

describe('the apps stack with a router', () => {
  const outdir = tempDir('modulus-router-stack-');
  const cdktf = new App({ outdir, skipValidation: true });
  const languages = ['static', 'node'];
  const images = new ImagesStack(cdktf, 'images', {
    images: STANDARD_IMAGES.filter(({ name }) => !/^(build|run)-(java|php)$/.test(name)),
    additionalImages: [ROUTER_IMAGE],
  });
  new AppsStack(cdktf, 'apps', {
    images: images.hierarchy,
    languages,
    firstPort: 19000,
    networkMode: NetworkMode.HOST,
    router: { domain: 'modulus.test', httpPort: 19100, tls: true, maintenance: { 'sample-static': 'Back soon' } },
  });
  cdktf.synth();
  const raw = fs.readFileSync(path.join(outdir, 'stacks', 'apps', 'cdk.tf.json'), 'utf8');
  const stack = JSON.parse(raw);
  const config: string = resource(stack, 'null_resource', 'router_Routes').triggers.routes;

  it('builds the router image FROM base in the images stack', () => {
    const imagesStack = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', 'images', 'cdk.tf.json'), 'utf8'));
    const router = Object.entries(imagesStack.resource.docker_image).find(([key]) => key.includes('router'));
    expect(router).toBeDefined();
    expect(JSON.stringify(router![1])).toContain('base');
  });

  it('routes every sample on the stack engine, the one in maintenance answering 503', () => {
    expect(config).toContain('use_backend app-sample-node if { var(txn.host) -m str sample-node.modulus.test }');
    // The second slot 100 above the port: the next sample has the next port.
    expect(config).toMatch(/backend app-sample-node\n(    .*\n)*    server blue 127\.0\.0\.1:19001\n    server green 127\.0\.0\.1:19101\n/);
    expect(config).toContain("string 'Back soon' if { var(txn.host) -m str sample-static.modulus.test }");
    expect(config).toContain('bind 0.0.0.0:19100\n');
  });

  it('synthesizes with bridge networking too: each second slot published 100 above its app, clear of the next app', () => {
    const other = new App({ outdir: tempDir('modulus-router-bridge-'), skipValidation: true });
    const hierarchy = new ImagesStack(other, 'images', { additionalImages: [ROUTER_IMAGE] }).hierarchy;
    new AppsStack(other, 'apps', { images: hierarchy, languages, firstPort: 19000, networkMode: NetworkMode.BRIDGE, router: { domain: 'modulus.test', httpPort: 19500 } });
    other.synth();
    const apps = JSON.parse(fs.readFileSync(path.join(other.outdir, 'stacks', 'apps', 'cdk.tf.json'), 'utf8'));
    const node = resource(apps, 'docker_container', 'sample-node_Run_Container');
    expect(node.ports.map((port: { internal: number; external: number }) => `${port.internal}->${port.external}`)).toEqual(['19001->19001', '19101->19101']);
  });

  it('takes the certificate and key from sensitive variables', () => {
    expect(stack.variable.router_tls_certificate).toMatchObject({ type: 'string', sensitive: true });
    expect(stack.variable.router_tls_private_key).toMatchObject({ type: 'string', sensitive: true });
  });

  it('refuses maintenance for an app it does not have', () => {
    const other = new App({ outdir: tempDir('modulus-router-stack-'), skipValidation: true });
    const hierarchy = new ImagesStack(other, 'images', { additionalImages: [ROUTER_IMAGE] }).hierarchy;
    expect(errorMessage(() => new AppsStack(other, 'apps', { images: hierarchy, languages: ['node'], router: { domain: 'modulus.test', maintenance: { 'sample-go': 'x' } } }))).toBe(
      "apps: invalid router.maintenance 'sample-go': give the name of an app behind a router: sample-node",
    );
  });
});

describe('the apps stack with a router on a remote host', () => {
  const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx2bS0wZHVtbXkta2V5LWZvci10ZXN0cy1vbmx5';
  const platform = (hostRouter: object | undefined, router: object | null = { domain: 'modulus.test', httpPort: 19100 }) => {
    const { app: other, apps } = appsOnPushedImages('modulus-router-hosts-', {
      hosts: [
        { hostName: 'a', engine: 'unix:///var/run/docker.sock', languages: ['node'] },
        {
          hostName: 'b',
          engine: 'ssh://root@127.0.0.1:2222',
          provisioning: { user: 'root', address: '127.0.0.1', port: 2222, hostKeys: `[127.0.0.1]:2222 ${HOST_KEY}` },
          languages: ['static'],
          router: hostRouter,
        },
      ],
      router: (router ?? undefined) as never,
    });
    return { other, apps };
  };

  it("puts a router on the host that asks for one, in front of its apps, pulled there; none on the stack's engine, where no app runs", () => {
    const { other, apps } = platform({ httpPort: 19200 });
    other.synth();
    const stack = JSON.parse(fs.readFileSync(path.join(other.outdir, 'stacks', 'apps', 'cdk.tf.json'), 'utf8'));
    expect(Object.keys(apps.hostRouters)).toEqual(['b']);
    expect(apps.router).toBeUndefined();
    const routes: string = resource(stack, 'null_resource', 'router-b_Routes').triggers.routes;
    expect(routes).toContain('bind 0.0.0.0:19200\n');
    expect(routes).toContain('use_backend app-sample-static if { var(txn.host) -m str sample-static.modulus.test }');
    expect(routes).not.toContain('sample-node');
    const container = resource(stack, 'docker_container', 'router-b_Container');
    expect(container.provider).toBe('docker.b');
    expect(container.image).toMatch(/docker_image\.b_Pulls_router/);
    // sample-static releases through B's router; sample-node (on A, no router there) restarts in place.
    expect(resource(stack, 'null_resource', 'sample-static_Build_Publish').provisioner[0]['local-exec'].command).toMatch(/\/ssh-step\.sh modulus-volume\.sh publish$/);
  });

  it('refuses a host router without the stack router, and a stack router that fronts no app', () => {
    expect(errorMessage(() => platform({ httpPort: 19200 }, null))).toBe(
      `apps: invalid hosts[1].router {"httpPort":19200}: leave it out, or give the stack's router (its domain): the host's router serves that domain`,
    );
    expect(errorMessage(() => platform(undefined))).toBe(
      "apps: invalid router 'modulus.test': leave it out, or let it front an app: place one on the stack's engine, or give a host with apps a router",
    );
  });
});

describe('routerFromEnvironment', () => {
  it('is undefined without MODULUS_ROUTER_DOMAIN, and refuses router settings without it', () => {
    expect(routerFromEnvironment({})).toBeUndefined();
    expect(errorMessage(() => routerFromEnvironment({ MODULUS_ROUTER_TLS: 'on' }))).toBe("invalid MODULUS_ROUTER_TLS 'on': set MODULUS_ROUTER_DOMAIN too: without it there is no router");
  });

  it('reads the domain, ports, TLS switch and maintenance messages', () => {
    expect(
      routerFromEnvironment({
        MODULUS_ROUTER_DOMAIN: 'modulus.test',
        MODULUS_ROUTER_HTTP_PORT: '19100',
        MODULUS_ROUTER_HTTPS_PORT: '19143',
        MODULUS_ROUTER_TLS: 'on',
        MODULUS_ROUTER_MAINTENANCE: '{"sample-static":"Back soon"}',
      }),
    ).toEqual({ domain: 'modulus.test', httpPort: 19100, httpsPort: 19143, tls: true, maintenance: { 'sample-static': 'Back soon' } });
  });

  it('refuses a TLS switch other than on or off, and maintenance that is not a JSON object', () => {
    expect(errorMessage(() => routerFromEnvironment({ MODULUS_ROUTER_DOMAIN: 'd.test', MODULUS_ROUTER_TLS: 'yes' }))).toBe("invalid MODULUS_ROUTER_TLS 'yes': use 'on' or 'off' (default)");
    for (const value of ['["sample-node"]', 'sample-node=down', 'null']) {
      expect(errorMessage(() => routerFromEnvironment({ MODULUS_ROUTER_DOMAIN: 'd.test', MODULUS_ROUTER_MAINTENANCE: value }))).toBe(
        `invalid MODULUS_ROUTER_MAINTENANCE '${value}': give a JSON object of app name to message, e.g. {"sample-static":"Back at 10:00"}`,
      );
    }
  });
});

describe('ModulusRouter: health-gated releases', () => {
  const release = { healthCheckPath: '/health?deep=1', healthyStatus: 204, healthCheckIntervalMillis: 500, healthCheckTimeoutMillis: 1500, startTimeoutSeconds: 60, drainSeconds: 4 };
  const { config, json } = synthRouter({}, (stack, router) => {
    app(stack, 'shop', { router, run: { port: 19001 }, release: { ...release, standbyPort: 19501 } });
    app(stack, 'blog', { router, networkMode: NetworkMode.BRIDGE, run: { port: 8080, publish: { hostPort: 19002 } } });
    app(stack, 'alone', { run: { port: 19004 } });
  });
  const step = (app: string, id: string) => localExecs(resource(json, 'null_resource', `${app}_${id}`))[0];

  it('health-checks both slots of an app with its check, and retries a request on the other slot', () => {
    expect(config).toContain(
      [
        'backend app-shop',
        '    option httpchk',
        '    http-check send meth GET uri /health?deep=1 ver HTTP/1.1 hdr Host shop.apps.example.test',
        '    http-check expect status 204',
        '    timeout check 1500ms',
        '    option redispatch 1',
        '    default-server check inter 500ms fall 2 rise 2',
        '    server blue 127.0.0.1:19001',
        '    server green 127.0.0.1:19501',
        '',
      ].join('\n'),
    );
    // Defaults: GET / answers 200, every second; with BRIDGE the second slot is published next to the first.
    expect(config).toContain('    http-check expect status 200\n    timeout check 2000ms\n    option redispatch 1\n    default-server check inter 1000ms fall 2 rise 2\n    server blue 127.0.0.1:19002\n    server green 127.0.0.1:19003\n');
  });

  it('gives the publish step the release settings, after the routes are in force', () => {
    const publish = step('shop', 'Build_Publish');
    expect(publish.environment).toMatchObject({
      MODULUS_SLOT_PORTS: '19001 19501',
      MODULUS_HEALTH_PATH: '/health?deep=1',
      MODULUS_HEALTH_STATUS: '204',
      MODULUS_HEALTH_INTERVAL_MS: '500',
      MODULUS_HEALTH_TIMEOUT_MS: '1500',
      MODULUS_START_TIMEOUT_SECONDS: '60',
      MODULUS_DRAIN_SECONDS: '4',
      MODULUS_ROUTER_CONTAINER: 'modulus-router',
      MODULUS_ROUTER_BACKEND: 'app-shop',
    });
    // After the router of this deploy serves alone, with its routes: a release talks to that one.
    expect(resource(json, 'null_resource', 'shop_Build_Publish').depends_on).toContainEqual(expect.stringMatching(/^null_resource\.Router_TakeOver_/));
    // An app without a router restarts in place, and waits until it answers its run container's check.
    expect(Object.keys(step('alone', 'Build_Publish').environment).filter((name) => /SLOT|ROUTER|HEALTH_(STATUS|INTERVAL)/.test(name))).toEqual([]);
    expect(step('alone', 'Build_Publish').environment).toMatchObject({ MODULUS_READY_PORTS: expect.stringMatching(/^\d+$/) });
    // Behind a router the release's own settings decide: nothing else to wait for.
    expect(Object.keys(publish.environment).filter((name) => name.startsWith('MODULUS_READY_'))).toEqual([]);
  });

  it('replaces the run container of a host-networked app beside the serving one: hand over, create, take over, then destroy', () => {
    const container = resource(json, 'docker_container', 'shop_Run_Container');
    const handover = resource(json, 'null_resource', 'shop_Run_Handover');
    const takeOver = resource(json, 'null_resource', 'shop_Run_TakeOver');
    expect(container.lifecycle).toEqual({ create_before_destroy: true, replace_triggered_by: [expect.stringMatching(/^null_resource\.shop_Run_Handover_\w+$/)] });
    expect(container.depends_on).toContainEqual(expect.stringMatching(/^null_resource\.shop_Run_Handover_/));
    expect(takeOver.triggers.container).toMatch(/^\$\{docker_container\.shop_Run_Container_\w+\.id\}$/);
    for (const [step, command] of [[handover, 'hand-over'], [takeOver, 'take-over']] as const) {
      const exec = localExecs(step)[0];
      expect(exec.command).toMatch(new RegExp(`modulus-volume\\.sh ${command}$`));
      expect(exec.environment).toMatchObject({ MODULUS_APP: 'shop', MODULUS_RUN_CONTAINER: 'modulus-app-shop', MODULUS_SLOT_PORTS: '19001 19501', MODULUS_ROUTER_BACKEND: 'app-shop' });
    }
    expect(takeOver.depends_on).toContainEqual(expect.stringMatching(/^null_resource\.Router_TakeOver_/));
    // After the new container's app answers on either slot (with nothing to hand over, take-over does not wait).
    expect(takeOver.depends_on).toContainEqual(expect.stringMatching(/^null_resource\.shop_Run_Ready_/));
    expect(localExecs(resource(json, 'null_resource', 'shop_Run_Ready'))[0].environment).toMatchObject({ MODULUS_READY_PORTS: '19001 19501', MODULUS_HEALTH_PATH: '/' });
    // Terraform creates every resource the container depends on before destroying its old object too: the router,
    // whose name is fixed, is one of them, and is replaced that way itself (its own hand-over).
    const ancestors = new Set<string>();
    const visit = (address: string) => {
      const [type, name] = address.split('.');
      const config = json.resource[type]?.[name];
      if (config === undefined || ancestors.has(address)) return;
      ancestors.add(address);
      const references = [...JSON.stringify(config).matchAll(/\$\{([a-z_]+\.[A-Za-z0-9_-]+)/g)].map((match) => match[1]);
      for (const next of [...references, ...(config.depends_on ?? [])]) visit(next);
    };
    visit(`docker_container.${Object.keys(json.resource.docker_container).find((key) => key.startsWith('shop_Run_Container_'))}`);
    const routerContainer = [...ancestors].filter((address) => /^docker_container\.Router_/.test(address));
    expect(routerContainer).toEqual([expect.stringMatching(/^docker_container\.Router_Container_/)]);
    expect(resource(json, 'docker_container', 'Router_Container').lifecycle).toMatchObject({ create_before_destroy: true });
    expect(ancestors).toContain(`null_resource.${Object.keys(json.resource.null_resource).find((key) => key.startsWith('shop_Build_Publish_'))}`);
    // Every setting of the container keys the hand-over: what Terraform alone knows as it is, the rest hashed.
    expect(handover.triggers.settings_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(handover.triggers.inputs).toContain('${null_resource.shop_Volume_Config_');
    const other = synthRouter({}, (stack, router) => app(stack, 'shop', { router, run: { port: 19001, memoryMiB: 768 }, release: { ...release, standbyPort: 19501 } }));
    expect(resource(other.json, 'null_resource', 'shop_Run_Handover').triggers.settings_sha256).not.toBe(handover.triggers.settings_sha256);
    // A bridge's published ports and an app without a second slot cannot be held twice: replaced as before.
    for (const name of ['blog', 'alone']) {
      expect(resource(json, 'docker_container', `${name}_Run_Container`).lifecycle).toBeUndefined();
      expect(Object.keys(json.resource.null_resource).filter((key) => key.startsWith(`${name}_Run_`) && /Handover|TakeOver/.test(key))).toEqual([]);
    }
  });

  it('writes both slots into supervisor.conf (the Config step), and a change of them rewrites it', () => {
    const config = resource(json, 'null_resource', 'shop_Volume_Config');
    expect(config.triggers.slot_ports).toBe('19001 19501');
    expect(localExecs(config)[0].environment.MODULUS_SLOT_PORTS).toBe('19001 19501');
    expect(resource(json, 'null_resource', 'alone_Volume_Config').triggers.slot_ports).toBeUndefined();
  });

  it('publishes the second slot with BRIDGE and counts the container healthy when either slot answers', () => {
    const blog = resource(json, 'docker_container', 'blog_Run_Container');
    expect(blog.ports).toEqual([
      { internal: 8080, external: 19002, ip: '127.0.0.1', protocol: 'tcp' },
      { internal: 8081, external: 19003, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
    expect(blog.healthcheck.test.slice(0, 3)).toEqual(['CMD', 'bash', '-c']);
    expect(blog.healthcheck.test.slice(4)).toEqual(['health', 'http://127.0.0.1:8080/', 'http://127.0.0.1:8081/']);
    expect(resource(json, 'docker_container', 'alone_Run_Container').healthcheck.test[1]).toBe('curl');
  });

  it.each([
    [{ release: { standbyPort: 19001 } }, "shop: invalid release.standbyPort 19001: give a port other than run.port (19001)"],
    [{ release: { healthCheckPath: 'health' } }, "shop: invalid release.healthCheckPath 'health': give a URL path"],
    [{ release: { healthCheckPath: "/a'b" } }, 'invalid release.healthCheckPath'],
    [{ release: { healthyStatus: 700 } }, 'shop: invalid release.healthyStatus 700'],
    [{ release: { healthCheckIntervalMillis: 10 } }, 'shop: invalid release.healthCheckIntervalMillis 10'],
    [{ release: { drainSeconds: -1 } }, 'shop: invalid release.drainSeconds -1'],
  ])('refuses bad release settings: %j', (props, message) => {
    expect(routerError({}, (stack, router) => app(stack, 'shop', { router, run: { port: 19001 }, ...(props as Partial<ModulusAppProps>) }))).toContain(message);
  });

  it('refuses release settings without a router', () => {
    expect(routerError({}, (stack) => app(stack, 'shop', { release: {} }))).toContain('shop: invalid release {}: leave it out, or give router');
  });
});
