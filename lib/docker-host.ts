import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { DataExternal } from '@cdktf/provider-external/lib/data-external';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AssetType, Fn, TerraformAsset, Token } from 'cdktf';
import { Construct } from 'constructs';
import { DEFAULT_VOLUME_HOST_ROOT, LvmThinPool, VolumeBackend } from './volume-storage';
import { ImageRegistry, PulledImage, PushedImage } from './image-registry';
import { validateVolumeRoot } from './private/names';
import { HostKey, parseHostKeys } from './private/host-keys';
import { hostPattern } from './private/host-rules';
import { EngineSsh, hostKeyCheck, SshAccess } from './private/host-steps';
import { externalProvider } from './private/providers';
import { HIDDEN, invalid, IPV4_PATTERN, requireLiteral, validateEnum, validateInteger } from './private/validation';
import { reportsInvalidProps } from './private/synth-errors';

/** How Terraform reaches a host's shell to make its app volumes and process limits (SSH, key pinned both ways). */
export interface SshProvisioning {
  /** SSH user: `root`, or a user allowed to run `sudo -n` without a password. */
  readonly user: string;
  /** Address the Terraform machine connects to: a host name or IP address. */
  readonly address: string;
  /** @default 22 */
  readonly port?: number;
  /**
   * The user's private key (OpenSSH or PEM text, without a passphrase; Windows line ends and a missing last line
   * break are fine). A token, e.g. the value of a `TerraformVariable` with `sensitive: true` set through
   * `TF_VAR_<name>`: Terraform keeps it out of plan output and provisioner logs. A literal is refused.
   */
  readonly privateKey: string;
  /**
   * The host's public keys as `ssh-keyscan -p <port> <address>` prints them (run it from a machine that reaches
   * the host on a trusted network, or compare the fingerprints with `ssh-keygen -lf` on the host): one line per
   * key type, `# ...` lines ignored; `TYPE BASE64` lines work too. Pinned: a host that does not hold their
   * private halves is refused instead of trusted on first use. One type is enough (every client here is OpenSSH,
   * which asks for a type it has pinned); a host that shows no pinned key fails the plan, naming the host.
   */
  readonly hostKeys?: string;
  /** @deprecated use `hostKeys` (the same format). */
  readonly hostKey?: string;
}

/** Where and how the apps of one host keep their volumes. */
export interface HostVolumeSettings {
  /**
   * Folder under which each app's volume lives, in `<root>/<app name>`: a folder of its own, not a system
   * folder, inside one or above one (`/etc`, `/var/lib/docker/x` or `/var` are refused; the list is
   * scripts/volume/forbidden-roots).
   * @default '/var/lib/modulus/volumes'
   */
  readonly root?: string;
  /** @default VolumeBackend.LOOPFILE */
  readonly backend?: VolumeBackend;
  /** Volume group and thin pool, with `VolumeBackend.LVM_THIN`. */
  readonly lvm?: LvmThinPool;
}

/** What happens on a host to an image it pulled from a registry when its pull leaves the Terraform state. */
export enum ImageRemovalPolicy {
  /**
   * Remove it (`docker rmi --force` of its `repository@digest`): the host keeps only what it runs. A destroy, a
   * new digest or an app moved away frees the space at once; the next deploy here pulls every layer again.
   */
  DESTROY = 'destroy',
  /**
   * Keep it, with its layers: the next deploy of these images here pulls nothing, and that of a new digest only
   * the layers the host has never had (the shared bases stay). Space is reclaimed by `docker image prune --all`
   * on the host, which removes the images no container uses.
   */
  RETAIN = 'retain',
}

export interface DockerHostProps {
  /**
   * The host's name: its docker provider's alias and how messages name it. A lowercase letter, then lowercase
   * letters, digits or '-', at most 30 characters.
   */
  readonly hostName: string;

  /**
   * The engine's address: `unix:///var/run/docker.sock` (the Terraform machine's own engine), `ssh://user@host[:port]`
   * (the Docker CLI's SSH transport; give the key and known hosts file in `sshOptions`) or `tcp://host:2376`
   * (with `tls`).
   */
  readonly engine: string;

