/**
 * Turns `terraform show -json <planfile>` into a Markdown summary for pull-request review: a table of creates,
 * updates, replaces and destroys, with any replace or destroy of an app volume flagged at the top, and the new
 * release of each app whose build changes, with the release it replaces.
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

/** An image a plan replaces or destroys, with the id it has now (the id containers of other stacks run). */
export interface ReplacedImage {
  stack: string;
  address: string;
  imageId: string;
}

/** The docker_images a stack's plan replaces or destroys. */
export function replacedImages(stack: string, plan: TerraformPlan): ReplacedImage[] {
  return (plan.resource_changes ?? [])
    .filter((change) => change.type === 'docker_image' && ['replace', 'destroy'].includes(classify(change.change.actions) ?? ''))
    .map((change) => ({ stack, address: change.address, imageId: change.change.before?.image_id }))
    .filter((image) => typeof image.imageId === 'string' && image.imageId !== '');
}

/**
 * Containers a plan keeps but that run an image another stack's plan replaces. A stack reads the images stack's
 * outputs from its applied state, so its own plan cannot see the new image id before the images stack is applied;
 * the deploy that follows replaces these containers.
 */
export function followUpReplacements(plan: TerraformPlan, images: readonly ReplacedImage[]): { change: ResourceChange; image: ReplacedImage }[] {
  const byId = new Map(images.map((image) => [image.imageId, image]));
  const found: { change: ResourceChange; image: ReplacedImage }[] = [];
  for (const change of plan.resource_changes ?? []) {
    const action = classify(change.change.actions);
    if (change.type !== 'docker_container' || (action !== undefined && action !== 'update')) continue;
    const image = byId.get(change.change.before?.image);
    if (image) found.push({ change, image });
  }
  return found;
}

/** A new release of an app (or of one instance of a replicated app): a Publish step replaced. */
export interface PlannedRelease {
  /** The app's construct (the address before `_Build_Publish_` or `_instance-<host>_Publish_`). */
  app: string;
  /** A replicated app's instance the release reaches after the first (its host's name); undefined for the first. */
  instance?: string;
  /** The release that serves now (the build container id the step was keyed on). */
  serving: string;
  /** The new release's id, or undefined while it is known only after apply (a new build). */
  next?: string;
  /** SHA-256 of the source the new release is built from (undefined for releases before 0.4). */
  source?: string;
}

/**
 * The releases a plan makes: each Publish step (triggers `volume` and `build`) replaced for a new build: the app's
 * own (its first instance's) and, for a replicated app, each other instance's (`<app>/instance-<host>/Publish`).
 */
export function plannedReleases(plan: TerraformPlan): PlannedRelease[] {
  const releases: PlannedRelease[] = [];
  for (const change of plan.resource_changes ?? []) {
    const match = /^(?:.*\.)?null_resource\.(.+?)(?:_Build|_instance-([a-z][a-z0-9-]*))_Publish_[0-9A-F]{8}$/.exec(change.address);
    const serving = change.change.before?.triggers?.build;
    if (!match || classify(change.change.actions) !== 'replace' || typeof serving !== 'string') continue;
    const next = change.change.after?.triggers?.build;
    const source = change.change.after?.triggers?.source_sha256;
    releases.push({ app: match[1], instance: match[2], serving, next: typeof next === 'string' ? next : undefined, source: typeof source === 'string' ? source : undefined });
  }
  return releases.sort((a, b) => a.app.localeCompare(b.app) || (a.instance ?? '').localeCompare(b.instance ?? ''));
}

/** `upstreamImages`: images other stacks' plans replace, whose containers here are counted as replaced too. */
export function summarizePlan(stack: string, plan: TerraformPlan, upstreamImages: readonly ReplacedImage[] = []): string {
  const byAction = new Map<Action, ResourceChange[]>(ACTIONS.map((action) => [action, []]));
  const notes = new Map<string, string>();
  const followUps = new Map(followUpReplacements(plan, upstreamImages).map(({ change, image }) => [change, image]));
  for (const change of plan.resource_changes ?? []) {
    const image = followUps.get(change);
    if (image) notes.set(change.address, ` (runs \`${image.address}\`, which stack \`${image.stack}\` replaces: replaced when that is applied)`);
    const action = image ? 'replace' : classify(change.change.actions);
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
  const releases = plannedReleases(plan);
  if (releases.length > 0) {
    lines.push('Releases (behind a router a release starts beside the one that serves and takes over once healthy; without one the app restarts in place):', '');
    for (const release of releases) {
      const next = release.next ? `release \`${release.next.slice(0, 12)}\`` : 'a new build (its id known after apply)';
      const source = release.source ? ` of source \`${release.source.slice(0, 12)}\`` : '';
      const where = release.instance ? ` (its instance on host \`${release.instance}\`, delivered from the first)` : '';
      lines.push(`- \`${release.app}\`${where}: ${next}${source} replaces release \`${release.serving.slice(0, 12)}\`, which serves now`);
    }
    lines.push('');
  }
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
      const volume = isVolume(change) && action !== 'create' && action !== 'update' ? ' ⚠ volume' : '';
      lines.push(`- \`${change.address}\`${volume}${notes.get(change.address) ?? ''}`);
    }
    lines.push('', '</details>', '');
  }
  return lines.join('\n');
}

/** GitHub refuses issue and pull-request comments longer than this many characters. */
export const GITHUB_COMMENT_LIMIT = 65536;
/** First line of the plan comment; the workflow finds its earlier comment by it. */
export const PLAN_COMMENT_MARKER = '<!-- modulus-images-plan -->';

/**
 * The pull-request comment: the marker, the summary (table first), then every stack's full plan text folded in a
 * `<details>`, cut at a line end to fit `limit` characters with a note saying how much was left out.
 */
export function planComment(summary: string, plans: readonly { stack: string; text: string }[], limit = GITHUB_COMMENT_LIMIT): string {
  // A fence inside the plan text would end the code block early.
  const fullText = plans.map(({ stack, text }) => `### ${stack}\n\n${text.trimEnd()}\n`).join('\n').replace(/```/g, "'''");
  const head = `${PLAN_COMMENT_MARKER}\n${summary.trimEnd()}\n\n`;
  const wrap = (text: string, note: string) =>
    `${head}<details><summary>Full plan output${note ? ' (truncated)' : ''}</summary>\n\n${note}\`\`\`text\n${text}\n\`\`\`\n\n</details>\n`;
  const complete = wrap(fullText, '');
  if (complete.length <= limit) return complete;
  const note = (shown: number) =>
    `> [!NOTE]\n> Truncated to fit GitHub's comment limit of ${limit} characters: the first ${shown} of ${fullText.length} ` +
    "characters of the plan output are shown. The whole plan is in the workflow run's `plan` artifact (plan/plan.txt).\n\n";
  // The note's length depends on the number in it: measure it with the largest number it can hold.
  const room = limit - wrap('', note(fullText.length)).length;
  if (room <= 0) throw new Error(`planComment: the summary alone (${head.length} characters) does not fit in ${limit} characters`);
  const cut = fullText.slice(0, room);
  const shown = cut.includes('\n') ? cut.slice(0, cut.lastIndexOf('\n')) : cut;
  return wrap(shown, note(shown.length));
}
