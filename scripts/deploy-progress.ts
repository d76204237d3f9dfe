/**
 * Reading `cdktf deploy|destroy --no-color` output as it streams (scripts/deploy.ts): the phases a person can
 * follow, the errors to show on failure, and whether anything changed.
 *
 * cdktf prefixes a stack's output with its name ("apps  null_resource.x (path): Creating..."); lines without the
 * prefix continue the stack named last. Each stack's plan lists the resources it changes ("# address (path) will be
 * created"); each change ends with "Creation complete", "Modifications complete" or "Destruction complete" (a
 * replacement with both). A phase is done when every change planned in it has ended; its time runs from its first
 * change's start to its last change's end.
 */

/** The phases of a deploy after the toolchain, in the order they happen. */
export const PHASES = ['images', 'volumes', 'builds', 'apps'] as const;
export type Phase = (typeof PHASES)[number];

/** The phases of each stack of this project (main.ts). */
const STACK_PHASES: Record<string, Phase[]> = { images: ['images'], apps: ['volumes', 'builds', 'apps'] };

/**
 * The phase of a resource of the apps stack, by its address: the volume steps (`<app>_Volume*`), the build
 * (`<app>_Build_Input`, `<app>_Build_Container`), and the rest (the run container, its process limit, the publish
 * step that switches the release and restarts the app, pulls on other hosts).
 */
export function phaseOf(stack: string, address: string): Phase {
  if (stack === 'images') return 'images';
  const name = address.slice(address.indexOf('.') + 1);
  if (/_Volume(_|$)/.test(name)) return 'volumes';
  if (/_Build_(Input|Container)(_|$)/.test(name)) return 'builds';
  return 'apps';
}

type Action = 'created' | 'updated' | 'replaced' | 'destroyed';

interface PhaseState {
  planned: Record<Action, number>;
  /** Completions still to come (a replacement needs two). */
  pending: number;
  firstStart?: number;
  lastEnd?: number;
  reported: boolean;
}

const PLAN_LINE = /^# ((?!data\.)[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)\b.*? (will be created|will be updated in-place|must be replaced|will be destroyed)$/;
const START_LINE = /^((?!data\.)[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)(?: \([^)]*\))?: (Creating|Modifying|Destroying)\.\.\./;
const END_LINE = /^((?!data\.)[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)(?: \([^)]*\))?: (Creation|Modifications|Destruction) complete after/;
/** A line of a resource's progress ("x (path): Creating...", "x (path) (local-exec): ..."). */
const RESOURCE_PROGRESS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+(?: \([^)]*\))+: /;
const ACTIONS: Record<string, Action> = {
  'will be created': 'created',
  'will be updated in-place': 'updated',
  'must be replaced': 'replaced',
  'will be destroyed': 'destroyed',
};

/** "3 created, 1 replaced" for a phase's planned changes. */
function describeChanges(planned: Record<Action, number>): string {
  return (Object.keys(planned) as Action[])
    .filter((action) => planned[action] > 0)
    .map((action) => `${planned[action]} ${action}`)
    .join(', ');
}

/** "95s", "4m05s". */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

/** One phase line: `[deploy] images      1m35s  11 created`. */
export function phaseLine(command: string, phase: string, duration: string, what: string): string {
  return `[${command}] ${phase.padEnd(10)} ${duration.padStart(6)}  ${what}`;
}

/** Follows one cdktf run's output and reports each phase once, when it is done. */
export class PhaseTracker {
  private readonly phases = new Map<Phase, PhaseState>();
  private stack = '';
  /** Stacks whose plan said "No changes." (or planned none). */
  private readonly unchangedStacks = new Set<string>();
  private readonly plannedStacks = new Set<string>();
  /**
   * After an "Error:" line: the next address named ("with x," or "in resource.x") is what failed (a data source too:
   * a volume's mount probe fails the plan).
   */
  private errorOpen = false;

  constructor(private readonly command: string) {
    for (const phase of PHASES) {
      this.phases.set(phase, { planned: { created: 0, updated: 0, replaced: 0, destroyed: 0 }, pending: 0, reported: false });
    }
  }

