import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { sourceLinkProblems, writeSourceArchive } from '../../lib/private/source-archive';
import { tempDir } from './support/temp';

type Node =
  | { type: 'dir'; mode: number; mtime: number }
  | { type: 'file'; mode: number; mtime: number; content: string }
  | { type: 'link'; target: string };

/** Every entry below `root` by relative path (links not followed; modes of links are not kept by tar). */
function readTree(root: string): Map<string, Node> {
  const tree = new Map<string, Node>();
  const visit = (relative: string): void => {
    for (const name of fs.readdirSync(path.join(root, relative))) {
      const child = path.posix.join(relative, name);
      const file = path.join(root, child);
      const stat = fs.lstatSync(file);
      const mode = stat.mode & 0o7777;
      const mtime = Math.floor(stat.mtimeMs / 1000);
      if (stat.isSymbolicLink()) {
        tree.set(child, { type: 'link', target: fs.readlinkSync(file) });
      } else if (stat.isDirectory()) {
        tree.set(child, { type: 'dir', mode, mtime });
        visit(child);
      } else if (stat.isFile()) {
        tree.set(child, { type: 'file', mode, mtime, content: fs.readFileSync(file).toString('base64') });
      } else {
        tree.set(child, { type: 'file', mode, mtime, content: 'not a regular file' });
      }
    }
  };
  visit('');
  return tree;
}

function write(root: string, file: string, content: string | Buffer, mode = 0o644): void {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), content);
  fs.chmodSync(path.join(root, file), mode);
}

