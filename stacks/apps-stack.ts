import * as path from 'path';
import { Aspects, TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';
import { ModulusApp } from '../lib/app';
import { AppVolumeOptions } from '../lib/app-volume';
import { ContainerSecurityPolicy } from '../lib/container-policy';
import { DockerHost, DockerHostProps, SshProvisioning } from '../lib/docker-host';
import { ImageHierarchy } from '../lib/image-hierarchy';
import { ImageRegistry, PushedHierarchy } from '../lib/image-registry';
import { ModulusStack, ModulusStackProps } from '../lib/modulus-stack';
import { NetworkMode } from '../lib/network-mode';
import { packageRoot } from '../lib/package-root';
import { invalidProp } from '../lib/errors';
import { ReplicaOptions } from '../lib/release';
import { ModulusRouter, RouterTls } from '../lib/router';
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
  /**
   * The languages whose sample app runs on this host. A language on several hosts runs as replicas, one
   * instance on each (ModulusAppProps.replicas, in the order of `hosts`: the first builds, and must be a
   * `unix://` engine); each of those hosts needs a `router`.
   */
  readonly languages: readonly Language[];
  /**
   * The host that builds the apps of this host, when not this one: the name of a host of `hosts` with a
   * `unix://` engine (ModulusAppProps.buildHost). This host then pulls no build image. Its replicated apps are
   * built by their first host.
   * @default this host
   */
  readonly buildHost?: string;
  /**
   * Added to the port of a replicated sample's instance on this host, for hosts that share one network (a test
   * bed): its two slots keep their ports apart from the other instances'.
   * @default 0
   */
  readonly replicaPortOffset?: number;
  /**
   * A router on this host in front of its apps, when the stack has `router` (whose domain, TLS and maintenance
   * apply here too); its own address and ports, as hosts may share a network.
   * @default none: the host's apps are reached on their own ports only
   */
  readonly router?: AppsStackHostRouter;
}

/** Where a host's router listens. */
export interface AppsStackHostRouter {
  /** IPv4 address it listens on. @default '0.0.0.0' */
  readonly address?: string;
  /** @default 18000 */
  readonly httpPort?: number;
  /** @default 18443 */
  readonly httpsPort?: number;
}

/** The stack's router: the front door of the stack's engine, for the apps that run there. */
export interface AppsStackRouter {
  /** The apps answer at `<app name>.<domain>`, e.g. `sample-node.<domain>`. */
  readonly domain: string;
  /** IPv4 address it listens on. @default '0.0.0.0' */
  readonly address?: string;
  /** @default 18000 */
  readonly httpPort?: number;
  /** @default 18443 */
  readonly httpsPort?: number;
  /**
   * Serve HTTPS with the certificate and key of the sensitive variables `router_tls_certificate` and
   * `router_tls_private_key` (`TF_VAR_router_tls_certificate`, `TF_VAR_router_tls_private_key`: PEM).
   * @default false
   */
  readonly tls?: boolean;
  /** Apps in maintenance, by app name (e.g. `sample-static`), with the message the router answers. @default {} */
  readonly maintenance?: Record<string, string>;
}

export interface AppsStackProps extends ModulusStackProps {
  /**
   * Where the build and run images come from: the images stack's hierarchy (built on this stack's engine), or
   * pushes of it to a registry. With a hierarchy and `registry`, this stack pushes the images its hosts pull,
   * each after its parent, and each host pulls them by digest as soon as they are up.
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
  /**
   * The registry the hosts pull from (each host's registry credentials), and that this stack's engine pushes
   * `images` to when it is a hierarchy (the images stack's `registry`).
   * @default none
   */
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
  /**
   * A router on the stack's engine, in front of the apps that run there, and one on each of `hosts` that has
   * `router`, in front of its apps; its image, `router`, must be in `images` (ImageHierarchyProps.additionalImages:
   * [ROUTER_IMAGE]).
   * @default none: each app is reached on its own port only
   */
  readonly router?: AppsStackRouter;
}

