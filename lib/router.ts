import { Container, ContainerConfig } from '@cdktf/provider-docker/lib/container';
import { DataExternal } from '@cdktf/provider-external/lib/data-external';
import { Volume as DockerVolume } from '@cdktf/provider-docker/lib/volume';
import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import { Lazy, Token } from 'cdktf';
import { Construct } from 'constructs';
import { stackDockerHost } from './app-volume';
import { DockerHost } from './docker-host';
import { ImageHierarchy } from './image-hierarchy';
import { PushedHierarchy } from './image-registry';
import { volumeScriptHash } from './private/host-files';
import { processLimitRange } from './private/host-rules';
import { MOP_USER } from './private/mop-user';
import { secretStepValues, settingsTriggers } from './private/terraform-values';
import { destroyProvisioners, privateKeyPreconditions, probeProgram, stepProvisioners } from './private/host-steps';
import { externalProvider, nullProvider } from './private/providers';
import { HIDDEN, invalid, IPV4_PATTERN, requireLiteral, validateInteger } from './private/validation';
import { ImageSpec } from './standard-images';
import { reportsInvalidProps } from './private/synth-errors';

/** The router's image: images/router, built FROM base (HAProxy 2.6 from Debian's packages). */
export const ROUTER_IMAGE: ImageSpec = { name: 'router', parent: 'base' };

/** The router container's name on its Docker host. */
export const ROUTER_CONTAINER_NAME = 'modulus-router';

/** Where the router container keeps what it runs with (a tmpfs): routes, certificate and key, sockets. */
const RUN_DIR = '/run/modulus-router';
/**
 * Where it keeps a copy of the routes, certificate and key it last applied (the Docker volume `modulus-router-state`,
 * 0700 mop): a restarted container (a crash, an engine restart, a reboot) starts with them.
 */
const STATE_DIR = '/var/lib/modulus-router';
/** The Docker volume of STATE_DIR. */
const ROUTER_STATE_VOLUME = 'modulus-router-state';
/** The path HAProxy answers itself with 200 (the container's health check), on every host name. */
export const ROUTER_HEALTH_PATH = '/.modulus/router-health';
/** Its cgroup under /modulus (pids.max, as the apps'): a name no app can have (apps are `modulus-app-<app>`). */
const ROUTER_CGROUP = 'modulus-router';