  /** Feeds one output line seen at `now` (ms); returns the phase lines that became due. */
  line(raw: string, now: number): string[] {
    const prefixed = /^(\S+)  (.*)$/.exec(raw);
    let text: string;
    if (prefixed && STACK_PHASES[prefixed[1]]) {
      this.stack = prefixed[1];
      text = prefixed[2].trim();
    } else {
      text = raw.trim();
    }
    if (!this.stack) return [];
    if (text.startsWith('Error: ')) {
      this.errorOpen = true;
      return [];
    }
    const failed = this.errorOpen ? /(?:^with |\bin resource\.)([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)/.exec(text) : null;
    if (failed) {
      this.errorOpen = false;
      const phase = phaseOf(this.stack, failed[1]);
      const state = this.phases.get(phase)!;
      state.reported = true;
      const duration = state.firstStart !== undefined ? formatDuration(now - state.firstStart) : '-';
      return [phaseLine(this.command, phase, duration, `FAILED: ${failed[1]}`)];
    }
    const plan = PLAN_LINE.exec(text);
    if (plan) {
      const state = this.phases.get(phaseOf(this.stack, plan[1]))!;
      const action = ACTIONS[plan[2]];
      state.planned[action]++;
      state.pending += action === 'replaced' ? 2 : 1;
      return [];
    }
    if (/^(Plan: \d+ to add|No changes\.)/.test(text)) {
      this.plannedStacks.add(this.stack);
      if (text.startsWith('No changes.') || /^Plan: 0 to add, 0 to change, 0 to destroy/.test(text)) this.unchangedStacks.add(this.stack);
      // Phases of this stack with nothing to do are done now.
      return STACK_PHASES[this.stack].flatMap((phase) => (this.phases.get(phase)!.pending === 0 ? this.report(phase) : []));
    }
    const start = START_LINE.exec(text);
    if (start) {
      const state = this.phases.get(phaseOf(this.stack, start[1]))!;
      state.firstStart ??= now;
      return [];
    }
    const end = END_LINE.exec(text);
    if (end) {
      const phase = phaseOf(this.stack, end[1]);
      const state = this.phases.get(phase)!;
      state.lastEnd = now;
      state.pending--;
      if (state.pending === 0) return this.report(phase);
    }
    return [];
  }

  /** The phases under way, e.g. "images: 4 of 11 changes done", for a "still running" line. */
  active(): string {
    return PHASES.filter((phase) => {
      const state = this.phases.get(phase)!;
      return state.firstStart !== undefined && !state.reported;
    })
      .map((phase) => {
        const state = this.phases.get(phase)!;
        const total = Object.entries(state.planned).reduce((sum, [action, count]) => sum + (action === 'replaced' ? 2 : 1) * count, 0);
        return `${phase}: ${total - state.pending} of ${total} changes done`;
      })
      .join(', ');
  }

  /** The lines of the phases not reported yet (after the run: unchanged, or cut short by a failure). */
  finish(): string[] {
    return PHASES.flatMap((phase) => this.report(phase));
  }

  /** Whether every stack of the run planned no change at all. */
  get nothingChanged(): boolean {
    return this.plannedStacks.size > 0 && [...this.plannedStacks].every((stack) => this.unchangedStacks.has(stack));
  }

  private report(phase: Phase): string[] {
    const state = this.phases.get(phase)!;
    if (state.reported) return [];
    state.reported = true;
    const changes = describeChanges(state.planned);
    const stack = Object.keys(STACK_PHASES).find((name) => STACK_PHASES[name].includes(phase))!;
    if (!changes) return [phaseLine(this.command, phase, '-', this.plannedStacks.has(stack) ? 'unchanged' : 'not reached')];
    const duration = state.firstStart !== undefined && state.lastEnd !== undefined ? formatDuration(state.lastEnd - state.firstStart) : '-';
    if (state.pending > 0) return [phaseLine(this.command, phase, duration, `did not finish (${changes} planned, ${state.pending} not done)`)];
    return [phaseLine(this.command, phase, duration, changes)];
  }
}

/**
 * Terraform's errors in a run's output (`--no-color`: plain, no boxes), each from its "Error:" line to the end of
 * its stack's output, without the stack prefix: a failed build's message with its last log lines, a failed volume
 * step's message. cdktf prefixes each chunk Terraform writes with the stack's name (a chunk may end inside an error)
 * and indents the chunk's further lines by the prefix's width; a line at column 0 without that prefix (cdktf's own)
 * ends the error, and resource progress lines of the same stack in between are left out.
 */
export function errorBlocks(output: string): string[] {
  // The docker provider keeps a container's output with Docker's stream headers (8 bytes before each chunk:
  // stream 1 or 2, three zero bytes, the length); a failed build's last log lines are quoted from it.
  output = output.replace(/[\x01\x02]\x00\x00\x00[\s\S]{4}/g, '');
  const blocks: string[] = [];
  let current: string[] | undefined;
  let indent = 0;
  const close = () => {
    if (current) blocks.push(current.join('\n').trim());
    current = undefined;
  };
  let stack: string | undefined;
  for (const raw of output.split('\n')) {
    const error = /^(?:(\S+)  )?(Error: .*)$/.exec(raw);
    const prefixed = /^(\S+)  (.*)$/.exec(raw);
    if (error && (error[1] === undefined || STACK_PHASES[error[1]])) {
      close();
      current = [error[2]];
      stack = error[1];
      indent = stack === undefined ? 0 : stack.length + 2;
    } else if (current && (raw.trim() === '' || (indent > 0 && raw.startsWith(' '.repeat(indent))))) {
      current.push(raw.slice(indent).trimEnd());
    } else if (current && stack !== undefined && prefixed?.[1] === stack) {
      if (!RESOURCE_PROGRESS.test(prefixed[2])) current.push(prefixed[2].trimEnd());
    } else {
      close();
    }
  }
  close();
  return blocks;
}

/** A deployed sample app as the synthesized apps stack describes it. */
export interface SampleApp {
  readonly app: string;
  readonly language: string;
  readonly port: number;
  /** The docker provider of its host ("docker.<alias>"), when not the stack's own engine. */
  readonly provider?: string;
  readonly container: string;
}

type Json = Record<string, unknown>;

/** The run containers of a synthesized apps stack (cdk.tf.json): app, language, port, container name. */
export function sampleApps(stack: Json): SampleApp[] {
  const containers = ((stack.resource as Json | undefined)?.docker_container ?? {}) as Record<string, Json>;
  const apps: SampleApp[] = [];
  for (const container of Object.values(containers)) {
    const labels = Object.fromEntries(((container.labels ?? []) as Array<{ label: string; value: string }>).map(({ label, value }) => [label, value]));
    if (labels['org.modulus.role'] !== 'run') continue;
    const port = ((container.env ?? []) as string[]).map((entry) => /^PORT=(\d+)$/.exec(entry)?.[1]).find((value) => value !== undefined);
    apps.push({
      app: labels['org.modulus.app'],
      language: labels['org.modulus.language'],
      port: Number(port),
      provider: typeof container.provider === 'string' ? container.provider.replace(/^\$\{(.*)\}$/, '$1') : undefined,
      container: String(container.name),
    });
  }
  return apps.sort((a, b) => a.port - b.port);
}

/**
 * Prints lines, and while a watch runs, a "still running" line of its own whenever `quietMs` pass without any
 * line: a long phase (a cold toolchain build, the first image builds) shows how far it is.
 */
export class QuietWatch {
  private lastSaid = Date.now();

  constructor(
    private readonly print: (line: string) => void,
    private readonly quietMs = 60_000,
  ) {}

  say(line: string): void {
    this.lastSaid = Date.now();
    this.print(line);
  }

  /** Checks every `quietMs / 12`; `line()` says how far it is. */
  watch(line: () => string): { stop: () => void } {
    const timer = setInterval(() => {
      if (Date.now() - this.lastSaid >= this.quietMs) this.say(line());
    }, Math.max(1, Math.floor(this.quietMs / 12)));
    return { stop: () => clearInterval(timer) };
  }
}

/** The final table: one row per sample (sample, URL, status), columns aligned. */
export function summaryTable(rows: Array<{ sample: string; url: string; status: string }>): string {
  const header = { sample: 'sample', url: 'URL', status: 'status' };
  const width = (key: 'sample' | 'url') => Math.max(...[header, ...rows].map((row) => row[key].length));
  return [header, ...rows].map((row) => `${row.sample.padEnd(width('sample'))}  ${row.url.padEnd(width('url'))}  ${row.status}`.trimEnd()).join('\n');
}
