import * as fs from 'fs';
import * as path from 'path';
import { Annotations, LocalBackend, PgBackend, TerraformBackend, TerraformStack } from 'cdktf';
import { invalid, invalidSetting } from './private/validation';

/**
 * Where a stack keeps its Terraform state.
 *
 * - `{ type: StateBackendType.LOCAL }`: a state file next to cdktf.json (see `ModulusStackProps.statePath`), for one person.
 * - `{ type: StateBackendType.PG }`: Terraform's built-in `pg` backend, one PostgreSQL schema per stack, locked with PostgreSQL
 *   advisory locks. The connection string is never written into the synthesized JSON: Terraform reads it from
 *   `PG_CONN_STR` (or the libpq variables `PGHOST`, `PGUSER`, `PGPASSWORD`, …) when it runs.
 * - a function: any cdktf backend (S3, GCS, HTTP, Terraform Cloud, …) created for the stack.
 */
export type StateBackend = LocalStateBackend | PgStateBackend | StateBackendFactory;

/** The built-in choices of `StateBackend`. */
export enum StateBackendType {
  /** A local state file. */
  LOCAL = 'local',
  /** PostgreSQL, through Terraform's `pg` backend. */
  PG = 'pg',
}

export interface LocalStateBackend {
  readonly type: StateBackendType.LOCAL;
}

export interface PgStateBackend {
  readonly type: StateBackendType.PG;
  /**
   * The stack's schema is `<schemaPrefix><stack id>`, with `-` turned into `_`: `modulus_images`,
   * `modulus_apps`. Give each deployment (production, staging, a test run) a prefix of its own.
   * @default 'modulus_'
   */
  readonly schemaPrefix?: string;
}

/** Creates the backend of `stack` (whose construct id is `stackId`); called once, from the stack's constructor. */
export type StateBackendFactory = (stack: TerraformStack, stackId: string) => TerraformBackend;

export const DEFAULT_PG_SCHEMA_PREFIX = 'modulus_';

/** Unquoted PostgreSQL identifier (lower case, at most 63 bytes), so the schema is named the same everywhere. */
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** The PostgreSQL schema a stack's state lives in with `{ type: StateBackendType.PG, schemaPrefix }`. */
export function pgSchemaName(stackId: string, schemaPrefix = DEFAULT_PG_SCHEMA_PREFIX): string {
  return `${schemaPrefix}${stackId}`.replace(/-/g, '_');
}

/** Adds the backend `choice` to `stack`. */
export function addStateBackend(stack: TerraformStack, stackId: string, choice: StateBackend, statePath: string): TerraformBackend {
  if (typeof choice === 'function') {
    const backend = choice(stack, stackId);
    if (!(backend instanceof TerraformBackend)) {
      throw invalid(stack, 'backend', backend, 'give a factory that returns a cdktf TerraformBackend created in the stack (this one returned the value shown)');
    }
    return backend;
  }
  switch (choice?.type) {
    case StateBackendType.LOCAL: {
      const backend = new LocalBackend(stack, { path: statePath });
      keepLocalStatePrivate(stack, statePath);
      return backend;
    }
    case StateBackendType.PG: {
      const schemaName = pgSchemaName(stackId, choice.schemaPrefix);
      if (!SCHEMA_RE.test(schemaName)) {
        throw invalid(
          stack,
          'backend.schemaPrefix',
          choice.schemaPrefix,
          `give a prefix that makes the schema name ('${schemaName}') lower-case letters, digits and '_', starting with a letter or '_', at most 63 characters`,
        );
      }
      // conn_str stays out of the JSON on purpose: Terraform's pg backend and the terraform_remote_state data
      // source of stacks that read this one's outputs both take it from PG_CONN_STR.
      return new PgBackend(stack, { schemaName } as unknown as ConstructorParameters<typeof PgBackend>[1]);
    }
    default:
      throw invalid(stack, 'backend', choice, `give { type: StateBackendType.LOCAL }, { type: StateBackendType.PG } or a function returning a cdktf TerraformBackend`);
  }
}