  /**
   * Options for the engine's `ssh://` connection, passed to ssh by the provider (`ssh_opts`), e.g.
   * `['-i', '/ci/keys/deploy', '-o', 'UserKnownHostsFile=/ci/known_hosts', '-o', 'StrictHostKeyChecking=yes']`.
   * When the engine's user is the `provisioning` user, the volumes' plan-time mount probes connect the same way
   * (with `BatchMode=yes`), so the probes keep no key in the Terraform state.
   * @default []
   */
  readonly sshOptions?: string[];

  /** Client certificate, key and CA for a `tcp://` engine (the key as a sensitive token). @default none */
  readonly tls?: DockerHostTls;

  /**
   * SSH access for the volume steps. An app placed on a host other than `unix://` needs it (synth fails without
   * it, naming the app and the host): its volume is made on that host, never on the Terraform machine.
   * @default none: apps can be placed only on a `unix://` engine, whose volumes are made locally
   */
  readonly provisioning?: SshProvisioning;

  /** The host's volume folder, backend and LVM pool, the defaults of the apps placed on it. @default loopfile volumes under /var/lib/modulus/volumes */
  readonly volumes?: HostVolumeSettings;

  /** Registries the host pulls from (the provider's `registry_auth`). @default [] */
  readonly registries?: ImageRegistry[];

  /**
   * What happens to an image pulled here when its pull leaves the state (a destroy, a new digest, the last app
   * using it moved away). RETAIN keeps a host warm: a second host deploys as fast as the build host once it has
   * held the images.
   * @default ImageRemovalPolicy.DESTROY
   */
  readonly imageRemovalPolicy?: ImageRemovalPolicy;

  /**
   * The IPv4 address at which the other hosts' routers reach the apps of this host (instances of a replicated app,
   * `ModulusAppProps.replicas`): an address of its network that the apps' ports answer on.
   * @default `provisioning.address` when it is an IPv4 address; else none (a replica here needs it)
   */
  readonly appAddress?: string;
}

/** TLS material of a `tcp://` engine, as text (PEM). */
export interface DockerHostTls {
  readonly caMaterial: string;
  readonly certMaterial: string;
  /** The client key: a sensitive token. */
  readonly keyMaterial: string;
}

const HOST_NAME_PATTERN = /^[a-z][a-z0-9-]{0,29}$/;

/**
 * One Docker host of a stack: its own docker provider (aliased by `hostName`), how Terraform reaches its shell
 * for the volume steps, and the defaults of its volumes. Apps name their host (`ModulusAppProps.host`); their
 * containers use this provider, their volumes are made on this host (locally for a `unix://` engine, over SSH
 * otherwise), and images from a registry are pulled here by digest, once per image.
 */
@reportsInvalidProps
export class DockerHost extends Construct {
  /** The host's docker provider (also `node.defaultChild`). */
  public readonly resource: DockerProvider;
  public readonly hostName: string;
  public readonly engine: string;
  /** True when the engine is the Terraform machine's own (`unix://`): volumes are made there with local-exec. */
  public readonly isLocal: boolean;
  /** Folder under which the host's app volumes live. */
  public readonly volumeRoot: string;
  public readonly volumeBackend?: VolumeBackend;
  public readonly volumeLvm?: LvmThinPool;
  /** Where the other hosts' routers reach this host's apps (DockerHostProps.appAddress). */
  public readonly appAddress?: string;
  /** @internal SSH access for the volume steps of a remote host. */
  public readonly _access?: SshAccess;

  /** What happens to the images pulled here (DockerHostProps.imageRemovalPolicy). */
  public readonly imageRemovalPolicy: ImageRemovalPolicy;

  private readonly pulled = new Map<string, PulledImage>();

