import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './checkout';

export { REPO_ROOT };

/** The project that uses the package from its tarball (see its README). */
export const CONSUMER_FIXTURE = path.join(REPO_ROOT, '__tests__', 'fixtures', 'python-consumer');

export interface PackedPackage {
  /** Absolute path of the .tgz. */
  readonly tarball: string;
  /** The paths in it, relative to the package root. */
  readonly files: string[];
}

/** `npm pack` of this checkout into `destination` (its prepack script builds dist/ afresh). */
export function packPackage(destination: string): PackedPackage {
  const output = execFileSync('npm', ['pack', '--json', '--pack-destination', destination], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [result] = JSON.parse(output);
  return { tarball: path.join(destination, result.filename), files: result.files.map((file: { path: string }) => file.path) };
}

/** A copy of the consumer project in `destination`. */
export function copyFixture(destination: string): string {
  fs.cpSync(CONSUMER_FIXTURE, destination, { recursive: true });
  return destination;
}
