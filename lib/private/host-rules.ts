/**
 * The rules the constructs share with the host scripts, read from the data files in scripts/volume that the
 * scripts source or read themselves, so that both sides refuse the same values: limits.env (numeric ranges),
 * rules.env (name and field patterns) and forbidden-roots (system folders). Each file is read once.
 */
import * as fs from 'fs';
import * as path from 'path';
import { volumeScriptDir } from './host-files';

const cache = new Map<string, unknown>();

function readOnce<T>(file: string, parse: (lines: string[], where: string) => T): T {
  if (!cache.has(file)) {
    const where = path.join(volumeScriptDir(), file);
    cache.set(file, parse(fs.readFileSync(where, 'utf8').split('\n'), where));
  }
  return cache.get(file) as T;
}

/** `NAME=value` lines of a file bash sources, comments and blank lines skipped; `line` parses one. */
function assignments<T>(lines: string[], where: string, line: RegExp, what: string, value: (text: string) => T): Record<string, T> {
  const values: Record<string, T> = {};
  for (const text of lines) {
    if (/^\s*(#.*)?$/.test(text)) continue;
    const match = line.exec(text);
    if (!match) throw new Error(`modulus-images: ${where}: '${text}' is not a ${what} line`);
    values[match[1]] = value(match[2]);
  }
  return values;
}

/** The range NAME_MIN..NAME_MAX (e.g. MIN_SIZE_MIB, MAX_SIZE_MIB) from limits.env. */
function hostLimit(min: string, max: string): { min: number; max: number } {
  const limits = readOnce('limits.env', (lines, where) => assignments(lines, where, /^([A-Z_]+)=([1-9][0-9]*)$/, 'NAME=<whole number>', Number));
  const range = { min: limits[min], max: limits[max] };
  if (!range.min || !range.max || range.min > range.max) throw new Error(`modulus-images: ${path.join(volumeScriptDir(), 'limits.env')} needs ${min} <= ${max}`);
  return range;
}

/** The smallest and largest volume in MiB (limits.env), as modulus-volume.sh enforces them. */
export function volumeSizeLimitsMiB(): { minMiB: number; maxMiB: number } {
  const { min, max } = hostLimit('MIN_SIZE_MIB', 'MAX_SIZE_MIB');
  return { minMiB: min, maxMiB: max };
}

/** The smallest and largest process limit (limits.env), as modulus-process-limit.sh enforces them. */
export function processLimitRange(): { min: number; max: number } {
  return hostLimit('MIN_PIDS_MAX', 'MAX_PIDS_MAX');
}

export type HostRule =
  | 'APP_NAME_PATTERN'
  | 'LVM_NAME_PATTERN'
  | 'HOST_PATH_PATTERN'
  | 'ENV_NAME_PATTERN'
  | 'SSH_USER_PATTERN'
  | 'SSH_ADDRESS_PATTERN'
  | 'PORT_PATTERN'
  | 'HEALTH_PATH_PATTERN'
  | 'HOST_KEY_TYPES'
  | 'HOST_KEY_BASE64_PATTERN'
  | 'SUPERVISOR_SPACE_CODEPOINTS';

/** The text of a rule of rules.env. */
export function hostRule(name: HostRule): string {
  const rules = readOnce('rules.env', (lines, where) => assignments(lines, where, /^([A-Z_0-9]+)='([^']*)'$/, "NAME='<value>'", (text) => text));
  const value = rules[name];
  if (value === undefined) throw new Error(`modulus-images: ${path.join(volumeScriptDir(), 'rules.env')} has no ${name}`);
  return value;
}

/** A pattern of rules.env (a POSIX extended regular expression JavaScript reads the same way). */
export function hostPattern(name: Exclude<HostRule, 'HOST_KEY_TYPES' | 'SUPERVISOR_SPACE_CODEPOINTS'>): RegExp {
  const key = `pattern ${name}`;
  if (!cache.has(key)) cache.set(key, new RegExp(hostRule(name)));
  return cache.get(key) as RegExp;
}

/**
 * The folders no volume root may be, lie inside or hold: forbidden-roots, the file scripts/volume/roots.sh reads
 * on the host.
 */
export function forbiddenRoots(): string[] {
  return readOnce('forbidden-roots', (lines, where) => {
    const entries: string[] = [];
    for (const line of lines) {
      const entry = line.replace(/#.*/, '').trim();
      if (entry === '') continue;
      if (entry !== '/' && !/^(\/[A-Za-z0-9._-]+)+$/.test(entry)) throw new Error(`modulus-images: ${where}: '${entry}' is not an absolute path`);
      entries.push(entry);
    }
    if (entries.length === 0) throw new Error(`modulus-images: ${where} lists no folder`);
    return entries;
  });
}
