/**
 * An app's source folder as a tar archive, for its volume. Customer code is hostile: a symbolic link is archived
 * as a link (its text), never as what it points to, so a link to a file outside the folder cannot smuggle the
 * deployer's files into cdktf.out or the volume. `sourceLinkProblems` finds links that would lead outside.
 */
import * as fs from 'fs';
import * as path from 'path';

interface Entry {
  /** Relative to the folder, posix separators; folders end with `/`. */
  readonly name: string;
  readonly stat: fs.Stats;
}

/** The folders, files and links below `directory` (nothing else), sorted by name in byte order. */
function entriesBelow(directory: string): Entry[] {
  const entries: Entry[] = [];
  const visit = (relative: string): void => {
    for (const child of fs.readdirSync(path.join(directory, relative))) {
      const name = relative + child;
      const stat = fs.lstatSync(path.join(directory, name));
      if (stat.isDirectory()) {
        entries.push({ name: `${name}/`, stat });
        visit(`${name}/`);
      } else if (stat.isFile() || stat.isSymbolicLink()) {
        entries.push({ name, stat });
      }
    }
  };
  visit('');
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
}

/**
 * Whether following the link at `link` (relative to `directory`) leads outside `directory`: its target resolved
 * as the kernel would, following links met on the way (`d/..` is the folder above when `d` links to `.`), but
 * without needing the target to exist. An absolute target always leads outside: in the volume it resolves against
 * the container's root. So does a chain of more links than the kernel follows (40).
 */
function leavesDirectory(directory: string, link: string): boolean {
  const at: string[] = [];
  let pending = link.split('/');
  for (let links = 0; pending.length > 0; ) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (at.pop() === undefined) return true;
      continue;
    }
    const here = path.join(directory, ...at, part);
    if (!isLink(here)) {
      at.push(part);
      continue;
    }
    const target = fs.readlinkSync(here);
    if (path.posix.isAbsolute(target) || ++links > 40) return true;
    pending = [...target.split('/'), ...pending];
  }
  return false;
}

/** Missing, or below a file (`file/x`): not a link, the rest of the path is then taken as written. */
function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Every symbolic link below `directory` that leads outside it, with its text as `target`. */
export function sourceLinkProblems(directory: string): { link: string; target: string }[] {
  return entriesBelow(directory)
    .filter((entry) => entry.stat.isSymbolicLink() && leavesDirectory(directory, entry.name))
    .map((entry) => ({ link: entry.name, target: fs.readlinkSync(path.join(directory, entry.name)) }));
}

const BLOCK = 512;
/** The largest number in a 12-byte header field: 11 octal digits. */
const MAX_OCTAL = 0o77777777777;

interface HeaderFields {
  readonly name: string;
  readonly prefix: string;
  readonly mode: number;
  /** Of the data that follows the header. */
  readonly size: number;
  readonly mtime: number;
  readonly type: string;
  readonly linkname: string;
}

/** A ustar header block (uid and gid 0, no user or group names). */
function header(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  const octal = (value: number, offset: number, length: number) =>
    block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
  block.write(fields.name, 0, 100, 'utf8');
  octal(fields.mode, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(fields.size, 124, 12);
  octal(fields.mtime, 136, 12);
  block.write(' '.repeat(8), 148, 8, 'ascii'); // counted as spaces in the checksum
  block.write(fields.type, 156, 1, 'ascii');
  block.write(fields.linkname, 157, 100, 'utf8');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii'); // version
  octal(0, 329, 8); // devmajor
  octal(0, 337, 8); // devminor
  block.write(fields.prefix, 345, 155, 'utf8');
  const checksum = block.reduce((sum, byte) => sum + byte, 0);
  block.write(`${checksum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** `name` split into ustar's prefix (155 bytes) and name (100 bytes) fields at a `/`, if it fits them. */
function ustarName(name: string): { prefix: string; name: string } | undefined {
  const fits = (text: string, bytes: number) => Buffer.byteLength(text) <= bytes;
  if (fits(name, 100)) return { prefix: '', name };
  // Not at a folder's trailing `/`: the name field may not be empty.
  for (let slash = name.indexOf('/'); slash >= 0 && slash < name.length - 1; slash = name.indexOf('/', slash + 1)) {
    if (fits(name.slice(0, slash), 155) && fits(name.slice(slash + 1), 100)) {
      return { prefix: name.slice(0, slash), name: name.slice(slash + 1) };
    }
  }
  return undefined;
}

/** A PAX extended header's records: `<length> <key>=<value>\n`, the length counting itself. */
function paxRecords(records: [string, string][]): Buffer {
  return Buffer.concat(
    records.map(([key, value]) => {
      const record = ` ${key}=${value}\n`;
      const bytes = Buffer.byteLength(record);
      let length = bytes;
      while (String(length).length + bytes !== length) length = String(length).length + bytes;
      return Buffer.from(`${length}${record}`);
    }),
  );
}

/**
 * Writes the folders, files and symbolic links below `directory` to `file` as a POSIX tar archive, names
 * relative to `directory` (`lib/`, `lib/a.js`). Links stay links. The archive depends on names, modes, mtimes
 * (whole seconds) and contents only: sorted, owned by 0:0, no user or group names.
 */
export function writeSourceArchive(directory: string, file: string): void {
  const out = fs.openSync(file, 'w');
  try {
    const write = (data: Buffer) => {
      for (let written = 0; written < data.length; ) written += fs.writeSync(out, data, written);
    };
    const writePadded = (data: Buffer) => {
      write(data);
      write(Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
    };
    for (const { name, stat } of entriesBelow(directory)) {
      const source = path.join(directory, name);
      const linkname = stat.isSymbolicLink() ? fs.readlinkSync(source) : '';
      const data = stat.isFile() ? readNoFollow(source) : Buffer.alloc(0);
      const mtime = Math.floor(stat.mtimeMs / 1000);
      const split = ustarName(name);
      const pax: [string, string][] = [];
      if (!split) pax.push(['path', name]);
      if (Buffer.byteLength(linkname) > 100) pax.push(['linkpath', linkname]);
      if (mtime < 0 || mtime > MAX_OCTAL) pax.push(['mtime', String(mtime)]);
      const fields: HeaderFields = {
        name: split?.name ?? name,
        prefix: split?.prefix ?? '',
        mode: stat.mode & 0o7777,
        // No size over 11 octal digits: readFileSync reads at most 2 GiB.
        size: data.length,
        mtime: Math.min(Math.max(mtime, 0), MAX_OCTAL),
        type: stat.isDirectory() ? '5' : stat.isSymbolicLink() ? '2' : '0',
        linkname,
      };
      if (pax.length > 0) {
        const records = paxRecords(pax);
        const paxName = `PaxHeaders/${path.posix.basename(name)}`;
        const size = records.length;
        write(header({ name: paxName, prefix: '', mode: 0o644, size, mtime: fields.mtime, type: 'x', linkname: '' }));
        writePadded(records);
      }
      write(header(fields));
      writePadded(data);
    }
    write(Buffer.alloc(2 * BLOCK));
  } finally {
    fs.closeSync(out);
  }
}

/** The file's contents; should it have become a link since it was listed, an error rather than the target's. */
function readNoFollow(file: string): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
