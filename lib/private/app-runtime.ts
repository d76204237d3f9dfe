/**
 * Helpers shared by AppVolume, BuildJob, RunContainer and App. Not exported from lib/index.ts: the public
 * surface is the constructs themselves.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AssetType, Fn, TerraformAsset, TerraformLocal, TerraformStack, Token } from 'cdktf';
import { Construct, IConstruct } from 'constructs';
import { NetworkMode } from '../network-mode';
import { packageRoot } from '../package-root';
import { Language } from '../standard-images';
import { invalid, requireLiteral, validateEnum, validateInteger } from './validation';

/** uid:gid of `mop`, the user every customer process runs as (images/base). */
export const MOP_USER = '441:444';

/** App names: a lowercase letter, then lowercase letters, digits or '-', ending in a letter or digit; 1-40. */
export const APP_NAME_PATTERN = /^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/;

export function validateAppName(scope: IConstruct, field: string, value: string): string {
  requireLiteral(scope, field, value);
  if (typeof value !== 'string' || !APP_NAME_PATTERN.test(value)) {
    throw invalid(scope, field, value, `use a lowercase letter, then lowercase letters, digits or '-', ending in a letter or digit, at most 40 characters (e.g. 'shop-api')`);
  }
  return value;
}

/** Language names (see `Language`): a lowercase letter, then lowercase letters or digits; 1-30. */
export const LANGUAGE_PATTERN = /^[a-z][a-z0-9]{0,29}$/;

export function validateLanguage(scope: IConstruct, field: string, value: string): Language {
  requireLiteral(scope, field, value);
  if (typeof value !== 'string' || !LANGUAGE_PATTERN.test(value)) {
    throw invalid(scope, field, value, `use a lowercase letter, then lowercase letters or digits, at most 30 characters (e.g. 'node' or 'python')`);
  }
  return value;
}

/** The props BuildJob and RunContainer share, validated the same way. */
export interface ContainerPropsLike {
  readonly volume: unknown;
  readonly image: string;
  readonly language: string;
  readonly memoryMiB?: number;
  readonly networkMode?: NetworkMode;
}

export function validateContainerProps<V>(
  scope: IConstruct,
  props: ContainerPropsLike & { readonly volume: V },
  defaultMemoryMiB: number,
): { volume: V; language: Language; memory: number; networkMode: NetworkMode } {
  // AppVolume is checked structurally (importing it here would be circular).
  const volume = props.volume as any;
  if (!volume || typeof volume.hostPath !== 'string' || typeof volume._scriptStep !== 'function') {
    throw invalid(scope, 'volume', props.volume, 'give an AppVolume');
  }
  const language = validateLanguage(scope, 'language', props.language);
  if (typeof props.image !== 'string' || props.image.trim() === '') {
    throw invalid(scope, 'image', props.image, 'give a non-empty image id or reference (e.g. modulusImage.imageId)');
  }
  const memory = validateInteger(scope, 'memoryMiB', props.memoryMiB ?? defaultMemoryMiB, 64, 1024 * 1024);
  const networkMode = validateEnum(scope, 'networkMode', props.networkMode ?? NetworkMode.BRIDGE, NetworkMode, 'NetworkMode');
  return { volume: props.volume, language, memory, networkMode };
}

let hostLimits: Record<string, number> | undefined;

/**
 * The range NAME_MIN..NAME_MAX (e.g. MIN_SIZE_MIB, MAX_SIZE_MIB) from scripts/volume/limits.env: the file the
 * host scripts source, so the constructs and the scripts refuse the same values.
 */
