import * as path from 'path';
import { Container, ContainerConfig, ContainerHealthcheck } from '@cdktf/provider-docker/lib/container';
import { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { AppVolume } from './app-volume';
import type { BuildJob } from './build-job';
import { NetworkMode } from './network-mode';
import { validateContainerProps } from './private/container-props';
import { runContainerName } from './private/names';
import { processLimitRange } from './private/host-rules';
import { MOP_USER } from './private/mop-user';
import { dockerEnv, settingsTriggers } from './private/terraform-values';
import { invalid, IPV4_PATTERN, requireLiteral, validateEnum, validateInteger } from './private/validation';
import { Language } from './standard-images';
import { reportsInvalidProps } from './private/synth-errors';

/** Docker restart policies of a run container. */
export enum RestartPolicy {
  /** Never restart. */
  NO = 'no',
  /** Restart when the container exits with a non-zero status. */
  ON_FAILURE = 'on-failure',
  /** Always restart, also after `docker stop` once the engine restarts. */
  ALWAYS = 'always',
  /** Restart unless stopped by hand: the container comes back after a reboot. */
  UNLESS_STOPPED = 'unless-stopped',
}

/** Where a bridge-networked app's port is published on the host. */
export interface PortPublication {
  /**
   * Host address to bind. The default keeps the app reachable only from the host (behind a proxy or router);
   * use '0.0.0.0' to expose it on every interface.
   * @default '127.0.0.1'
   */
  readonly hostIp?: string;
  /** @default the app's port */
  readonly hostPort?: number;
}

/** A further port of the app, published on the host (NetworkMode.BRIDGE only). */
export interface AdditionalPort {
  /** The port the app listens on inside its container. */
  readonly containerPort: number;
  /** @default containerPort */
  readonly hostPort?: number;
  /** @default '127.0.0.1' */
  readonly hostIp?: string;
}

/** A host folder or file bind-mounted into the run container, outside /mnt (the app's volume). */
export interface ContainerMount {
  /** Absolute path on the container's host (the app's DockerHost). Not `/` and not the Docker socket. */
  readonly source: string;
  /** Absolute path in the container: not `/`, and not /mnt or below (the app's volume). */
  readonly target: string;
  /**
   * The container only reads it.
   * @default true
   */
  readonly readOnly?: boolean;
}

/** HTTP health check: GET http://127.0.0.1:$PORT<path> with curl from inside the container. */
export interface HttpHealthCheck {
  /**
   * Request path. Any HTTP response counts as healthy (the check is about the app answering at all); a
   * refused or timed-out connection counts as unhealthy.
   * @default '/'
   */
  readonly path?: string;
  /** @default 15 */
  readonly intervalSeconds?: number;
  /** @default 5 */
  readonly timeoutSeconds?: number;
  /** @default 3 */
  readonly retries?: number;
  /** Failures during this time after start do not count. @default 30 */
  readonly startPeriodSeconds?: number;
  /**
   * Whether the deploy waits until the app answers the check's request, and fails if it does not within
   * `waitTimeoutSeconds` or supervisord gives the app up. A step of its own (`Ready`) asks from inside the new
   * container every 0.1 s: Docker 20.10's first probe comes only after `intervalSeconds`, and Docker's health
   * status follows then.
   * @default true
   */
  readonly waitForHealthy?: boolean;
  /** How long the deploy waits for the app to answer. @default 120 */
  readonly waitTimeoutSeconds?: number;
}

/** Everything about a run container but what ties it to an app and its network (ModulusAppProps.run). */
export interface RunContainerOptions {
  /**
   * Port the app listens on, passed as PORT; the health check and the published port use it.
   * @default 8080
   */
  readonly port?: number;

  /**
   * Memory limit in MiB, also passed as SERVO_SIZE (run-java and run-php size their heaps from it); swap is
   * limited to the same value (no swap).
   * @default 512
   */
  readonly memoryMiB?: number;

  /**
   * Port publication with NetworkMode.BRIDGE; false to publish nothing. Not allowed with HOST or NONE.
   * @default { hostIp: '127.0.0.1', hostPort: port } with BRIDGE, nothing otherwise
   */
  readonly publish?: PortPublication | false;

  /** @default RestartPolicy.UNLESS_STOPPED */
  readonly restart?: RestartPolicy;

  /** HTTP health check on PORT; false for none. @default {} (a check with the defaults) */
  readonly healthCheck?: HttpHealthCheck | false;

  /**
   * Docker's init (tini) as PID 1, reaping zombies and forwarding signals whatever the image's entrypoint is.
   * The Modulus images already start with their own tini; under Docker's init it runs as a subreaper
   * (TINI_SUBREAPER is set), which costs nothing and keeps the guarantee for any other image.
   * @default true
   */
  readonly init?: boolean;

  /**
   * The most processes and threads the app's containers may have together, enforced by the kernel (pids.max
   * of the app's parent cgroup `/modulus/<app>`; needs Docker's cgroupfs driver). A fork or new thread past it
   * fails inside this app only, so one app cannot exhaust the host's PIDs. Threads count: a JVM starts a few
   * dozen.
   * @default 512
   */
  readonly processLimit?: number;

  /**
   * json-file log driver options for the container's own output (supervisord's; the app logs to
   * /mnt/log/app.log on the volume).
   * @default { 'max-size': '10m', 'max-file': '3' }
   */
  readonly logOptions?: Record<string, string>;

  /**
   * Labels added to the container's, e.g. `{ 'com.example.team': 'shop' }`: lowercase keys of letters, digits,
   * '.' and '-' (Docker's recommended form); the `org.modulus.` prefix is this package's own.
   * @default {}
   */
  readonly labels?: Record<string, string>;

  /**
   * User-defined Docker networks (existing on the app's host) the container joins besides its own bridge, e.g. to
   * reach a database container by name. NetworkMode.BRIDGE only.
   * @default []
   */
  readonly networks?: string[];

  /**
   * Further bind mounts, outside /mnt, read-only unless said otherwise.
   * @default []
   */
  readonly mounts?: ContainerMount[];

  /**
   * Ports published besides PORT (e.g. a metrics port). NetworkMode.BRIDGE only; each host address and port once
   * per host (checked across the stack).
   * @default []
   */
  readonly additionalPorts?: AdditionalPort[];
}

export interface RunContainerProps extends RunContainerOptions {
  /**
   * BRIDGE (with the port published, for users), HOST (CI: apps bind 127.0.0.1 on the host's network, nothing
   * is published) or NONE.
   * @default NetworkMode.BRIDGE
   */
  readonly networkMode?: NetworkMode;

  /** The app's volume, mounted at /mnt. The container is replaced when supervisor.conf is rewritten. */
  readonly volume: AppVolume;

  /** The run image: id or reference of a run-<language> image, e.g. a ModulusImage's `imageId`. */
  readonly image: string;

  /** The app's language (labels the container; a language name, see `Language`). */
  readonly language: Language;

  /**
   * The build whose output the container runs. The container is created after the build's first publish and
   * is not replaced by later builds: each publish restarts the app inside it (see BuildJob), so a build that
   * fails leaves the running app alone and a successful one costs only the app's own restart.
   * @default none: the container runs whatever is in app/
   */
  readonly build?: BuildJob;

  /**
   * @internal An instance of a replicated app other than the one that builds: the step that publishes a release
   * delivered to its volume (the container is created after the first).
   */
  readonly _published?: ITerraformDependable;

  /**
   * @internal An app behind a router (ModulusApp's release): its second slot's port in the container, and on the
   * host with BRIDGE. The health check passes when either slot answers. With `release` (the publish step's
   * release settings; `dependsOn`: the routes, which the TakeOver step needs) and NetworkMode.HOST, a replacement
   * starts beside the serving container (handover.sh).
   */
  readonly _standby?: {
    readonly port: number;
    readonly hostPort?: number;
    readonly release?: { readonly environment: Record<string, string>; readonly dependsOn: ITerraformDependable[] };
  };
}

export { runContainerName };

/** @internal The variables of RunContainer's `_readinessEnvironment` (scripts/volume/ready.sh). */
export const READINESS_VARIABLES = ['MODULUS_READY_PORTS', 'MODULUS_HEALTH_PATH', 'MODULUS_HEALTH_TIMEOUT_SECONDS', 'MODULUS_READY_TIMEOUT_SECONDS'] as const;
/** @internal How a step asks whether the app answers; empty when nothing is to be asked. */
export type ReadinessEnvironment = Partial<Record<(typeof READINESS_VARIABLES)[number], string>>;

/**
 * The container that serves an app: a run-<language> image with the app's volume at /mnt, running
 * supervisord (which starts `start` from /mnt/supervisor.conf) as mop (441:444), with a read-only root file
 * system, all capabilities dropped, no-new-privileges, an init as PID 1, a memory limit without swap, a
 * restart policy, a process limit, an HTTP health check on PORT and rotated logs.
 */
@reportsInvalidProps
export class RunContainer extends Construct {
  /** The `docker_container` (also `node.defaultChild`). */
  public readonly resource: Container;
  /** `modulus-app-<app>`. */
  public readonly containerName: string;
  public readonly port: number;
  /**
   * @internal The host addresses and ports the app takes on its host (the stack checks them for collisions): those
   * it is published on, or with NetworkMode.HOST those it listens on (every address of the host), with the field
   * that sets each.
   */
  public readonly _published: ReadonlyArray<{ readonly ip: string; readonly port: number; readonly field: string }>;
  /**
   * Where the app's host reaches it: 127.0.0.1 and its port with NetworkMode.HOST, the published address and
   * port with BRIDGE (127.0.0.1 for one published on 0.0.0.0); undefined when nothing reaches it (NONE, or
   * `publish: false`). A ModulusRouter routes to it.
   */
  public readonly hostAddress?: { readonly ip: string; readonly port: number };
  /** Where the app's host reaches the app's second slot (an app behind a router), as `hostAddress`. */
  public readonly standbyHostAddress?: { readonly ip: string; readonly port: number };
  /**
   * What to depend on for a serving app: the `Ready` step, which ends once a new container's app answers (with
   * `healthCheck.waitForHealthy`), else the container.
   */
  public readonly ready: ITerraformDependable;
  /**
   * @internal How a step asks whether the app answers (ready.sh: MODULUS_READY_PORTS and the rest), from the health
   * check; empty without `healthCheck.waitForHealthy`. The `Ready` step's, and an in-place publish's.
   */
  public readonly _readinessEnvironment: ReadinessEnvironment;

  public constructor(scope: Construct, id: string, props: RunContainerProps) {
    super(scope, id);
    const { volume, language, memory, networkMode } = validateContainerProps(this, props, 512);
    this.port = validateInteger(this, 'port', props.port ?? 8080, 1, 65535);
    const restart = validateEnum(this, 'restart', props.restart ?? RestartPolicy.UNLESS_STOPPED, RestartPolicy, 'RestartPolicy');
    const init = props.init ?? true;

    const isolated = networkMode === NetworkMode.HOST || networkMode === NetworkMode.NONE;
    if (isolated && props.publish) {
      throw invalid(this, 'publish', props.publish, `leave it out or give false: ports cannot be published with network mode '${networkMode}'`);
    }
    const publication = isolated || props.publish === false ? undefined : props.publish ?? {};
    const ports = publication
      ? [
          {
            internal: this.port,
            external: validateInteger(this, 'publish.hostPort', publication.hostPort ?? this.port, 1, 65535),
            ip: validateHostIp(this, publication.hostIp ?? '127.0.0.1'),
            protocol: 'tcp',
          },
        ]
      : undefined;
    const standby = props._standby;
    if (ports && standby) {
      // By default the host ports keep the container ports' distance.
      ports.push({ internal: standby.port, external: standby.hostPort ?? ports[0].external + (standby.port - this.port), ip: ports[0].ip, protocol: 'tcp' });
      if (ports[1].external < 1 || ports[1].external > 65535 || ports[1].external === ports[0].external) {
        throw invalid(this, 'release.standbyHostPort', ports[1].external, `give a host port from 1 to 65535 other than ${ports[0].external}`);
      }
    }
    const additional = validateAdditionalPorts(this, props.additionalPorts ?? [], isolated ? networkMode : undefined);
    const allPorts = [...(ports ?? []), ...additional];
    this._published =
      networkMode === NetworkMode.HOST
        ? [{ ip: '0.0.0.0', port: this.port, field: 'port' }, ...(standby ? [{ ip: '0.0.0.0', port: standby.port, field: 'release.standbyPort' }] : [])]
        : allPorts.map((port) => ({ ip: port.ip, port: port.external, field: 'publish' }));
    const labelsExtra = validateLabels(this, props.labels ?? {});
    const networks = validateNetworks(this, props.networks ?? [], networkMode);
    const extraMounts = validateMounts(this, props.mounts ?? []);
    if (networkMode === NetworkMode.HOST) this.hostAddress = { ip: '127.0.0.1', port: this.port };
    else if (ports) this.hostAddress = { ip: ports[0].ip === '0.0.0.0' ? '127.0.0.1' : ports[0].ip, port: ports[0].external };
    if (standby && networkMode === NetworkMode.HOST) this.standbyHostAddress = { ip: '127.0.0.1', port: standby.port };
    else if (standby && ports) this.standbyHostAddress = { ip: this.hostAddress!.ip, port: ports[1].external };

    const logOptions = validateLogOptions(this, props.logOptions ?? { 'max-size': '10m', 'max-file': '3' });

    let healthcheck: ContainerHealthcheck | undefined;
    let readiness: { path: string; timeoutSeconds: number; waitTimeoutSeconds: number } | undefined;
    if (props.healthCheck !== false) {
      const check = props.healthCheck ?? {};
      const path = check.path ?? '/';
      if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/.test(path)) {
        throw invalid(this, 'healthCheck.path', path, `give a URL path: start with '/', no spaces or quotes`);
      }
      const interval = validateInteger(this, 'healthCheck.intervalSeconds', check.intervalSeconds ?? 15, 1, 3600);
      const timeout = validateInteger(this, 'healthCheck.timeoutSeconds', check.timeoutSeconds ?? 5, 1, 3600);
      const retries = validateInteger(this, 'healthCheck.retries', check.retries ?? 3, 1, 100);
      const startPeriod = validateInteger(this, 'healthCheck.startPeriodSeconds', check.startPeriodSeconds ?? 30, 0, 3600);
      // Exec form: no shell parses the path. curl is in the Modulus base image; no proxy for a loopback request.
      const curl = ['curl', '-sS', '-o', '/dev/null', '--noproxy', '*', '--max-time', String(timeout)];
      healthcheck = {
        test: standby
          ? // Either slot: the one serving, or (while a release starts) the other.
            ['CMD', 'bash', '-c', `${curl.map((a) => `'${a}'`).join(' ')} "$1" || ${curl.map((a) => `'${a}'`).join(' ')} "$2"`, 'health',
              `http://127.0.0.1:${this.port}${path}`, `http://127.0.0.1:${standby.port}${path}`]
          : ['CMD', ...curl, `http://127.0.0.1:${this.port}${path}`],
        interval: `${interval}s`,
        timeout: `${timeout + 1}s`,
        retries,
        startPeriod: `${startPeriod}s`,
      };
      if (check.waitForHealthy ?? true) {
        readiness = { path, timeoutSeconds: timeout, waitTimeoutSeconds: validateInteger(this, 'healthCheck.waitTimeoutSeconds', check.waitTimeoutSeconds ?? 120, 1, 3600) };
      }
    }

    this.containerName = runContainerName(volume.appName);
    this._readinessEnvironment = readiness
      ? {
          MODULUS_READY_PORTS: [this.port, ...(standby ? [standby.port] : [])].join(' '),
          MODULUS_HEALTH_PATH: readiness.path,
          MODULUS_HEALTH_TIMEOUT_SECONDS: String(readiness.timeoutSeconds),
          MODULUS_READY_TIMEOUT_SECONDS: String(readiness.waitTimeoutSeconds),
        }
      : {};
    const { min: minProcesses, max: maxProcesses } = processLimitRange();
    const processLimit = validateInteger(this, 'processLimit', props.processLimit ?? 512, minProcesses, maxProcesses);
    // Applied by the volume's Mount step, on the volume's host, before the build and this container (both run
    // under the app's cgroup: BuildJob's cgroup_parent, and this container's). No destroy step: the Volume's
    // destroy removes the limit, after the app's containers, which depend on it.
    volume._limitProcesses(this, processLimit);
    // Where the app binds: loopback when it shares the host's network (or has none), every interface of its own
    // network namespace otherwise, so a published port reaches it. The run images and samples read HOST.
    const bindAddress = isolated ? '127.0.0.1' : '0.0.0.0';
    const env: Record<string, string> = { HOST: bindAddress, PORT: String(this.port), SERVO_SIZE: String(memory) };
    if (init) env.TINI_SUBREAPER = '1';

    const labels = [
      { label: 'org.modulus.app', value: volume.appName },
      { label: 'org.modulus.role', value: 'run' },
      { label: 'org.modulus.language', value: language },
      // Labels force a new container when they change: a rewritten supervisor.conf or a new volume. (A new build
      // does not: its publish step restarts the app in place.)
      { label: 'org.modulus.volume', value: volume.volumeId },
      { label: 'org.modulus.config', value: volume.configId },
      ...Object.entries(labelsExtra).map(([label, value]) => ({ label, value })),
    ];

    const settings: ContainerConfig = {
      name: this.containerName,
      image: props.image,
      user: MOP_USER,
      readOnly: true,
      capabilities: { drop: ['ALL'] },
      securityOpts: ['no-new-privileges:true'],
      init,
      memory,
      memorySwap: memory,
      restart,
      networkMode,
      ports: allPorts.length > 0 ? allPorts : undefined,
      networksAdvanced: networks.length > 0 ? networks.map((name) => ({ name })) : undefined,
      env: dockerEnv(env),
      mounts: [
        { type: 'bind', source: volume.hostPath, target: '/mnt' },
        ...extraMounts.map((mount) => ({ type: 'bind', source: mount.source, target: mount.target, readOnly: mount.readOnly ?? true })),
      ],
      healthcheck,
      logDriver: 'json-file',
      logOpts: logOptions,
      labels,
      mustRun: true,
      destroyGraceSeconds: 10,
      cgroupParent: `/modulus/${volume.appName}`,
    };
    // The build's publish restarts the app in place (no second slot): it waits for the answer this container's does.
    if (props.build && !standby) props.build._awaitAnswerIn(volume, this._readinessEnvironment);
    const dependsOn = [...volume.ready, ...(props.build ? [props.build.published] : []), ...(props._published ? [props._published] : [])];
    if (standby?.release && networkMode === NetworkMode.HOST) {
      // Replaced beside the serving container, which serves until the new one's slot has taken over; a bridge's
      // published ports and the app's own port without a second slot cannot be held twice, so only here.
      const environment = { MODULUS_RUN_CONTAINER: this.containerName, ...standby.release.environment };
      const handover = volume._scriptStep(this, 'Handover', {
        command: 'hand-over',
        triggers: settingsTriggers(settings),
        environment,
        dependsOn,
      });
      this.resource = new Container(this, 'Container', {
        ...settings,
        provider: volume.host?.resource,
        dependsOn: [...dependsOn, handover],
        lifecycle: { createBeforeDestroy: true },
      });
      // `terraform apply -replace` of the Handover step replaces the container too. An override: cdktf 0.21 renders
      // `replaceTriggeredBy` as an interpolation, which Terraform refuses (hashicorp/terraform-cdk#3196).
      this.resource.addOverride('lifecycle.replace_triggered_by', [`${handover.terraformResourceType}.${handover.friendlyUniqueId}`]);
      this.ready = this.readyStep(volume);
      volume._scriptStep(this, 'TakeOver', {
        command: 'take-over',
        triggers: { container: this.resource.id },
        environment,
        dependsOn: [this.ready, ...standby.release.dependsOn],
      });
    } else {
      this.resource = new Container(this, 'Container', { ...settings, provider: volume.host?.resource, dependsOn });
      this.ready = this.readyStep(volume);
    }
    this.node.defaultChild = this.resource;
  }

  /** The step that waits for a new container's app to answer (either slot), on the volume's host. */
  private readyStep(volume: AppVolume): ITerraformDependable {
    if (Object.keys(this._readinessEnvironment).length === 0) return this.resource;
    return volume._scriptStep(this, 'Ready', {
      command: 'await-ready',
      triggers: { container: this.resource.id },
      environment: { MODULUS_RUN_CONTAINER: this.containerName, ...this._readinessEnvironment },
      dependsOn: [this.resource],
    });
  }
}

