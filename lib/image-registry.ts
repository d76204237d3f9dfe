import { Image } from '@cdktf/provider-docker/lib/image';
import { DockerProvider, DockerProviderRegistryAuth } from '@cdktf/provider-docker/lib/provider';
import { RegistryImage } from '@cdktf/provider-docker/lib/registry-image';
import { TerraformProvider, TerraformStack, Token } from 'cdktf';
import { Construct } from 'constructs';
import type { DockerHost } from './docker-host';
import { isValidRepository } from './docker-reference';
import { ImageHierarchy } from './image-hierarchy';
import { ModulusImage } from './modulus-image';
import { HIDDEN, invalid, validateEnum } from './private/validation';
import { reportsInvalidProps } from './private/synth-errors';

/**
 * Multi-host images: the hierarchy is built once on a build host, pushed to a registry, and every run
 * host pulls the exact digest (`name@sha256:…`), so all hosts run byte-identical images.
 *
 *   const password = new TerraformVariable(stack, 'registry_password', { type: 'string', sensitive: true });
 *   const registry = new ImageRegistry(stack, 'registry', { address: 'registry.example.com:5000', username: 'ci', password: password.stringValue });
 *   const a = new DockerProvider(stack, 'a', { alias: 'a', host: 'unix:///var/run/docker.sock', registryAuth: [registry.registryAuth()] });
 *   const b = new DockerProvider(stack, 'b', { alias: 'b', host: 'ssh://root@b.example.com', registryAuth: [registry.registryAuth()] });
 *   const tree = new ImageHierarchy(stack, 'images', { repositoryPrefix: registry.repositoryPrefix('modulus/') });
 *   for (const image of tree.images) image.resource.provider = a;
 *   const pushed = new PushedHierarchy(stack, 'pushed', { registry, hierarchy: tree });   // or one PushedImage per image
 *   const onB = new PulledImage(stack, 'run-node-on-b', { image: pushed.image('run-node'), provider: b });
 *   new Container(stack, 'app', { provider: b, image: onB.imageId, ... });
 */

/** How the provider reaches the registry for its own requests. */
export enum RegistryProtocol {
  /** TLS: every production registry. */
  HTTPS = 'https',
  /** Plain HTTP: only registries on 127.0.0.0/8 (or an engine's `insecure-registries`). */
  HTTP = 'http',
}

export interface ImageRegistryProps {
  /**
   * The registry's `host[:port]`, exactly as it starts image names: `registry.example.com`, `127.0.0.1:5000`.
   * No scheme and no path. The host must contain a "." or a ":" or be `localhost` (otherwise Docker reads it as
   * a Docker Hub namespace).
   */
  readonly address: string;
  /**
   * User name for basic auth (or a token user).
   * @default - anonymous: the provider's `registry_auth` gets `auth_disabled`
   */
  readonly username?: string;
  /**
   * The password: a Terraform token, never a literal, e.g. the value of a `TerraformVariable` declared with
   * `sensitive: true` and set through the environment (`TF_VAR_<name>`). It only goes into provider
   * configuration, which Terraform neither stores in the state nor prints in a plan. Required with `username`.
   * @default - none (anonymous)
   */
  readonly password?: string;
  /**
   * The protocol the provider uses for its own registry requests (the manifest digest after a push, the
   * deletion on destroy). The engines decide on their own: they speak plain HTTP only to 127.0.0.0/8 registries
   * or those listed in their `insecure-registries`.
   * @default RegistryProtocol.HTTPS
   */
  readonly protocol?: RegistryProtocol;
}

const HOST_RE =
  /^(?:localhost|(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:]+\])(?::([0-9]{1,5}))?$/;
const PREFIX_RE = /^(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\/)*$/;
const DIGEST_REFERENCE_RE = /@sha256:[0-9a-f]{64}$/;

/**
 * A Docker registry the build host pushes to and the run hosts pull from. It creates no resource: it is the
 * one place that knows the address and credentials, and hands out each host's provider `registry_auth` block
 * and the repository prefix of the images pushed to it.
 */
@reportsInvalidProps
export class ImageRegistry extends Construct {
  /** `host[:port]`, the prefix of every image name in this registry. */
  public readonly address: string;
  /** `<protocol>://<address>`: the `registry_auth` address. */
  public readonly url: string;
  public readonly protocol: RegistryProtocol;
  public readonly username?: string;
  private readonly password?: string;

