/**
 * Validators of the names and host paths the constructs pass to the host scripts, in the one error form. The
 * rules come from scripts/volume (host-rules.ts), which the scripts check again on the host.
 */
import { IConstruct } from 'constructs';
import { Language } from '../standard-images';
import { forbiddenRoots, hostPattern, volumeSizeLimitsMiB } from './host-rules';
import { invalid, invalidSetting, requireLiteral, validateInteger } from './validation';

/** An app name: APP_NAME_PATTERN of rules.env (a lowercase letter, then lowercase letters, digits or '-', ending in a letter or digit; 1-40). */
export function validateAppName(scope: IConstruct, field: string, value: string): string {
  requireLiteral(scope, field, value);
  if (typeof value !== 'string' || !hostPattern('APP_NAME_PATTERN').test(value)) {
    throw invalid(scope, field, value, `use a lowercase letter, then lowercase letters, digits or '-', ending in a letter or digit, at most 40 characters (e.g. 'shop-api')`);
  }
  return value;
}

/** Name of an app's run container, `modulus-app-<app>`: what `npm run ctl -- <app> ...` talks to. */
export function runContainerName(app: string): string {
  if (!hostPattern('APP_NAME_PATTERN').test(app)) {
    throw invalidSetting('app name', app, "use a lowercase letter, then lowercase letters, digits or '-', ending in a letter or digit, at most 40 characters");
  }
  return `modulus-app-${app}`;
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

/** A volume size in MiB within limits.env's MIN_SIZE_MIB..MAX_SIZE_MIB (64 MiB to 16 TiB), as modulus-volume.sh enforces it. */
export function validateSizeMiB(scope: IConstruct, field: string, value: number): number {
  const { minMiB, maxMiB } = volumeSizeLimitsMiB();
  return validateInteger(scope, field, value, minMiB, maxMiB);
}

/** An LVM volume group or thin pool name: LVM_NAME_PATTERN of rules.env. */
export function validateLvmName(scope: IConstruct, field: string, value: string): string {
  requireLiteral(scope, field, value);
  if (typeof value !== 'string' || !hostPattern('LVM_NAME_PATTERN').test(value)) {
    throw invalid(scope, field, value, `use an LVM name: letters, digits, '_', '.', '+' and '-', not starting with '-'`);
  }
  return value;
}

/** Absolute host path (HOST_PATH_PATTERN of rules.env), without '.'/'..' or empty components. */
export function validateHostPath(scope: IConstruct, field: string, value: string): string {
  requireLiteral(scope, field, value);
  const parts = typeof value === 'string' ? value.split('/') : [];
  if (
    typeof value !== 'string' ||
    !hostPattern('HOST_PATH_PATTERN').test(value) ||
    parts.some((part, index) => index > 0 && (part === '' || part === '.' || part === '..'))
  ) {
    throw invalid(scope, field, value, `use an absolute path of letters, digits, '.', '_', '-' and '/', without '.' or '..' components, empty components or a trailing '/'`);
  }
  return value;
}

/** What a volume root may be: the start of every refusal of validateVolumeRoot (and of roots.sh's check_root). */
const VOLUME_ROOT_ALLOWED = 'use a folder of its own such as /var/lib/modulus/volumes';

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

/** Environment variable names (ENV_NAME_PATTERN of rules.env), accepted everywhere (supervisor, Docker, local-exec). */
export function validateEnvNames(scope: IConstruct, field: string, env: Record<string, string>): void {
  for (const name of Object.keys(env)) {
    if (!hostPattern('ENV_NAME_PATTERN').test(name)) {
      throw invalid(scope, `${field} name`, name, `use letters, digits and '_', not starting with a digit`);
    }
  }
}
