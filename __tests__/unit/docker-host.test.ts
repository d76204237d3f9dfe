import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TerraformStack, TerraformVariable, Testing, Token } from 'cdktf';
import { ModulusApp } from '../../lib/app';
import { AppVolume } from '../../lib/app-volume';
import { DockerHost, DockerHostProps, ImageRemovalPolicy } from '../../lib/docker-host';
import { ImageHierarchy } from '../../lib/image-hierarchy';
import { ImageRegistry, PushedHierarchy, RegistryProtocol } from '../../lib/image-registry';
import { ModulusRouter } from '../../lib/router';
import { errorMessage, sourceFolder } from './support/app-runtime';
import { appsOnPushedImages } from './support/fixtures';
import { tempDir } from './support/temp';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx2bS0wZHVtbXkta2V5LWZvci10ZXN0cy1vbmx5';
/** What a token looks like to the construct (the validation cases need no stack of their own for it). */
const KEY_TOKEN = Token.asString({ resolve: () => 'unused' });
const source = sourceFolder();

/** A stack with a registry, the standard hierarchy pushed to it, host a (this machine) and host b (over SSH). */
function platform(hostB: Partial<DockerHostProps> = {}) {
  const stack = new TerraformStack(Testing.app(), 'test');
  const password = new TerraformVariable(stack, 'registry_password', { type: 'string', sensitive: true });
  const key = new TerraformVariable(stack, 'ssh_private_key_b', { type: 'string', sensitive: true });
  const registry = new ImageRegistry(stack, 'Registry', { address: '127.0.0.1:5000', username: 'ci', password: password.stringValue, protocol: RegistryProtocol.HTTP });
  const hierarchy = new ImageHierarchy(stack, 'Hierarchy', { repositoryPrefix: registry.repositoryPrefix('modulus/') });
  const a = new DockerHost(stack, 'HostA', { hostName: 'a', engine: 'unix:///var/run/docker.sock', registries: [registry] });
  const b = new DockerHost(stack, 'HostB', {
    hostName: 'b',
    engine: 'ssh://root@127.0.0.1:2222',
    sshOptions: ['-i', '/keys/b', '-o', 'UserKnownHostsFile=/keys/known_hosts'],
    provisioning: { user: 'root', address: '127.0.0.1', port: 2222, privateKey: key.stringValue, hostKey: HOST_KEY },
    registries: [registry],
    ...hostB,
  });
  for (const image of hierarchy.images) image.resource.provider = a.resource;
  const pushed = new PushedHierarchy(stack, 'Pushed', { registry, hierarchy });
  return { stack, hierarchy, pushed, a, b };
}

const app = (scope: TerraformStack, appName: string, language: string, host: DockerHost, images: ImageHierarchy | PushedHierarchy) =>
  new ModulusApp(scope, appName, { appName, language, source, images, host });

