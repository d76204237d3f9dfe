/** Literal values in Terraform's JSON syntax, and secret values kept out of its expressions. */
import { createHash } from 'crypto';
import type { ContainerConfig } from '@cdktf/provider-docker/lib/container';
import { Fn, TerraformLocal, Token } from 'cdktf';
import { Construct } from 'constructs';

/**
 * Escapes a literal string for Terraform's JSON syntax, where every string is a template: `${` and `%{` would
 * otherwise start an interpolation or directive.
 */
export function escapeTemplate(value: string): string {
  // (A replacement function, because '$$' in a replacement string means a single '$'.)
  return value.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}

/** A string for a Terraform template position: literals escaped, tokens as they are. */
export function templateValue(value: string): string {
  return Token.isUnresolved(value) ? value : escapeTemplate(value);
}

/**
 * Secret values for a host step (AppVolume's supervisor.conf, BuildJob's build secrets): each through a local named
 * `Secret_<NAME>` in `scope`, so that no literal secret ends up inside a Terraform expression, as the sensitive
 * trigger `secret_<NAME>_sha256` (a new value runs the step again) and the sensitive environment value
 * `<envPrefix><NAME>`. Sorted by name.
 */
export function secretStepValues(
  scope: Construct,
  secrets: Record<string, string>,
  envPrefix: string,
): { triggers: Record<string, string>; environment: Record<string, string> } {
  const triggers: Record<string, string> = {};
  const environment: Record<string, string> = {};
  for (const name of Object.keys(secrets).sort()) {
    const local = new TerraformLocal(scope, `Secret_${name}`, templateValue(secrets[name]));
    triggers[`secret_${name}_sha256`] = Fn.sensitive(Fn.sha256(local.asString));
    environment[`${envPrefix}${name}`] = Fn.sensitive(local.asString);
  }
  return { triggers, environment };
}

/** The Docker `env` list for a record, literal values escaped for Terraform. Sorted for stable output. */
export function dockerEnv(env: Record<string, string>): string[] {
  return Object.keys(env)
    .sort()
    .map((name) => `${name}=${templateValue(env[name])}`);
}

/**
 * A hand-over step's triggers (RunContainer's, ModulusRouter's): a container's settings, so that the step runs
 * whenever the container is replaced. The values known only to Terraform (the image's id, the steps' ids) are
 * listed as they are; the rest is hashed.
 */
export function settingsTriggers(settings: ContainerConfig): Record<string, string> {
  const inputs: string[] = [];
  const json = JSON.stringify(settings, (_key, value) => {
    if (typeof value === 'string' && Token.isUnresolved(value)) {
      inputs.push(value);
      return `input ${inputs.length}`;
    }
    return value;
  });
  return { settings_sha256: createHash('sha256').update(json).digest('hex'), inputs: inputs.join(' ') };
}
