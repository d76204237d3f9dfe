import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { Testing, TerraformStack, TerraformVariable } from 'cdktf';
import { ImageHierarchy } from '../../lib/image-hierarchy';
import { ImageRegistry, ImageRegistryProps, PulledImage, PushedHierarchy, PushedImage, RegistryProtocol } from '../../lib/image-registry';
import { ModulusImage } from '../../lib/modulus-image';
import { ImagesStack } from '../../stacks/images-stack';
import { makeImagesDirectory } from './support/fixtures';

const ADDRESS = '127.0.0.1:5000';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

function stackWith(props: Partial<ImageRegistryProps> & { literalPassword?: string } = {}) {
  const stack = new TerraformStack(Testing.app(), 'stack');
  const password = new TerraformVariable(stack, 'registry_password', { type: 'string', sensitive: true });
  const registry = new ImageRegistry(stack, 'registry', { address: ADDRESS, username: 'ci', password: password.stringValue, protocol: RegistryProtocol.HTTP, ...props });
  return { stack, registry };
}

/** A stack with providers A and B, a two-image hierarchy built on A, both pushed, the leaf pulled on B. */
function multiHost(options: { keepRemotely?: boolean; keepLocally?: boolean } = {}) {
  const { stack, registry } = stackWith();
  const a = new DockerProvider(stack, 'a', { alias: 'a', host: 'unix:///var/run/docker.sock', registryAuth: [registry.registryAuth()] });
  const b = new DockerProvider(stack, 'b', { alias: 'b', host: 'ssh://root@127.0.0.1:2222', registryAuth: [registry.registryAuth()] });
  const tree = new ImageHierarchy(stack, 'images', {
    rootImage: 'modulus/root:bookworm',
    images: [{ name: 'parent' }, { name: 'leaf', parent: 'parent' }],
    imagesDirectory: makeImagesDirectory(['parent', 'leaf']),
    repositoryPrefix: registry.repositoryPrefix('modulus/'),
  });
  for (const image of tree.images) image.resource.provider = a;
  const parent = new PushedImage(stack, 'parent-pushed', { registry, image: tree.image('parent'), keepRemotely: options.keepRemotely });
  const leaf = new PushedImage(stack, 'leaf-pushed', { registry, image: tree.image('leaf'), keepRemotely: options.keepRemotely });
  const pulled = new PulledImage(stack, 'leaf-on-b', { image: leaf, provider: b, keepLocally: options.keepLocally });
  const json = JSON.parse(Testing.synth(stack));
  return { stack, registry, tree, parent, leaf, pulled, json };
}

const only = (json: any, type: string, name: string) => {
  const entry = Object.entries(json.resource[type] as Record<string, any>).find(([key]) => key.includes(name));
  if (!entry) throw new Error(`no ${type} like ${name}`);
  return { key: entry[0], value: entry[1] };
};

