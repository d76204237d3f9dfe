import { Annotations, IAspect, TerraformResource, Token } from 'cdktf';
import { IConstruct } from 'constructs';
import { addSynthError } from './private/synth-errors';
import { invalid, invalidSetting, validateEnum } from './private/validation';

/** The checks of ContainerSecurityPolicy. */
export enum ContainerPolicyRule {
  /** `user` set, and neither root nor uid 0 (the image's USER is not visible at synth, so it must be explicit). */
  NON_ROOT_USER = 'non-root-user',
  /** `read_only = true`: the app writes only to its volume. */
  READ_ONLY_ROOT_FS = 'read-only-root-fs',
  /** `memory` set (MiB, > 0). */
  MEMORY_LIMIT = 'memory-limit',
  /** `capabilities { drop = ["ALL"] }` and nothing in `add`. */
  DROP_ALL_CAPABILITIES = 'drop-all-capabilities',
  /** `security_opts` contains no-new-privileges (setuid binaries cannot raise privileges). */
  NO_NEW_PRIVILEGES = 'no-new-privileges',
  /** not `privileged`. */
  NOT_PRIVILEGED = 'not-privileged',
  /** no bind mount (`mounts`, `volumes`) of the host's `/` or its Docker socket, either of which controls the host. */
  NO_HOST_CONTROL_MOUNTS = 'no-host-control-mounts',
}

export const CONTAINER_POLICY_RULES: readonly ContainerPolicyRule[] = Object.values(ContainerPolicyRule);

/** How a violation is reported. */
export enum ContainerPolicyLevel {
  /** An error annotation: `cdktf synth` fails. */
  ERROR = 'error',
  /** A warning annotation. */
  WARNING = 'warning',
}

export interface ContainerSecurityPolicyProps {
  /**
   * Annotation level of a violation.
   * @default ContainerPolicyLevel.ERROR
   */
  readonly level?: ContainerPolicyLevel;
}

const EXEMPTION_METADATA = 'modulus:container-security-policy-exemption';

interface Exemption {
  readonly reason: string;
  readonly rules: readonly ContainerPolicyRule[];
}

/**
 * An Aspect checking every docker_container in its scope, ours and any other (including containers added
 * with escape hatches: the synthesized attributes, overrides included, are checked), for a root or missing
 * user, a writable root file system, a missing memory limit, kept or added capabilities, missing
 * no-new-privileges, privileged mode and bind mounts of the host's `/` or Docker socket. Each violation is an error annotation on the container (or a
 * warning, see `level`), which fails synth.
 *
 *     Aspects.of(stack).add(new ContainerSecurityPolicy());
 *
 * Opt-out is explicit, per construct, with a reason, and recorded: `ContainerSecurityPolicy.exempt(construct,
 * reason, rules?)` exempts the containers in that construct's subtree (from the given rules, or all), and
 * each exempted violation becomes an info annotation quoting the reason.
 */
export class ContainerSecurityPolicy implements IAspect {
  /**
   * Exempts the docker_containers at or below `scope` from `rules` (default: every rule).
   * @param reason why the exemption is acceptable; shown in an info annotation on each exempted violation.
   */
  public static exempt(scope: IConstruct, reason: string, rules: readonly ContainerPolicyRule[] = CONTAINER_POLICY_RULES): void {
    if (typeof reason !== 'string' || reason.trim().length < 3) {
      throw invalid(scope, 'ContainerSecurityPolicy exemption reason', reason, 'give a reason (at least a few words)');
    }
    for (const rule of rules) {
      validateEnum(scope, 'ContainerSecurityPolicy exemption rule', rule, ContainerPolicyRule, 'ContainerPolicyRule');
    }
    const exemption: Exemption = { reason: reason.trim(), rules: [...rules] };
    scope.node.addMetadata(EXEMPTION_METADATA, exemption);
  }

  private readonly level: ContainerPolicyLevel;

  public constructor(props: ContainerSecurityPolicyProps = {}) {
    const level = props.level ?? ContainerPolicyLevel.ERROR;
    if (!Object.values(ContainerPolicyLevel).includes(level)) {
      throw invalidSetting('ContainerSecurityPolicyProps.level', level, "use ContainerPolicyLevel.ERROR ('error') or ContainerPolicyLevel.WARNING ('warning')");
    }
    this.level = level;
  }

  public visit(node: IConstruct): void {
    if (!(node instanceof TerraformResource) || node.terraformResourceType !== 'docker_container') return;
    const synthesized = (node.toTerraform() as any)?.resource?.docker_container?.[node.friendlyUniqueId] ?? {};
    const exemptions = node.node.scopes.flatMap((scope) =>
      scope.node.metadata.filter((entry) => entry.type === EXEMPTION_METADATA).map((entry) => entry.data as Exemption),
    );
    const annotations = Annotations.of(node);
    for (const [rule, field, value, allowed] of checkContainer(synthesized)) {
      const exemption = exemptions.find((candidate) => candidate.rules.includes(rule));
      const problem = `${allowed} (ContainerSecurityPolicy rule ${rule})`;
      if (exemption) {
        annotations.addInfo(`${invalid(node, field, value, problem).message}; exempt: ${exemption.reason}`);
        continue;
      }
      const error = invalid(node, field, value, `${problem}; or opt out with ContainerSecurityPolicy.exempt(construct, reason, [ContainerPolicyRule.${ruleName(rule)}])`);
      if (this.level === ContainerPolicyLevel.ERROR) addSynthError(node, error);
      else annotations.addWarning(error.message);
    }
  }
}

