import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { TerraformBackend, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { addStateBackend, StateBackend } from './state-backend';

/** Where Terraform reaches the Docker engine unless told otherwise. */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export interface ModulusStackProps {
  /**
   * Docker engine address (`unix://…`, `tcp://…` or `ssh://…`).
   * @default 'unix:///var/run/docker.sock'
   */
  readonly dockerHost?: string;
  /**
   * Local state file, relative to the stack's folder in cdktf.out (cdktf.out/stacks/<id>), so no absolute path of
   * this machine lands in the synthesized JSON.
   * @default '../../../terraform.<id>.tfstate' (the project root, next to cdktf.json)
   */
  readonly statePath?: string;
  /**
   * Where the state lives: `{ type: 'local' }` (the file at `statePath`), `{ type: 'pg', schemaPrefix }`
   * (PostgreSQL, one schema per stack, connection string from PG_CONN_STR at run time) or a function returning any
   * cdktf `TerraformBackend`. Stacks that read this stack's outputs reach them through the same backend.
   * @default { type: 'local' }
   */
  readonly backend?: StateBackend;
  /**
   * Exact kreuzwerker/docker version to require. Set it only when the provider you can install is not the one the
   * bindings were generated from (the offline toolchain exports its build's version as
   * MODULUS_DOCKER_PROVIDER_VERSION, which main.ts passes here).
   * @default '3.6.2' (the version @cdktf/provider-docker 12.0.x was generated from)
   */
  readonly dockerProviderVersion?: string;
}

/** The kreuzwerker/docker version the @cdktf/provider-docker bindings were generated from. */
export const DOCKER_PROVIDER_VERSION = '3.6.2';

/**
 * A stack wired the way every modulus-images stack is: the docker provider, pinned to exactly the version the
 * bindings were generated from (kreuzwerker/docker 3.6.2), and its state backend: by default a local one with a
 * relative state path, or PostgreSQL or any cdktf backend (see `StateBackend`).
 * App volumes use Terraform's built-in `terraform_data`, so no null provider is needed.
 */
export class ModulusStack extends TerraformStack {
  public readonly dockerProvider: DockerProvider;
  public readonly backend: TerraformBackend;

  constructor(scope: Construct, id: string, props: ModulusStackProps = {}) {
    super(scope, id);
    const dockerHost = props.dockerHost ?? DEFAULT_DOCKER_HOST;
    if (!/^(unix|tcp|ssh|npipe):\/\/\S+$/.test(dockerHost)) {
      throw new Error(
        `${this.node.path}: dockerHost "${dockerHost}" is not valid; expected unix:///path, tcp://host:port or ssh://user@host.`,
      );
    }
    const statePath = props.statePath ?? `../../../terraform.${id}.tfstate`;
    if (statePath.startsWith('/')) {
      throw new Error(`${this.node.path}: statePath "${statePath}" is absolute; give a path relative to cdktf.out/stacks/${id}.`);
    }
    const providerVersion = props.dockerProviderVersion ?? DOCKER_PROVIDER_VERSION;
    if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(providerVersion)) {
      throw new Error(
        `${this.node.path}: dockerProviderVersion "${providerVersion}" is not valid; expected an exact version such as "${DOCKER_PROVIDER_VERSION}".`,
      );
    }
    this.dockerProvider = new DockerProvider(this, 'docker', { host: dockerHost });
    if (providerVersion !== DOCKER_PROVIDER_VERSION) {
      this.addOverride('terraform.required_providers.docker.version', providerVersion);
    }
    this.backend = addStateBackend(this, id, props.backend ?? { type: 'local' }, statePath);
  }
}
