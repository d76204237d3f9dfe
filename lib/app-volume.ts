import { DataExternal } from '@cdktf/provider-external/lib/data-external';
import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import { ITerraformDependable, Lazy, TerraformStack, Token } from 'cdktf';
import { Construct } from 'constructs';
import { volumeScriptHash } from './private/host-files';
import { runContainerName, validateAppName, validateEnvNames, validateLvmName, validateSizeMiB, validateVolumeRoot } from './private/names';
import { supervisorValueProblem } from './private/supervisor';
import { secretStepValues, templateValue } from './private/terraform-values';
import { privateKeyPreconditions, probeProgram, SshAccess, StepUpload, destroyProvisioners, stepProvisioners } from './private/host-steps';
import { ModulusStack } from './modulus-stack';
import { externalProvider, nullProvider } from './private/providers';
import type { DockerHost } from './docker-host';
import { HIDDEN, invalid, validateEnum } from './private/validation';
import { DEFAULT_VOLUME_HOST_ROOT, LvmThinPool, VolumeBackend } from './volume-storage';
import { reportsInvalidProps } from './private/synth-errors';

/**
 * What happens to the data when the volume leaves the Terraform state (`terraform destroy`, or a change of
 * app name, backend, host root or LVM location, which replaces the volume).
 */
export enum VolumeRemovalPolicy {
  /** Nothing: the volume stays mounted with its data; creating it again adopts it as it is. */
  RETAIN = 'retain',
  /** Unmount it and delete the backing file / logical volume and the host folder. */
  DESTROY = 'destroy',
}

/** Where and how an app's volume is stored (ModulusAppProps.volume). */
export interface AppVolumeOptions {
  /**
   * Size limit of the volume in MiB (1024 per GiB), a whole number from 64 (64 MiB) to 16777216 (16 TiB).
   * Writes past it fail with "No space left on device". Raising it grows the volume in place (online where the
   * kernel allows, else briefly offline when nothing has it mounted); lowering it is refused at apply time,
   * before anything changes.
   * @default 2048 (2 GiB)
   */
  readonly sizeMiB?: number;

  /** @default VolumeBackend.LOOPFILE */
  readonly backend?: VolumeBackend;

  /** Volume group and thin pool. Required with `VolumeBackend.LVM_THIN`, not allowed otherwise. */
  readonly lvm?: LvmThinPool;

  /**
   * Host folder of the volume: the loop file (`volume.img`) and the mount point (`mnt`, mounted into the
   * containers at /mnt) live here. An absolute path without '.' or '..' components.
   * @default `/var/lib/modulus/volumes/<app>`
   */
  readonly hostRoot?: string;

  /**
   * What `terraform destroy` (or a replacement of the volume) does with the data.
   * @default VolumeRemovalPolicy.RETAIN
   */
  readonly removalPolicy?: VolumeRemovalPolicy;
}

export interface AppVolumeProps extends AppVolumeOptions {
  /**
   * The app's name: a lowercase letter, then lowercase letters, digits or '-', ending in a letter or digit, at
   * most 40 characters. Names the host folder, the logical volume (`modulus-<app>`) and the app's containers.
   */
  readonly appName: string;

  /**
   * The image the steps inside the volume run in (laying it out, writing supervisor.conf, copying a build's
   * source, publishing a release): any image with bash, coreutils and tar (python3 to convert an app/ folder of a
   * release before 0.3), usually the app's run image. Those steps run as mop in a throw-away container that sees
   * only this volume (read-only root, no capabilities, no network), never as root on the host, because the app
   * owns everything inside the volume and may have replaced any of it with a link.
   */
  readonly image: string;

  /**
   * The Docker host whose filesystem holds the volume: on a `unix://` engine it is made with local-exec on this
   * machine, on any other host over SSH (`DockerHostProps.provisioning`), running the same volume script. The
   * host's volume settings are the defaults of `hostRoot`, `backend` and `lvm`.
   * @default the Terraform machine's own engine
   */
  readonly host?: DockerHost;

