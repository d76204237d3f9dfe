/** A stack as cdktf's manifest.json lists it: its name and the names of the stacks it reads outputs from. */
export interface StackNode {
  readonly name: string;
  readonly dependencies: readonly string[];
}

/**
 * The stacks in dependency order: every stack after all the stacks it depends on (a topological sort, Kahn's
 * algorithm), ties broken by name so the order is stable. Throws on a dependency that is not in the list and on a
 * cycle, naming the stacks involved.
 */
export function orderStacks<T extends StackNode>(stacks: readonly T[]): T[] {
  const byName = new Map(stacks.map((stack) => [stack.name, stack]));
  for (const stack of stacks) {
    for (const dependency of stack.dependencies) {
      if (!byName.has(dependency)) {
        throw new Error(`stack "${stack.name}" depends on "${dependency}", which is not among the stacks (${[...byName.keys()].sort().join(', ')})`);
      }
    }
  }
  const waitingOn = new Map(stacks.map((stack) => [stack.name, new Set(stack.dependencies)]));
  const ordered: T[] = [];
  while (waitingOn.size > 0) {
    const ready = [...waitingOn].filter(([, dependencies]) => dependencies.size === 0).map(([name]) => name).sort();
    if (ready.length === 0) {
      throw new Error(`a dependency cycle leaves these stacks unordered (the cycle and the stacks after it): ${[...waitingOn.keys()].sort().join(', ')}`);
    }
    for (const name of ready) {
      ordered.push(byName.get(name)!);
      waitingOn.delete(name);
      for (const dependencies of waitingOn.values()) dependencies.delete(name);
    }
  }
  return ordered;
}
