/**
 * Helpers for the base and build-image contract tests: host folders owned by mop (441:444) mounted on /mnt,
 * containers run the way the platform runs builds (read-only root filesystem, only /mnt writable), and the
 * checks every image of the standard must pass (user, env, read-only, zombie reaping).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { docker, dockerRun, DockerResult, REPO_ROOT } from './docker';

export const MOP_UID = 441;
export const MOP_GID = 444;
export const SAMPLES = path.join(REPO_ROOT, 'samples');

const tempDirs: string[] = [];

/** Removes every folder made by the helpers below (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A fresh host folder, tracked for removal. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function chownMop(dir: string): void {
  execFileSync('chown', ['-R', `${MOP_UID}:${MOP_GID}`, dir]);
}

/**
 * The build volume the platform mounts on /mnt: input/ (a copy of `source`, or `files`), output/, home/, tmp/,
 * all owned by mop.
 */
export class BuildVolume {
  readonly dir: string;

  constructor(source?: string, files: Record<string, string> = {}) {
    this.dir = tempDir('modulus-build-volume-');
    for (const sub of ['input', 'output', 'home', 'tmp']) fs.mkdirSync(path.join(this.dir, sub));
    if (source) fs.cpSync(source, this.input, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(this.input, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
    chownMop(this.dir);
  }

  get input(): string {
    return path.join(this.dir, 'input');
  }

  get output(): string {
    return path.join(this.dir, 'output');
  }

  /** Path of a file in output/. */
  out(...parts: string[]): string {
    return path.join(this.output, ...parts);
  }

  /** Every file under `sub` of the volume (relative paths, sorted). */
  list(sub: string): string[] {
    const root = path.join(this.dir, sub);
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else files.push(path.relative(root, full));
      }
    };
    walk(root);
    return files.sort();
  }
}

export interface RunOptions {
  env?: Record<string, string>;
  network?: 'host' | 'none';
  /** Mounted on /mnt; without one the container has no writable place at all. */
  volume?: string;
  readOnly?: boolean;
  /** docker run --user; default the image's USER (mop). */
  user?: string;
  entrypoint?: string;
  timeoutMs?: number;
  /** Extra bind mounts, `host:container[:ro]`. */
  mounts?: string[];
  /** Trust the machine's CA bundle (see HOST_CA_BUNDLE); runBuild does. */
  hostCa?: boolean;
}

/**
 * This machine reaches the package registries through a TLS-intercepting egress whose CA only the host's
 * bundle holds. Builds that talk to the npm registry get that bundle in place of the image's own
 * (/etc/ssl/certs/ca-certificates.crt, which build-node/-static tell node to trust via NODE_EXTRA_CA_CERTS):
 * the same thing an operator does for a registry mirror with a private CA. Registries with public
 * certificates need nothing.
 */
export const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** docker run --rm with the platform's restrictions (read-only root fs, no network unless asked). */
export function runIn(image: string, command: string[], options: RunOptions = {}): DockerResult {
  const args = ['run', '--rm', '--network', options.network ?? 'none'];
  if (options.readOnly ?? true) args.push('--read-only');
  if (options.user) args.push('--user', options.user);
  if (options.volume) args.push('-v', `${options.volume}:/mnt`);
  for (const mount of options.mounts ?? []) args.push('-v', mount);
  for (const [key, value] of Object.entries(options.env ?? {})) args.push('-e', `${key}=${value}`);
  if (options.entrypoint !== undefined) args.push('--entrypoint', options.entrypoint);
  if (options.hostCa && fs.existsSync(HOST_CA_BUNDLE)) args.push('-v', `${HOST_CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro`);
  args.push(image, ...command);
  return dockerRun(args, undefined, options.timeoutMs ?? 600_000);
}

/** Runs `bash -c script` in the image as the image's default user (mop), read-only, with a scratch volume. */
export function bashIn(image: string, script: string, options: RunOptions = {}): DockerResult {
  const volume = options.volume ?? new BuildVolume().dir;
  return runIn(image, ['bash', '-c', script], { ...options, volume });
}

/** Runs `build` the way the platform does: read-only, the volume on /mnt, host network for registries. */
export function runBuild(image: string, volume: BuildVolume, env: Record<string, string> = {}, timeoutMs = 900_000): DockerResult {
  return runIn(image, ['build'], { volume: volume.dir, env, network: 'host', timeoutMs, hostCa: true });
}

/** The combined output of a run, for assertions and readable failures. */
export function outputOf(result: DockerResult): string {
  return `${result.stdout}${result.stderr}`;
}

/**
 * Orphans a child (the subshell exits while its `sleep` still runs; the sleep is re-parented to PID 1),
 * waits until the orphan has exited, then counts zombie processes. Prints "zombies=N".
 */
export const ZOMBIE_PROBE = [
  '( sleep 0.3 & )',
  'sleep 2',
  'zombies=0',
  'for f in /proc/[0-9]*/stat; do',
  '  { read -r line < "$f"; } 2>/dev/null || continue',
  '  rest=${line##*) }',
  '  [[ ${rest%% *} == Z ]] && zombies=$((zombies + 1))',
  'done',
  'echo "zombies=${zombies}"',
].join('\n');

/**
 * The same probe under a PID 1 that never reaps (python3 waiting for its own child only): proves the probe
 * does see zombies when nobody reaps them.
 */
export function zombieProbeWithoutReaper(image: string): DockerResult {
  const python = `import subprocess, sys; sys.exit(subprocess.call(["bash", "-c", ${JSON.stringify(ZOMBIE_PROBE)}]))`;
  return runIn(image, ['-c', python], { entrypoint: 'python3', volume: new BuildVolume().dir });
}

/** Builds a throwaway image FROM `parent` with a Dockerfile given as text (no build context). */
export function buildDerivedImage(tag: string, parent: string, dockerfileBody: string): string {
  docker(['build', '--network', 'none', '-t', tag, '-'], `FROM ${parent}\n${dockerfileBody}\n`, 600_000);
  return tag;
}
