/** The Docker network a container (an app, its build, an image build's RUN steps) joins. */
export enum NetworkMode {
  /** Docker's default bridge: the container has its own network namespace; an app's port is published. */
  BRIDGE = 'bridge',
  /** The host's network: an app binds 127.0.0.1 on the host, nothing is published (engines without a bridge). */
  HOST = 'host',
  /** No network at all. */
  NONE = 'none',
}