describe('ImageRegistry', () => {
  it.each([
    ['registry.example.com', RegistryProtocol.HTTPS, 'https://registry.example.com'],
    ['127.0.0.1:5000', RegistryProtocol.HTTP, 'http://127.0.0.1:5000'],
    ['localhost', RegistryProtocol.HTTPS, 'https://localhost'],
    ['[::1]:5000', RegistryProtocol.HTTP, 'http://[::1]:5000'],
    ['my-registry:443', RegistryProtocol.HTTPS, 'https://my-registry:443'],
  ] as const)('accepts %s (%s)', (address, protocol, url) => {
    const { registry } = stackWith({ address, protocol });
    expect(registry.url).toBe(url);
    expect(registry.registryAuth().address).toBe(url);
    expect(registry.repositoryPrefix('modulus/')).toBe(`${address}/modulus/`);
  });

  it.each([
    'https://registry.example.com',
    'registry.example.com/path',
    'registry',
    'registry.example.com:0',
    'registry.example.com:65536',
    '127.0.0.1:',
    '',
    '-bad.example.com',
    'reg istry.example.com',
  ])('rejects the address %p with the construct path, the value and what is allowed', (address) => {
    expect(() => stackWith({ address })).toThrow(`stack/registry: invalid address '${address}': give host[:port] without scheme or path`);
  });

  it('defaults to https', () => {
    const stack = new TerraformStack(Testing.app(), 'stack');
    expect(new ImageRegistry(stack, 'registry', { address: 'registry.example.com' }).url).toBe('https://registry.example.com');
  });

  it('rejects a protocol other than https and http', () => {
    expect(() => stackWith({ protocol: 'ftp' as never })).toThrow("stack/registry: invalid protocol 'ftp': use one of RegistryProtocol.HTTPS ('https'), RegistryProtocol.HTTP ('http')");
  });

  it('refuses a literal password and never repeats it', () => {
    const secret = 'hunter2-not-a-token';
    let message = '';
    try {
      stackWith({ password: secret });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^stack\/registry: invalid password \(value hidden\): give a token/);
    expect(message).not.toContain(secret);
  });

  it('needs username and password together', () => {
    expect(() => stackWith({ password: undefined })).toThrow("stack/registry: invalid password undefined: give one with username");
    const stack = new TerraformStack(Testing.app(), 'stack');
    const password = new TerraformVariable(stack, 'p', { type: 'string', sensitive: true });
    expect(() => new ImageRegistry(stack, 'registry', { address: ADDRESS, password: password.stringValue })).toThrow(
      "stack/registry: invalid username undefined: give one with password",
    );
    expect(() => stackWith({ username: 'a b' })).toThrow("stack/registry: invalid username 'a b'");
  });

  it('gives an auth_disabled registry_auth for an anonymous registry', () => {
    const stack = new TerraformStack(Testing.app(), 'stack');
    expect(new ImageRegistry(stack, 'registry', { address: ADDRESS, protocol: RegistryProtocol.HTTP }).registryAuth()).toEqual({ address: 'http://127.0.0.1:5000', authDisabled: true });
  });

  it('rejects a repository prefix that is not path components ending in "/"', () => {
    const { registry } = stackWith();
    expect(registry.repositoryPrefix()).toBe(`${ADDRESS}/`);
    expect(registry.repositoryPrefix('team/modulus/')).toBe(`${ADDRESS}/team/modulus/`);
    for (const prefix of ['modulus', '/modulus/', 'Modulus/', 'a//']) {
      expect(() => registry.repositoryPrefix(prefix)).toThrow(`stack/registry: invalid prefix '${prefix}': give '' or lowercase path components`);
    }
  });
});

describe('PushedImage and PulledImage: synthesized shape', () => {
  const { json, leaf, parent, pulled } = multiHost();

  it('puts the password into each provider registry_auth as the sensitive variable, never as a value', () => {
    expect(json.variable.registry_password).toEqual({ type: 'string', sensitive: true });
    for (const provider of json.provider.docker) {
      expect(provider.registry_auth).toEqual([{ address: 'http://127.0.0.1:5000', username: 'ci', password: '${var.registry_password}' }]);
    }
  });

  it('pushes each image with the build host provider, named as built, re-pushed on a new image id, kept remotely', () => {
    const { key: leafImageKey } = only(json, 'docker_image', 'images_leaf');
    const push = only(json, 'docker_registry_image', 'leaf-pushed').value;
    expect(push).toEqual({
      provider: 'docker.a',
      name: `\${docker_image.${leafImageKey}.name}`,
      keep_remotely: true,
      triggers: { image_id: `\${docker_image.${leafImageKey}.image_id}` },
    });
    expect(Object.keys(json.resource.docker_registry_image)).toHaveLength(2);
    expect(leaf.repository).toBe('127.0.0.1:5000/modulus/leaf');
    expect(parent.repository).toBe('127.0.0.1:5000/modulus/parent');
  });

  it('pulls by <repository>@<pushed digest> on the run host, removed with the stack, and exposes its image id', () => {
    const { key: pushKey } = only(json, 'docker_registry_image', 'leaf-pushed');
    const { key, value } = only(json, 'docker_image', 'leaf-on-b');
    expect(value).toEqual({
      provider: 'docker.b',
      name: `127.0.0.1:5000/modulus/leaf@\${docker_registry_image.${pushKey}.sha256_digest}`,
      keep_locally: false,
      force_remove: true,
    });
    expect(pulled.resource.node.path).toBe('stack/leaf-on-b/Resource');
    expect(pulled.node.defaultChild).toBe(pulled.resource);
    expect(leaf.node.defaultChild).toBe(leaf.resource);
    expect(key).toMatch(/leaf-on-b/);
  });

  it('honours keepRemotely and keepLocally', () => {
    const { json: other } = multiHost({ keepRemotely: false, keepLocally: true });
    expect(only(other, 'docker_registry_image', 'leaf-pushed').value.keep_remotely).toBe(false);
    expect(only(other, 'docker_image', 'leaf-on-b').value.keep_locally).toBe(true);
  });
});