  public constructor(scope: Construct, id: string, props: DockerHostProps) {
    super(scope, id);
    requireLiteral(this, 'hostName', props.hostName);
    if (typeof props.hostName !== 'string' || !HOST_NAME_PATTERN.test(props.hostName)) {
      throw invalid(this, 'hostName', props.hostName, "use a lowercase letter, then lowercase letters, digits or '-', at most 30 characters (e.g. 'edge-1')");
    }
    this.hostName = props.hostName;
    requireLiteral(this, 'engine', props.engine);
    const scheme = typeof props.engine === 'string' ? /^(unix|ssh|tcp):\/\/\S+$/.exec(props.engine)?.[1] : undefined;
    if (!scheme) {
      throw invalid(this, 'engine', props.engine, 'give unix:///var/run/docker.sock, ssh://user@host[:port] or tcp://host:2376');
    }
    this.engine = props.engine;
    this.isLocal = scheme === 'unix';
    if (props.tls && scheme !== 'tcp') throw invalid(this, 'tls', HIDDEN, `leave it out: it is for tcp:// engines, not ${scheme}://`);
    if (props.sshOptions && scheme !== 'ssh') throw invalid(this, 'sshOptions', props.sshOptions, `leave it out: they are for ssh:// engines, not ${scheme}://`);

    let sshOptions = this.validateSshOptions(props.sshOptions ?? []);
    if (!this.isLocal) {
      // Without it the host can still run containers that need no volume; an app placed here fails its synth.
      if (props.provisioning) {
        const access = this.validateProvisioning(props.provisioning);
        const check = hostKeyCheck(this, access);
        new DataExternal(this, 'HostKeys', { provider: externalProvider(this), program: check.program, query: check.query });
        if (scheme === 'ssh') {
          // The engine's connection checks the pinned keys too (options given first win in ssh).
          sshOptions = [...this.pinnedHostOptions(access.hostKeys), ...sshOptions];
          this._access = { ...access, engine: this.engineSsh(access.user, sshOptions) };
        } else {
          this._access = access;
        }
      }
    } else if (props.provisioning) {
      throw invalid(this, 'provisioning', HIDDEN, 'leave it out: the volumes of a unix:// engine are made on this machine');
    }

    requireLiteral(this, 'appAddress', props.appAddress);
    if (props.appAddress !== undefined && (typeof props.appAddress !== 'string' || !IPV4_PATTERN.test(props.appAddress) || props.appAddress === '0.0.0.0')) {
      throw invalid(this, 'appAddress', props.appAddress, "give the IPv4 address of this host that other hosts reach, e.g. '10.0.0.12'");
    }
    this.appAddress = props.appAddress ?? (props.provisioning && IPV4_PATTERN.test(props.provisioning.address) ? props.provisioning.address : undefined);

    const volumes = props.volumes ?? {};
    this.volumeRoot = validateVolumeRoot(this, 'volumes.root', volumes.root ?? DEFAULT_VOLUME_HOST_ROOT);
    this.volumeBackend = volumes.backend;
    this.volumeLvm = volumes.lvm;
    this.imageRemovalPolicy = validateEnum(this, 'imageRemovalPolicy', props.imageRemovalPolicy ?? ImageRemovalPolicy.DESTROY, ImageRemovalPolicy, 'ImageRemovalPolicy');

    this.resource = new DockerProvider(this, 'Provider', {
      alias: this.hostName,
      host: this.engine,
      sshOpts: sshOptions.length > 0 ? sshOptions : undefined,
      caMaterial: props.tls?.caMaterial,
      certMaterial: props.tls?.certMaterial,
      keyMaterial: props.tls?.keyMaterial,
      registryAuth: props.registries?.length ? props.registries.map((registry) => registry.registryAuth()) : undefined,
    });
    this.node.defaultChild = this.resource;
  }

  /**
   * The id of `image` on this host: pulled by its digest (`repository@sha256:...`) once, whatever number of
   * apps run it here.
   */
  public pulledImageId(image: PushedImage): string {
    const key = image.node.path;
    let pulled = this.pulled.get(key);
    if (!pulled) {
      const pulls = (this.node.tryFindChild('Pulls') as Construct | undefined) ?? new Construct(this, 'Pulls');
      pulled = new PulledImage(pulls, image.node.id, {
        image,
        provider: this.resource,
        keepLocally: this.imageRemovalPolicy === ImageRemovalPolicy.RETAIN,
      });
      this.pulled.set(key, pulled);
    }
    return pulled.imageId;
  }