describe('DockerHost: validation', () => {
  const host = (props: Partial<DockerHostProps>) => () =>
    new DockerHost(new TerraformStack(Testing.app(), 'test'), 'Host', { hostName: 'b', engine: 'ssh://root@127.0.0.1', ...props });
  it.each<[Partial<DockerHostProps>, string]>([
    [{ hostName: 'B' }, "test/Host: invalid hostName 'B': use a lowercase letter"],
    [{ engine: '127.0.0.1:2375' }, "test/Host: invalid engine '127.0.0.1:2375': give unix:///var/run/docker.sock, ssh://user@host[:port] or tcp://host:2376"],
    [{ tls: { caMaterial: 'c', certMaterial: 'c', keyMaterial: 'k' } }, 'test/Host: invalid tls (value hidden): leave it out: it is for tcp:// engines, not ssh://'],
    [{ engine: 'tcp://127.0.0.1:2376', sshOptions: ['-i', 'k'] }, 'test/Host: invalid sshOptions ["-i","k"]: leave it out: they are for ssh:// engines, not tcp://'],
    [{ sshOptions: ['-i', 'k\n-o ProxyCommand=x'] }, "test/Host: invalid sshOptions[1] 'k\n-o ProxyCommand=x': give a non-empty ssh argument without line breaks"],
    [
      { engine: 'unix:///var/run/docker.sock', provisioning: { user: 'root', address: '127.0.0.1', privateKey: 'k', hostKey: HOST_KEY } },
      'test/Host: invalid provisioning (value hidden): leave it out: the volumes of a unix:// engine are made on this machine',
    ],
    [{ provisioning: { user: 'root; rm', address: '127.0.0.1', privateKey: 'k', hostKey: HOST_KEY } }, "test/Host: invalid provisioning.user 'root; rm': give a user name"],
    [{ provisioning: { user: 'root', address: '127.0.0.1', port: 0, privateKey: 'k', hostKey: HOST_KEY } }, 'test/Host: invalid provisioning.port 0: use a whole number from 1 to 65535'],
    [{ provisioning: { user: 'root', address: '127.0.0.1', privateKey: '', hostKey: HOST_KEY } }, 'test/Host: invalid provisioning.privateKey (value hidden): give the key'],
    [{ provisioning: { user: 'root', address: '127.0.0.1', privateKey: 'k', hostKeys: HOST_KEY } }, 'test/Host: invalid provisioning.privateKey (value hidden): give a sensitive token (e.g. a TerraformVariable with sensitive: true), not the key text'],
    [{ provisioning: { user: 'root', address: '127.0.0.1', privateKey: KEY_TOKEN, hostKey: 'AAAA' } }, "test/Host: invalid provisioning.hostKey line 1 'AAAA': give '[host]:port TYPE BASE64' or 'TYPE BASE64' lines"],
    [{ provisioning: { user: 'root', address: '127.0.0.1', privateKey: KEY_TOKEN, hostKey: HOST_KEY, hostKeys: HOST_KEY } }, `test/Host: invalid provisioning.hostKey '${HOST_KEY}': leave it out: give the keys in hostKeys only`],
    [
      { imageRemovalPolicy: 'keep' as ImageRemovalPolicy },
      "test/Host: invalid imageRemovalPolicy 'keep': use one of ImageRemovalPolicy.DESTROY ('destroy'), ImageRemovalPolicy.RETAIN ('retain')",
    ],
  ])('refuses %j', (props, message) => {
    expect(errorMessage(host(props))).toContain(message);
  });

  it('an app on a remote host without provisioning access fails its synth, naming the app and the host', () => {
    const { stack, pushed } = platform({ provisioning: undefined });
    const b = stack.node.findChild('HostB') as DockerHost;
    expect(errorMessage(() => app(stack, 'shop', 'static', b, pushed))).toBe(
      "test/shop/Volume: invalid host 'b': give a host with provisioning access (DockerHostProps.provisioning): the volume of app 'shop' must be made on host 'b' (ssh://root@127.0.0.1:2222), which is not this machine",
    );
  });

  it('an app on a remote host needs its images from a registry', () => {
    const { stack, hierarchy, b } = platform();
    expect(errorMessage(() => app(stack, 'shop', 'static', b, hierarchy))).toMatch(
      /^test\/shop: invalid images \(construct test\/Hierarchy\): give a PushedHierarchy: host 'b' \(ssh:\/\/root@127\.0\.0\.1:2222\) is not this machine/,
    );
  });
});

