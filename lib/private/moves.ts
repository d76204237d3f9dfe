/**
 * Terraform addresses and asset folders of earlier releases. When a construct id changes, the resources under
 * it get new addresses (without a `moved` block Terraform would destroy and recreate them: an image rebuilt, a
 * container replaced) and the assets under it new folders in cdktf.out (an image's build context path is part
 * of its identity: a new path rebuilds it). Constructs record their renames with `renamedChild`; resources get
 * a `moved` block from their previous address (`moveFromPreviousAddress`, ignored by Terraform where that
 * address is not in the state), and ModulusStack keeps assets in their previous folders (`previousLogicalId`).
 */
import { TerraformResource, TerraformStack } from 'cdktf';
// The logical-id function cdktf itself names resources and asset folders with: previous ids are computed alike.
import { makeUniqueId } from 'cdktf/lib/private/unique';
import { IConstruct } from 'constructs';

const previousChildIds = new WeakMap<IConstruct, Map<string, string>>();

/** Records that `parent`'s child now called `id` was called `previousId` in earlier releases. */
export function renamedChild(parent: IConstruct, id: string, previousId: string): void {
  const renames = previousChildIds.get(parent) ?? new Map<string, string>();
  renames.set(id, previousId);
  previousChildIds.set(parent, renames);
}

/** The ids of `construct`'s path below its stack as earlier releases had them, and as they are now. */
function pathBelowStack(construct: IConstruct): { previous: string[]; current: string[] } {
  const stack = TerraformStack.of(construct);
  const scopes = construct.node.scopes.slice(construct.node.scopes.indexOf(stack) + 1);
  return {
    current: scopes.map((scope) => scope.node.id),
    previous: scopes.map((scope) => previousChildIds.get(scope.node.scope!)?.get(scope.node.id) ?? scope.node.id),
  };
}

/** The logical id `construct` had in earlier releases (the same as today's when nothing on its path was renamed). */
export function previousLogicalId(construct: IConstruct): string {
  return makeUniqueId(pathBelowStack(construct).previous);
}

/** Adds a `moved` block from the address `resource` had in earlier releases, unless it is its address today. */
export function moveFromPreviousAddress(resource: TerraformResource): void {
  const { previous, current } = pathBelowStack(resource);
  if (previous.join('/') === current.join('/')) return;
  resource.moveFromId(`${resource.terraformResourceType}.${makeUniqueId(previous)}`);
}
