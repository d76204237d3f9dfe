import { spawnSync } from 'child_process';
import * as path from 'path';
import {
  DEFAULT_REPOSITORY_PREFIX,
  DEFAULT_TAG,
  PARENT_BUILD_ARG,
  STANDARD_IMAGES,
} from '../../../lib/standard-images';
import { ROUTER_IMAGE } from '../../../lib/router';
import { dockerBuild } from '../../../harness/docker-build';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const ROOT_IMAGE = process.env.MODULUS_ROOT_IMAGE ?? 'modulus/root:bookworm';

export function imageRef(name: string): string {
  return `${DEFAULT_REPOSITORY_PREFIX}${name}:${DEFAULT_TAG}`;
}

export interface DockerResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI and returns its exit status and output; never throws on a non-zero exit. */
export function dockerRun(args: string[], input?: string, timeoutMs = 600_000): DockerResult {
  const result = spawnSync('docker', args, { input, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the docker CLI and returns stdout; throws with stderr on a non-zero exit. */
export function docker(args: string[], input?: string, timeoutMs = 600_000): string {
  const result = dockerRun(args, input, timeoutMs);
  if (result.status !== 0) {
    throw new Error(`docker ${args.join(' ')} exited ${result.status}:\n${result.stderr}\n${result.stdout}`);
  }
  return result.stdout;
}

const built = new Set<string>();

/**
 * Builds one standard image (or the router's) and, first, its ancestors, from images/<name> with the build args
 * Terraform passes (BASE_IMAGE = the parent's reference) and its builder (BuildKit): the image Terraform would build,
 * and a cache hit once any build of it ran (harness/warm-images.ts builds them all first in `npm run test:all`).
 */
export function buildImage(name: string): string {
  const spec = [...STANDARD_IMAGES, ROUTER_IMAGE].find((image) => image.name === name);
  if (!spec) throw new Error(`unknown image ${name}`);
  const parentRef = spec.parent ? buildImage(spec.parent) : ROOT_IMAGE;
  const ref = imageRef(name);
  if (!built.has(name)) {
    dockerBuild(['--network', 'host', '--build-arg', `${PARENT_BUILD_ARG}=${parentRef}`, '-t', ref, path.join(REPO_ROOT, 'images', name)]);
    built.add(name);
  }
  return ref;
}