describe('DockerHost: apps on two hosts', () => {
  const { stack, pushed, a, b } = platform();
  app(stack, 'web', 'node', a, pushed);
  app(stack, 'docs', 'static', b, pushed);
  app(stack, 'shop', 'php', b, pushed);
  app(stack, 'blog', 'php', b, pushed);
  const raw = Testing.synth(stack);
  const json = JSON.parse(raw);
  const nulls: Record<string, any> = json.resource.null_resource;
  const containers: Record<string, any> = json.resource.docker_container;
  const provisionerTypes = (prefix: string) =>
    [...new Set(Object.entries(nulls).filter(([key]) => key.startsWith(prefix)).flatMap(([, step]) => step.provisioner.map((p: any) => Object.keys(p)[0])))].sort();

  it('gives each host its own aliased provider, with the registry credentials', () => {
    const providers = json.provider.docker.filter((provider: any) => provider.alias);
    expect(providers.map((provider: any) => [provider.alias, provider.host])).toEqual([
      ['a', 'unix:///var/run/docker.sock'],
      ['b', 'ssh://root@127.0.0.1:2222'],
    ]);
    for (const provider of providers) expect(provider.registry_auth[0]).toMatchObject({ address: 'http://127.0.0.1:5000', username: 'ci' });
    // The pinned host keys first (ssh takes the first value of an option), then the engine's own options.
    const pinned = ['-o', expect.stringMatching(/^UserKnownHostsFile=assets\/HostB_KnownHosts_[0-9A-F]{8}\/[0-9A-F]{32}\/[0-9a-f]{64}\.known_hosts$/), '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes'];
    expect(providers[1].ssh_opts).toEqual([...pinned, '-i', '/keys/b', '-o', 'UserKnownHostsFile=/keys/known_hosts']);
    // The asset's source: cdktf copies it into the stack's assets folder under the same name.
    const knownHosts = path.join(os.tmpdir(), 'modulus-images-known-hosts', path.basename(providers[1].ssh_opts[1]));
    expect(fs.readFileSync(knownHosts, 'utf8')).toBe(`* ${HOST_KEY}\n`);
  });

  it('runs each app\'s build and run containers on its host', () => {
    const byName = Object.fromEntries(Object.values(containers).map((container: any) => [container.name, container.provider]));
    expect(byName).toEqual({
      'modulus-build-web-${formatdate("YYYYMMDDhhmmss", timestamp())}': 'docker.a',
      'modulus-app-web': 'docker.a',
      'modulus-build-docs-${formatdate("YYYYMMDDhhmmss", timestamp())}': 'docker.b',
      'modulus-app-docs': 'docker.b',
      'modulus-build-shop-${formatdate("YYYYMMDDhhmmss", timestamp())}': 'docker.b',
      'modulus-app-shop': 'docker.b',
      'modulus-build-blog-${formatdate("YYYYMMDDhhmmss", timestamp())}': 'docker.b',
      'modulus-app-blog': 'docker.b',
    });
  });

  it('makes volumes locally on a unix:// host and over SSH (ssh-step.sh) on the other', () => {
    expect(provisionerTypes('web_')).toEqual(['local-exec']);
    for (const name of ['docs_', 'shop_', 'blog_']) expect(provisionerTypes(name)).toEqual(['local-exec']);
    for (const name of ['web_', 'docs_']) {
      const commands = Object.entries(nulls).filter(([key]) => key.startsWith(name)).flatMap(([, step]: [string, any]) => (step.provisioner ?? []).map((p: any) => p['local-exec'].command));
      expect({ name, remote: commands.filter((command) => /\/ssh-step\.sh /.test(command)).length === commands.length }).toEqual({ name, remote: name === 'docs_' });
    }
    const volume = Object.entries(nulls).find(([key]) => /^docs_Volume_[0-9A-F]{8}$/.test(key))![1];
    expect(volume.lifecycle.create_before_destroy).toBe(true);
    // The key's form is checked at plan time (a sensitive value: the messages never show it).
    expect(volume.lifecycle.precondition.map((check: any) => check.error_message)).toEqual([
      "Docker host 'b' (provisioning.privateKey): the key is not an OpenSSH or PEM private key: give the whole text of the key file, its BEGIN and END lines included.",
      "Docker host 'b' (provisioning.privateKey): the key is protected by a passphrase, which a deploy cannot ask for: give a key without one (ssh-keygen -p -N '' -f <file> removes it).",
    ]);
    // As people paste keys: without Windows line ends, with one last line break.
    expect(volume.triggers.ssh_private_key).toBe('${sensitive(join("", [trimspace(replace(var.ssh_private_key_b, "\\r", "")), "\\n"]))}');
  });

  it('pulls each image once per host that runs it, by the digest the push returned', () => {
    const pulls = Object.values(json.resource.docker_image).filter((image: any) => image.provider !== undefined && image.provider !== 'docker.a' || /@/.test(image.name));
    const byHost = (alias: string) => pulls.filter((image: any) => image.provider === `docker.${alias}`).map((image: any) => image.name).sort();
    const pushedReference = (name: string) => `127.0.0.1:5000/modulus/${name}@\${docker_registry_image.${Object.keys(json.resource.docker_registry_image).find((key) => key.startsWith(`Pushed_${name}_`))}.sha256_digest}`;
    expect(byHost('a')).toEqual(['build-node', 'run-node'].map(pushedReference).sort());
    expect(byHost('b')).toEqual(['build-php', 'build-static', 'run-php', 'run-static'].map(pushedReference).sort());
    // ImageRemovalPolicy.DESTROY by default: a host keeps only what it runs.
    for (const image of pulls as any[]) expect({ name: image.name, keep_locally: image.keep_locally, force_remove: image.force_remove }).toEqual({ name: image.name, keep_locally: false, force_remove: true });
  });

  it('keeps the images pulled on a host with ImageRemovalPolicy.RETAIN, and only there', () => {
    const warm = platform({ imageRemovalPolicy: ImageRemovalPolicy.RETAIN });
    app(warm.stack, 'web', 'node', warm.a, warm.pushed);
    app(warm.stack, 'docs', 'static', warm.b, warm.pushed);
    const images = Object.values(JSON.parse(Testing.synth(warm.stack)).resource.docker_image as Record<string, any>).filter((image) => /@/.test(image.name));
    const kept = (alias: string) => images.filter((image) => image.provider === `docker.${alias}`).map((image) => image.keep_locally);
    expect(kept('b')).toEqual([true, true]);
    expect(kept('a')).toEqual([false, false]);
    expect(warm.b.imageRemovalPolicy).toBe(ImageRemovalPolicy.RETAIN);
  });

  it("takes the policy from the apps stack's hosts (a platform file's \"imageRemovalPolicy\": \"retain\")", () => {
    const { app: other } = appsOnPushedImages('modulus-host-retain-', {
      hosts: [
        { hostName: 'a', engine: 'unix:///var/run/docker.sock', languages: ['node'] },
        {
          hostName: 'b',
          engine: 'ssh://root@127.0.0.1:2222',
          provisioning: { user: 'root', address: '127.0.0.1', port: 2222, hostKeys: `[127.0.0.1]:2222 ${HOST_KEY}` },
          imageRemovalPolicy: 'retain' as ImageRemovalPolicy,
          languages: ['static'],
        },
      ],
    });
    other.synth();
    const stack = JSON.parse(fs.readFileSync(path.join(other.outdir, 'stacks', 'apps', 'cdk.tf.json'), 'utf8'));
    const kept = Object.values(stack.resource.docker_image as Record<string, any>).map((image) => [image.provider, image.keep_locally]);
    expect(kept.sort()).toEqual([['docker.b', true], ['docker.b', true]]);
  });

  it("runs a host's apps on the built images when its engine is the stack's, the build host: no push, no pull", () => {
    const { app: other } = appsOnPushedImages('modulus-host-built-', { hosts: [{ hostName: 'a', engine: 'unix:///var/run/docker.sock', languages: ['node'] }] });
    other.synth();
    const stack = JSON.parse(fs.readFileSync(path.join(other.outdir, 'stacks', 'apps', 'cdk.tf.json'), 'utf8'));
    expect(stack.resource.docker_image).toBeUndefined();
    expect(stack.resource.docker_registry_image).toBeUndefined();
    const images = Object.values(stack.resource.docker_container as Record<string, any>).map((container) => [container.provider, container.image]);
    expect(images.sort()).toEqual([
      ['docker.a', expect.stringMatching(/^\$\{data\.terraform_remote_state\.cross-stack-reference-input-images\.outputs\.cross-stack-output-docker_imageHierarchy_build-node_Image_[0-9A-F]{8}image_id\}$/)],
      ['docker.a', expect.stringMatching(/^\$\{data\.terraform_remote_state\.cross-stack-reference-input-images\.outputs\.cross-stack-output-docker_imageHierarchy_run-node_Image_[0-9A-F]{8}image_id\}$/)],
    ]);
  });

  it('the apps stack pushes what its hosts pull and their parents, from its own engine, beside the pulls', () => {
    const { app: other } = appsOnPushedImages('modulus-host-pushes-', {
      hosts: [
        {
          hostName: 'b',
          engine: 'ssh://root@127.0.0.1:2222',
          provisioning: { user: 'root', address: '127.0.0.1', port: 2222, hostKeys: `[127.0.0.1]:2222 ${HOST_KEY}` },
          languages: ['static'],
        },
      ],
    });
    other.synth();
    const read = (name: string) => JSON.parse(fs.readFileSync(path.join(other.outdir, 'stacks', name, 'cdk.tf.json'), 'utf8'));
    const apps = read('apps');
    const pushes = apps.resource.docker_registry_image as Record<string, any>;
    const pushed = Object.keys(pushes).map((key) => key.replace(/^Pushed_(.*)_[0-9A-F]{8}$/, '$1'));
    expect(pushed.sort()).toEqual(['base', 'build-base', 'build-static', 'run-base', 'run-static']);
    // From the stack's engine (its default provider), with the registry's credentials as a variable.
    expect(Object.values(pushes).map((push) => push.provider)).toEqual(Array(5).fill('docker'));
    expect(apps.provider.docker.find((provider: any) => provider.alias === undefined).registry_auth).toEqual([
      { address: 'http://127.0.0.1:5000', username: 'ci', password: '${var.registry_password}' },
    ]);
    const pulls = Object.values(apps.resource.docker_image as Record<string, any>).map((pull) => pull.name.replace(/^127\.0\.0\.1:5000\/modulus\/(.*)@\$\{docker_registry_image\.Pushed_(.*)_[0-9A-F]{8}\.sha256_digest\}$/, '$1 $2'));
    expect(pulls.sort()).toEqual(['build-static build-static', 'run-static run-static']);
    expect(read('images').resource.docker_registry_image).toBeUndefined();
  });

  /** Where the Terraform state will hold the key: resource triggers and data source queries that name it. */
  const keyHolders = (synthesized: any) =>
    [
      ...Object.entries(synthesized.resource.null_resource ?? {}).map(([name, body]: [string, any]) => [`null_resource.${name}`, body.triggers]),
      ...Object.entries(synthesized.data?.external ?? {}).map(([name, body]: [string, any]) => [`data.external.${name}`, body.query]),
    ]
      .filter(([, fields]) => JSON.stringify(fields ?? {}).includes('var.ssh_private_key_b'))
      .map(([name]) => (name as string).replace(/_[0-9A-F]{8}$/, ''))
      .sort();

  it("keeps the key in the state once per app on B, in its Volume's triggers: the probe goes through the engine's SSH connection", () => {
    expect(keyHolders(json)).toEqual(['null_resource.blog_Volume', 'null_resource.docs_Volume', 'null_resource.shop_Volume']);
    const probes = Object.values(json.data.external as Record<string, any>).filter((probe) => probe.query.ssh_host_name === 'b');
    expect(probes).toHaveLength(3);
    for (const probe of probes) {
      expect(probe.query).toMatchObject({ ssh_transport: 'engine', ssh_user: 'root', ssh_engine_address: '127.0.0.1', ssh_engine_port: '2222', ssh_host_keys: HOST_KEY });
      expect(probe.query.ssh_options.split('\n')).toEqual(json.provider.docker[1].ssh_opts);
    }
  });

  it("probes with the provisioning key when the engine logs in as another user (the key is then in the probe's query too)", () => {
    const { stack, pushed, b } = platform({ engine: 'ssh://deploy@127.0.0.1:2222' });
    app(stack, 'static', 'static', b, pushed);
    const synthesized = JSON.parse(Testing.synth(stack));
    expect(keyHolders(synthesized)).toEqual(['data.external.static_Volume_State', 'null_resource.static_Volume']);
    expect(synthesized.data.external[Object.keys(synthesized.data.external).find((name) => name.startsWith('static_Volume_State'))!].query).toMatchObject({
      ssh_transport: 'key',
      ssh_user: 'root',
      ssh_port: '2222',
    });
  });

  it('keeps the private key and the registry password in sensitive variables', () => {
    expect(json.variable.ssh_private_key_b.sensitive).toBe(true);
    expect(json.variable.registry_password.sensitive).toBe(true);
  });
});

