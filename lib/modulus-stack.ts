import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { TerraformBackend, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { nullProvider, pinProvider } from './private/providers';
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
}

export { PROVIDER_VERSIONS } from './private/providers';

/**
 * A stack wired the way every modulus-images stack is: the docker and null providers, each required at exactly
 * the version its bindings were generated from (kreuzwerker/docker 3.6.2, hashicorp/null 3.2.4), and its state
 * backend: by default a local one with a relative state path, or PostgreSQL or any cdktf backend (see `StateBackend`).
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
    this.dockerProvider = new DockerProvider(this, 'docker', { host: dockerHost });
    pinProvider(this, 'docker');
    nullProvider(this);
    this.backend = addStateBackend(this, id, props.backend ?? { type: 'local' }, statePath);
  }
}
