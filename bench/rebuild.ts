import * as fs from 'fs';
import * as path from 'path';
import { STANDARD_IMAGES } from '../lib/standard-images';
import { cdktf, Checkout, planStatus, terraform } from './support/deployment';
import { failed, verdict } from './support/measure';

const NAME = 'rebuild precision';
const PLAN_FILE = 'bench-rebuild.tfplan';

interface ResourceChange {
  address: string;
  type: string;
  change: { actions: string[]; before: { name?: string } | null; after: { name?: string } | null };
}

/** The images whose docker_image the plan replaces (or creates), and every other planned change. */
function plannedRebuilds(checkout: Checkout, prefix: string): { rebuilt: string[]; other: string[] } {
  terraform(checkout, 'images', ['plan', '-input=false', '-no-color', '-lock=false', `-out=${PLAN_FILE}`]);
  try {
    const plan = JSON.parse(terraform(checkout, 'images', ['show', '-json', PLAN_FILE]).stdout) as { resource_changes?: ResourceChange[] };
    const changes = (plan.resource_changes ?? []).filter((c) => !(c.change.actions.length === 1 && ['no-op', 'read'].includes(c.change.actions[0])));
    const rebuilt = changes
      .filter((c) => c.type === 'docker_image' && c.change.actions.includes('create'))
      .map((c) => (c.change.before?.name ?? c.change.after?.name ?? c.address).replace(prefix, '').replace(/:latest$/, ''))
      .sort();
    const other = changes.filter((c) => !(c.type === 'docker_image' && c.change.actions.includes('create'))).map((c) => `${c.address} ${c.change.actions.join('+')}`);
    return { rebuilt, other };
  } finally {
    fs.rmSync(path.join(checkout.dir, 'cdktf.out', 'stacks', 'images', PLAN_FILE), { force: true });
  }
}

/** The image and its descendants in the standard tree. */
function subtree(name: string): string[] {
  return [name, ...STANDARD_IMAGES.filter((image) => image.parent === name).flatMap((image) => subtree(image.name))].sort();
}

/**
 * On the deployed copy: append a comment line to one image folder's Dockerfile, synth, plan the images stack
 * and count the docker_image resources the real plan (`terraform show -json`) replaces: a leaf (run-static,
 * goal 1) and run-base (goal 5: itself and its four run images). The file is restored and the plan checked
 * empty again afterwards.
 */
export function rebuildPrecision(checkout: Checkout): void {
  console.log(`\n# ${NAME}`);
  const cases = [
    { image: 'run-static', goal: 1 },
    { image: 'run-base', goal: 5 },
  ];
  try {
    for (const { image, goal } of cases) {
      const dockerfile = path.join(checkout.dir, 'images', image, 'Dockerfile');
      const original = fs.readFileSync(dockerfile);
      let result: { rebuilt: string[]; other: string[] };
      try {
        fs.appendFileSync(dockerfile, '\n# edited by the rebuild-precision benchmark\n');
        cdktf(checkout, ['synth']);
        result = plannedRebuilds(checkout, checkout.prefix);
      } finally {
        fs.writeFileSync(dockerfile, original);
      }
      const expected = subtree(image);
      const exact = JSON.stringify(result.rebuilt) === JSON.stringify(expected);
      console.log(`  edit images/${image}/Dockerfile → plan replaces ${result.rebuilt.length} docker_image: ${result.rebuilt.join(', ') || '(none)'}`);
      if (result.other.length > 0) console.log(`  other planned changes: ${result.other.join('; ')}`);
      verdict(NAME, `images replaced after editing ${image} (1 plan)`, result.rebuilt.length, { equals: goal }, '', exact ? `exactly ${expected.join(', ')}` : `expected ${expected.join(', ')}`);
    }
    cdktf(checkout, ['synth']);
    const after = planStatus(checkout, 'images');
    if (after.status !== 0) throw new Error(`the images plan is not empty after restoring the edited files:\n${after.output.slice(-3000)}`);
    console.log('  files restored: the images plan is empty again');
  } catch (error) {
    failed(NAME, error);
  }
}