/** json-file options Docker accepts, with the form of each value. */
const LOG_OPTIONS: Record<string, [RegExp, string]> = {
  'max-size': [/^[1-9]\d*[kmg]?$/, "a size such as '10m' (a whole number, then k, m or g)"],
  'max-file': [/^[1-9]\d*$/, "a whole number of files such as '3'"],
  compress: [/^(true|false)$/, "'true' or 'false'"],
  labels: [/^[^\s]*$/, 'a comma-separated list of label names'],
  'labels-regex': [/^.+$/, 'a regular expression'],
  env: [/^[^\s]*$/, 'a comma-separated list of variable names'],
  'env-regex': [/^.+$/, 'a regular expression'],
  tag: [/^.+$/, 'a log tag template'],
};

function validateLogOptions(scope: Construct, options: Record<string, string>): Record<string, string> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid(scope, 'logOptions', options, "give json-file options, e.g. { 'max-size': '10m', 'max-file': '3' }");
  }
  for (const [name, value] of Object.entries(options)) {
    const rule = LOG_OPTIONS[name];
    if (!rule) throw invalid(scope, 'logOptions', name, `use json-file options: ${Object.keys(LOG_OPTIONS).join(', ')}`);
    requireLiteral(scope, `logOptions['${name}']`, value);
    if (typeof value !== 'string' || !rule[0].test(value)) throw invalid(scope, `logOptions['${name}']`, value, `give ${rule[1]}`);
  }
  return options;
}

