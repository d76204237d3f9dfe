import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { Aspects, TerraformAsset, TerraformBackend, TerraformElement, TerraformStack } from 'cdktf';
import { Construct, Node } from 'constructs';
import { ConflictCheck } from './private/conflicts';
import { previousLogicalId, renamedChild } from './private/moves';
import { nullProvider, pinProvider } from './private/providers';
import { addSynthError, checkedSynthesizer, continuingSynthesizer, reportThrownValidationErrors } from './private/synth-errors';
import { withoutTokenTraces } from './private/stack-traces';
import { withTokenPartsResolution } from './private/token-parts';
import { invalid } from './private/validation';
import { addStateBackend, StateBackend, StateBackendType } from './state-backend';

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
   * this machine lands in the synthesized JSON. It holds the stack's secrets: a synth by the cdktf CLI creates it
   * and its `.backup` with mode 0600 (Terraform keeps the mode when it writes them) and makes existing ones 0600.
   * @default '../../../terraform.<id>.tfstate' (the project root, next to cdktf.json)
   */
  readonly statePath?: string;
  /**
   * Where the state lives: `{ type: StateBackendType.LOCAL }` (the file at `statePath`),
   * `{ type: StateBackendType.PG, schemaPrefix }` (PostgreSQL, one schema per stack, connection string from
   * PG_CONN_STR at run time) or a function returning any cdktf `TerraformBackend`. Stacks that read this stack's
   * outputs reach them through the same backend.
   * @default { type: StateBackendType.LOCAL }
   */
  readonly backend?: StateBackend;
}

export { PROVIDER_VERSIONS } from './private/providers';

/**
 * A stack wired the way every modulus-images stack is: the docker and null providers, each required at exactly
 * the version its bindings were generated from (kreuzwerker/docker 3.6.2, hashicorp/null 3.2.4), and its state
 * backend: by default a local one with a relative state path, or PostgreSQL or any cdktf backend (see `StateBackend`).
 *
 * While synthesizing, it finds the conflicts between its constructs (two apps or containers with one name on one
 * host, two `DockerHost`s with one name, two apps published on one host address and port). Each of them, and each
 * error an aspect reports (`ContainerSecurityPolicy`), is an error annotation in the one form
 * `<construct path>: invalid <field> <value>: <what is allowed>`, and a stack with any is not written: its cdk.tf.json
 * (with any earlier one) is removed from cdktf.out. Under the cdktf CLI the errors are printed one a line and the synth fails; from
 * `app.synth()` elsewhere, it throws an Error listing them. Its own invalid props (`dockerHost`, `statePath`) are
 * such errors too. Under the cdktf CLI, so is an invalid prop of the package's other constructs (their constructors
 * record it and the program goes on); run another way, their constructors throw it.
 */
export class ModulusStack extends TerraformStack {
  public readonly dockerProvider: DockerProvider;
  public readonly backend: TerraformBackend;
  /** The engine address of `dockerProvider`. */
  public readonly dockerHost: string;

  constructor(scope: Construct, id: string, props: ModulusStackProps = {}) {
    super(scope, id);
    this.synthesizer = continuingSynthesizer(this);
    reportThrownValidationErrors(this);
    // Its own invalid props are recorded, not thrown: the program goes on (with the default in their place) and
    // reports the errors of the constructs after it too; the stack is not written (see the class comment).
    let dockerHost = props.dockerHost ?? DEFAULT_DOCKER_HOST;
    if (typeof dockerHost !== 'string' || !/^(unix|tcp|ssh|npipe):\/\/\S+$/.test(dockerHost)) {
      addSynthError(this, invalid(this, 'dockerHost', dockerHost, 'give unix:///path, tcp://host:port or ssh://user@host'));
      dockerHost = DEFAULT_DOCKER_HOST;
    }
    const defaultStatePath = `../../../terraform.${id}.tfstate`;
    let statePath = props.statePath ?? defaultStatePath;
    if (typeof statePath !== 'string' || statePath.startsWith('/')) {
      addSynthError(this, invalid(this, 'statePath', statePath, `give a path relative to cdktf.out/stacks/${id}`));
      statePath = defaultStatePath;
    }
    this.dockerHost = dockerHost;
    this.dockerProvider = new DockerProvider(this, 'Docker', { host: dockerHost });
    pinProvider(this, 'docker');
    nullProvider(this);
    this.backend = addStateBackend(this, id, props.backend ?? { type: StateBackendType.LOCAL }, statePath);
    // Conflicts between constructs (names, ports) and the errors of aspects (ContainerSecurityPolicy) are found while
    // synthesizing; a stack with any of them is not written (see the class comment).
    Aspects.of(this).add(new ConflictCheck(this));
    this.synthesizer = checkedSynthesizer(this, this.synthesizer);
  }

  /**
   * TerraformStack's, which resolves every token of the stack once before it is written, without cdktf's token traces
   * (see withoutTokenTraces) and resolving only the parts that hold tokens (see withTokenPartsResolution). Not an API
   * of its own.
   * @internal
   */
  public prepareStack(): void {
    withoutTokenTraces(() => withTokenPartsResolution(() => super.prepareStack()));
  }

  /**
   * TerraformStack's, resolving only the parts that hold tokens (see withTokenPartsResolution): the same JSON. Not
   * an API of its own.
   * @internal
   */
  public toTerraform(): any {
    return withTokenPartsResolution(() => super.toTerraform());
  }

  /**
   * Records that this stack's child now called `id` was called `previousId` in an earlier release: its resources
   * get `moved` blocks from their previous addresses and its assets keep their folders, so a rename replaces
   * nothing. Call it before creating the child.
   */
  protected renamedChild(id: string, previousId: string): void {
    renamedChild(this, id, previousId);
  }

  /** Asset folders keep the names of earlier releases: an image's build context path is part of its identity. */
  protected allocateLogicalId(element: TerraformElement | Node): string {
    const construct = element instanceof Node ? element.scopes[element.scopes.length - 1] : element;
    if (construct instanceof TerraformAsset) return previousLogicalId(construct);
    return super.allocateLogicalId(element);
  }
}