/**
 * Keeps the local state of `stack` (statePath, relative to its folder in cdktf.out) and everything Terraform
 * writes next to the stack's configuration readable by its owner alone: state files hold every secret the
 * stack handles (SSH keys, registry passwords), and `cdktf diff` leaves a saved plan, which holds them too, in
 * the stack's folder. Terraform creates these files with the process's umask (0644 by default), but writes an
 * existing state file, its `.backup` and a saved plan in place, keeping their mode (measured with Terraform
 * 1.5.7 and 1.11.4; an empty state file reads as no state). So, whenever the stack is written to disk:
 *
 * - its folder in cdktf.out becomes 0700;
 * - when the cdktf CLI runs the synth (`cdktf synth|deploy|diff|destroy`, which set CDKTF_OUTDIR to this outdir),
 *   the state file and its `.backup` are created empty with mode 0600 when missing, and the state file and every
 *   `<state file>.*` next to it (backups of `terraform state` commands) lose all group and other permissions.
 *   A synth outside the CLI (tests, a script's own outdir) leaves files outside its outdir alone.
 *
 * A file that cannot be changed (another user's) gives a warning, not an error.
 */
function keepLocalStatePrivate(stack: TerraformStack, statePath: string): void {
  const synthesizer = stack.synthesizer;
  stack.synthesizer = {
    synthesize(session) {
      const workingDirectory = path.join(session.outdir, session.manifest.forStack(stack).workingDirectory);
      const cliOutdir = process.env.CDKTF_OUTDIR;
      try {
        if (cliOutdir && path.resolve(cliOutdir) === path.resolve(session.outdir)) {
          privateStateFiles(path.resolve(workingDirectory, statePath));
        }
      } catch (error) {
        Annotations.of(stack).addWarning(`modulus-images: could not make the local state file ${statePath} private (0600): ${(error as Error).message}`);
      }
      synthesizer.synthesize(session);
      fs.chmodSync(workingDirectory, 0o700);
    },
  };
}

/** Creates `file` and `file.backup` as empty 0600 files when missing; removes group and other permissions from them and from `file.*`. */
export function privateStateFiles(file: string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const base = path.basename(file);
  const siblings = fs.readdirSync(dir).filter((name) => name.startsWith(`${base}.`));
  for (const name of new Set([base, `${base}.backup`, ...siblings])) {
    const create = name === base || name === `${base}.backup`;
    let fd: number;
    try {
      // O_CREAT without O_EXCL: an existing file (or a symbolic link's target, as Terraform follows it) is opened;
      // O_NONBLOCK: never wait on a FIFO.
      fd = fs.openSync(path.join(dir, name), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (create ? fs.constants.O_CREAT : 0), 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !create) continue;
      throw error;
    }
    try {
      const stat = fs.fstatSync(fd);
      if (stat.isFile() && (stat.mode & 0o077) !== 0) fs.fchmodSync(fd, stat.mode & 0o700);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** The environment variables `stateBackendFromEnvironment` reads. */
export const STATE_ENVIRONMENT = ['MODULUS_STATE', 'MODULUS_STATE_SCHEMA_PREFIX', 'PG_CONN_STR'] as const;

/**
 * The backend main.ts uses, from the environment:
 *   MODULUS_STATE                 `local` (default) or `pg`
 *   MODULUS_STATE_SCHEMA_PREFIX   with pg: the schema prefix (default `modulus_`)
 *   PG_CONN_STR                   with pg: required, e.g. postgres://user:password@host:5432/db?sslmode=require;
 *                                 read by Terraform itself and never written into cdktf.out
 * Errors name the variable, its value (never PG_CONN_STR's) and what is allowed.
 */
export function stateBackendFromEnvironment(env: NodeJS.ProcessEnv = process.env): StateBackend {
  const kind = env.MODULUS_STATE || StateBackendType.LOCAL;
  if (kind === StateBackendType.LOCAL) return { type: StateBackendType.LOCAL };
  if (kind !== StateBackendType.PG) {
    throw invalidSetting('MODULUS_STATE', kind, "use 'local' (default, a state file per stack next to cdktf.json) or 'pg' (PostgreSQL, with PG_CONN_STR)");
  }
  if (!env.PG_CONN_STR) {
    throw invalidSetting(
      'PG_CONN_STR',
      env.PG_CONN_STR,
      "MODULUS_STATE 'pg' needs it: the PostgreSQL connection string (postgres://user:password@host:port/database), " +
        'read by Terraform from the environment and never written into cdktf.out',
    );
  }
  return { type: StateBackendType.PG, schemaPrefix: env.MODULUS_STATE_SCHEMA_PREFIX || undefined };
}