/** The `apps` stack: one sample app per language, each volume → build → run, on the images stack's images. */
export class AppsStack extends ModulusStack {
  public readonly apps: Record<string, ModulusApp> = {};
  /** The router of the stack's engine (when an app runs there). */
  public readonly router?: ModulusRouter;
  /** The routers of `hosts`, by host name. */
  public readonly hostRouters: Record<string, ModulusRouter> = {};

  constructor(scope: Construct, id: string, props: AppsStackProps) {
    super(scope, id, props);
    const registry = props.registry ? registryOf(this, props.registry) : undefined;
    const images = registry && props.images instanceof ImageHierarchy ? this.pushOnDemand(registry, props.images) : props.images;
    const placement = new Map<Language, DockerHost[]>();
    const portOffsets = new Map<DockerHost, number>();
    // Hosts with a volume root of their own keep it; `volumeRoot` is for the others (and the stack's engine).
    const ownVolumeRoot = new Set((props.hosts ?? []).filter((host) => host.volumes?.root !== undefined).map((host) => host.hostName));
    const hostRouters = new Map<DockerHost, AppsStackHostRouter>();
    const buildHostNames = new Map<DockerHost, { index: number; name: string }>();
    for (const [index, { languages, provisioning, router, replicaPortOffset, buildHost, ...host }] of (props.hosts ?? []).entries()) {
      const privateKey = provisioning
        ? new TerraformVariable(this, `ssh_private_key_${host.hostName.replace(/-/g, '_')}`, {
            type: 'string',
            sensitive: true,
            description: `SSH private key of ${provisioning.user}@${provisioning.address} (host ${host.hostName}), for its volume steps`,
          }).stringValue
        : undefined;
      const dockerHost = new DockerHost(this, host.hostName, {
        ...host,
        // `volumeRoot` is the root of a host without its own (also for the volumes of the builds it runs for others).
        volumes: props.volumeRoot !== undefined && host.volumes?.root === undefined ? { ...host.volumes, root: props.volumeRoot } : host.volumes,
        provisioning: provisioning && privateKey ? { ...provisioning, privateKey } : undefined,
        registries: registry ? [registry] : undefined,
      });
      if (buildHost !== undefined) buildHostNames.set(dockerHost, { index, name: buildHost });
      if (router !== undefined) {
        if (!props.router) throw invalidProp(this, `hosts[${index}].router`, router, "leave it out, or give the stack's router (its domain): the host's router serves that domain");
        hostRouters.set(dockerHost, router);
      }
      portOffsets.set(dockerHost, replicaPortOffset ?? 0);
      for (const language of languages) placement.set(language, [...(placement.get(language) ?? []), dockerHost]);
    }
    const dockerHosts = [...portOffsets.keys()];
    const buildHostOf = (host: DockerHost): DockerHost | undefined => {
      const named = buildHostNames.get(host);
      if (named === undefined) return undefined;
      const found = dockerHosts.find((candidate) => candidate.hostName === named.name);
      if (!found) {
        throw invalidProp(this, `hosts[${named.index}].buildHost`, named.name, `give the name of a host of hosts: ${dockerHosts.map((candidate) => candidate.hostName).join(', ')}`);
      }
      return found;
    };
    const languages = props.languages ?? (props.hosts ? [...placement.keys()] : LANGUAGES);
    const tls = props.router?.tls ? this.tlsVariables() : undefined;
    if (props.router && languages.some((language) => !placement.has(language))) {
      this.router = this.createRouter('router', props.router, images, undefined, tls);
    }
    for (const [host, settings] of hostRouters) {
      this.hostRouters[host.hostName] = this.createRouter(`router-${host.hostName}`, { ...props.router!, ...settings }, images, host, tls);
    }
    // The router in front of each app: its host's, or the stack engine's; a replicated app's, that of its first host.
    const routerOf = (language: Language) => {
      const hosts = placement.get(language);
      return hosts ? this.hostRouters[hosts[0].hostName] : this.router;
    };
    const replicasOf = (language: Language, port: number): ReplicaOptions | undefined => {
      const hosts = placement.get(language) ?? [];
      if (hosts.length < 2) return undefined;
      const routers = hosts.map((host) => {
        const router = this.hostRouters[host.hostName];
        if (!router) {
          const index = props.hosts!.findIndex((candidate) => candidate.hostName === host.hostName);
          throw invalidProp(this, `hosts[${index}].router`, undefined, `give host '${host.hostName}' a router: sample-${language} runs as replicas, behind the router of each of its hosts`);
        }
        return router;
      });
      const ports = Object.fromEntries(hosts.filter((host) => portOffsets.get(host)! !== 0).map((host) => [host.hostName, port + portOffsets.get(host)!]));
      // A sample answers within milliseconds: a GET an instance leaves unanswered for 1 s goes to another.
      return { hosts, routers, ports, retryGetAfterMillis: 1000 };
    };
    const routed = languages.filter((language) => routerOf(language) !== undefined).map((language) => `sample-${language}`);
    if (props.router && routed.length === 0) {
      throw invalidProp(this, 'router', props.router.domain, "leave it out, or let it front an app: place one on the stack's engine, or give a host with apps a router");
    }
    const maintenance = props.router?.maintenance ?? {};
    for (const name of Object.keys(maintenance)) {
      if (!routed.includes(name)) {
        throw invalidProp(this, 'router.maintenance', name, `give the name of an app behind a router: ${routed.join(', ') || 'none'}`);
      }
    }
    languages.forEach((language, index) => {
      const appName = `sample-${language}`;
      const port = (props.firstPort ?? 18080) + index;
      const replicas = replicasOf(language, port);
      const host = replicas ? undefined : placement.get(language)?.[0];
      // The construct id is the app's name, as with images in a hierarchy: ids that are names keep them.
      this.apps[language] = new ModulusApp(this, appName, {
        appName,
        language,
        source: path.join(packageRoot(), 'samples', language),
        images,
        host,
        buildHost: host && buildHostOf(host),
        networkMode: props.networkMode,
        environment: { MODULUS_SAMPLE: language },
        volume: {
          ...props.volume,
          // One folder for every instance of a replicated app, unless each of its hosts has a root of its own.
          hostRoot: props.volumeRoot && !placement.get(language)?.every((on) => ownVolumeRoot.has(on.hostName)) ? `${props.volumeRoot}/${appName}` : undefined,
        },
        run: { port },
        router: replicas ? undefined : routerOf(language),
        replicas,
        maintenance: maintenance[appName],
        // The second slot of each app behind the router: 100 above its port (the next app has the next port).
        // A sample starts within seconds (the JVM's a few more): a release that does not pass its check by then fails the deploy.
        release: routerOf(language)
          ? { standbyPort: (props.firstPort ?? 18080) + 100 + index, startTimeoutSeconds: language === 'java' ? 45 : 20 }
          : undefined,
      });
    });
    Aspects.of(this).add(new ContainerSecurityPolicy());
  }