describe('DockerHost: a router on the remote host', () => {
  const { stack, pushed, b } = platform();
  const certificate = new TerraformVariable(stack, 'router_certificate', { type: 'string', sensitive: true });
  const router = new ModulusRouter(stack, 'Router', {
    domain: 'b.example.test',
    image: 'modulus/router:test',
    host: b,
    tls: { certificate: certificate.stringValue, privateKey: certificate.stringValue },
  });
  new ModulusApp(stack, 'docs', { appName: 'docs', language: 'static', source, images: pushed, host: b, router });
  const json = JSON.parse(Testing.synth(stack));
  const step = (prefix: string) => Object.entries<any>(json.resource.null_resource).find(([key]) => key.startsWith(prefix))![1];

  it('runs its process limit and routes steps on that host over SSH (ssh-step.sh), the key checked at plan', () => {
    const commands = (prefix: string) => step(prefix).provisioner.map((provisioner: any) => provisioner['local-exec'].command).join('\n');
    expect(commands('Router_Routes_')).toMatch(/^bash \S+\/ssh-step\.sh modulus-router\.sh apply$/);
    expect(commands('Router_ProcessLimit_')).toMatch(/^bash \S+\/ssh-step\.sh modulus-process-limit\.sh apply$/);
    // The orphan router probe goes over SSH too, and the state check stays on this side (remote-probe.sh).
    expect(commands('Router_Heal_')).toMatch(/^bash \S+\/ssh-step\.sh modulus-router\.sh remove-orphan$/);
    const orphan = Object.entries<any>(json.data.external).find(([key]) => key.startsWith('Router_Orphan_'))![1];
    expect(orphan.program).toEqual(['bash', expect.stringMatching(/\/remote-probe\.sh$/)]);
    expect(orphan.query).toMatchObject({ probe: 'router', container: 'modulus-router', domain: 'b.example.test', ssh_host_name: 'b' });
    expect(orphan.query.state_check).toBeUndefined();
    // No destroy step there: it would keep the key in this resource's state too, for an empty cgroup.
    expect(commands('Router_ProcessLimit_')).not.toMatch(/remove/);
    expect(JSON.stringify(step('Router_ProcessLimit_').triggers)).not.toMatch(/ssh_/);
    expect(step('Router_ProcessLimit_').lifecycle.precondition).toHaveLength(2);
    expect(Object.values<any>(json.resource.docker_container).find((container) => container.name === 'modulus-router').provider).toBe('docker.b');
  });

  it('gives the routes step no engine of this machine (it runs where the router runs), and the routes from its trigger', () => {
    expect(JSON.stringify(step('Router_Routes_'))).not.toContain('MODULUS_DOCKER_HOST');
    expect(step('Router_Routes_').provisioner[0]['local-exec'].environment.MODULUS_ROUTER_ROUTES).toBe('${self.triggers.routes}');
    expect(step('Router_Routes_').triggers.routes).toContain('backend app-docs');
  });

  it('refuses a remote engine it cannot reach with SSH steps, naming the fix', () => {
    const stack = new TerraformStack(Testing.app(), 'test');
    const tcp = new DockerHost(stack, 'Host', { hostName: 'c', engine: 'tcp://127.0.0.1:2375' });
    expect(errorMessage(() => new ModulusRouter(stack, 'Router', { domain: 'c.example.test', image: 'modulus/router:test', host: tcp }))).toBe(
      "test/Router: invalid host (construct test/Host): give a DockerHost with provisioning (SSH access) for a remote engine: the router's steps run on its host",
    );
  });
});

