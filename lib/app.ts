import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import { Construct } from 'constructs';
import { AppVolume, AppVolumeOptions } from './app-volume';
import { BuildJob, BuildJobOptions } from './build-job';
import { DockerHost } from './docker-host';
import { ImageHierarchy } from './image-hierarchy';
import { PushedHierarchy } from './image-registry';
import { NetworkMode } from './network-mode';
import { validateAppName, validateLanguage } from './private/names';
import { invalid, validateInteger } from './private/validation';
import { releaseSettings, ReleaseSettings } from './private/release';
import { withoutTokenTraces } from './private/stack-traces';
import { ReleaseOptions, ReplicaOptions } from './release';
import { ModulusRouter, RouteServer } from './router';
import { RunContainer, RunContainerOptions } from './run-container';
import { Language } from './standard-images';
import { refusedConstruct, reportsInvalidProps } from './private/synth-errors';

export interface ModulusAppProps {
  /**
   * The app's name: a lowercase letter, then lowercase letters, digits or '-', ending in a letter or digit, at
   * most 40 characters. Its run container is `modulus-app-<appName>`, its builds
   * `modulus-build-<appName>-<UTC time of the build>`.
   */
  readonly appName: string;

  /**
   * The app's language: one of LANGUAGES or any other language name (a lowercase letter, then lowercase
   * letters or digits) whose `build-<language>` and `run-<language>` images `images` has, e.g. `python`.
   */
  readonly language: Language;

  /** Local folder with the app's source (see BuildJobProps.source). */
  readonly source: string;

  /**
   * Where the images come from: `build-<language>` and `run-<language>` of a hierarchy built on this engine, or
   * of a hierarchy pushed to a registry (`PushedHierarchy`), which the app's host pulls by digest. Synth fails,
   * naming the images it looked for, when one of them is missing and not given as `buildImage`/`runImage`.
   * @default none: `buildImage` and `runImage` are required
   */
  readonly images?: ImageHierarchy | PushedHierarchy;

  /**
   * The Docker host the app runs on: its build and run containers use the host's provider, its volume is made
   * on the host, and images of a `PushedHierarchy` are pulled there by digest. A host other than this machine
   * needs its images from a registry (`images` a PushedHierarchy, or `buildImage`/`runImage` references).
   * @default the stack's default docker provider, volumes on this machine
   */
  readonly host?: DockerHost;

  /**
   * The host that builds the app's releases, when not the app's own: a host of this machine's engine (`unix://`),
   * usually the build host of the images. The build runs there, in a volume of its own of the app's size (its
   * source, output and build cache; `volume`'s options apply), and each release reaches the app's host as it
   * reaches a replica: exported once, uploaded over SSH and published under the same release id. The app's host
   * then needs no build image: with a PushedHierarchy it pulls only the run image. Not with `replicas`, whose
   * first host builds.
   * @default the app's host
   */
  readonly buildHost?: DockerHost;

  /**
   * Build image id or reference, e.g. a ModulusImage's `imageId`; takes precedence over `images`.
   * @default the `build-<language>` image of `images`
   */
  readonly buildImage?: string;

  /**
   * Run image id or reference, e.g. a ModulusImage's `imageId`; takes precedence over `images`.
   * @default the `run-<language>` image of `images`
   */
  readonly runImage?: string;

  /**
   * Network of the build and of the running app (see RunContainerProps.networkMode).
   * @default NetworkMode.BRIDGE
   */
  readonly networkMode?: NetworkMode;

  /**
   * Environment of the app, in its supervisor.conf (AppVolumeProps.environment). PORT and SERVO_SIZE come from
   * `run.port` and `run.memoryMiB`.
   * @default {}
   */
  readonly environment?: Record<string, string>;

  /** Secret environment of the app (AppVolumeProps.secretEnvironment). @default {} */
  readonly secretEnvironment?: Record<string, string>;

  /** The app's volume: size, backend, host folder, removal policy. @default AppVolumeOptions' defaults */
  readonly volume?: AppVolumeOptions;

  /** Its builds: timeout, memory, environment. @default BuildJobOptions' defaults */
  readonly build?: BuildJobOptions;

  /** Its run container: port, memory, publication, restart, health check, process limit. @default RunContainerOptions' defaults */
  readonly run?: RunContainerOptions;

  /**
   * The router that answers for the app at `<appName>.<domain>` (on the app's host): the app registers its
   * route there. @default none: the app is reached only on its own port
   */
  readonly router?: ModulusRouter;

