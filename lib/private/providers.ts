import { ExternalProvider } from '@cdktf/provider-external/lib/provider';
import { NullProvider } from '@cdktf/provider-null/lib/provider';
import { TerraformProvider, TerraformStack } from 'cdktf';
import { IConstruct } from 'constructs';

/**
 * The exact provider versions the prebuilt bindings were generated from: @cdktf/provider-docker 12.0.3,
 * @cdktf/provider-null 11.0.1 and @cdktf/provider-external 11.0.1. Stacks require exactly these (never a range),
 * so an online `terraform init` and the offline toolchain's mirror (scripts/toolchain/providers.sh) install the
 * same builds.
 */
export const PROVIDER_VERSIONS = {
  docker: '3.6.2',
  null: '3.2.4',
  external: '2.3.5',
} as const;

const PROVIDER_SOURCES: Record<keyof typeof PROVIDER_VERSIONS, string> = {
  docker: 'kreuzwerker/docker',
  null: 'hashicorp/null',
  external: 'hashicorp/external',
};

/** Requires exactly the provider named `name` (source and version) in the stack's required_providers. */
export function pinProvider(stack: TerraformStack, name: keyof typeof PROVIDER_VERSIONS): void {
  stack.addOverride(`terraform.required_providers.${name}`, { source: PROVIDER_SOURCES[name], version: PROVIDER_VERSIONS[name] });
}

const providers = new WeakMap<TerraformStack, Map<string, TerraformProvider>>();

/**
 * The stack's provider of one kind, created (and pinned) on first use, so that a construct using its resources
 * works in any stack, not only a ModulusStack.
 */
function providerOf<P extends TerraformProvider>(
  scope: IConstruct,
  name: 'null' | 'external',
  make: (stack: TerraformStack) => P,
): P {
  const stack = TerraformStack.of(scope);
  let known = providers.get(stack);
  if (!known) providers.set(stack, (known = new Map()));
  // Remembered: every step of every app asks, and a search of the stack's children made synth quadratic in apps.
  const found = known.get(name) ?? stack.node.children.find((child): child is TerraformProvider => child instanceof TerraformProvider && child.terraformResourceType === name);
  if (found) {
    known.set(name, found);
    return found as P;
  }
  pinProvider(stack, name);
  const made = make(stack);
  known.set(name, made);
  return made;
}

/** hashicorp/null, pinned to exactly 3.2.4. */
export function nullProvider(scope: IConstruct): NullProvider {
  return providerOf(scope, 'null', (stack) => new NullProvider(stack, 'Null'));
}

/** hashicorp/external, pinned to exactly 2.3.5 (only in stacks that use it). */
export function externalProvider(scope: IConstruct): ExternalProvider {
  return providerOf(scope, 'external', (stack) => new ExternalProvider(stack, 'External'));
}