function hostLimit(min: string, max: string): { min: number; max: number } {
  const file = path.join(volumeScriptDir(), 'limits.env');
  if (!hostLimits) {
    const values: Record<string, number> = {};
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (/^\s*(#.*)?$/.test(line)) continue;
      const match = /^([A-Z_]+)=([1-9][0-9]*)$/.exec(line);
      if (!match) throw new Error(`modulus-images: ${file}: '${line}' is not a NAME=<whole number> line`);
      values[match[1]] = Number(match[2]);
    }
    hostLimits = values;
  }
  const range = { min: hostLimits[min], max: hostLimits[max] };
  if (!range.min || !range.max || range.min > range.max) throw new Error(`modulus-images: ${file} needs ${min} <= ${max}`);
  return range;
}

/** The smallest and largest volume in MiB (limits.env), as modulus-volume.sh enforces them. */
function volumeSizeLimitsMiB(): { minMiB: number; maxMiB: number } {
  const { min, max } = hostLimit('MIN_SIZE_MIB', 'MAX_SIZE_MIB');
  return { minMiB: min, maxMiB: max };
}

/** The smallest and largest process limit (limits.env), as modulus-process-limit.sh enforces them. */
export function processLimitRange(): { min: number; max: number } {
  return hostLimit('MIN_PIDS_MAX', 'MAX_PIDS_MAX');
}

/** A volume size in MiB within volumeSizeLimitsMiB() (64 MiB to 16 TiB), as modulus-volume.sh enforces it. */
export function validateSizeMiB(scope: IConstruct, field: string, value: number): number {
  const { minMiB, maxMiB } = volumeSizeLimitsMiB();
  return validateInteger(scope, field, value, minMiB, maxMiB);
}

/** Absolute host path of safe characters, without '.'/'..' components or a trailing '/'. */
export function validateHostPath(scope: IConstruct, field: string, value: string): string {
  requireLiteral(scope, field, value);
  const parts = typeof value === 'string' ? value.split('/') : [];
  if (
    typeof value !== 'string' ||
    !/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/.test(value) ||
    parts.some((part, index) => index > 0 && (part === '' || part === '.' || part === '..'))
  ) {
    throw invalid(scope, field, value, `use an absolute path of letters, digits, '.', '_', '-' and '/', without '.' or '..' components, empty components or a trailing '/'`);
  }
  return value;
}

/** What a volume root may be: the start of every refusal of validateVolumeRoot (and of roots.sh's check_root). */
const VOLUME_ROOT_ALLOWED = 'use a folder of its own such as /var/lib/modulus/volumes';

let forbiddenRootList: string[] | undefined;

/**
 * The folders no volume root may be, lie inside or hold: scripts/volume/forbidden-roots, the file
 * scripts/volume/roots.sh reads on the host, so the constructs and the script refuse the same roots.
 */
export function forbiddenRoots(): string[] {
  if (!forbiddenRootList) {
    const file = path.join(volumeScriptDir(), 'forbidden-roots');
    const entries: string[] = [];
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const entry = line.replace(/#.*/, '').trim();
      if (entry === '') continue;
      if (entry !== '/' && !/^(\/[A-Za-z0-9._-]+)+$/.test(entry)) throw new Error(`modulus-images: ${file}: '${entry}' is not an absolute path`);
      entries.push(entry);
    }
    if (entries.length === 0) throw new Error(`modulus-images: ${file} lists no folder`);
    forbiddenRootList = entries;
  }
  return forbiddenRootList;
}

/**
 * Why `root` (a path validateHostPath accepts) may not be a volume root, or undefined when it may: it is a
 * folder of forbidden-roots, lies inside one (other than '/') or holds one. The first match in the file's order
 * of these three tests, as check_root reports it.
 */
export function forbiddenRootProblem(root: string): string | undefined {
  const list = forbiddenRoots();
  const source = '(scripts/volume/forbidden-roots)';
  const same = list.find((entry) => root === entry);
  if (same) return `${same} is a system folder ${source}`;
  const outer = list.find((entry) => entry !== '/' && root.startsWith(`${entry}/`));
  if (outer) return `this one is inside the system folder ${outer} ${source}`;
  const inner = list.find((entry) => entry.startsWith(`${root}/`));
  if (inner) return `this one holds the system folder ${inner} ${source}`;
  return undefined;
}

/**
 * A host folder the volume script may work in as root (an app volume's root, or the folder holding the roots
 * of a host's volumes): validateHostPath, then not a system folder of scripts/volume/forbidden-roots, inside
 * one or above one (`/etc`, `/var/lib/docker/x`, `/var`). The script (roots.sh) refuses the same paths, and
 * also checks the host's folders on the way (symbolic links, owners, modes), which only it can see.
 */
export function validateVolumeRoot(scope: IConstruct, field: string, value: string): string {
  validateHostPath(scope, field, value);
  const problem = forbiddenRootProblem(value);
  if (problem) throw invalid(scope, field, value, `${VOLUME_ROOT_ALLOWED}: ${problem}`);
  return value;
}

/** Environment variable names accepted everywhere (supervisor, Docker, local-exec). */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function validateEnvNames(scope: IConstruct, field: string, env: Record<string, string>): void {
  for (const name of Object.keys(env)) {
    if (!ENV_NAME_PATTERN.test(name)) {
      throw invalid(scope, `${field} name`, name, `use letters, digits and '_', not starting with a digit`);
    }
  }
}

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

// ---------------------------------------------------------------------------------------------------------
// supervisor.conf

/**
 * Why a value cannot go into supervisor.conf's `environment=` unchanged, or undefined when it can. The volume
 * script renders the file (scripts/volume/modulus-volume.sh, `render_config`) and refuses the same values at
 * apply time for values that are only known then; this check gives the error at synth for literal values.
 *
 * Supervisor 4 reads the line like this: its ini parser cuts it at whitespace followed by `;` or `#`
 * (inline comment), treats line breaks as continuation lines and replaces the text `%(here)s` anywhere; then
 * `%`-expansion (so `%` is written `%%`); then a non-POSIX shlex split: no backslash escapes at all, a quoted
 * value ends at the next quote of its kind, and quote characters are stripped from both ends of each value.
 * So values are written in double quotes (single quotes when they contain a double quote).
 */
export function supervisorValueProblem(value: string): string | undefined {
  if (/[\r\n]/.test(value)) return 'contains a line break';
  if (/\s[;#]/.test(value)) return "contains whitespace followed by ';' or '#' (supervisor would cut it there as a comment)";
  if (value.includes('%(here)s')) return "contains '%(here)s' (supervisor substitutes it even when escaped)";
  if (value.includes('"') && value.includes("'")) return 'contains both single and double quotes';
  if (/^['"]|['"]$/.test(value)) return 'starts or ends with a quote character (supervisor strips those)';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Files

/** scripts/volume of this package (from lib/ with ts-node as from dist/lib/). */
export function volumeScriptDir(): string {
  const dir = path.join(packageRoot(), 'scripts', 'volume');
  if (!fs.existsSync(path.join(dir, 'modulus-volume.sh'))) throw new Error(`modulus-images: ${dir}/modulus-volume.sh not found`);
  return dir;
}

const VOLUME_SCRIPT_ASSET_ID = 'ModulusVolumeScript';

/**
 * The path of one of the host provisioning scripts (scripts/volume/<script>) as Terraform sees it: the folder
 * is copied into the stack's output as one asset per stack, so the synthesized JSON holds only a relative,
 * content-addressed path (`assets/ModulusVolumeScript/<hash>/<script>`), never this machine's absolute path.
 */
export function volumeScriptPath(scope: IConstruct, script: 'modulus-volume.sh' | 'modulus-process-limit.sh' | 'modulus-router.sh' = 'modulus-volume.sh'): string {
  return `${volumeScriptAsset(scope).path}/${script}`;
}

/**
 * Content hash of the scripts folder: in the triggers of the steps whose work a fixed script should redo on
 * existing deployments (supervisor.conf, the mount and layout check, the process limit), never in a volume's
 * identity.
 */
export function volumeScriptHash(scope: IConstruct): string {
  return volumeScriptAsset(scope).assetHash;
}

function volumeScriptAsset(scope: IConstruct): TerraformAsset {
  const stack = TerraformStack.of(scope);
  return (
    (stack.node.tryFindChild(VOLUME_SCRIPT_ASSET_ID) as TerraformAsset | undefined) ??
    new TerraformAsset(stack, VOLUME_SCRIPT_ASSET_ID, { path: volumeScriptDir(), type: AssetType.DIRECTORY })
  );
}