  constructor(scope: Construct, id: string, props: ImageRegistryProps) {
    super(scope, id);
    const match = HOST_RE.exec(props.address);
    const host = props.address.replace(/:[0-9]+$/, '');
    if (!match || !(host === 'localhost' || /[.:]/.test(props.address)) || (match[1] !== undefined && !validPort(match[1]))) {
      throw invalid(
        this,
        'address',
        props.address,
        `give host[:port] without scheme or path, the host containing a '.' or ':' or being 'localhost', the port 1-65535 (e.g. 'registry.example.com', '127.0.0.1:5000')`,
      );
    }
    const protocol = validateEnum(this, 'protocol', props.protocol ?? RegistryProtocol.HTTPS, RegistryProtocol, 'RegistryProtocol');
    if (props.username !== undefined && !Token.isUnresolved(props.username) && !/^[^\s:]+$/.test(props.username)) {
      throw invalid(this, 'username', props.username, "give a non-empty name without spaces or ':'");
    }
    if (props.username !== undefined && props.password === undefined) {
      throw invalid(this, 'password', undefined, "give one with username: a sensitive TerraformVariable's value");
    }
    if (props.password !== undefined) {
      if (props.username === undefined) {
        throw invalid(this, 'username', undefined, 'give one with password');
      }
      // The value itself is never repeated in an error: a literal here would be a leaked secret already.
      if (!Token.isUnresolved(props.password)) {
        throw invalid(
          this,
          'password',
          HIDDEN,
          'give a token, e.g. the value of a TerraformVariable with sensitive: true set through TF_VAR_<name>, never a literal in the code',
        );
      }
    }
    this.address = props.address;
    this.protocol = protocol;
    this.url = `${protocol}://${props.address}`;
    this.username = props.username;
    this.password = props.password;
  }

  /**
   * The `registry_auth` block for a DockerProvider: the build host's provider pushes with it, each run host's
   * provider pulls with it. `new DockerProvider(stack, 'b', { host, registryAuth: [registry.registryAuth()] })`.
   */
  public registryAuth(): DockerProviderRegistryAuth {
    if (this.username === undefined) return { address: this.url, authDisabled: true };
    return { address: this.url, username: this.username, password: this.password };
  }

  /**
   * The `repositoryPrefix` of an ImageHierarchy whose images are pushed here: `<address>/<prefix>`.
   * @param prefix path components each ending in "/", e.g. 'modulus/' or 'team/modulus/'; '' for none
   */
  public repositoryPrefix(prefix = ''): string {
    if (!PREFIX_RE.test(prefix)) {
      throw invalid(this, 'prefix', prefix, "give '' or lowercase path components ([a-z0-9] joined by '.', '_', '__' or '-') each ending in '/', e.g. 'modulus/'");
    }
    return `${this.address}/${prefix}`;
  }
}

