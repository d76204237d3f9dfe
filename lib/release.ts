import type { DockerHost } from './docker-host';
import type { ModulusRouter } from './router';

/**
 * How a new release of an app behind a router takes over from the running one (ModulusAppProps.release).
 *
 * The app runs in two slots of its run container, blue and green (supervisord's `app-blue` and `app-green`, each
 * with its own PORT). A new release starts in the idle slot beside the serving one and takes requests only once
 * its health check passes; then the router drains the old slot, which stops.
 */
export interface ReleaseOptions {
  /** Path of the health check: GET on the new release's own port, from inside its container. @default '/' */
  readonly healthCheckPath?: string;
  /** The HTTP status a healthy release answers with. @default 200 */
  readonly healthyStatus?: number;
  /** Time between two health checks (of the release step while a release starts, and of the router). @default 1000 */
  readonly healthCheckIntervalMillis?: number;
  /** Time one health check may take. @default 2000 */
  readonly healthCheckTimeoutMillis?: number;
  /** How long a new release may take to pass its health check; past it the deploy fails and the old one serves on. @default 120 */
  readonly startTimeoutSeconds?: number;
  /** Longest time the old release may take to finish the requests it holds once the new one serves. @default 10 */
  readonly drainSeconds?: number;
  /** The port the app listens on in its second slot (`run.port` in the first). @default run.port + 1 */
  readonly standbyPort?: number;
  /**
   * With NetworkMode.BRIDGE: the host port the second slot is published on, at the same address as the first.
   * @default the first slot's host port + (standbyPort - run.port)
   */
  readonly standbyHostPort?: number;
}

/**
 * Instances of one app on several Docker hosts (ModulusAppProps.replicas), each with its own volume (and quota),
 * run container and process limit on its host, behind the routers of every host.
 *
 * One build per release: the first instance's host builds it; each other instance receives that build's output,
 * exported from the first volume as a tar archive and handed over through this machine (uploaded over SSH to a
 * remote host), and publishes it under the same release id. Releases roll over the instances `batchSize` at a
 * time in the order of `hosts`, each through its slots (health-gated, as ReleaseOptions describes); an instance
 * that fails its health check fails the deploy and the instances after it stay on the release they serve.
 *
 * The app's `volume`, `run` and `build` options apply to every instance: a `volume.hostRoot` is that folder on
 * every host (leave it out for each host's own `volumes.root`).
 */
export interface ReplicaOptions {
  /**
   * The hosts to spread the instances over, one instance per host (they share the app's port and names), in the
   * order releases roll out. The first builds every release and must be this machine's engine (`unix://`): its
   * release reaches the others through this machine.
   */
  readonly hosts: DockerHost[];
  /** How many instances: one on each of the first `count` hosts. @default hosts.length */
  readonly count?: number;
  /**
   * The router of each host an instance runs on (one each), and of any other host that should answer for the
   * app: every router gets a route to every slot of every instance, health-checked (ReleaseOptions), and sends a
   * request an instance fails to another. Instances on other hosts are reached at their host's `appAddress`.
   */
  readonly routers: ModulusRouter[];
  /** Instances that move to a new release at once. @default 1 */
  readonly batchSize?: number;
  /**
   * How long a router waits for an instance to start answering a GET or HEAD request before sending it to another
   * instance (at most 3 more tries), so a hung instance or host delays these requests by about this much instead of
   * failing them. A GET that takes longer on every instance gets 504. Other methods are never sent twice: a hung
   * instance fails them after the router's 60 s server timeout.
   * @default 10000
   */
  readonly retryGetAfterMillis?: number;
  /**
   * The instance's port (`run.port`) on a host, by host name, for hosts that share one network (a test bed); the
   * second slot keeps its distance (`release.standbyPort - run.port`).
   * @default run.port on every host
   */
  readonly ports?: Record<string, number>;
}