describe('PushedImage and PulledImage: validation', () => {
  it('rejects an image whose repository is not in the registry', () => {
    const { stack, registry } = stackWith();
    const dir = makeImagesDirectory(['leaf']);
    const image = new ModulusImage(stack, 'local', { repository: 'modulus/leaf', directory: `${dir}/leaf`, parent: 'debian:bookworm-slim' });
    expect(() => new PushedImage(stack, 'pushed', { registry, image })).toThrow(
      "stack/pushed: invalid image 'modulus/leaf:latest': give an image whose repository starts with the registry address '127.0.0.1:5000/'",
    );
    // A longer host that merely starts with the address is another registry.
    const other = new ModulusImage(stack, 'other', { repository: '127.0.0.1:50000/modulus/leaf', directory: `${dir}/leaf`, parent: 'debian:bookworm-slim' });
    expect(() => new PushedImage(stack, 'pushed2', { registry, image: other })).toThrow("invalid image '127.0.0.1:50000/modulus/leaf:latest'");
  });

  it('rejects a build host provider without registry_auth for the registry', () => {
    const { stack, registry } = stackWith();
    const dir = makeImagesDirectory(['leaf']);
    const image = new ModulusImage(stack, 'leaf', { repository: `${ADDRESS}/modulus/leaf`, directory: `${dir}/leaf`, parent: 'debian:bookworm-slim' });
    const bare = new DockerProvider(stack, 'bare', { alias: 'bare', registryAuth: [{ address: 'https://elsewhere.example.com', username: 'u', password: 'p' }] });
    expect(() => new PushedImage(stack, 'pushed', { registry, image, provider: bare })).toThrow(
      "stack/pushed: invalid provider (construct stack/bare): give a provider whose registryAuth has an entry for '127.0.0.1:5000': add registry.registryAuth() to it",
    );
  });

  it('rejects a build host provider with no registry_auth at all, and a run host provider without the registry', () => {
    const { stack, registry } = stackWith();
    const dir = makeImagesDirectory(['leaf']);
    const image = new ModulusImage(stack, 'leaf', { repository: `${ADDRESS}/modulus/leaf`, directory: `${dir}/leaf`, parent: 'debian:bookworm-slim' });
    const none = new DockerProvider(stack, 'none', { alias: 'none' });
    expect(() => new PushedImage(stack, 'pushed', { registry, image, provider: none })).toThrow("stack/pushed: invalid provider (construct stack/none)");
    const a = new DockerProvider(stack, 'a', { alias: 'a', registryAuth: [registry.registryAuth()] });
    const pushed = new PushedImage(stack, 'pushed-ok', { registry, image, provider: a });
    expect(() => new PulledImage(stack, 'on-none', { image: pushed, provider: none })).toThrow(
      "stack/on-none: invalid provider (construct stack/none): give a provider whose registryAuth has an entry for '127.0.0.1:5000'",
    );
    expect(new PulledImage(stack, 'on-a', { image: pushed, provider: a }).reference).toContain('@');
  });

  it("checks the stack's default provider when the image has none", () => {
    const { stack, registry } = stackWith();
    const dir = makeImagesDirectory(['leaf']);
    const image = new ModulusImage(stack, 'leaf', { repository: `${ADDRESS}/modulus/leaf`, directory: `${dir}/leaf`, parent: 'debian:bookworm-slim' });
    const defaultProvider = new DockerProvider(stack, 'docker', {});
    expect(() => new PushedImage(stack, 'pushed', { registry, image })).toThrow("stack/pushed: invalid provider (construct stack/docker): give a provider whose registryAuth has an entry for '127.0.0.1:5000'");
    defaultProvider.registryAuth = [registry.registryAuth()];
    expect(new PushedImage(stack, 'pushed-ok', { registry, image }).resource.provider).toBeUndefined();
  });

  it("the ImagesStack names its images for the registry and pushes none; its provider keeps the registry's credentials (for an earlier release's pushes in its state)", () => {
    const images = new ImagesStack(Testing.app(), 'images', {
      registry: { address: ADDRESS, username: 'ci', protocol: RegistryProtocol.HTTP },
      imagesDirectory: makeImagesDirectory(),
    });
    expect(images.hierarchy.image('run-node').imageRef).toBe(`${ADDRESS}/modulus/run-node:latest`);
    const json = JSON.parse(Testing.synth(images));
    expect(json.resource.docker_registry_image).toBeUndefined();
    expect(Object.keys(json.variable)).toEqual(['registry_password']);
    expect(json.provider.docker[0].registry_auth).toEqual([{ address: `http://${ADDRESS}`, username: 'ci', password: '${var.registry_password}' }]);
  });

  it('pulls a literal reference only when it is pinned by a sha256 digest', () => {
    const { stack } = stackWith();
    const b = new DockerProvider(stack, 'b', { alias: 'b' });
    const ok = new PulledImage(stack, 'ok', { image: `${ADDRESS}/modulus/leaf@${DIGEST}`, provider: b });
    expect(ok.reference).toBe(`${ADDRESS}/modulus/leaf@${DIGEST}`);
    const bad = [`${ADDRESS}/modulus/leaf:latest`, `${ADDRESS}/modulus/leaf@sha256:abc`, `${ADDRESS}/Modulus/leaf@${DIGEST}`, `@${DIGEST}`];
    for (const [index, image] of bad.entries()) {
      expect(() => new PulledImage(stack, `bad${index}`, { image, provider: b })).toThrow(`invalid image '${image}': give a pinned reference '<repository>@sha256:<64 lowercase hex>'`);
    }
  });
});