  /**
   * Maintenance: when set, the router answers every request for the app with 503 and this message (1 to 200
   * characters: letters, digits, spaces and . , : ; ! ? ( ) / @ & + = _ -); unset it to serve again. The app keeps
   * running; a change reloads the router without a failed request for any app. Needs `router`.
   * @default none: the router passes requests to the app
   */
  readonly maintenance?: string;

  /**
   * How a new release takes over, with `router`: it starts in the idle one of the app's two slots beside the
   * serving one, takes requests only once its health check passes, then the serving slot drains and stops. A
   * release that fails its health check never takes a request; the deploy fails with its last log lines.
   * @default with router: ReleaseOptions' defaults (GET / answers 200); without router: a release restarts the app in place
   */
  readonly release?: ReleaseOptions;

  /**
   * Run the app on several hosts, one instance each with its own volume, run container and process limit, behind
   * the routers of every host; one build per release, delivered to every instance and rolled out a batch at a
   * time (see ReplicaOptions). Replaces `host` and `router`.
   * @default one instance, on `host`
   */
  readonly replicas?: ReplicaOptions;
}

/**
 * One Modulus app: its volume, a build of its source and the container that runs it.
 *
 * Order and change propagation come from references, not from hand-written dependencies:
 * volume → copy of the source into input/ → build (replaced when the source or build image changes) →
 * publish output/ as the release app links to, and restart the app in place → run container (created after the
 * first publish; replaced when supervisor.conf is rewritten or the run image changes, never by a build). A failed build fails
 * the deploy and leaves the running app, its files and its volume alone.
 */
@reportsInvalidProps
export class ModulusApp extends Construct {
  /** The first instance's volume. */
  public readonly volume: AppVolume;
  /** The build: on `buildHost`, else on the first instance's host. */
  public readonly build: BuildJob;
  /** The first instance's run container. */
  public readonly run: RunContainer;
  /** Every instance, the first (which builds) first: one unless `replicas`. */
  public readonly instances: AppInstance[];
  /** `modulus-app-<name>`. */
  public readonly containerName: string;