/** A maintenance message: what HAProxy can hold unquoted in a single-quoted string, and Terraform unchanged. */
const MESSAGE_PATTERN = /^[A-Za-z0-9 .,:;!?()/@&+=_-]{1,200}$/;
const DOMAIN_PATTERN = /^(?=.{1,200}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The router's TLS certificate and key: tokens of sensitive Terraform variables (never literals). */
export interface RouterTls {
  /** PEM certificate for `*.<domain>` (and its chain), e.g. `new TerraformVariable(..., { sensitive: true }).stringValue`. */
  readonly certificate: string;
  /** PEM private key of the certificate, a token of a sensitive variable. */
  readonly privateKey: string;
}

export interface ModulusRouterProps {
  /** Apps answer at `<app name>.<domain>`: lowercase DNS labels, e.g. 'apps.example.com'. */
  readonly domain: string;
  /**
   * The router image: a hierarchy with ROUTER_IMAGE (`additionalImages: [ROUTER_IMAGE]`), or its pushes to a
   * registry (which a remote `host` pulls by digest).
   */
  readonly images?: ImageHierarchy | PushedHierarchy;
  /** Router image id or reference; takes precedence over `images`. @default the `router` image of `images` */
  readonly image?: string;
  /**
   * The Docker host the router runs on; its apps must run there too. On a remote host (one with `provisioning`)
   * its steps run there over SSH, as the apps' volume steps do.
   * @default the stack's default docker provider
   */
  readonly host?: DockerHost;
  /** IPv4 address the router listens on (the host's network). @default '0.0.0.0' */
  readonly address?: string;
  /** Plain HTTP port, above 1024 (the router holds no capability). @default 18000 */
  readonly httpPort?: number;
  /** HTTPS port, above 1024, with `tls`. @default 18443 */
  readonly httpsPort?: number;
  /** Serve HTTPS on `httpsPort` with this certificate and key. @default none: HTTP only */
  readonly tls?: RouterTls;
  /** Memory limit in MiB (no swap). @default 128 */
  readonly memoryMiB?: number;
  /** Most processes and threads of the router (pids.max of its cgroup, as an app's processLimit). @default 128 */
  readonly processLimit?: number;
  /** json-file log options of the router's output (its access log). @default { 'max-size': '10m', 'max-file': '3' } */
  readonly logOptions?: Record<string, string>;
}

/** How the router treats one app (ModulusAppProps.maintenance). */
export interface RouteOptions {
  /** When set, the router answers 503 with this message instead of passing requests to the app. @default none */
  readonly maintenance?: string;
  /**
   * The app's second slot (health-gated releases, ModulusAppProps.release): the backend gets a second server,
   * `green`, and the router health-checks both and sends requests only to those that pass.
   * @default none: one server, `blue`, without health checks
   */
  readonly release?: RouteRelease;
}

/** The second slot of an app and the health check the router runs on both slots. */
export interface RouteRelease {
  /** Where the router's host reaches the second slot. */
  readonly standby: { readonly ip: string; readonly port: number };
  readonly healthCheckPath: string;
  readonly healthyStatus: number;
  readonly intervalMillis: number;
  readonly timeoutMillis: number;
}

/** One server of an app's backend: a slot of one instance of the app. */
export interface RouteServer {
  /** `blue` and `green` for the slots of the instance on the router's host, `<host name>-blue`... for others. */
  readonly name: string;
  readonly ip: string;
  readonly port: number;
}

/** The health check the router runs on an app's servers (ReleaseOptions). */
export type RouteHealthCheck = Omit<RouteRelease, 'standby'>;

interface Route {
  readonly appName: string;
  readonly servers: readonly RouteServer[];
  readonly maintenance?: string;
  /** Health-checked servers (health-gated releases). */
  readonly check?: RouteHealthCheck;
  /**
   * Instances on several hosts: a request a server refused goes to another, and so does a GET or HEAD request it
   * reset or left unanswered for `retryGetAfterMillis`.
   */
  readonly failover?: { readonly retryGetAfterMillis: number };
}

/**
 * The front door of a Docker host: HAProxy 2.6 (the router image) in a hardened container on the host's network
 * (as mop 441:444, read-only root, no capability, no-new-privileges, init, memory and process limits), routing
 * `<app>.<domain>` to each app's port on the host, with TLS when given a certificate and key.
 *
 * Apps register with `ModulusAppProps.router`. The routes are rendered at synth into the `Routes` step's
 * triggers (the plan shows them), which hands them to the running router: `docker exec -i` of
 * `modulus-router-apply`, which checks them and reloads HAProxy seamlessly. A route change never replaces the
 * container. The certificate and key travel only as sensitive provisioner environment and stdin into the
 * router's tmpfs; the router keeps a copy of what it applied in its own Docker volume (`modulus-router-state`,
 * 0700 mop, removed with the router), so that a restarted container (a crash, an engine restart, a reboot) serves
 * its routes and TLS again at once.
 *
 * A new container (a new image, other settings) is created before the old one is removed: the `Handover` step
 * renames the serving router, the new one takes its listening sockets over, and the `TakeOver` step stops the old
 * one once the new one has its routes. `-replace` the `Handover` step to replace the router by hand.
 *
 * An app's backend has one server, `blue`; with health-gated releases (ModulusAppProps.release) two, `blue` and
 * `green`, one per slot, health-checked by the router: the app's publish step readies and drains them through
 * HAProxy's runtime API (`modulus-router-server` in the router image) as a release takes over.
 */
@reportsInvalidProps
export class ModulusRouter extends Construct {
  /** The `docker_container` (also `node.defaultChild`). */
  public readonly resource: Container;
  /** The step that hands the routes (and certificate) to the router. */
  public readonly routesStep: NullResource;
  /**
   * The step after which the router of this deploy serves alone, with its routes (the one it replaced stopped).
   * The apps' release steps, which talk to the router, come after it.
   * @internal
   */
  public readonly _servingStep: NullResource;
  /** The Docker volume where the router keeps what it last applied, for a restart. */
  public readonly stateVolume: DockerVolume;
  public readonly containerName = ROUTER_CONTAINER_NAME;
  public readonly domain: string;
  public readonly address: string;
  public readonly httpPort: number;
  /** With TLS. */
  public readonly httpsPort?: number;
  public readonly host?: DockerHost;
  private readonly routes = new Map<string, Route>();

  public constructor(scope: Construct, id: string, props: ModulusRouterProps) {
    super(scope, id);
    requireLiteral(this, 'domain', props.domain);
    if (typeof props.domain !== 'string' || !DOMAIN_PATTERN.test(props.domain)) {
      throw invalid(this, 'domain', props.domain, "give a DNS name in lowercase: labels of letters, digits and '-', joined by '.', at most 200 characters");
    }
    this.domain = props.domain;
    if (props.host !== undefined && !(props.host instanceof DockerHost)) throw invalid(this, 'host', props.host, 'give a DockerHost');
    const engine = props.host?.engine ?? stackDockerHost(this);
    const access = props.host?._access;
    if (engine !== undefined && !engine.startsWith('unix://') && access === undefined) {
      throw invalid(this, 'host', props.host ?? engine, "give a DockerHost with provisioning (SSH access) for a remote engine: the router's steps run on its host");
    }
    this.host = props.host;
    const address = props.address ?? '0.0.0.0';
    requireLiteral(this, 'address', address);
    if (typeof address !== 'string' || !IPV4_PATTERN.test(address)) throw invalid(this, 'address', address, "give an IPv4 address, e.g. '0.0.0.0' or '127.0.0.1'");
    this.address = address;
    this.httpPort = validateInteger(this, 'httpPort', props.httpPort ?? 18000, 1025, 65535);
    if (props.tls !== undefined) {
      this.httpsPort = validateInteger(this, 'httpsPort', props.httpsPort ?? 18443, 1025, 65535);
      if (this.httpsPort === this.httpPort) throw invalid(this, 'httpsPort', this.httpsPort, `give a port other than httpPort (${this.httpPort})`);
      for (const field of ['certificate', 'privateKey'] as const) {
        const value = (props.tls as unknown as Record<string, unknown>)[field];
        // Shown hidden: it may be the key itself.
        if (typeof value !== 'string' || !Token.isUnresolved(value)) {
          throw invalid(this, `tls.${field}`, HIDDEN, 'give a token of a sensitive Terraform variable (a literal would be written into the synthesized JSON)');
        }
      }
    } else if (props.httpsPort !== undefined) {
      throw invalid(this, 'httpsPort', props.httpsPort, 'leave it out, or give tls: HTTPS needs a certificate and key');
    }
    const image = props.image ?? this.imageOf(props.images, props.host);
    if (typeof image !== 'string' || image.trim() === '') {
      throw invalid(
        this,
        'image',
        props.image,
        props.images
          ? `give an image, or an images hierarchy with the router image (${props.images.node.path} has ${props.images.names.join(', ')}): add ROUTER_IMAGE through additionalImages`
          : 'give an image, or images: a hierarchy with ROUTER_IMAGE',
      );
    }
    const memory = validateInteger(this, 'memoryMiB', props.memoryMiB ?? 128, 32, 65536);
    const { min: minProcesses, max: maxProcesses } = processLimitRange();
    const processLimit = validateInteger(this, 'processLimit', props.processLimit ?? 128, minProcesses, maxProcesses);

    // The router's process limit, as an app's (modulus-process-limit.sh), removed after the container. Not on a
    // remote host: a destroy step there would keep the SSH key in this resource's state, for an empty cgroup.
    const limitEnvironment = { MODULUS_APP: ROUTER_CGROUP, MODULUS_PIDS_MAX: String(processLimit) };
    const limit = new NullResource(this, 'ProcessLimit', {
      provider: nullProvider(this),
      triggers: { app: ROUTER_CGROUP, pids_max: String(processLimit), scripts_sha256: volumeScriptHash(this) },
      provisioners: [
        ...stepProvisioners(this, access, { script: 'modulus-process-limit.sh', command: 'apply', environment: limitEnvironment }).provisioners,
        ...(access ? [] : destroyProvisioners(this, undefined, { script: 'modulus-process-limit.sh', command: 'remove', environment: { MODULUS_APP: ROUTER_CGROUP } }).provisioners),
      ],
      // A remote host's key is checked at plan time, before any step needs it.
      lifecycle: access ? { precondition: privateKeyPreconditions(access) } : undefined,
    });

    // Destroyed with the router: the copy of the certificate and key goes with it.
    this.stateVolume = new DockerVolume(this, 'State', {
      provider: props.host?.resource,
      name: ROUTER_STATE_VOLUME,
      labels: [{ label: 'org.modulus.role', value: 'router-state' }],
    });
    // A router container an interrupted apply created but never recorded would block the next create (its name is
    // fixed): the probe, read on every plan, names it, and Heal removes exactly that container before the create.
    // A local engine other than the default: the steps and the probe on this machine talk to it.
    const localEngine = engine && !access ? engine : undefined;
    const dockerHost: Record<string, string> = localEngine ? { MODULUS_DOCKER_HOST: localEngine } : {};
    const probe = probeProgram(this, access, { container: ROUTER_CONTAINER_NAME, domain: this.domain, ...(localEngine ? { docker_host: localEngine } : {}) }, 'modulus-router.sh');
    const orphan = new DataExternal(this, 'Orphan', { provider: externalProvider(this), program: probe.program, query: probe.query });
    const heal = new NullResource(this, 'Heal', {
      provider: nullProvider(this),
      triggers: { orphan: orphan.result.lookup('orphan') },
      provisioners: stepProvisioners(this, access, {
        script: 'modulus-router.sh',
        command: 'remove-orphan',
        environment: { MODULUS_ROUTER_CONTAINER: ROUTER_CONTAINER_NAME, MODULUS_ROUTER_DOMAIN: this.domain, MODULUS_HEAL_TOKEN: '${self.triggers.orphan}', ...dockerHost },
      }).provisioners,
    });
    const probeAddress = address === '0.0.0.0' ? '127.0.0.1' : address;
    const healthUrl = `http://${probeAddress}:${this.httpPort}${ROUTER_HEALTH_PATH}`;
    const settings: ContainerConfig = {
      name: ROUTER_CONTAINER_NAME,
      image,
      user: MOP_USER,
      readOnly: true,
      capabilities: { drop: ['ALL'] },
      securityOpts: ['no-new-privileges:true'],
      init: true,
      memory,
      memorySwap: memory,
      restart: 'unless-stopped',
      // The apps answer on the host's loopback (host network, or a port published on 127.0.0.1).
      networkMode: 'host',
      tmpfs: { [RUN_DIR]: `rw,noexec,nosuid,nodev,size=16m,mode=0700,uid=${MOP_USER.split(':')[0]},gid=${MOP_USER.split(':')[1]}` },
      // An empty named volume takes the image's folder (mop, 0700) on its first mount.
      mounts: [{ type: 'volume', source: this.stateVolume.name, target: STATE_DIR }],
      env: [`MODULUS_ROUTER_HTTP_BIND=${address}:${this.httpPort}`, 'TINI_SUBREAPER=1'],
      healthcheck: {
        test: ['CMD', 'curl', '-fsS', '-o', '/dev/null', '--noproxy', '*', '--max-time', '2', healthUrl],
        interval: '10s',
        timeout: '3s',
        retries: 3,
        startPeriod: '5s',
      },
      // Not Docker's wait (its first probe comes only after the interval): the Routes step waits for HAProxy's
      // master, and TakeOver for the health URL, asked from inside the new container.
      logDriver: 'json-file',
      logOpts: props.logOptions ?? { 'max-size': '10m', 'max-file': '3' },
      labels: [{ label: 'org.modulus.role', value: 'router' }, { label: 'org.modulus.domain', value: this.domain }],
      mustRun: true,
      destroyGraceSeconds: 10,
      cgroupParent: `/modulus/${ROUTER_CGROUP}`,
    };
    // Replaced beside the router that serves, which hands its listening sockets over (modulus-router.sh hand-over):
    // the apps stay routed throughout, also when an apply dies halfway.
    const handOverEnvironment = { MODULUS_ROUTER_CONTAINER: ROUTER_CONTAINER_NAME, MODULUS_ROUTER_DOMAIN: this.domain, ...dockerHost };
    const handover = new NullResource(this, 'Handover', {
      provider: nullProvider(this),
      triggers: settingsTriggers(settings),
      provisioners: stepProvisioners(this, access, { script: 'modulus-router.sh', command: 'hand-over', environment: handOverEnvironment }).provisioners,
      dependsOn: [limit, heal],
    });
    this.resource = new Container(this, 'Container', {
      ...settings,
      provider: props.host?.resource,
      dependsOn: [limit, heal, handover],
      lifecycle: { createBeforeDestroy: true },
    });
    // `terraform apply -replace` of the Handover step replaces the container too (as RunContainer's; an override for
    // the same reason: hashicorp/terraform-cdk#3196).
    this.resource.addOverride('lifecycle.replace_triggered_by', [`${handover.terraformResourceType}.${handover.friendlyUniqueId}`]);
    this.node.defaultChild = this.resource;

    // The routes, rendered once every app has registered; in the triggers, so a plan shows them as they change.
    const routes = Lazy.stringValue({ produce: () => this.renderRoutes() });
    const secrets = props.tls ? secretStepValues(this, { CERTIFICATE: props.tls.certificate, KEY: props.tls.privateKey }, 'MODULUS_ROUTER_TLS_') : undefined;
    const step = stepProvisioners(this, access, {
      script: 'modulus-router.sh',
      command: 'apply',
      environment: {
        MODULUS_ROUTER_CONTAINER: ROUTER_CONTAINER_NAME,
        // The trigger's value, read by the step: the routes are written into the configuration once.
        MODULUS_ROUTER_ROUTES: '${self.triggers.routes}',
        // On a remote host the step runs there, with its own engine.
        ...dockerHost,
        ...secrets?.environment,
      },
    });
    this.routesStep = new NullResource(this, 'Routes', {
      provider: nullProvider(this),
      // A new container (its tmpfs is empty) gets the routes again; so do new scripts.
      triggers: { container: this.resource.id, routes, scripts_sha256: volumeScriptHash(this), ...secrets?.triggers },
      provisioners: step.provisioners,
    });
    this._servingStep = new NullResource(this, 'TakeOver', {
      provider: nullProvider(this),
      triggers: { container: this.resource.id },
      provisioners: stepProvisioners(this, access, {
        script: 'modulus-router.sh',
        command: 'take-over',
        environment: { ...handOverEnvironment, MODULUS_ROUTER_ID: '${self.triggers.container}', MODULUS_ROUTER_HEALTH_URL: healthUrl },
      }).provisioners,
      dependsOn: [this.routesStep],
    });
  }

  /** The router image of `images` on `host`: built there (this machine), or pulled there by its pushed digest. */
  private imageOf(images: ImageHierarchy | PushedHierarchy | undefined, host: DockerHost | undefined): string | undefined {
    if (images instanceof PushedHierarchy) {
      if (!images.names.includes(ROUTER_IMAGE.name)) return undefined;
      return images.imageIdOn(ROUTER_IMAGE.name, host);
    }
    if (images !== undefined && host !== undefined && !host.isLocal) {
      throw invalid(this, 'images', images, `give a PushedHierarchy: host '${host.hostName}' (${host.engine}) is not this machine and pulls its images from a registry`);
    }
    return images?.tryImage(ROUTER_IMAGE.name)?.imageId;
  }

  /** The host name the router answers for `appName`: `<appName>.<domain>`. */
  public hostName(appName: string): string {
    return `${appName}.${this.domain}`;
  }

  /**
   * Routes `<appName>.<domain>` to `ip:port` on the router's host (an app's own address there); `scope` is the
   * registering construct, named in errors. ModulusApp calls this for its `router`.
   */
  public addRoute(scope: Construct, appName: string, target: { ip: string; port: number } | undefined, options: RouteOptions = {}): void {
    if (target === undefined) {
      throw invalid(scope, 'router', this, 'leave it out, or let the host reach the app: network mode host, or bridge with its port published');
    }
    const { release } = options;
    const servers = [{ name: 'blue', ...target }, ...(release ? [{ name: 'green', ...release.standby }] : [])];
    this.setRoute(scope, appName, servers, options.maintenance, release);
  }

  /**
   * Routes `<appName>.<domain>` to every slot of every instance of a replicated app (ModulusAppProps.replicas),
   * health-checked; a request a server refused is sent to another, and so is a GET or HEAD request it reset or
   * left unanswered for `retryGetAfterMillis`.
   * @internal
   */
  public _addReplicatedRoute(scope: Construct, appName: string, servers: RouteServer[], check: RouteHealthCheck, maintenance: string | undefined, retryGetAfterMillis: number): void {
    this.setRoute(scope, appName, servers, maintenance, check, { retryGetAfterMillis });
  }

  private setRoute(scope: Construct, appName: string, servers: readonly RouteServer[], maintenance: string | undefined, check: RouteHealthCheck | undefined, failover?: Route['failover']): void {
    if (this.routes.has(appName)) throw invalid(scope, 'router', this, `give each app name one route: app '${appName}' already has one on ${this.node.path}`);
    if (`${appName}.${this.domain}`.length > 253) throw invalid(scope, 'router', this, `use a shorter domain: '${appName}.${this.domain}' is longer than 253 characters`);
    if (maintenance !== undefined) {
      requireLiteral(scope, 'maintenance', maintenance);
      if (typeof maintenance !== 'string' || !MESSAGE_PATTERN.test(maintenance)) {
        throw invalid(scope, 'maintenance', maintenance, "give a message of 1 to 200 characters: letters, digits, spaces and . , : ; ! ? ( ) / @ & + = _ -");
      }
    }
    this.routes.set(appName, { appName, servers, maintenance, check, failover });
  }

  /** The name of the app's backend in the router (the release step drains and readies its servers by it). */
  public backendName(appName: string): string {
    return `app-${appName}`;
  }

  /** The HAProxy frontends and backends for the registered routes (the router image's global.cfg comes first). */
  private renderRoutes(): string {
    const routes = [...this.routes.values()].sort((a, b) => a.appName.localeCompare(b.appName));
    const lines = ['# Generated by the ModulusRouter construct (lib/router.ts); loaded after the image\'s global.cfg.', 'frontend http'];
    lines.push(`    bind ${this.address}:${this.httpPort}`);
    if (this.httpsPort !== undefined) lines.push(`    bind ${this.address}:${this.httpsPort} ssl crt ${RUN_DIR}/tls/router.pem alpn h2,http/1.1`);
    lines.push(`    monitor-uri ${ROUTER_HEALTH_PATH}`);
    lines.push('    http-request set-var(txn.host) req.hdr(host),field(1,:),lower');
    for (const route of routes) {
      const match = `{ var(txn.host) -m str ${this.hostName(route.appName)} }`;
      if (route.maintenance !== undefined) {
        lines.push(`    http-request return status 503 content-type text/plain string '${route.maintenance}' if ${match}`);
      } else {
        lines.push(`    use_backend app-${route.appName} if ${match}`);
      }
    }
    lines.push('    default_backend no-app');
    // Every app has its backend, also in maintenance: a release step of the app finds its servers there.
    for (const route of routes) {
      lines.push(`backend ${this.backendName(route.appName)}`);
      const check = route.check;
      if (check !== undefined) {
        lines.push(
          '    option httpchk',
          `    http-check send meth GET uri ${check.healthCheckPath} ver HTTP/1.1 hdr Host ${this.hostName(route.appName)}`,
          `    http-check expect status ${check.healthyStatus}`,
          `    timeout check ${check.timeoutMillis}ms`,
          // A request sent to a slot that just stopped (before its checks count it down) is retried on the other.
          '    option redispatch 1',
        );
        if (route.failover !== undefined) {
          // An instance on another host can stop or hang between two checks. A request it refused never reached
          // it and goes to another server; a GET or HEAD it reset or left unanswered is sent again too. Other
          // methods are never sent twice (the first server may have acted on them): they wait for `timeout server`.
          lines.push(
            '    retries 3',
            '    retry-on conn-failure empty-response response-timeout',
            '    http-request disable-l7-retry unless METH_GET',
            `    http-request set-timeout server ${route.failover.retryGetAfterMillis}ms if METH_GET`,
          );
        }
        lines.push(`    default-server check inter ${check.intervalMillis}ms fall 2 rise 2`);
      }
      for (const server of route.servers) lines.push(`    server ${server.name} ${server.ip}:${server.port}`);
    }
    lines.push('backend no-app', `    http-request return status 404 content-type text/plain string 'no app at this host name'`);
    return `${lines.join('\n')}\n`;
  }
}