describe('DockerHost: a real private key and password stay out of everything synthesized', () => {
  // As a deploy has them: the variables' values in TF_VAR_*, the engine's key in the file its sshOptions name.
  const dir = tempDir('modulus-secrets-');
  const keyFile = path.join(dir, 'id_b');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', keyFile], { stdio: 'ignore' });
  const KEY = fs.readFileSync(keyFile, 'utf8');
  const PASSWORD = `pw-${path.basename(dir)}`;
  const secrets = [KEY.split('\n')[1], PASSWORD];
  const leaks = (text: string) => secrets.filter((secret) => text.includes(secret)).length + (/PRIVATE KEY/.test(text) ? 1 : 0);
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  it('writes neither into cdktf.out (stack JSON and assets)', () => {
    process.env.TF_VAR_ssh_private_key_b = KEY;
    process.env.TF_VAR_registry_password = PASSWORD;
    const { stack, pushed, b } = platform({ sshOptions: ['-i', keyFile, '-o', 'StrictHostKeyChecking=yes'] });
    app(stack, 'docs', 'static', b, pushed);
    const outdir = Testing.fullSynth(stack);
    const files = fs.readdirSync(outdir, { recursive: true, encoding: 'utf8' }).map((file) => path.join(outdir, file)).filter((file) => fs.statSync(file).isFile());
    expect(files.some((file) => file.endsWith('cdk.tf.json'))).toBe(true);
    expect(files.filter((file) => leaks(fs.readFileSync(file, 'utf8')) > 0)).toEqual([]);
  });

  it('refuses them as text, never repeating them', () => {
    const literalKey = () => platform({ provisioning: { user: 'root', address: '127.0.0.1', privateKey: KEY, hostKeys: HOST_KEY } });
    const literalPassword = () => new ImageRegistry(new TerraformStack(Testing.app(), 'test'), 'Registry', { address: '127.0.0.1:5000', username: 'ci', password: PASSWORD });
    for (const make of [literalKey, literalPassword]) {
      const message = errorMessage(make);
      expect(message).toMatch(/invalid (provisioning\.privateKey|password) \(value hidden\): give/);
      expect(leaks(message)).toBe(0);
    }
  });
});