  public constructor(scope: Construct, id: string, props: ModulusAppProps) {
    super(scope, id);
    const appName = validateAppName(this, 'appName', props.appName);
    const language = validateLanguage(this, 'language', props.language);
    for (const [reserved, from] of [
      ['PORT', 'run.port'],
      ['SERVO_SIZE', 'run.memoryMiB'],
    ]) {
      if (props.environment && reserved in props.environment) {
        throw invalid(this, `environment.${reserved}`, props.environment[reserved], `leave it out: it is set from ${from}`);
      }
    }
    if (props.router !== undefined && !(props.router instanceof ModulusRouter)) throw invalid(this, 'router', props.router, 'give a ModulusRouter');
    refuseRefusedConstructs(this, { images: props.images, host: props.host, buildHost: props.buildHost, router: props.router });
    const port = props.run?.port ?? 8080;
    const placement = props.replicas === undefined ? undefined : replicaPlacement(this, props, port);
    if (props.release !== undefined && props.router === undefined && placement === undefined) {
      throw invalid(this, 'release', props.release, 'leave it out, or give router: releases start beside the running one behind a router');
    }
    const release = props.router || placement ? releaseSettings(this, props.release ?? {}, port) : undefined;
    const instances = placement ?? [{ host: props.host, port, router: props.router }];
    const buildHost = this.separateBuildHost(props);
    const images = instances.map((instance, index) => this.resolveImages(language, props, instance.host, index === 0 && buildHost === undefined));
    const builderImages = buildHost && this.resolveImages(language, props, buildHost, true);

    // Each part takes its options whole: a new option of a part reaches it without a change here.
    // Under withoutTokenTraces: cdktf's traces of the tokens the parts make were most of a large synth's time.
    const parts = withoutTokenTraces(() => {
      const placed: AppInstance[] = [];
      // On a build host of its own (under `build-<host name>`: another build host is another build), the build's
      // volume is not an instance's: every instance receives its releases.
      const builder = buildHost && new Construct(this, `build-${buildHost.hostName}`);
      let build: BuildJob | undefined =
        builder &&
        new BuildJob(builder, 'Build', {
          ...props.build,
          // No app runs in it: its supervisor.conf holds none of the app's environment (nor its secrets).
          volume: new AppVolume(builder, 'Volume', { ...props.volume, appName, image: builderImages!.run, host: buildHost }),
          image: builderImages!.build!,
          language,
          source: props.source,
          networkMode: props.networkMode,
        });
      const batchSize = placement ? validateInteger(this, 'replicas.batchSize', props.replicas!.batchSize ?? 1, 1, instances.length) : 1;
      instances.forEach((instance, index) => {
        // The first instance keeps the ids of an app on one host; the others are under `instance-<host name>`.
        const scope = index === 0 ? this : new Construct(this, `instance-${instance.host!.hostName}`);
        const standbyPort = release ? instance.port + (release.standbyPort - port) : undefined;
        const volume = new AppVolume(scope, 'Volume', {
          ...props.volume,
          appName,
          image: images[index].run,
          host: instance.host,
          environment: props.environment,
          secretEnvironment: props.secretEnvironment,
          _slotPorts: release ? [instance.port, standbyPort!] : undefined,
        });
        // A release talks to the router: it comes once the router of this deploy serves alone, with its routes.
        const releaseEnv = release && instance.router ? releaseEnvironment(appName, release, instance.router, instance.port, standbyPort!) : undefined;
        const routerServing = releaseEnv ? [instance.router!._servingStep] : [];
        // A rolling release: each batch of instances publishes after the one before has.
        const previousBatch = placed.filter((_, other) => Math.floor(other / batchSize) === Math.floor(index / batchSize) - 1).map((other) => other.published);
        let published: NullResource;
        const builds = build === undefined;
        if (build === undefined) {
          build = new BuildJob(scope, 'Build', {
            ...props.build,
            volume,
            image: images[index].build!,
            language,
            source: props.source,
            networkMode: props.networkMode,
            _release: releaseEnv && { environment: releaseEnv, dependsOn: routerServing },
          });
          published = build.published;
        } else {
          published = build._deliverTo(scope, volume, { environment: releaseEnv ?? {}, dependsOn: [...previousBatch, ...routerServing] });
        }
        const run = new RunContainer(scope, 'Run', {
          ...props.run,
          port: instance.port,
          volume,
          image: images[index].run,
          language,
          networkMode: props.networkMode,
          build: builds ? build : undefined,
          _published: builds ? undefined : published,
          _standby: release
            ? { port: standbyPort!, hostPort: release.standbyHostPort, release: releaseEnv && { environment: releaseEnv, dependsOn: routerServing } }
            : undefined,
        });
        // A delivered release restarted in place waits for the app to answer there too (the build's own instance:
        // RunContainer's `build`).
        if (!builds && !releaseEnv) build._awaitAnswerIn(volume, run._readinessEnvironment);
        placed.push({ host: instance.host, volume, run, published });
      });
      return { instances: placed, build: build! };
    });
    this.instances = parts.instances;
    this.volume = parts.instances[0].volume;
    this.build = parts.build;
    this.run = parts.instances[0].run;
    this.containerName = this.run.containerName;
    if (placement !== undefined) {
      this.addReplicatedRoutes(appName, props, release!);
    } else if (props.router !== undefined) {
      if (props.router.host !== props.host) {
        throw invalid(this, 'router', props.router, `give the router of the app's host (${props.host ? props.host.hostName : "the stack's engine"}): it reaches apps on its own host only`);
      }
      const standby = this.run.standbyHostAddress;
      props.router.addRoute(this, appName, this.run.hostAddress, {
        maintenance: props.maintenance,
        release: release && standby ? { ...release, standby } : undefined,
      });
    } else if (props.maintenance !== undefined) {
      throw invalid(this, 'maintenance', props.maintenance, 'leave it out, or give router: the router answers for an app in maintenance');
    }
  }

  /** `buildHost` when it is not the app's host: a DockerHost of this machine's engine, without `replicas`. */
  private separateBuildHost(props: ModulusAppProps): DockerHost | undefined {
    const buildHost = props.buildHost;
    if (buildHost === undefined || buildHost === props.host) return undefined;
    if (!(buildHost instanceof DockerHost)) throw invalid(this, 'buildHost', buildHost, 'give a DockerHost');
    if (props.replicas !== undefined) {
      throw invalid(this, 'buildHost', buildHost.hostName, 'leave it out: with replicas, the first of replicas.hosts builds each release');
    }
    if (!buildHost.isLocal) {
      throw invalid(this, 'buildHost', buildHost.hostName, "give a host of this machine's engine (unix://): each release reaches the app's host through this machine");
    }
    return buildHost;
  }