/** One violation: the rule, and the attribute, its value and what the rule allows (the parts of the one error form). */
type Violation = [rule: ContainerPolicyRule, field: string, value: unknown, allowed: string];

/** The violations of one synthesized docker_container block. */
function checkContainer(attributes: Record<string, any>): Violation[] {
  const problems: Violation[] = [];
  const unknown = (value: unknown) => Token.isUnresolved(value);

  const user = attributes.user;
  if (user === undefined || user === null || user === '') {
    problems.push([ContainerPolicyRule.NON_ROOT_USER, 'user', user, "set a user that is not root (e.g. '441:444'): without one the container runs as the image's user, possibly root"]);
  } else if (unknown(user)) {
    problems.push([ContainerPolicyRule.NON_ROOT_USER, 'user', user, 'give a literal user: one known only at apply time cannot be checked']);
  } else {
    const name = String(user).split(':')[0];
    if (name === 'root' || /^0+$/.test(name)) problems.push([ContainerPolicyRule.NON_ROOT_USER, 'user', user, 'give a user that is not root']);
  }

  if (attributes.read_only !== true) {
    problems.push([ContainerPolicyRule.READ_ONLY_ROOT_FS, 'read_only', attributes.read_only, 'set true: the root file system must not be writable']);
  }

  const memory = attributes.memory;
  if (memory === undefined || memory === null) {
    problems.push([ContainerPolicyRule.MEMORY_LIMIT, 'memory', memory, 'set a memory limit (MiB)']);
  } else if (!unknown(memory) && !(Number(memory) > 0)) {
    problems.push([ContainerPolicyRule.MEMORY_LIMIT, 'memory', memory, 'give a positive number of MiB']);
  }

  const capabilities = Array.isArray(attributes.capabilities) ? attributes.capabilities[0] : attributes.capabilities;
  const drop: unknown[] = Array.isArray(capabilities?.drop) ? capabilities.drop : [];
  const add: unknown[] = Array.isArray(capabilities?.add) ? capabilities.add : [];
  if (!drop.some((cap) => typeof cap === 'string' && cap.toUpperCase() === 'ALL')) {
    problems.push([ContainerPolicyRule.DROP_ALL_CAPABILITIES, 'capabilities.drop', capabilities?.drop, "give [\"ALL\"]: the container keeps Docker's default capabilities"]);
  }
  if (add.length > 0) {
    problems.push([ContainerPolicyRule.DROP_ALL_CAPABILITIES, 'capabilities.add', add, 'leave it empty: no capability may be added']);
  }

  const securityOpts: unknown[] = Array.isArray(attributes.security_opts) ? attributes.security_opts : [];
  if (!securityOpts.some((opt) => typeof opt === 'string' && /^no-new-privileges(:true|=true)?$/.test(opt))) {
    problems.push([ContainerPolicyRule.NO_NEW_PRIVILEGES, 'security_opts', attributes.security_opts, 'include "no-new-privileges:true": setuid programs could raise privileges']);
  }

  if (attributes.privileged === true || (typeof attributes.privileged === 'string' && attributes.privileged === 'true')) {
    problems.push([ContainerPolicyRule.NOT_PRIVILEGED, 'privileged', attributes.privileged, 'leave it out or false: a privileged container has all capabilities and devices']);
  } else if (attributes.privileged !== undefined && unknown(attributes.privileged)) {
    problems.push([ContainerPolicyRule.NOT_PRIVILEGED, 'privileged', attributes.privileged, 'give a literal: a value known only at apply time cannot be checked']);
  }

  const hostPaths = [
    ...(Array.isArray(attributes.mounts) ? attributes.mounts : []).filter((mount: any) => mount?.type === undefined || mount?.type === 'bind').map((mount: any) => mount?.source),
    ...(Array.isArray(attributes.volumes) ? attributes.volumes : []).map((volume: any) => volume?.host_path),
  ];
  for (const hostPath of hostPaths) {
    if (typeof hostPath !== 'string' || unknown(hostPath)) continue;
    const normal = hostPath.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
    if (normal === '/' || /^\/(var\/)?run\/docker\.sock$/.test(normal)) {
      problems.push([ContainerPolicyRule.NO_HOST_CONTROL_MOUNTS, 'mounts', hostPath, "leave it out: a container with the host's / or Docker socket controls the host"]);
    }
  }
  return problems;
}

/** The enum member name of a rule, e.g. NON_ROOT_USER. */
function ruleName(rule: ContainerPolicyRule): string {
  return Object.entries(ContainerPolicyRule).find(([, value]) => value === rule)![0];
}
