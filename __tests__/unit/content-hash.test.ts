import * as fs from 'fs';
import * as path from 'path';
import { hashDirectory } from '../../lib/content-hash';
import { tempDir } from './support/temp';

/** package.json, lib/a.js, an executable run.sh and a link to lib/a.js. */
function sample(): string {
  const dir = tempDir('modulus-hash-');
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{}\n');
  fs.writeFileSync(path.join(dir, 'lib', 'a.js'), 'a\n');
  fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\n');
  fs.chmodSync(path.join(dir, 'run.sh'), 0o755);
  fs.symlinkSync('lib/a.js', path.join(dir, 'link'));
  return dir;
}

describe('hashDirectory', () => {
  it('keeps the hash of earlier releases (a change would rebuild every image and app)', () => {
    expect(hashDirectory(sample())).toBe('bbe4626f7342d564913243c74c0ef97617f7c3a41547065a54f23d0bd54d7ce0');
  });

  it('hashes a link to a folder as its text, without descending into the folder', () => {
    const outside = tempDir('modulus-hash-outside-');
    fs.writeFileSync(path.join(outside, 'secret'), 'one');
    const dir = sample();
    fs.symlinkSync(outside, path.join(dir, 'folder-link'));
    const before = hashDirectory(dir);

    fs.writeFileSync(path.join(outside, 'secret'), 'two');
    fs.writeFileSync(path.join(outside, 'more'), 'three');
    expect(hashDirectory(dir)).toBe(before);

    fs.unlinkSync(path.join(dir, 'folder-link'));
    fs.symlinkSync(`${outside}/`, path.join(dir, 'folder-link'));
    expect(hashDirectory(dir)).not.toBe(before);
  });

  it('hashes a link to a file as its text, not the file', () => {
    const outside = tempDir('modulus-hash-outside-');
    fs.writeFileSync(path.join(outside, 'secret'), 'one');
    const dir = sample();
    fs.symlinkSync(path.join(outside, 'secret'), path.join(dir, 'file-link'));
    const before = hashDirectory(dir);
    fs.writeFileSync(path.join(outside, 'secret'), 'two');
    expect(hashDirectory(dir)).toBe(before);
  });
});
