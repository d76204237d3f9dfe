import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/**
 * A SHA-256 over every file below `directory`: relative path, executable bit and contents, in sorted order;
 * symbolic links by their text.
 * Unlike cdktf's asset hash (contents only), renaming a file or flipping its executable bit changes it too,
 * and the result does not depend on where the folder lives.
 */
export function hashDirectory(directory: string): string {
  const hash = createHash('sha256');
  const visit = (relative: string): void => {
    const absolute = path.join(directory, relative);
    const entries = fs.readdirSync(absolute, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const child = path.posix.join(relative, entry.name);
      // A Dirent describes the entry itself, not a link's target (a link to a folder is not isDirectory()): links
      // are hashed as their text, never followed. Checked first to keep that explicit.
      if (entry.isSymbolicLink()) {
        hash.update(`${child}\0l\0${fs.readlinkSync(path.join(directory, child))}\0`);
      } else if (entry.isDirectory()) {
        visit(child);
      } else if (entry.isFile()) {
        const executable = (fs.lstatSync(path.join(directory, child)).mode & 0o111) !== 0;
        hash.update(`${child}\0${executable ? 'x' : '-'}\0`);
        hash.update(fs.readFileSync(path.join(directory, child)));
        hash.update('\0');
      }
    }
  };
  visit('');
  return hash.digest('hex');
}