  /** Every router of `replicas` gets every slot of every instance: its own host's as blue/green, others' by host. */
  private addReplicatedRoutes(appName: string, props: ModulusAppProps, release: ReleaseSettings): void {
    const publishedOn = props.run?.publish ? props.run.publish.hostIp ?? '127.0.0.1' : '127.0.0.1';
    const retryGetAfterMillis = validateInteger(this, 'replicas.retryGetAfterMillis', props.replicas!.retryGetAfterMillis ?? 10_000, 100, 60_000);
    const instances = this.instances.map((instance, index) => {
      const slots = [instance.run.hostAddress, instance.run.standbyHostAddress];
      if (slots.some((slot) => slot === undefined)) {
        throw invalid(this, 'networkMode', props.networkMode, 'give NetworkMode.HOST, or BRIDGE with the ports published: the routers reach every instance');
      }
      return { index, host: instance.host!, slots: slots as Array<{ ip: string; port: number }> };
    });
    for (const router of props.replicas!.routers) {
      const servers = instances.flatMap(({ index, host, slots }): RouteServer[] => {
        if (host === router.host) return slots.map((address, which) => ({ name: SLOTS[which], ...address }));
        if (host.appAddress === undefined) {
          throw invalid(this, `replicas.hosts[${index}]`, host.hostName, `give that DockerHost an appAddress: the router of ${router.host ? `host '${router.host.hostName}'` : "the stack's engine"} reaches its instance there`);
        }
        if (props.networkMode !== NetworkMode.HOST && publishedOn !== '0.0.0.0') {
          throw invalid(this, 'run.publish.hostIp', publishedOn, "give '0.0.0.0' (or NetworkMode.HOST): routers on other hosts reach the instances at their hosts' appAddress");
        }
        return slots.map((address, which) => ({ name: `${host.hostName}-${SLOTS[which]}`, ip: host.appAddress!, port: address.port }));
      });
      router._addReplicatedRoute(this, appName, servers, release, props.maintenance, retryGetAfterMillis);
    }
  }

  /** `buildImage`/`runImage` as given, else `build-<language>`/`run-<language>` from `images` (pulled on `host`). */
  private resolveImages(language: Language, props: ModulusAppProps, host: DockerHost | undefined, builds: boolean): { build?: string; run: string } {
    const wanted = { build: `build-${language}`, run: `run-${language}` };
    const images = props.images;
    if (images !== undefined && !(images instanceof ImageHierarchy) && !(images instanceof PushedHierarchy)) {
      throw invalid(this, 'images', images, 'give an ImageHierarchy or a PushedHierarchy');
    }
    if (props.host !== undefined && !(props.host instanceof DockerHost)) throw invalid(this, 'host', props.host, 'give a DockerHost');
    const has = (name: string) => (images instanceof PushedHierarchy ? images.names.includes(name) : images?.tryImage(name) !== undefined);
    const missing = (['build', 'run'] as const).filter((kind) => props[`${kind}Image`] === undefined && !has(wanted[kind]));
    if (missing.length > 0) {
      const lookedFor = missing.map((kind) => wanted[kind]).join(' and ');
      const fields = missing.map((kind) => `${kind}Image`).join(' and ');
      const names = images instanceof PushedHierarchy ? images.names : images?.names;
      throw invalid(
        this,
        'language',
        language,
        images
          ? `it needs the image${missing.length > 1 ? 's' : ''} ${lookedFor}, which ${images.node.path} does not have ` +
              `(it has ${names!.join(', ')}): add ${missing.length > 1 ? 'them' : 'it'} through ImageHierarchyProps.additionalImages, or pass ${fields}`
          : `it has no images: pass images (an ImageHierarchy with ${lookedFor}) or ${fields}`,
      );
    }
    const needed = (['build', 'run'] as const).filter((kind) => props[`${kind}Image`] === undefined);
    if (needed.length > 0 && images instanceof ImageHierarchy && host && !host.isLocal) {
      throw invalid(this, 'images', images, `give a PushedHierarchy: host '${host.hostName}' (${host.engine}) is not this machine and pulls its images from a registry`);
    }
    const image = (kind: 'build' | 'run'): string => {
      const given = props[`${kind}Image`];
      if (given !== undefined) return given;
      if (images instanceof ImageHierarchy) return images.image(wanted[kind]).imageId;
      return images!.imageIdOn(wanted[kind], host);
    };
    // Only the first instance builds: the others need no build image.
    return { build: builds ? image('build') : undefined, run: image('run') };
  }
}

/** One instance of an app: its host, volume, run container and the step that publishes each release in it. */
export interface AppInstance {
  /** @default the stack's engine */
  readonly host?: DockerHost;
  readonly volume: AppVolume;
  readonly run: RunContainer;
  /** Publishes each release in this instance (the build's own step for the first instance). */
  readonly published: NullResource;
}

/** An instance's two slots, in the order of its servers in a router. */
const SLOTS = ['blue', 'green'] as const;

/** Where one instance runs: its host, port and the router of that host. */
interface Placement {
  readonly host?: DockerHost;
  readonly port: number;
  readonly router?: ModulusRouter;
}

