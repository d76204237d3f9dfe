import { Construct } from 'constructs';
import { AppVolume, AppVolumeOptions } from './app-volume';
import { BuildJob } from './build-job';
import { ImageHierarchy } from './image-hierarchy';
import { invalid, validateAppName, validateLanguage } from './private/app-runtime';
import { RunContainer, RunContainerOptions } from './run-container';
import { Language } from './standard-images';

/**
 * An app: its name, language, source and images (explicit `buildImage`/`runImage`, or `build-<language>` and
 * `run-<language>` from `images`), plus the options of its volume (AppVolumeOptions: size,
 * backend, hostRoot, removalPolicy, environment, secretEnvironment, ...) and of its run container
 * (RunContainerOptions: port, memoryMiB, networkMode, publish, restart, healthCheck, processLimit, ...). The network mode
 * applies to the build too.
 */
export interface ModulusAppProps extends AppVolumeOptions, RunContainerOptions {
  /** The app's name (see AppVolumeProps.app); its run container is `modulus-app-<name>`. */
  readonly name: string;

  /**
   * The app's language: one of LANGUAGES or any other language name (a lowercase letter, then lowercase
   * letters or digits) whose `build-<language>` and `run-<language>` images `images` has, e.g. `python`.
   */
  readonly language: Language;

  /** Local folder with the app's source (see BuildJobProps.source). */
  readonly source: string;

  /**
   * The hierarchy to take the images from: `build-<language>` and `run-<language>`. Synth fails, naming the
   * images it looked for, when one of them is missing and not given as `buildImage`/`runImage`.
   * @default none: `buildImage` and `runImage` are required
   */
  readonly images?: ImageHierarchy;

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
    const images = this.resolveImages(language, props);

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
      image: images.build,
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
      image: images.run,
      language,
      build: this.build,
    });
    this.containerName = this.run.containerName;
  }

  /** `buildImage`/`runImage` as given, else `build-<language>`/`run-<language>` from `images`. */
  private resolveImages(language: Language, props: ModulusAppProps): { build: string; run: string } {
    const wanted = { build: `build-${language}`, run: `run-${language}` };
    if (props.images !== undefined && !(props.images instanceof ImageHierarchy)) {
      throw invalid(this, 'images', 'must be an ImageHierarchy');
    }
    const missing = (['build', 'run'] as const).filter(
      (kind) => props[`${kind}Image`] === undefined && props.images?.tryImage(wanted[kind]) === undefined,
    );
    if (missing.length > 0) {
      const lookedFor = missing.map((kind) => wanted[kind]).join(' and ');
      const fields = missing.map((kind) => `${kind}Image`).join(' and ');
      throw invalid(
        this,
        'language',
        props.images
          ? `'${language}' needs the image${missing.length > 1 ? 's' : ''} ${lookedFor}, which ${props.images.node.path} does not have ` +
              `(it has ${props.images.names.join(', ')}): add ${missing.length > 1 ? 'them' : 'it'} through ImageHierarchyProps.additionalImages, or pass ${fields}`
          : `'${language}' has no images: pass images (an ImageHierarchy with ${lookedFor}) or ${fields}`,
      );
    }
    return {
      build: props.buildImage ?? props.images!.image(wanted.build).imageId,
      run: props.runImage ?? props.images!.image(wanted.run).imageId,
    };
  }
}