  /**
   * Environment of the app, written to /mnt/supervisor.conf (`[program:app] environment=`). Values may be
   * Terraform tokens. Values supervisor cannot read back unchanged (line breaks, whitespace before ';' or '#',
   * both kinds of quotes, a leading or trailing quote, '%(here)s') are refused: at synth for literals, at
   * apply (before the file is written) for tokens.
   * @default {}
   */
  readonly environment?: Record<string, string>;

  /**
   * @internal An app behind a router (ModulusApp): the ports of its blue and green slots; supervisor.conf then has
   * `[program:app-blue]` and `[program:app-green]` instead of `[program:app]`.
   */
  readonly _slotPorts?: readonly [number, number];

  /**
   * Secret environment values, written to supervisor.conf like `environment` (the file is 0600, owned by mop)
   * but passed to the volume script only as sensitive provisioner environment: never in a command line, in
   * plan output or in provisioner logs. Prefer tokens of sensitive variables: a literal value is part of the
   * synthesized JSON.
   * @default {}
   */
  readonly secretEnvironment?: Record<string, string>;
}

/** @internal One volume-script command run as a step of the volume (AppVolume._scriptStep). */
export interface VolumeScriptStep {
  /** The modulus-volume.sh command, e.g. 'publish'. */
  readonly command: string;
  /** What runs the step again when it changes (the volume's id is added). */
  readonly triggers: Record<string, string>;
  /** MODULUS_* variables on top of the volume's own. */
  readonly environment: Record<string, string>;
  /** @default [] */
  readonly dependsOn?: ITerraformDependable[];
  /** Files the step reads, uploaded first to a remote host. @default [] */
  readonly uploads?: StepUpload[];
}

/**
 * The size-limited host volume of one app, mounted into its containers at /mnt, with the Modulus layout:
 * app/ home/ log/ notifications/ tmp/ input/ output/ and supervisor.conf, owned by mop (441:444) and closed to
 * other users.
 *
 * Terraform resources: `null_resource`s (hashicorp/null 3.2.4, pinned exactly in the stack) with local-exec
 * provisioners calling scripts/volume/modulus-volume.sh, shipped with the stack as an asset. Every value reaches
 * the script through the provisioner's environment, never its command line.
 * - `Volume`: creates the volume (adopting an existing one as it is, data and all) and, on destroy, applies the
 *   recorded removal policy. `triggers` holds only the volume's identity (app, backend, host root, LVM location), so
 *   nothing else replaces it; its `modulus_volume` key marks it for the plan summary.
 * - `Config`: keyed on the environment (secrets only as sensitive hashes) and the scripts' content hash;
 *   rewrites supervisor.conf, so a release that renders it differently reaches existing apps.
 * - `State` (a read-only `data "external"`, hashicorp/external 2.3.5) asks the volume script on every plan
 *   whether the volume is healthy, and `Mount`, keyed on the answer, the scripts' content hash and the volume's
 *   settings, mounts it again and renews its layout (e.g. the marker the run images require), then applies the
 *   settings: grows the volume in place (refusing to shrink), records the removal policy on the host, where the
 *   Volume's destroy reads it (a destroy-time provisioner can only see its own resource, and a policy in the
 *   Volume's triggers would make a policy change replace, i.e. destroy, the volume under the old policy), and
 *   sets the app's process limit (a RunContainer's `processLimit`). A host that came back without its volumes
 *   (the boot unit did not run) shows as a planned `Mount` replacement instead of "no changes", and `cdktf
 *   deploy` heals it. The settings share this step (one resource per app instead of one each, for shorter plans);
 *   each is a no-op while unchanged, so a change of one re-runs the others harmlessly.
 *
 * `create` also registers the volume for the host's boot unit, which mounts it (and restores the app's process
 * limit) before the Docker engine starts containers after a reboot; see scripts/volume/README.md.
 */