  /**
   * The hierarchy's images pushed from this stack's engine, the build host, as the hosts ask for them: beside the
   * pulls, which then start as soon as their image is up.
   */
  private pushOnDemand(registry: ImageRegistry, hierarchy: ImageHierarchy): PushedHierarchy {
    this.dockerProvider.registryAuth = [registry.registryAuth()];
    return new PushedHierarchy(this, 'Pushed', { registry, hierarchy, provider: this.dockerProvider, onDemand: true });
  }

  /** The certificate and key of every router of the stack: sensitive variables. */
  private tlsVariables(): RouterTls {
    return {
      certificate: new TerraformVariable(this, 'router_tls_certificate', { type: 'string', sensitive: true, description: "PEM certificate (and chain) of the router's domain" }).stringValue,
      privateKey: new TerraformVariable(this, 'router_tls_private_key', { type: 'string', sensitive: true, description: "PEM private key of the router's certificate" }).stringValue,
    };
  }

  private createRouter(id: string, settings: AppsStackRouter, images: ImageHierarchy | PushedHierarchy, host: DockerHost | undefined, tls: RouterTls | undefined): ModulusRouter {
    return new ModulusRouter(this, id, {
      domain: settings.domain,
      images,
      host,
      address: settings.address,
      httpPort: settings.httpPort,
      httpsPort: settings.httpsPort,
      tls,
    });
  }
}
