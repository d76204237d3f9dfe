import * as path from 'path';
import { Aspects } from 'cdktf';
import { Construct } from 'constructs';
import { ModulusApp } from '../lib/app';
import { AppVolumeOptions } from '../lib/app-volume';
import { ContainerSecurityPolicy } from '../lib/container-policy';
import { ImageHierarchy } from '../lib/image-hierarchy';
import { ModulusStack, ModulusStackProps } from '../lib/modulus-stack';
import { packageRoot } from '../lib/package-root';
import { Language, LANGUAGES } from '../lib/standard-images';

export interface AppsStackProps extends ModulusStackProps {
  /** Where the build and run images come from: the images stack's hierarchy. */
  readonly images: ImageHierarchy;
  /**
   * Languages to deploy a sample app for, each from samples/<language>.
   * @default all of LANGUAGES
   */
  readonly languages?: readonly Language[];
  /**
   * Network of the apps and their builds. `host` (the apps bind 127.0.0.1 on their own port) suits engines without
   * a default bridge; `bridge` publishes each port on 127.0.0.1.
   * @default 'bridge'
   */
  readonly networkMode?: 'host' | 'bridge';
  /**
   * Port of the first app; the others follow in the order of `languages`.
   * @default 18080
   */
  readonly firstPort?: number;
  /**
   * Volume options for every app (backend, size, host root, removal policy).
   * @default loopfile volumes of 2 GB under /var/lib/modulus/volumes, retained on destroy
   */
  readonly volume?: Omit<AppVolumeOptions, 'environment' | 'secretEnvironment' | 'hostRoot'>;
  /**
   * Host folder under which each app's volume lives, in `<volumeRoot>/<app name>`.
   * @default '/var/lib/modulus/volumes'
   */
  readonly volumeRoot?: string;
}

/** The `apps` stack: one sample app per language, each volume → build → run, on the images stack's images. */
export class AppsStack extends ModulusStack {
  public readonly apps: Record<string, ModulusApp> = {};

  constructor(scope: Construct, id: string, props: AppsStackProps) {
    super(scope, id, props);
    const languages = props.languages ?? LANGUAGES;
    const networkMode = props.networkMode ?? 'bridge';
    languages.forEach((language, index) => {
      const port = (props.firstPort ?? 18080) + index;
      this.apps[language] = new ModulusApp(this, `sample-${language}`, {
        name: `sample-${language}`,
        language,
        source: path.join(packageRoot(), 'samples', language),
        images: props.images,
        port,
        networkMode,
        environment: { MODULUS_SAMPLE: language },
        ...props.volume,
        hostRoot: props.volumeRoot ? `${props.volumeRoot}/sample-${language}` : undefined,
      });
    });
    Aspects.of(this).add(new ContainerSecurityPolicy());
  }
}