  private validateSshOptions(options: string[]): string[] {
    if (!Array.isArray(options)) throw invalid(this, 'sshOptions', options, "give a list of ssh arguments, e.g. ['-i', '/ci/keys/deploy']");
    options.forEach((option, index) => {
      requireLiteral(this, `sshOptions[${index}]`, option);
      if (typeof option !== 'string' || option === '' || /[\r\n\0]/.test(option)) {
        throw invalid(this, `sshOptions[${index}]`, option, 'give a non-empty ssh argument without line breaks');
      }
    });
    return options;
  }

  /**
   * ssh options that accept only the pinned keys: a known hosts file (an asset: public keys only) for any name
   * of the host, no global file, strict checking.
   */
  private pinnedHostOptions(keys: readonly HostKey[]): string[] {
    const text = keys.map((key) => `* ${key.type} ${key.base64}\n`).join('');
    const dir = path.join(os.tmpdir(), 'modulus-images-known-hosts');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${crypto.createHash('sha256').update(text).digest('hex')}.known_hosts`);
    if (!fs.existsSync(file)) fs.writeFileSync(file, text);
    const asset = new TerraformAsset(this, 'KnownHosts', { path: file, type: AssetType.FILE });
    return ['-o', `UserKnownHostsFile=${asset.path}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes'];
  }

  /**
   * The engine's SSH transport when it logs in as the provisioning user (the probe then goes that way, with no
   * key in its query); undefined for another user, whose rights on the host may differ.
   */
  private engineSsh(user: string, sshOptions: readonly string[]): EngineSsh | undefined {
    const url = new URL(this.engine);
    const engineUser = decodeURIComponent(url.username) || undefined;
    if (engineUser !== user) return undefined;
    return { address: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : 22, options: sshOptions };
  }

  private validateProvisioning(access: SshProvisioning): SshAccess {
    for (const field of ['user', 'address'] as const) requireLiteral(this, `provisioning.${field}`, access[field]);
    if (typeof access.user !== 'string' || !hostPattern('SSH_USER_PATTERN').test(access.user)) {
      throw invalid(this, 'provisioning.user', access.user, "give a user name (lowercase letters, digits, '_' and '-'), e.g. 'root'");
    }
    if (typeof access.address !== 'string' || !hostPattern('SSH_ADDRESS_PATTERN').test(access.address)) {
      throw invalid(this, 'provisioning.address', access.address, 'give a host name or an IP address');
    }
    const port = validateInteger(this, 'provisioning.port', access.port ?? 22, 1, 65535);
    if (typeof access.privateKey !== 'string' || access.privateKey === '') {
      throw invalid(this, 'provisioning.privateKey', HIDDEN, 'give the key, a sensitive token (e.g. a TerraformVariable with sensitive: true)');
    }
    if (!Token.isUnresolved(access.privateKey)) {
      throw invalid(this, 'provisioning.privateKey', HIDDEN, 'give a sensitive token (e.g. a TerraformVariable with sensitive: true), not the key text: a literal would be written into cdk.tf.json');
    }
    if (access.hostKeys !== undefined && access.hostKey !== undefined) {
      throw invalid(this, 'provisioning.hostKey', access.hostKey, 'leave it out: give the keys in hostKeys only');
    }
    const hostKeysField = access.hostKeys === undefined && access.hostKey !== undefined ? 'provisioning.hostKey' : 'provisioning.hostKeys';
    const hostKeys = parseHostKeys(this, hostKeysField, access.hostKeys ?? access.hostKey ?? '');
    // As people paste keys: without Windows line ends, with one last line break (what OpenSSH reads), so a
    // pasted copy of the same key changes nothing in the plan.
    // ('\\r': cdktf writes a CR as it is, not as HCL's escape; '\n' it escapes.)
    const privateKey = Fn.join('', [Fn.trimspace(Fn.replace(access.privateKey, '\\r', '')), '\n']);
    return { hostName: this.hostName, user: access.user, address: access.address, port, privateKey, hostKeys };
  }
}
