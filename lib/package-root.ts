import * as fs from 'fs';
import * as path from 'path';

/** The folder holding this package's package.json, whether running from lib/ (ts-node) or dist/lib/ (compiled). */
export function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`modulus-images: no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** The images/ folder shipped with this package. */
export function standardImagesDirectory(): string {
  return path.join(packageRoot(), 'images');
}