function validateAdditionalPorts(scope: Construct, ports: AdditionalPort[], isolatedMode: NetworkMode | undefined) {
  if (!Array.isArray(ports)) throw invalid(scope, 'additionalPorts', ports, 'give a list of { containerPort, hostPort?, hostIp? }');
  if (isolatedMode && ports.length > 0) {
    throw invalid(scope, 'additionalPorts', ports, `leave it out: ports cannot be published with network mode '${isolatedMode}'`);
  }
  return ports.map((port, index) => ({
    internal: validateInteger(scope, `additionalPorts[${index}].containerPort`, port?.containerPort, 1, 65535),
    external: validateInteger(scope, `additionalPorts[${index}].hostPort`, port?.hostPort ?? port?.containerPort, 1, 65535),
    ip: validateHostIp(scope, port?.hostIp ?? '127.0.0.1', `additionalPorts[${index}].hostIp`),
    protocol: 'tcp',
  }));
}

function validateLabels(scope: Construct, labels: Record<string, string>): Record<string, string> {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw invalid(scope, 'labels', labels, "give an object of label names and values, e.g. { 'com.example.team': 'shop' }");
  }
  for (const [key, value] of Object.entries(labels)) {
    if (!/^[a-z0-9]([a-z0-9.-]{0,126}[a-z0-9])?$/.test(key) || key.startsWith('org.modulus.')) {
      throw invalid(scope, 'labels', key, "use lowercase letters, digits, '.' and '-' (e.g. 'com.example.team'), not the package's own org.modulus. prefix");
    }
    if (typeof value !== 'string') throw invalid(scope, `labels['${key}']`, value, 'give a string');
  }
  return labels;
}