describe('PushedHierarchy', () => {
  function tree(options: { onDemand?: boolean; asked?: string[] } = {}) {
    const { stack, registry } = stackWith();
    const a = new DockerProvider(stack, 'a', { alias: 'a', registryAuth: [registry.registryAuth()] });
    const hierarchy = new ImageHierarchy(stack, 'images', {
      rootImage: 'modulus/root:bookworm',
      images: [{ name: 'base' }, { name: 'run-base', parent: 'base' }, { name: 'run-node', parent: 'run-base' }, { name: 'build-base', parent: 'base' }],
      imagesDirectory: makeImagesDirectory(['base', 'run-base', 'run-node', 'build-base']),
      repositoryPrefix: registry.repositoryPrefix('modulus/'),
    });
    for (const image of hierarchy.images) image.resource.provider = a;
    const pushed = new PushedHierarchy(stack, 'pushed', { registry, hierarchy, onDemand: options.onDemand });
    for (const name of options.asked ?? []) pushed.image(name);
    return { stack, pushed, json: JSON.parse(Testing.synth(stack)) };
  }

  it('pushes every image once, each after its parent push', () => {
    const { pushed, json } = tree();
    expect(pushed.names).toEqual(['base', 'build-base', 'run-base', 'run-node']);
    const pushes = json.resource.docker_registry_image as Record<string, any>;
    expect(Object.keys(pushes)).toHaveLength(4);
    const keyOf = (name: string) => Object.keys(pushes).find((key) => key.startsWith(`pushed_${name}_`))!;
    const dependsOn = (name: string) => pushes[keyOf(name)].depends_on ?? [];
    expect(dependsOn('base')).toEqual([]);
    expect(dependsOn('run-base')).toEqual([`docker_registry_image.${keyOf('base')}`]);
    expect(dependsOn('build-base')).toEqual([`docker_registry_image.${keyOf('base')}`]);
    expect(dependsOn('run-node')).toEqual([`docker_registry_image.${keyOf('run-base')}`]);
    expect(pushed.image('run-node').reference).toMatch(/^127\.0\.0\.1:5000\/modulus\/run-node@\$\{/);
  });

  it('names the known images when asked for an unknown one', () => {
    expect(() => tree().pushed.image('run-php')).toThrow("stack/pushed: invalid image name 'run-php': give one of the pushed images: base, build-base, run-base, run-node");
    expect(() => tree({ onDemand: true }).pushed.image('run-php')).toThrow("stack/pushed: invalid image name 'run-php': give one of the pushed images: base, build-base, run-base, run-node");
  });

  it('onDemand: pushes only the images asked for and their parents, each once, after its parent', () => {
    const { pushed, json } = tree({ onDemand: true, asked: ['run-node', 'run-base', 'run-node'] });
    expect(pushed.names).toEqual(['base', 'build-base', 'run-base', 'run-node']);
    const pushes = json.resource.docker_registry_image as Record<string, any>;
    const keyOf = (name: string) => Object.keys(pushes).find((key) => key.startsWith(`pushed_${name}_`))!;
    expect(Object.keys(pushes).map((key) => key.replace(/_[0-9A-F]+$/, '')).sort()).toEqual(['pushed_base', 'pushed_run-base', 'pushed_run-node']);
    expect(pushes[keyOf('run-node')].depends_on).toEqual([`docker_registry_image.${keyOf('run-base')}`]);
    expect(pushes[keyOf('run-base')].depends_on).toEqual([`docker_registry_image.${keyOf('base')}`]);
    expect(tree({ onDemand: true }).json.resource?.docker_registry_image).toBeUndefined();
  });
});
