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
