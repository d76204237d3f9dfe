import * as path from 'path';
import { Aspects, TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';
import { ModulusApp } from '../lib/app';
import { AppVolumeOptions } from '../lib/app-volume';
import { ContainerSecurityPolicy } from '../lib/container-policy';
import { DockerHost, DockerHostProps, SshProvisioning } from '../lib/docker-host';
import { ImageHierarchy } from '../lib/image-hierarchy';
import { PushedHierarchy } from '../lib/image-registry';
import { ModulusStack, ModulusStackProps } from '../lib/modulus-stack';
import { NetworkMode } from '../lib/network-mode';
import { packageRoot } from '../lib/package-root';
import { invalid } from '../lib/private/validation';
import { Language, LANGUAGES } from '../lib/standard-images';
import { RegistrySettings, registryOf } from './registry-settings';

/** A Docker host of the apps stack and the sample apps placed on it. */
export interface AppsStackHost extends Omit<DockerHostProps, 'provisioning' | 'registries'> {
  /**
   * SSH access for the volume steps; the private key comes from the sensitive variable
   * `ssh_private_key_<hostName>` ('-' as '_'; `TF_VAR_ssh_private_key_<hostName>`).
   * @default none (only for a unix:// engine)
   */
  readonly provisioning?: Omit<SshProvisioning, 'privateKey'>;
  /** The languages whose sample app runs on this host. */
  readonly languages: readonly Language[];
}

export interface AppsStackProps extends ModulusStackProps {
  /**
   * Where the build and run images come from: the images stack's hierarchy, or its pushes to a registry (which
   * each app's host pulls by digest).
   */
  readonly images: ImageHierarchy | PushedHierarchy;
  /**
   * Languages to deploy a sample app for, each from samples/<language>.
   * @default the languages placed on `hosts`, else all of LANGUAGES
   */
  readonly languages?: readonly Language[];
  /**
   * Docker hosts and the sample apps on each. An app not placed on a host runs on the stack's engine.
   * @default none: every app on the stack's engine
   */
  readonly hosts?: readonly AppsStackHost[];
  /** The registry the hosts pull from (each host's registry credentials). @default none */
  readonly registry?: RegistrySettings;
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
   * Host folder under which each app's volume lives, in `<volumeRoot>/<app name>`, for the apps of the stack's
   * engine and of hosts without a `volumes.root` of their own.
   * @default '/var/lib/modulus/volumes'
   */
  readonly volumeRoot?: string;
}

/** The `apps` stack: one sample app per language, each volume → build → run, on the images stack's images. */
export class AppsStack extends ModulusStack {
  public readonly apps: Record<string, ModulusApp> = {};

  constructor(scope: Construct, id: string, props: AppsStackProps) {
    super(scope, id, props);
    const registry = props.registry ? registryOf(this, props.registry) : undefined;
    const placement = new Map<Language, DockerHost>();
    // Hosts with a volume root of their own keep it; `volumeRoot` is for the others (and the stack's engine).
    const ownVolumeRoot = new Set((props.hosts ?? []).filter((host) => host.volumes?.root !== undefined).map((host) => host.hostName));
    for (const [index, { languages, provisioning, ...host }] of (props.hosts ?? []).entries()) {
      const privateKey = provisioning
        ? new TerraformVariable(this, `ssh_private_key_${host.hostName.replace(/-/g, '_')}`, {
            type: 'string',
            sensitive: true,
            description: `SSH private key of ${provisioning.user}@${provisioning.address} (host ${host.hostName}), for its volume steps`,
          }).stringValue
        : undefined;
      const dockerHost = new DockerHost(this, host.hostName, {
        ...host,
        provisioning: provisioning && privateKey ? { ...provisioning, privateKey } : undefined,
        registries: registry ? [registry] : undefined,
      });
      for (const language of languages) {
        if (placement.has(language)) {
          throw invalid(this, `hosts[${index}].languages`, language, `place each language on one host: it is also on host '${placement.get(language)!.hostName}'`);
        }
        placement.set(language, dockerHost);
      }
    }
    const languages = props.languages ?? (props.hosts ? [...placement.keys()] : LANGUAGES);
    languages.forEach((language, index) => {
      const appName = `sample-${language}`;
      // The construct id is the app's name, as with images in a hierarchy: ids that are names keep them.
      this.apps[language] = new ModulusApp(this, appName, {
        appName,
        language,
        source: path.join(packageRoot(), 'samples', language),
        images: props.images,
        host: placement.get(language),
        networkMode: props.networkMode,
        environment: { MODULUS_SAMPLE: language },
        volume: {
          ...props.volume,
          hostRoot: props.volumeRoot && !ownVolumeRoot.has(placement.get(language)?.hostName ?? '') ? `${props.volumeRoot}/${appName}` : undefined,
        },
        run: { port: (props.firstPort ?? 18080) + index },
      });
    });
    Aspects.of(this).add(new ContainerSecurityPolicy());
  }
}
