import { Construct } from 'constructs';
import { AppVolume, AppVolumeOptions } from './app-volume';
import { BuildJob, BuildJobOptions } from './build-job';
import { DockerHost } from './docker-host';
import { ImageHierarchy } from './image-hierarchy';
import { PushedHierarchy } from './image-registry';
import { NetworkMode } from './network-mode';
import { validateAppName, validateLanguage } from './private/names';
import { invalid } from './private/validation';
import { releaseSettings } from './private/release';
import { withPlainStackTraces } from './private/stack-traces';
import { ReleaseOptions } from './release';
import { ModulusRouter } from './router';
import { RunContainer, RunContainerOptions } from './run-container';
import { Language } from './standard-images';
import { reportsInvalidProps } from './private/synth-errors';

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
  public readonly volume: AppVolume;
  public readonly build: BuildJob;
  public readonly run: RunContainer;
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
    const images = this.resolveImages(language, props);
    if (props.router !== undefined && !(props.router instanceof ModulusRouter)) throw invalid(this, 'router', props.router, 'give a ModulusRouter');
    if (props.release !== undefined && props.router === undefined) {
      throw invalid(this, 'release', props.release, 'leave it out, or give router: releases start beside the running one behind a router');
    }
    const port = props.run?.port ?? 8080;
    const release = props.router ? releaseSettings(this, props.release ?? {}, port) : undefined;

    // Each part takes its options whole: a new option of a part reaches it without a change here.
    // Under withPlainStackTraces: cdktf's traces of the tokens the parts make were most of a large synth's time.
    const parts = withPlainStackTraces(() => {
      const volume = new AppVolume(this, 'Volume', {
        ...props.volume,
        appName,
        image: images.run,
        host: props.host,
        environment: props.environment,
        secretEnvironment: props.secretEnvironment,
        _slotPorts: release ? [port, release.standbyPort] : undefined,
      });
      const build = new BuildJob(this, 'Build', {
        ...props.build,
        volume,
        image: images.build,
        language,
        source: props.source,
        networkMode: props.networkMode,
        _release:
          release && props.router
            ? {
                environment: {
                  MODULUS_SLOT_PORTS: `${port} ${release.standbyPort}`,
                  MODULUS_HEALTH_PATH: release.healthCheckPath,
                  MODULUS_HEALTH_STATUS: String(release.healthyStatus),
                  MODULUS_HEALTH_INTERVAL_MS: String(release.intervalMillis),
                  MODULUS_HEALTH_TIMEOUT_MS: String(release.timeoutMillis),
                  MODULUS_START_TIMEOUT_SECONDS: String(release.startTimeoutSeconds),
                  MODULUS_DRAIN_SECONDS: String(release.drainSeconds),
                  MODULUS_ROUTER_CONTAINER: props.router.containerName,
                  MODULUS_ROUTER_BACKEND: props.router.backendName(appName),
                },
                dependsOn: [props.router.routesStep],
              }
            : undefined,
      });
      const run = new RunContainer(this, 'Run', {
        ...props.run,
        volume,
        image: images.run,
        language,
        networkMode: props.networkMode,
        build,
        _standby: release ? { port: release.standbyPort, hostPort: release.standbyHostPort } : undefined,
      });
      return { volume, build, run };
    });
    this.volume = parts.volume;
    this.build = parts.build;
    this.run = parts.run;
    this.containerName = this.run.containerName;
    if (props.router !== undefined) {
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

  /** `buildImage`/`runImage` as given, else `build-<language>`/`run-<language>` from `images` (pulled on `host`). */
  private resolveImages(language: Language, props: ModulusAppProps): { build: string; run: string } {
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
    if (needed.length > 0 && images instanceof ImageHierarchy && props.host && !props.host.isLocal) {
      throw invalid(
        this,
        'images',
        images,
        `give a PushedHierarchy: host '${props.host.hostName}' (${props.host.engine}) is not this machine and pulls its images from a registry`,
      );
    }
    const image = (kind: 'build' | 'run'): string => {
      const given = props[`${kind}Image`];
      if (given !== undefined) return given;
      if (images instanceof ImageHierarchy) return images.image(wanted[kind]).imageId;
      const pushed = images!.image(wanted[kind]);
      return props.host ? props.host.pulledImageId(pushed) : pushed.image.imageId;
    };
    return { build: image('build'), run: image('run') };
  }
}
