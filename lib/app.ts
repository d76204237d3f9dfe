import { Construct } from 'constructs';
import { AppVolume, AppVolumeOptions } from './app-volume';
import { BuildJob } from './build-job';
import { invalid, validateAppName, validateLanguage } from './private/app-runtime';
import { RunContainer, RunContainerOptions } from './run-container';
import { Language } from './standard-images';

/**
 * An app: its name, language, source and images, plus the options of its volume (AppVolumeOptions: size,
 * backend, hostRoot, removalPolicy, environment, secretEnvironment, ...) and of its run container
 * (RunContainerOptions: port, memoryMiB, networkMode, publish, restart, healthCheck, processLimit, ...). The network mode
 * applies to the build too.
 */
export interface ModulusAppProps extends AppVolumeOptions, RunContainerOptions {
  /** The app's name (see AppVolumeProps.app); its run container is `modulus-app-<name>`. */
  readonly name: string;

  /** The app's language: one of LANGUAGES. */
  readonly language: Language;

  /** Local folder with the app's source (see BuildJobProps.source). */
  readonly source: string;

  /** Build image (build-<language>) id or reference, e.g. a ModulusImage's `imageId`. */
  readonly buildImage: string;

  /** Run image (run-<language>) id or reference, e.g. a ModulusImage's `imageId`. */
  readonly runImage: string;

  /** Build timeout (BuildJobProps.timeoutSeconds). @default 900 */
  readonly buildTimeoutSeconds?: number;
  /** Build memory in MiB (BuildJobProps.memoryMiB). @default 1024 */
  readonly buildMemoryMiB?: number;
  /** Extra build environment, e.g. RUN_TESTS (BuildJobProps.environment). @default {} */
  readonly buildEnvironment?: Record<string, string>;
}

/**
 * One Modulus app: its volume, a build of its source and the container that runs it.
 *
 * Order and change propagation come from references, not from hand-written dependencies:
 * volume → copy of the source into input/ → build (replaced when the source or build image changes) →
 * publish output/ to app/ and restart the app in place → run container (created after the first publish;
 * replaced when supervisor.conf is rewritten or the run image changes, never by a build). A failed build fails
 * the deploy and leaves the running app, its files and its volume alone.
 */
export class ModulusApp extends Construct {
  public readonly volume: AppVolume;
  public readonly build: BuildJob;
  public readonly run: RunContainer;
  /** `modulus-app-<name>`. */
  public readonly containerName: string;

  public constructor(scope: Construct, id: string, props: ModulusAppProps) {
    super(scope, id);
    const name = validateAppName(this, 'name', props.name);
    const language = validateLanguage(this, 'language', props.language);
    for (const reserved of ['PORT', 'SERVO_SIZE']) {
      if (props.environment && reserved in props.environment) {
        throw invalid(this, `environment.${reserved}`, `is set from ${reserved === 'PORT' ? 'port' : 'memoryMiB'}; use that prop`);
      }
    }

    this.volume = new AppVolume(this, 'Volume', {
      app: name,
      size: props.size,
      backend: props.backend,
      lvm: props.lvm,
      hostRoot: props.hostRoot,
      removalPolicy: props.removalPolicy,
      environment: props.environment,
      secretEnvironment: props.secretEnvironment,
    });
    this.build = new BuildJob(this, 'Build', {
      volume: this.volume,
      image: props.buildImage,
      language,
      source: props.source,
      timeoutSeconds: props.buildTimeoutSeconds,
      memoryMiB: props.buildMemoryMiB,
      environment: props.buildEnvironment,
      networkMode: props.networkMode,
    });
    this.run = new RunContainer(this, 'Run', {
      port: props.port,
      memoryMiB: props.memoryMiB,
      networkMode: props.networkMode,
      publish: props.publish,
      restart: props.restart,
      healthCheck: props.healthCheck,
      init: props.init,
      logOptions: props.logOptions,
      processLimit: props.processLimit,
      volume: this.volume,
      image: props.runImage,
      language,
      build: this.build,
    });
    this.containerName = this.run.containerName;
  }
}