function validPort(port: string): boolean {
  const value = Number(port);
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** `repository` of a `repository:tag` reference. */
function repositoryOf(imageRef: string): string {
  const slash = imageRef.lastIndexOf('/');
  const colon = imageRef.lastIndexOf(':');
  return colon > slash ? imageRef.slice(0, colon) : imageRef;
}

export interface PushedImageProps {
  /** The registry pushed to; the image's repository must start with its address (`registry.repositoryPrefix()`). */
  readonly registry: ImageRegistry;
  /** The image built on the build host. */
  readonly image: ModulusImage;
  /**
   * The build host's provider: the engine holding the image. Its `registry_auth` must include
   * `registry.registryAuth()`.
   * @default the image's own provider (`image.resource.provider`, or the stack's default docker provider)
   */
  readonly provider?: TerraformProvider;
  /**
   * Keep the manifest in the registry when this push is destroyed or replaced. The registry is shared: other
   * stacks and hosts, a rollback, or a host added later may still pull the old digest, and an unchanged rebuild
   * pushes the same digest again, so deleting would remove what is still in use. Space is reclaimed by the
   * registry's garbage collection. Set `false` for throw-away registries (tests); then the registry must allow
   * deletes.
   * @default true
   */
  readonly keepRemotely?: boolean;
  /**
   * Pushes to finish first, e.g. the parent image's: the layers they share are then uploaded once and
   * cross-mounted, instead of twice by two pushes running side by side.
   * @default []
   */
  readonly after?: readonly PushedImage[];
}

/**
 * One ModulusImage pushed from the build host (`docker_registry_image`), re-pushed when its image id changes
 * (a rebuild). `reference` is the pushed content's `<repository>@sha256:<digest>`, what run hosts pull.
 */
@reportsInvalidProps
export class PushedImage extends Construct {
  public readonly registry: ImageRegistry;
  public readonly image: ModulusImage;
  /** `<address>/<path>`, the image's repository without tag. */
  public readonly repository: string;
  /** `sha256:<hex>`, the manifest digest the registry returned for the push (a Terraform reference). */
  public readonly digest: string;
  /** `<repository>@sha256:<hex>`: the exact pushed content (a Terraform reference). */
  public readonly reference: string;
  public readonly resource: RegistryImage;

  constructor(scope: Construct, id: string, props: PushedImageProps) {
    super(scope, id);
    const { registry, image } = props;
    const repository = repositoryOf(image.imageRef);
    if (!repository.startsWith(`${registry.address}/`)) {
      throw invalid(
        this,
        'image',
        image.imageRef,
        `give an image whose repository starts with the registry address '${registry.address}/': build it as '${registry.repositoryPrefix()}<name>' ` +
          `(ImageHierarchy: repositoryPrefix: registry.repositoryPrefix('<prefix>/'))`,
      );
    }
    const provider = props.provider ?? image.resource.provider;
    // The push looks its credentials up in the provider's registry_auth, even for an anonymous registry.
    checkRegistryAuth(this, provider, registry);
    this.registry = registry;
    this.image = image;
    this.repository = repository;
    this.resource = new RegistryImage(this, 'Resource', {
      provider,
      // The built image's name: the push depends on the build.
      name: image.resource.name,
      keepRemotely: props.keepRemotely ?? true,
      triggers: { image_id: image.imageId },
      dependsOn: props.after?.length ? props.after.map((push) => push.resource) : undefined,
    });
    this.digest = this.resource.sha256Digest;
    this.reference = `${repository}@${this.digest}`;
  }
}

export interface PushedHierarchyProps {
  readonly registry: ImageRegistry;
  /** The tree built on the build host; its `repositoryPrefix` must come from `registry.repositoryPrefix()`. */
  readonly hierarchy: ImageHierarchy;
  /**
   * The build host's provider.
   * @default each image's own provider
   */
  readonly provider?: TerraformProvider;
  /**
   * See PushedImageProps.keepRemotely.
   * @default true
   */
  readonly keepRemotely?: boolean;
  /**
   * Push an image only when something asks for it (`image(name)`: an app or router whose host pulls it), after
   * its parents; an image no host pulls is never pushed. In the stack of the apps, next to their pulls, each pull
   * then starts as soon as its image is up, while the others are still being pushed and the build host's own
   * apps deploy. `false` pushes every image of the hierarchy.
   * @default false
   */
  readonly onDemand?: boolean;
}

/**
 * The images of an ImageHierarchy pushed, each after its parent (shared layers go up once): all of them, or with
 * `onDemand` those asked for and their parents. A leaf change re-pushes only the leaf.
 */
@reportsInvalidProps
export class PushedHierarchy extends Construct {
  /** The build host's engine address, when `provider` is a DockerProvider with a literal `host`. */
  public readonly buildEngine?: string;
  private readonly byName = new Map<string, PushedImage>();
  private readonly hierarchy: ImageHierarchy;
  private readonly props: PushedHierarchyProps;

  constructor(scope: Construct, id: string, props: PushedHierarchyProps) {
    super(scope, id);
    this.hierarchy = props.hierarchy;
    this.props = props;
    const host = props.provider instanceof DockerProvider ? props.provider.host : undefined;
    this.buildEngine = host !== undefined && !Token.isUnresolved(host) ? host : undefined;
    if (!props.onDemand) for (const image of props.hierarchy.images) this.push(image);
  }

  /**
   * The id of the image called `name` for the containers of `host`: the built image itself where it was built
   * (no host: the stack's engine; or a host whose engine is `buildEngine`), else pulled on `host` by its pushed
   * digest (pushed first, with `onDemand`).
   */
  public imageIdOn(name: string, host: DockerHost | undefined): string {
    if (host === undefined || (this.buildEngine !== undefined && host.engine === this.buildEngine)) {
      return this.builtImage(name).imageId;
    }
    return host.pulledImageId(this.image(name));
  }

  /**
   * The push of the image called `name` (with `onDemand`, made now if it is not yet); throws, listing the names,
   * when the hierarchy has no such image.
   */
  public image(name: string): PushedImage {
    return this.push(this.builtImage(name));
  }

  /** Names of the images it pushes (with `onDemand`, those it pushes once asked for), sorted. */
  public get names(): string[] {
    return [...this.hierarchy.names].sort();
  }

  /** The hierarchy's image called `name`; throws, listing the names, when there is none. */
  private builtImage(name: string): ModulusImage {
    const image = this.hierarchy.tryImage(name);
    if (!image) throw invalid(this, 'image name', name, `give one of the pushed images: ${this.names.join(', ')}`);
    return image;
  }

  private push(image: ModulusImage): PushedImage {
    const name = this.hierarchy.names.find((candidate) => this.hierarchy.image(candidate) === image)!;
    const existing = this.byName.get(name);
    if (existing) return existing;
    const parent = image.parentImage ? this.push(image.parentImage) : undefined;
    const pushed = new PushedImage(this, name, {
      registry: this.props.registry,
      image,
      provider: this.props.provider,
      keepRemotely: this.props.keepRemotely,
      after: parent ? [parent] : [],
    });
    this.byName.set(name, pushed);
    return pushed;
  }
}

/**
 * Throws when `provider` is a DockerProvider whose registry_auth certainly lacks `registry` (an entry given as a
 * token cannot be checked and passes). No provider: the resource gets the stack's default docker provider (the
 * one without an alias), which is checked then.
 */
function checkRegistryAuth(scope: Construct, given: TerraformProvider | undefined, registry: ImageRegistry): void {
  const provider = given ?? TerraformStack.of(scope).node.children.find((child) => child instanceof DockerProvider && child.alias === undefined);
  if (!(provider instanceof DockerProvider)) return;
  const auth = provider.registryAuth;
  if (auth !== undefined && !Array.isArray(auth)) return;
  const entries = auth ?? [];
  if (entries.some((entry) => Token.isUnresolved(entry.address) || hostOf(entry.address) === registry.address)) return;
  throw invalid(scope, 'provider', provider, `give a provider whose registryAuth has an entry for '${registry.address}': add registry.registryAuth() to it`);
}

function hostOf(address: string): string {
  return address.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

export interface PulledImageProps {
  /**
   * What to pull: a PushedImage (its `reference`), or a `repository@sha256:<64 hex>` reference.
   */
  readonly image: PushedImage | string;
  /**
   * The run host's provider. Its `registry_auth` must include the registry's `registryAuth()` unless the
   * registry is anonymous.
   */
  readonly provider: TerraformProvider;
  /**
   * Keep the image on the host when this resource is destroyed or replaced (a new digest). With `false` the
   * host keeps only what it runs: containers of this stack that use the image are destroyed before it (they
   * depend on `imageId`); a container of another stack still running it keeps it, since the removal is
   * forced and so only takes away the `repository@digest` reference, the layers going with that container.
   * @default false
   */
  readonly keepLocally?: boolean;
}

/**
 * A pushed image pulled by digest onto one run host (`docker_image` named `repository@sha256:…` on that host's
 * provider). Containers on that host use `imageId`.
 */
@reportsInvalidProps
export class PulledImage extends Construct {
  /** `repository@sha256:<hex>` pulled. */
  public readonly reference: string;
  /** The image id on the run host (a Terraform reference): a docker_container's `image`. */
  public readonly imageId: string;
  /** The `repository@sha256:…` the run host reports after the pull (a Terraform reference). */
  public readonly repoDigest: string;
  public readonly resource: Image;

  constructor(scope: Construct, id: string, props: PulledImageProps) {
    super(scope, id);
    const reference = typeof props.image === 'string' ? props.image : props.image.reference;
    if (typeof props.image === 'string' && !Token.isUnresolved(props.image)) {
      const repository = props.image.replace(DIGEST_REFERENCE_RE, '');
      if (!DIGEST_REFERENCE_RE.test(props.image) || !isValidRepository(repository)) {
        throw invalid(this, 'image', props.image, "give a pinned reference '<repository>@sha256:<64 lowercase hex>' or a PushedImage");
      }
    }
    // A run host pulls with the credentials of its provider's registry_auth (an anonymous registry needs none).
    if (typeof props.image !== 'string' && props.image.registry.username !== undefined) {
      checkRegistryAuth(this, props.provider, props.image.registry);
    }
    this.reference = reference;
    this.resource = new Image(this, 'Resource', {
      provider: props.provider,
      name: reference,
      keepLocally: props.keepLocally ?? false,
      forceRemove: true,
    });
    this.imageId = this.resource.imageId;
    this.repoDigest = this.resource.repoDigest;
  }
}