const LONG_SPLITTABLE = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(30)}`; // 152 bytes: ustar prefix + name
const LONG_NAME = 'n'.repeat(150); // no `/` to split at: PAX path
const LONGER = `${'p'.repeat(100)}/${'q'.repeat(100)}/${'r'.repeat(100)}/${'s'.repeat(120)}`; // 423 bytes: PAX path
const LONG_TARGET = `${'./'.repeat(60)}lib/a.js`; // 128 bytes: PAX linkpath

/** A source folder with one of everything the archive keeps, plus a FIFO, which it skips. */
function sourceFolder(): string {
  const root = tempDir('modulus-source-');
  write(root, 'package.json', '{"name":"app"}\n');
  write(root, 'bin/run.sh', '#!/bin/sh\necho run\n', 0o755);
  write(root, 'lib/a.js', 'module.exports = 1;\n');
  write(root, 'lib/deep/b.js', 'private', 0o600);
  write(root, 'lib/ünïcode ☃.js', 'snow');
  write(root, 'data/random.bin', Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 7919) % 256)));
  write(root, 'data/block.bin', Buffer.alloc(512, 1));
  write(root, 'data/empty', '');
  write(root, `${LONG_SPLITTABLE}.txt`, 'long');
  write(root, LONG_NAME, 'long name');
  write(root, LONGER, 'longer', 0o755);
  fs.mkdirSync(path.join(root, 'empty'));
  fs.chmodSync(path.join(root, 'empty'), 0o700);
  fs.chmodSync(path.join(root, 'lib', 'deep'), 0o750);
  fs.symlinkSync('lib/a.js', path.join(root, 'link-to-file'));
  fs.symlinkSync('deep', path.join(root, 'lib', 'link-to-dir'));
  fs.symlinkSync('missing/file', path.join(root, 'dangling'));
  fs.symlinkSync(LONG_TARGET, path.join(root, 'long-link'));
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  // Created last: writing the files above changed their folders' mtimes.
  fs.utimesSync(path.join(root, 'lib', 'a.js'), 1_600_000_000.75, 1_600_000_000.75);
  fs.utimesSync(path.join(root, 'lib'), 1_500_000_000, 1_500_000_000);
  return root;
}

/** `tar -x` of `archive` into a new folder; GNU tar must have nothing to complain about. */
function extract(archive: string): string {
  const out = tempDir('modulus-extracted-');
  const result = spawnSync('tar', ['-x', '-p', '-f', archive, '-C', out], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return out;
}

function archiveOf(directory: string): string {
  const archive = path.join(tempDir('modulus-archive-'), 'source.tar');
  writeSourceArchive(directory, archive);
  return archive;
}

interface Header {
  readonly name: string;
  readonly prefix: string;
  readonly type: string;
  /** uid and gid. */
  readonly ids: string;
  /** uname and gname. */
  readonly owners: Buffer;
}

/** Each header block, PAX headers included, up to the two zero blocks that must end the archive. */
function headers(archive: Buffer): Header[] {
  const found: Header[] = [];
  let offset = 0;
  while (archive[offset] !== 0) {
    const field = (start: number, length: number) => archive.subarray(offset + start, offset + start + length);
    const text = (start: number, length: number) => field(start, length).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(text(124, 12), 8);
    found.push({
      name: text(0, 100),
      prefix: text(345, 155),
      type: field(156, 1).toString('ascii'),
      ids: field(108, 16).toString('ascii'),
      owners: field(265, 64),
    });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  expect(archive.subarray(offset)).toEqual(Buffer.alloc(1024));
  return found;
}

describe('writeSourceArchive', () => {
  it('extracts with GNU tar to the source folder: every path, type, mode, mtime, content and link text', () => {
    const source = sourceFolder();
    const expected = readTree(source);
    expected.delete('fifo');
    expect([...expected.keys()]).toEqual(
      expect.arrayContaining(['bin/run.sh', 'lib/deep', 'empty', LONG_NAME, LONGER, 'dangling', 'long-link']),
    );
    expect(expected.get('lib/link-to-dir')).toEqual({ type: 'link', target: 'deep' });

    const extracted = readTree(extract(archiveOf(source)));
    expect(new Map([...extracted].sort())).toEqual(new Map([...expected].sort()));
    expect(extracted.get('lib/a.js')).toMatchObject({ mtime: 1_600_000_000 });
    expect(extracted.get('lib')).toMatchObject({ type: 'dir', mtime: 1_500_000_000 });
  });

  it('holds relative names in byte order, folders with a trailing /, owned by 0:0 without user or group names', () => {
    const root = tempDir('modulus-source-');
    for (const file of ['b', 'Z', 'a.js', 'a/z', '\uff01', '\u{1f600}', 'é']) write(root, file, file);
    const found = headers(fs.readFileSync(archiveOf(root)));
    // UTF-16 order (JavaScript's default sort) would put the emoji before U+FF01.
    expect(found.map((header) => header.name)).toEqual(['Z', 'a.js', 'a/', 'a/z', 'b', 'é', '\uff01', '\u{1f600}']);
    expect(found.map((header) => header.type)).toEqual(['0', '0', '5', '0', '0', '0', '0', '0']);
    for (const header of found) {
      expect(header.ids).toBe('0000000\0'.repeat(2));
      expect(header.owners).toEqual(Buffer.alloc(64));
    }
  });

  it('uses PAX headers for names and link texts that ustar cannot hold, and a ustar prefix where it can', () => {
    const found = headers(fs.readFileSync(archiveOf(sourceFolder())));
    const pax = found.filter((header) => header.type === 'x').map((header) => header.name);
    // Folder names count their trailing `/`: `ppp…/` is 101 bytes.
    const paxFor = ['long-link', LONG_NAME, ...LONGER.split('/')];
    expect(pax).toEqual(paxFor.map((name) => `PaxHeaders/${name}`.slice(0, 100)));
    const [prefix, ...rest] = `${LONG_SPLITTABLE}.txt`.split('/');
    expect(found).toContainEqual(expect.objectContaining({ prefix, name: rest.join('/') }));
  });

  it('is byte for byte the same when written twice, and from a copy of the folder elsewhere', () => {
    const source = sourceFolder();
    const first = fs.readFileSync(archiveOf(source));
    expect(fs.readFileSync(archiveOf(source))).toEqual(first);
    const copy = path.join(tempDir('modulus-copy-'), 'elsewhere');
    execFileSync('cp', ['-a', source, copy]);
    expect(fs.readFileSync(archiveOf(copy))).toEqual(first);
    expect(first.length % 512).toBe(0);
  });

  it('keeps a link to a file outside the folder as a link, never the file', () => {
    const parent = tempDir('modulus-parent-');
    fs.writeFileSync(path.join(parent, 'secret'), 'deployer-private-key');
    const source = path.join(parent, 'app');
    write(source, 'index.js', 'ok');
    fs.symlinkSync('../secret', path.join(source, 'leak'));
    fs.symlinkSync(parent, path.join(source, 'parent'));

    const archive = archiveOf(source);
    expect(fs.readFileSync(archive).includes('deployer-private-key')).toBe(false);
    const extracted = readTree(extract(archive));
    expect(extracted.get('leak')).toEqual({ type: 'link', target: '../secret' });
    expect(extracted.get('parent')).toEqual({ type: 'link', target: parent });
    expect([...extracted.keys()].sort()).toEqual(['index.js', 'leak', 'parent']);
  });

  it('keeps an mtime before 1970 in a PAX header', () => {
    const root = tempDir('modulus-source-');
    write(root, 'old', 'old');
    execFileSync('touch', ['-d', '@-315619200', path.join(root, 'old')]); // Node's utimes takes a negative time as now
    expect(fs.statSync(path.join(root, 'old')).mtimeMs).toBe(-315_619_200_000);
    const out = tempDir('modulus-extracted-');
    execFileSync('tar', ['-x', '-f', archiveOf(root), '-C', out], { stdio: 'pipe' });
    expect(fs.statSync(path.join(out, 'old')).mtimeMs).toBe(-315_619_200_000);
  });

  it('writes only the two end blocks for an empty folder', () => {
    expect(fs.readFileSync(archiveOf(tempDir('modulus-source-')))).toEqual(Buffer.alloc(1024));
  });
});

describe('sourceLinkProblems', () => {
  it('lists the links that lead outside the folder, with their text, and not those inside it', () => {
    const root = tempDir('modulus-source-');
    write(root, 'lib/a.js', '');
    const links: Record<string, string> = {
      // outside
      'up': '../x',
      'absolute': '/etc/passwd',
      'through-a': 'a/../../x',
      'lib/two-up': '../../x',
      'via-self': 'self/..', // `self` is the folder itself: its parent is outside
      'lib/via-link': '../via-self/app',
      // inside
      'self': '.',
      'file': 'lib/a.js',
      'folder': 'lib',
      'lib/back': '../lib/a.js',
      'lib/dot-dot-in': 'x/../../lib',
      'dangling': 'missing/file',
      'lib/long': LONG_TARGET.replace('lib/a.js', 'a.js'),
      'below-file': 'lib/a.js/..',
    };
    for (const [link, target] of Object.entries(links)) fs.symlinkSync(target, path.join(root, link));

    expect(sourceLinkProblems(root)).toEqual([
      { link: 'absolute', target: '/etc/passwd' },
      { link: 'lib/two-up', target: '../../x' },
      { link: 'lib/via-link', target: '../via-self/app' },
      { link: 'through-a', target: 'a/../../x' },
      { link: 'up', target: '../x' },
      { link: 'via-self', target: 'self/..' },
    ]);
  });

  it('lists a chain of links longer than the kernel follows, and nothing for a folder without links', () => {
    const root = tempDir('modulus-source-');
    write(root, 'a.js', '');
    expect(sourceLinkProblems(root)).toEqual([]);
    fs.symlinkSync('loop', path.join(root, 'loop'));
    expect(sourceLinkProblems(root)).toEqual([{ link: 'loop', target: 'loop' }]);
  });
});