@reportsInvalidProps
export class AppVolume extends Construct {
  /** The volume's `null_resource` (also `node.defaultChild`): replaced only when the volume itself is. */
  public readonly resource: NullResource;
  /** The app's name. */
  public readonly appName: string;
  public readonly backend: VolumeBackend;
  /** Size limit in MiB. */
  public readonly sizeMiB: number;
  /** Host folder of the volume. */
  public readonly hostRoot: string;
  /** Host folder to mount at /mnt: the volume's mount point, `<hostRoot>/mnt`. */
  public readonly hostPath: string;
  public readonly removalPolicy: VolumeRemovalPolicy;
  /** Id of the volume resource: changes only when the volume itself is replaced. */
  public readonly volumeId: string;
  /** Id of the supervisor.conf resource: changes whenever supervisor.conf is rewritten. */
  public readonly configId: string;
  /** The resources that must exist before a container mounts the volume. */
  public readonly ready: ITerraformDependable[];
  /** The host holding the volume, undefined for the Terraform machine's own engine. */
  public readonly host?: DockerHost;
  /** The image the steps inside the volume run in. */
  public readonly image: string;

  private readonly access?: SshAccess;
  private processLimit?: number;
  private readonly identityEnv: Record<string, string>;
  private readonly stepEnv: Record<string, string>;

