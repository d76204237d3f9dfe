import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../../../harness/checkout';

export { REPO_ROOT };

/** The project that uses the package from its tarball (see its README). */
export const CONSUMER_FIXTURE = path.join(REPO_ROOT, 'examples', 'python-consumer');

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

/** A copy of the consumer project (or another of examples/) in `destination`. */
export function copyFixture(destination: string, example = CONSUMER_FIXTURE): string {
  fs.cpSync(example, destination, { recursive: true });
  return destination;
}

/**
 * The packed package unpacked into `project`'s node_modules, with its peer dependencies and the project's tools
 * linked from this checkout (no registry in the unit suite); returns the package's folder.
 */
export function installPacked(project: string, packed: PackedPackage): string {
  const installed = path.join(project, 'node_modules', 'modulus-images');
  fs.mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', packed.tarball, '-C', installed, '--strip-components=1']);
  for (const dependency of ['cdktf', 'constructs', '@cdktf', '@types']) {
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', dependency), path.join(project, 'node_modules', dependency));
  }
  return installed;
}

/** `tsc -p tsconfig.json` in a project. */
export function compileProject(project: string): void {
  execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: project, stdio: 'pipe' });
}
