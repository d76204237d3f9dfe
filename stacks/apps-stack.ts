import * as path from 'path';
import { Aspects } from 'cdktf';
import { Construct } from 'constructs';
import { ModulusApp } from '../lib/app';
import { AppVolumeOptions } from '../lib/app-volume';
import { ContainerSecurityPolicy } from '../lib/container-policy';
import { ImageHierarchy } from '../lib/image-hierarchy';
import { ModulusStack, ModulusStackProps } from '../lib/modulus-stack';
import { NetworkMode } from '../lib/network-mode';
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
   * Network of the apps and their builds. HOST (the apps bind 127.0.0.1 on their own port) suits engines without
   * a default bridge; BRIDGE publishes each port on 127.0.0.1.
   * @default NetworkMode.BRIDGE
   */
  readonly networkMode?: NetworkMode;
  /**
   * Port of the first app; the others follow in the order of `languages`.
   * @default 18080
   */
  readonly firstPort?: number;
  /**
   * Volume options for every app (size, backend, removal policy; the host folder comes from `volumeRoot`).
   * @default loopfile volumes of 2 GiB under /var/lib/modulus/volumes, retained on destroy
   */
  readonly volume?: Omit<AppVolumeOptions, 'hostRoot'>;
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
    languages.forEach((language, index) => {
      const appName = `sample-${language}`;
      // The construct id is the app's name, as with images in a hierarchy: ids that are names keep them.
      this.apps[language] = new ModulusApp(this, appName, {
        appName,
        language,
        source: path.join(packageRoot(), 'samples', language),
        images: props.images,
        networkMode: props.networkMode,
        environment: { MODULUS_SAMPLE: language },
        volume: { ...props.volume, hostRoot: props.volumeRoot ? `${props.volumeRoot}/${appName}` : undefined },
        run: { port: (props.firstPort ?? 18080) + index },
      });
    });
    Aspects.of(this).add(new ContainerSecurityPolicy());
  }
}
