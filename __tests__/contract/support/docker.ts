import { spawnSync } from 'child_process';
import * as path from 'path';
import { DEFAULT_REPOSITORY_PREFIX, DEFAULT_TAG } from '../../../lib/standard-images';
import { buildStandardImage } from '../../../harness/docker-build';

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

/**
 * Builds one standard image (or the router's) under the default names and, first, its ancestors, as Terraform would
 * (harness/docker-build.ts): a cache hit once any build of it ran (harness/warm-images.ts builds them all first in
 * `npm run test:all`).
 */
export function buildImage(name: string): string {
  return buildStandardImage(name, DEFAULT_REPOSITORY_PREFIX, ROOT_IMAGE);
}
