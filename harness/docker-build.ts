import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROUTER_IMAGE } from '../lib/router';
import { DEFAULT_TAG, PARENT_BUILD_ARG, STANDARD_IMAGES } from '../lib/standard-images';
import { REPO_ROOT } from './checkout';

/** Debian's docker.io client (20.10: BuildKit built in), installed with the engine by scripts/toolchain/engine.sh. */
const DEBIAN_CLI = '/usr/bin/docker';
let cli: string | undefined;

/**
 * A docker CLI that builds with BuildKit: `docker` when it has its buildx component, else Debian's docker.io client.
 * A CLI of 23 or later without buildx falls back to the legacy builder, whose cache Terraform's builds never use.
 */
function buildkitCli(): string {
  if (cli) return cli;
  if (spawnSync('docker', ['buildx', 'version'], { stdio: 'ignore' }).status === 0) return (cli = 'docker');
  const version = fs.existsSync(DEBIAN_CLI) ? spawnSync(DEBIAN_CLI, ['version', '--format', '{{.Client.Version}}'], { encoding: 'utf8' }).stdout.trim() : '';
  if (/^(1\d|2[0-2])\./.test(version)) return (cli = DEBIAN_CLI);
  throw new Error(
    `docker-build: no docker CLI here builds with BuildKit (docker buildx is missing, ${DEBIAN_CLI} is ${version || 'absent'}): ` +
      "install docker's buildx component, or Debian's docker.io (scripts/toolchain/engine.sh)",
  );
}

/**
 * `docker build -q ARGS` with BuildKit, the builder Terraform's docker provider uses on an engine that has it: the same
 * Dockerfile, context and build args give the same image id either way, and each build reuses the other's cache.
 * Returns the image id; throws with the build's output when it fails.
 */
export function dockerBuild(args: string[], timeoutMs = 1_800_000): string {
  const run = spawnSync(buildkitCli(), ['build', '-q', ...args], {
    env: { ...process.env, DOCKER_BUILDKIT: '1' },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`docker build ${args.join(' ')} exited ${run.status}:\n${run.stderr}${run.stdout}`);
  return run.stdout.trim();
}

const built = new Set<string>();

/**
 * Builds one standard image (or the router's) as `<prefix><name>:latest` and, first, its ancestors under the same
 * prefix, from images/<name> with the build arg Terraform passes (BASE_IMAGE = the parent's reference): the image
 * Terraform would build. Each image once per process. Returns its reference.
 */
export function buildStandardImage(name: string, prefix: string, rootImage: string): string {
  const spec = [...STANDARD_IMAGES, ROUTER_IMAGE].find((image) => image.name === name);
  if (!spec) throw new Error(`unknown image ${name}`);
  const parentRef = spec.parent ? buildStandardImage(spec.parent, prefix, rootImage) : rootImage;
  const ref = `${prefix}${name}:${DEFAULT_TAG}`;
  if (!built.has(ref)) {
    dockerBuild(['--network', 'host', '--build-arg', `${PARENT_BUILD_ARG}=${parentRef}`, '-t', ref, path.join(REPO_ROOT, 'images', name)]);
    built.add(ref);
  }
  return ref;
}