/** `replicas`, validated: one instance on each of the first `count` hosts. */
function replicaPlacement(scope: ModulusApp, props: ModulusAppProps, port: number): Placement[] {
  const replicas = props.replicas!;
  if (typeof replicas !== 'object' || replicas === null || Array.isArray(replicas)) {
    throw invalid(scope, 'replicas', replicas, 'give ReplicaOptions: { hosts: [a, b], routers: [routerA, routerB] }');
  }
  if (props.host !== undefined) throw invalid(scope, 'host', props.host, 'leave it out: the instances run on replicas.hosts');
  if (props.router !== undefined) throw invalid(scope, 'router', props.router, 'leave it out: give the router of every host in replicas.routers');
  const hosts = replicas.hosts;
  if (!Array.isArray(hosts) || hosts.length === 0 || hosts.some((host) => !(host instanceof DockerHost))) {
    throw invalid(scope, 'replicas.hosts', hosts, 'give one or more DockerHosts');
  }
  hosts.forEach((host, index) => {
    const twin = hosts.findIndex((other) => other === host || other.engine === host.engine);
    if (twin !== index) throw invalid(scope, `replicas.hosts[${index}]`, host.hostName, `give each host once: it is the engine of replicas.hosts[${twin}] (one instance per host)`);
  });
  const count = validateInteger(scope, 'replicas.count', replicas.count ?? hosts.length, 1, hosts.length);
  if (hosts[0]._access !== undefined || !hosts[0].isLocal) {
    throw invalid(scope, 'replicas.hosts[0]', hosts[0].hostName, "put a host of this machine's engine (unix://) first: it builds each release, which reaches the other hosts through this machine");
  }
  const routers = replicas.routers;
  if (!Array.isArray(routers) || routers.some((router) => !(router instanceof ModulusRouter))) {
    throw invalid(scope, 'replicas.routers', routers, 'give the ModulusRouter of each host of an instance');
  }
  refuseRefusedConstructs(scope, Object.fromEntries([...hosts.map((host, index) => [`replicas.hosts[${index}]`, host]), ...routers.map((router, index) => [`replicas.routers[${index}]`, router])]));
  const ports = replicas.ports ?? {};
  for (const name of Object.keys(ports)) {
    if (!hosts.slice(0, count).some((host) => host.hostName === name)) {
      throw invalid(scope, `replicas.ports.${name}`, ports[name], `give ports of the instances' hosts only: ${hosts.slice(0, count).map((host) => host.hostName).join(', ')}`);
    }
  }
  return hosts.slice(0, count).map((host, index) => {
    const own = routers.filter((router) => router.host === host);
    if (own.length !== 1) {
      throw invalid(scope, 'replicas.routers', routers.map((router) => router.node.path), `give one router of host '${host.hostName}' (replicas.hosts[${index}]): ${own.length === 0 ? 'it has none' : `it has ${own.length}`}`);
    }
    const instancePort = ports[host.hostName] === undefined ? port : validateInteger(scope, `replicas.ports.${host.hostName}`, ports[host.hostName], 1, 65535);
    return { host, port: instancePort, router: own[0] };
  });
}

/**
 * Under the cdktf CLI a construct that refused its own props stays in the tree without its resources (see
 * reportsInvalidProps); an app using it would fail later with an error about an unresolvable reference that hides
 * the refusal. It fails here instead, naming the prop.
 */
function refuseRefusedConstructs(scope: Construct, constructs: Record<string, Construct | undefined>): void {
  for (const [field, construct] of Object.entries(constructs)) {
    if (construct !== undefined && refusedConstruct(construct)) {
      throw invalid(scope, field, construct, 'fix that construct first: it refused its own props (its error is reported too)');
    }
  }
}

/** The publish step's environment for health-gated releases behind `router` (staging.sh). */
function releaseEnvironment(appName: string, release: ReleaseSettings, router: ModulusRouter, port: number, standbyPort: number): Record<string, string> {
  return {
    MODULUS_SLOT_PORTS: `${port} ${standbyPort}`,
    MODULUS_HEALTH_PATH: release.healthCheckPath,
    MODULUS_HEALTH_STATUS: String(release.healthyStatus),
    MODULUS_HEALTH_INTERVAL_MS: String(release.intervalMillis),
    MODULUS_HEALTH_TIMEOUT_MS: String(release.timeoutMillis),
    MODULUS_START_TIMEOUT_SECONDS: String(release.startTimeoutSeconds),
    MODULUS_DRAIN_SECONDS: String(release.drainSeconds),
    MODULUS_ROUTER_CONTAINER: router.containerName,
    MODULUS_ROUTER_BACKEND: router.backendName(appName),
  };
}