function validateNetworks(scope: Construct, networks: string[], networkMode: NetworkMode): string[] {
  if (!Array.isArray(networks)) throw invalid(scope, 'networks', networks, "give a list of Docker network names, e.g. ['backend']");
  if (networks.length > 0 && networkMode !== NetworkMode.BRIDGE) {
    throw invalid(scope, 'networks', networks, `leave it out: network mode '${networkMode}' joins no other network`);
  }
  networks.forEach((name, index) => {
    requireLiteral(scope, `networks[${index}]`, name);
    if (typeof name !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(name) || ['bridge', 'host', 'none'].includes(name)) {
      throw invalid(scope, `networks[${index}]`, name, "give the name of a user-defined Docker network (letters, digits, '_', '.', '-'; not bridge, host or none)");
    }
  });
  if (new Set(networks).size !== networks.length) throw invalid(scope, 'networks', networks, 'name each network once');
  return networks;
}

function validateMounts(scope: Construct, mounts: ContainerMount[]): ContainerMount[] {
  if (!Array.isArray(mounts)) throw invalid(scope, 'mounts', mounts, 'give a list of { source, target, readOnly? }');
  const targets = new Set<string>();
  mounts.forEach((mount, index) => {
    const source = mount?.source;
    const target = mount?.target;
    requireLiteral(scope, `mounts[${index}].source`, source);
    requireLiteral(scope, `mounts[${index}].target`, target);
    const normal = (p: string) => path.posix.normalize(p).replace(/\/+$/, '') || '/';
    if (typeof source !== 'string' || !source.startsWith('/') || normal(source) === '/' || /^\/(var\/)?run\/docker\.sock$/.test(normal(source))) {
      throw invalid(scope, `mounts[${index}].source`, source, 'give an absolute host path other than / and the Docker socket');
    }
    if (typeof target !== 'string' || !target.startsWith('/') || normal(target) === '/' || normal(target) === '/mnt' || normal(target).startsWith('/mnt/')) {
      throw invalid(scope, `mounts[${index}].target`, target, 'give an absolute container path outside /mnt (the app\'s volume) other than /');
    }
    if (targets.has(normal(target))) throw invalid(scope, `mounts[${index}].target`, target, 'mount each container path once');
    targets.add(normal(target));
    if (mount.readOnly !== undefined && typeof mount.readOnly !== 'boolean') {
      throw invalid(scope, `mounts[${index}].readOnly`, mount.readOnly, 'give true or false');
    }
  });
  return mounts;
}

function validateHostIp(scope: Construct, ip: string, field = 'publish.hostIp'): string {
  requireLiteral(scope, field, ip);
  if (typeof ip !== 'string' || !(IPV4_PATTERN.test(ip) || /^[0-9a-fA-F:]+$/.test(ip) && ip.includes(':'))) {
    throw invalid(scope, field, ip, `give an IP address (e.g. '127.0.0.1' or '0.0.0.0')`);
  }
  return ip;
}
