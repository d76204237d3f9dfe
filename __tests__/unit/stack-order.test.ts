import { orderStacks, StackNode } from '../../scripts/stack-order';

/** Every order of `items`. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));
}

const names = (stacks: readonly StackNode[]) => stacks.map((stack) => stack.name);

describe('orderStacks: the order `npm run plan` plans stacks in', () => {
  it('puts a chain of three in dependency order whatever the manifest order, against the names order', () => {
    // alpha reads mid's outputs, mid reads zeta's: sorting by name (or by a pairwise comparator) gets this wrong.
    const chain = [
      { name: 'alpha', dependencies: ['mid'] },
      { name: 'mid', dependencies: ['zeta'] },
      { name: 'zeta', dependencies: [] },
    ];
    for (const order of permutations(chain)) {
      expect(names(orderStacks(order))).toEqual(['zeta', 'mid', 'alpha']);
    }
  });

  it('orders a diamond and independent stacks, breaking ties by name', () => {
    const stacks = [
      { name: 'apps', dependencies: ['images', 'network'] },
      { name: 'network', dependencies: ['base'] },
      { name: 'images', dependencies: ['base'] },
      { name: 'base', dependencies: [] },
      { name: 'docs', dependencies: [] },
    ];
    for (const order of permutations(stacks)) {
      expect(names(orderStacks(order))).toEqual(['base', 'docs', 'images', 'network', 'apps']);
    }
  });

  it('keeps the stacks themselves (with their other fields)', () => {
    const images = { name: 'images', dependencies: [], workingDirectory: 'stacks/images' };
    const apps = { name: 'apps', dependencies: ['images'], workingDirectory: 'stacks/apps' };
    const ordered = orderStacks([apps, images]);
    expect(ordered[0]).toBe(images);
    expect(ordered[1]).toBe(apps);
  });

  it('refuses a cycle, naming the stacks in it', () => {
    const cycle = [
      { name: 'a', dependencies: ['c'] },
      { name: 'b', dependencies: ['a'] },
      { name: 'c', dependencies: ['b'] },
      { name: 'free', dependencies: [] },
    ];
    expect(() => orderStacks(cycle)).toThrow('a dependency cycle leaves these stacks unordered (the cycle and the stacks after it): a, b, c');
  });

  it('refuses a dependency on a stack that is not there', () => {
    expect(() => orderStacks([{ name: 'apps', dependencies: ['images'] }])).toThrow(
      'stack "apps" depends on "images", which is not among the stacks (apps)',
    );
  });

  it('returns an empty list for no stacks', () => {
    expect(orderStacks([])).toEqual([]);
  });
});