  public constructor(scope: Construct, id: string, props: AppVolumeProps) {
    super(scope, id);

    this.appName = validateAppName(this, 'appName', props.appName);
    this.host = props.host;
    this.access = props.host?._access;
    if (props.host && !props.host.isLocal && !this.access) {
      throw invalid(
        this,
        'host',
        props.host.hostName,
        `give a host with provisioning access (DockerHostProps.provisioning): the volume of app '${this.appName}' must be made on host '${props.host.hostName}' (${props.host.engine}), which is not this machine`,
      );
    }
    const stackEngine = stackDockerHost(this);
    if (!props.host && stackEngine && !stackEngine.startsWith('unix://')) {
      throw invalid(
        this,
        'host',
        undefined,
        `give a DockerHost with provisioning access: the stack's engine ${stackEngine} is not this machine, and the volume of app '${this.appName}' must be made where its containers run`,
      );
    }
    this.backend = validateEnum(this, 'backend', props.backend ?? props.host?.volumeBackend ?? VolumeBackend.LOOPFILE, VolumeBackend, 'VolumeBackend');
    this.sizeMiB = validateSizeMiB(this, 'sizeMiB', props.sizeMiB ?? 2048);
    this.hostRoot = validateVolumeRoot(this, 'hostRoot', props.hostRoot ?? `${props.host?.volumeRoot ?? DEFAULT_VOLUME_HOST_ROOT}/${this.appName}`);
    this.hostPath = `${this.hostRoot}/mnt`;
    this.removalPolicy = validateEnum(this, 'removalPolicy', props.removalPolicy ?? VolumeRemovalPolicy.RETAIN, VolumeRemovalPolicy, 'VolumeRemovalPolicy');

    let vg = '';
    let pool = '';
    const lvm = props.lvm ?? (this.backend === props.host?.volumeBackend ? props.host?.volumeLvm : undefined);
    if (this.backend === VolumeBackend.LVM_THIN) {
      if (!lvm) throw invalid(this, 'lvm', props.lvm, 'give { volumeGroup, thinPool } with VolumeBackend.LVM_THIN');
      for (const [field, value] of [
        ['lvm.volumeGroup', lvm.volumeGroup],
        ['lvm.thinPool', lvm.thinPool],
      ] as const) {
        validateLvmName(this, field, value);
      }
      vg = lvm.volumeGroup;
      pool = lvm.thinPool;
    } else if (props.lvm) {
      throw invalid(this, 'lvm', props.lvm, `leave it out: it is only used with VolumeBackend.LVM_THIN, not '${this.backend}'`);
    }

    const environment = props.environment ?? {};
    const secrets = props.secretEnvironment ?? {};
    validateEnvNames(this, 'environment', environment);
    validateEnvNames(this, 'secretEnvironment', secrets);
    for (const name of Object.keys(secrets)) {
      if (name in environment) {
        throw invalid(this, 'secretEnvironment name', name, 'give each variable once: it is also in environment');
      }
    }
    for (const [field, env] of [
      ['environment', environment],
      ['secretEnvironment', secrets],
    ] as const) {
      for (const [name, value] of Object.entries(env)) {
        // The message names the variable, never the value (it may be a secret).
        if (typeof value !== 'string') throw invalid(this, `${field}.${name}`, HIDDEN, 'give a string');
        const problem = Token.isUnresolved(value) ? undefined : supervisorValueProblem(value);
        if (problem) throw invalid(this, `${field}.${name}`, HIDDEN, `the value ${problem}; give one supervisor.conf can hold unchanged`);
      }
    }

    if (typeof props.image !== 'string' || props.image.trim() === '') {
      throw invalid(this, 'image', props.image, "give an image id or reference with bash, coreutils and tar (e.g. the app's run image)");
    }
    this.image = props.image;
    this.identityEnv = {
      MODULUS_APP: this.appName,
      MODULUS_BACKEND: this.backend,
      MODULUS_ROOT: this.hostRoot,
      MODULUS_LVM_VG: vg,
      MODULUS_LVM_POOL: pool,
    };
    // The steps' own containers run on the volume's host: on a remote host its own engine; here, the engine the
    // stack's containers use (a unix:// one: any other was refused above).
    const engine = this.access ? undefined : props.host?.engine ?? stackEngine;
    this.stepEnv = { ...this.identityEnv, MODULUS_IMAGE: this.image, ...(engine ? { MODULUS_DOCKER_HOST: engine } : {}) };

    // Identity only: any key here replaces the volume when it changes. `modulus_volume` marks the resource for
    // the plan summary (scripts/plan-summary.ts), which flags replacing or destroying it.
    // A remote host's connection joins the triggers (destroy-time provisioners can read only `self`); the volume
    // script records the creating resource's id, so a replacement of the resource never removes the volume.
    const create = stepProvisioners(this, this.access, {
      script: 'modulus-volume.sh',
      command: 'create',
      // No image: the Mount step lays the volume out, so that the probe (which waits for this step) never waits
      // for an image on the host, whose engine may be the one that cannot be reached.
      environment: { ...this.identityEnv, MODULUS_SIZE_MIB: String(this.sizeMiB) },
      resourceId: this.access !== undefined,
    });
    // Destroy-time provisioners may only use self: the identity comes back from the triggers; the policy from
    // the host (recorded by the RemovalPolicy resource).
    const destroy = destroyProvisioners(this, this.access, {
      script: 'modulus-volume.sh',
      command: 'destroy',
      environment: {
        MODULUS_APP: '${self.triggers.modulus_volume}',
        MODULUS_BACKEND: '${self.triggers.backend}',
        MODULUS_ROOT: '${self.triggers.host_root}',
        MODULUS_LVM_VG: '${self.triggers.lvm_volume_group}',
        MODULUS_LVM_POOL: '${self.triggers.lvm_thin_pool}',
      },
      resourceId: this.access !== undefined,
    });
    this.resource = new NullResource(this, 'Volume', {
      provider: nullProvider(this),
      triggers: {
        modulus_volume: this.appName,
        backend: this.backend,
        host_root: this.hostRoot,
        lvm_volume_group: vg,
        lvm_thin_pool: pool,
        ...destroy.triggers,
      },
      provisioners: [...create.provisioners, ...destroy.provisioners],
      // A remote host's key is checked at plan time, before any step needs it.
      lifecycle: this.access ? { ...destroy.lifecycle, precondition: privateKeyPreconditions(this.access) } : destroy.lifecycle,
    });
    this.node.defaultChild = this.resource;
    this.volumeId = this.resource.id;

    // supervisor.conf: plain values are triggers as they are; secrets only as a sensitive hash, through a local
    // so that no literal secret ends up inside a Terraform expression.
    const names = (env: Record<string, string>) => Object.keys(env).sort();
    const scripts = volumeScriptHash(this);
    const configTriggers: Record<string, string> = { scripts_sha256: scripts };
    const configEnv: Record<string, string> = {
      MODULUS_ENV_NAMES: names(environment).join(' '),
      MODULUS_SECRET_NAMES: names(secrets).join(' '),
    };
    if (props._slotPorts) {
      configTriggers.slot_ports = props._slotPorts.join(' ');
      configEnv.MODULUS_SLOT_PORTS = props._slotPorts.join(' ');
    }
    for (const name of names(environment)) {
      const value = templateValue(environment[name]);
      configTriggers[`env_${name}`] = value;
      configEnv[`MODULUS_ENV_${name}`] = value;
    }
    const secretValues = secretStepValues(this, secrets, 'MODULUS_SECRET_');
    const config = this.step('Config', 'write-config', { ...configTriggers, ...secretValues.triggers }, { ...configEnv, ...secretValues.environment });
    this.configId = config.id;

    // Read at plan time, except while the volume itself changes (then after it, at apply time).
    const runContainer = runContainerName(this.appName);
    const probe = probeProgram(this, this.access, {
      app: this.appName,
      backend: this.backend,
      root: this.hostRoot,
      lvm_volume_group: vg,
      lvm_thin_pool: pool,
      // A run container of that name that Terraform's state does not know (left by an interrupted apply) is drift
      // the Mount step heals: it would block the container's creation.
      run_container: runContainer,
      ...(engine ? { docker_host: engine } : {}),
    });
    const state = new DataExternal(this, 'State', {
      provider: externalProvider(this),
      program: probe.program,
      query: probe.query,
      dependsOn: [this.resource],
    });
    // Keyed on the probe's health token: the token of the last heal while the volume is mounted, its process
    // limit in force and no run container outside the state in the way, a new one on every plan otherwise (so every
    // plan shows the drift until a deploy heals it). The step records the token it was keyed on, which the probe
    // then answers.
    const health = state.result.lookup('health');
    const size = String(this.sizeMiB);
    const processLimit = Lazy.stringValue({ produce: () => (this.processLimit === undefined ? '' : String(this.processLimit)) });
    const mount = this.step(
      'Mount',
      'apply-settings',
      { health, scripts_sha256: scripts, size_mib: size, removal_policy: this.removalPolicy, pids_max: processLimit },
      { MODULUS_HEAL_TOKEN: health, MODULUS_RUN_CONTAINER: runContainer, MODULUS_SIZE_MIB: size, MODULUS_REMOVAL_POLICY: this.removalPolicy, MODULUS_PIDS_MAX: processLimit },
    );
    this.ready = [this.resource, config, mount];
  }

