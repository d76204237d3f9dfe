/**
 * Turns `terraform show -json <planfile>` into a Markdown summary for pull-request review: a table of creates,
 * updates, replaces and destroys, with any replace or destroy of an app volume flagged at the top.
 */

/** The parts of Terraform's JSON plan format (format_version 1.x) this summary reads. */
export interface TerraformPlan {
  resource_changes?: ResourceChange[];
}

export interface ResourceChange {
  address: string;
  type: string;
  change: { actions: string[]; before?: any; after?: any };
}

export type Action = 'create' | 'update' | 'replace' | 'destroy';
const ACTIONS: Action[] = ['create', 'update', 'replace', 'destroy'];

export function classify(actions: string[]): Action | undefined {
  if (actions.includes('delete') && actions.includes('create')) return 'replace';
  if (actions.includes('create')) return 'create';
  if (actions.includes('delete')) return 'destroy';
  if (actions.includes('update')) return 'update';
  return undefined;
}

/**
 * App volumes are the null_resources whose triggers carry the `modulus_volume` key (see AppVolume). The
 * terraform_data volume steps of releases before 0.2 are not: an upgrade removes them from the configuration,
 * and Terraform runs no destroy-time provisioner for a resource that is no longer configured.
 */
export function isVolume(change: ResourceChange): boolean {
  if (change.type !== 'null_resource') return false;
  const triggers = change.change.before?.triggers ?? change.change.after?.triggers ?? {};
  return typeof triggers === 'object' && triggers !== null && 'modulus_volume' in triggers;
}

/** The changes of a plan that replace or destroy an app volume, and so its data. */
export function volumeLosses(plan: TerraformPlan): ResourceChange[] {
  return (plan.resource_changes ?? []).filter((change) => {
    const action = classify(change.change.actions);
    return (action === 'replace' || action === 'destroy') && isVolume(change);
  });
}

export interface StackSummary {
  stack: string;
  markdown: string;
  volumeLosses: number;
}

/** All stacks' summaries in one document, warning first when any of them destroys volume data. */
export function combineSummaries(summaries: StackSummary[]): string {
  const losing = summaries.filter((summary) => summary.volumeLosses > 0);
  const warning = losing.length
    ? [
        '> [!CAUTION]',
        `> **Data-destroying:** ${losing.map((s) => `stack \`${s.stack}\` replaces or destroys ${s.volumeLosses} app volume(s)`).join('; ')}.`,
        '',
        '',
      ].join('\n')
    : '';
  return warning + summaries.map((summary) => summary.markdown).join('\n');
}

export function summarizePlan(stack: string, plan: TerraformPlan): string {
  const byAction = new Map<Action, ResourceChange[]>(ACTIONS.map((action) => [action, []]));
  for (const change of plan.resource_changes ?? []) {
    const action = classify(change.change.actions);
    if (action) byAction.get(action)!.push(change);
  }
  const dangerous = volumeLosses(plan);
  const lines = [`## Plan for stack \`${stack}\``, ''];
  if (dangerous.length > 0) {
    lines.push(`> [!CAUTION]`, `> **Data-destroying:** this plan replaces or destroys ${dangerous.length} app volume(s):`);
    for (const change of dangerous) lines.push(`> - \`${change.address}\` (${classify(change.change.actions)})`);
    lines.push('');
  }
  lines.push('| action | count |', '| --- | ---: |');
  for (const action of ACTIONS) lines.push(`| ${action} | ${byAction.get(action)!.length} |`);
  lines.push('');
  const total = ACTIONS.reduce((sum, action) => sum + byAction.get(action)!.length, 0);
  if (total === 0) {
    lines.push('No changes: the infrastructure matches the configuration.', '');
    return lines.join('\n');
  }
  for (const action of ACTIONS) {
    const changes = byAction.get(action)!;
    if (changes.length === 0) continue;
    lines.push(`<details><summary>${action} (${changes.length})</summary>`, '');
    for (const change of [...changes].sort((a, b) => a.address.localeCompare(b.address))) {
      lines.push(`- \`${change.address}\`${isVolume(change) && action !== 'create' && action !== 'update' ? ' ⚠ volume' : ''}`);
    }
    lines.push('', '</details>', '');
  }
  return lines.join('\n');
}