describe('ModulusApp: buildHost', () => {
  it("builds on the build host, delivers each release to the app's host and pulls no build image there", () => {
    const { stack, pushed, a, b } = platform();
    const docs = new ModulusApp(stack, 'docs', { appName: 'docs', language: 'static', source, images: pushed, host: b, buildHost: a, environment: { GREETING: 'from docs' } });
    const json = JSON.parse(Testing.synth(stack));
    // The app's environment is in its own volume's supervisor.conf only: no app runs in the build's volume.
    const stepsWith = (text: string) => Object.entries(json.resource.null_resource as Record<string, any>).filter(([, step]) => JSON.stringify(step).includes(text)).map(([key]) => key.replace(/_[0-9A-F]{8}$/, ''));
    expect(stepsWith('from docs')).toEqual(['docs_Volume_Config']);
    const containers = Object.values(json.resource.docker_container as Record<string, any>).map((container) => [container.name.replace(/-\$\{.*$/, ''), container.provider]);
    expect(containers.sort()).toEqual([
      ['modulus-app-docs', 'docker.b'],
      ['modulus-build-docs', 'docker.a'],
    ]);
    // B pulls the run image only; A builds with the build image it pulled (PushedHierarchy without a provider).
    const pulls = Object.values(json.resource.docker_image as Record<string, any>).filter((image) => /@/.test(image.name));
    expect(pulls.map((image) => [image.provider, image.name.replace(/@.*$/, '')]).sort()).toEqual([
      ['docker.a', '127.0.0.1:5000/modulus/build-static'],
      ['docker.a', '127.0.0.1:5000/modulus/run-static'],
      ['docker.b', '127.0.0.1:5000/modulus/run-static'],
    ]);
    const steps = Object.keys(json.resource.null_resource as Record<string, any>).map((key) => key.replace(/_[0-9A-F]{8}$/, ''));
    expect(steps).toEqual(expect.arrayContaining(['docs_build-a_Volume', 'docs_build-a_Build_Input', 'docs_build-a_Build_Export', 'docs_Receive', 'docs_Publish', 'docs_build-a_Build_Delivered']));
    // The build's volume is made on A (locally), the app's on B (over SSH).
    const commandOf = (name: string) => json.resource.null_resource[Object.keys(json.resource.null_resource).find((key) => key.startsWith(`${name}_`))!].provisioner[0]['local-exec'].command;
    expect(commandOf('docs_build-a_Volume')).not.toMatch(/ssh-step\.sh/);
    expect(commandOf('docs_Volume')).toMatch(/ssh-step\.sh/);
    expect(docs.node.tryFindChild('build-a')?.node.tryFindChild('Volume')).toBeInstanceOf(AppVolume);
    expect(docs.instances.map((instance) => instance.volume)).toEqual([docs.volume]);
    // B's run container starts after B's publish of the delivered release.
    const run = Object.values(json.resource.docker_container as Record<string, any>).find((container) => container.name === 'modulus-app-docs')!;
    expect(run.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^null_resource\.docs_Publish_[0-9A-F]{8}$/)]));
    // B's publish restarts the app in place, then waits until it answers B's run container's check.
    const envOf = (name: string) => json.resource.null_resource[Object.keys(json.resource.null_resource).find((key) => key.startsWith(`${name}_`))!].provisioner[0]['local-exec'].environment;
    expect(envOf('docs_Publish')).toMatchObject({ MODULUS_READY_PORTS: '8080', MODULUS_READY_TIMEOUT_SECONDS: '120' });
  });

  it('is the app host when it names it: one volume, built there', () => {
    const { stack, pushed, b } = platform();
    const docs = new ModulusApp(stack, 'docs', { appName: 'docs', language: 'static', source, images: pushed, host: b, buildHost: b });
    expect(docs.node.children.map((child) => child.node.id)).not.toContain('build-b');
    expect(docs.instances[0].run.node.scope).toBe(docs);
  });

  it('refuses a remote build host, and anything but a DockerHost (with replicas: replicas.test.ts)', () => {
    const { stack, pushed, a, b } = platform();
    expect(errorMessage(() => new ModulusApp(stack, 'docs', { appName: 'docs', language: 'static', source, images: pushed, host: a, buildHost: b }))).toBe(
      "test/docs: invalid buildHost 'b': give a host of this machine's engine (unix://): each release reaches the app's host through this machine",
    );
    expect(errorMessage(() => new ModulusApp(stack, 'blog', { appName: 'blog', language: 'php', source, images: pushed, host: b, buildHost: 'a' as never }))).toBe("test/blog: invalid buildHost 'a': give a DockerHost");
  });

  it("the apps stack builds a host's apps on its buildHost: the build images are not pushed", () => {
    const hostB = {
      hostName: 'b',
      engine: 'ssh://root@127.0.0.1:2222',
      provisioning: { user: 'root', address: '127.0.0.1', port: 2222, hostKeys: `[127.0.0.1]:2222 ${HOST_KEY}` },
      languages: ['static' as const],
    };
    const { app: other } = appsOnPushedImages('modulus-host-buildhost-', {
      volumeRoot: '/srv/modulus-test/volumes',
      hosts: [{ hostName: 'a', engine: 'unix:///var/run/docker.sock', languages: ['node'] }, { ...hostB, buildHost: 'a' }],
    });
    other.synth();
    const apps = JSON.parse(fs.readFileSync(path.join(other.outdir, 'stacks', 'apps', 'cdk.tf.json'), 'utf8'));
    const pushed = Object.keys(apps.resource.docker_registry_image).map((key) => key.replace(/^Pushed_(.*)_[0-9A-F]{8}$/, '$1'));
    expect(pushed.sort()).toEqual(['base', 'run-base', 'run-static']);
    // The build's volume under the stack's volumeRoot, as A's own apps'.
    const buildVolume = Object.entries(apps.resource.null_resource as Record<string, any>).find(([key]) => /^sample-static_build-a_Volume_/.test(key))![1];
    expect(JSON.stringify(buildVolume)).toContain('/srv/modulus-test/volumes/sample-static');
    expect(errorMessage(() => appsOnPushedImages('modulus-host-buildhost-', { hosts: [{ ...hostB, buildHost: 'c' }] }))).toBe(
      "apps: invalid hosts[0].buildHost 'c': give the name of a host of hosts: b",
    );
  });
});