  /**
   * A null_resource in `scope` that runs one volume-script command on the volume's host (after the volume
   * exists) whenever its triggers change. Used by BuildJob for prepare-build (uploading the source) and publish.
   * @internal
   */
  public _scriptStep(scope: Construct, id: string, step: VolumeScriptStep): NullResource {
    const { provisioners } = stepProvisioners(this, this.access, {
      script: 'modulus-volume.sh',
      command: step.command,
      environment: { ...this.stepEnv, ...step.environment },
      uploads: step.uploads ?? [],
    });
    const dependsOn = step.dependsOn ?? [];
    return new NullResource(scope, id, {
      provider: nullProvider(this),
      triggers: { volume: this.volumeId, ...step.triggers },
      dependsOn: dependsOn.length > 0 ? dependsOn : undefined,
      provisioners,
    });
  }

  /**
   * Sets the app's process limit (pids.max of its cgroup) in the Mount step, which applies it before the app's
   * containers start: the RunContainer's `processLimit`, already validated. One limit per volume.
   * @internal
   */
  public _limitProcesses(scope: Construct, processLimit: number): void {
    if (this.processLimit !== undefined && this.processLimit !== processLimit) {
      throw invalid(scope, 'processLimit', processLimit, `give the app's containers one limit: ${this.node.path} already has ${this.processLimit}`);
    }
    this.processLimit = processLimit;
  }

  private step(id: string, command: string, triggers: Record<string, string>, environment: Record<string, string>): NullResource {
    return this._scriptStep(this, id, { command, triggers, environment });
  }
}

/** The engine of the stack's default docker provider, when the stack is a ModulusStack. */
export function stackDockerHost(scope: Construct): string | undefined {
  const stack = TerraformStack.of(scope);
  return stack instanceof ModulusStack ? stack.dockerHost : undefined;
}
