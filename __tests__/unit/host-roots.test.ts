/**
 * Volume roots (issue: no privileged step may follow a path an app can write). One table of roots runs through
 * both checks, which read the one list scripts/volume/forbidden-roots: the constructs' validateVolumeRoot (at
 * synth, DockerHost's volumes.root) and the host script's check_root (scripts/volume/roots.sh, sourced by
 * modulus-volume.sh); they must give the same verdict with the same reason. Then the checks only the script can
 * make, on the host's folders: symbolic links, owners and modes, with temporary folders.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
import { DockerHost } from '../../lib/docker-host';
import { forbiddenRoots } from '../../lib/private/host-rules';
import { validateVolumeRoot } from '../../lib/private/names';
import { errorMessage } from './support/app-runtime';
import { REPO_ROOT } from '../../harness/checkout';
import { tempDir } from './support/temp';

const SCRIPTS = path.join(REPO_ROOT, 'scripts/volume');

interface Verdict {
  accepted: boolean;
  /** What the refusal says after `invalid <field> '<root>': `. */
  reason?: string;
}

/** check_root ROOT as modulus-volume.sh calls it: messages.sh and roots.sh sourced, under set -euo pipefail. */
function shell(root: string, scripts = SCRIPTS, env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(
    'bash',
    ['-c', 'set -euo pipefail; source "$1/messages.sh"; PROGRAM=t; source "$1/roots.sh"; check_root "$2"', '_', scripts, root],
    { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, ...env } },
  );
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function shellVerdict(root: string): Verdict {
  const { status, stdout, stderr } = shell(root);
  if (status === 0 && stdout === '' && stderr === '') return { accepted: true };
  const prefix = `t: error: invalid MODULUS_ROOT '${root}': `;
  expect({ status, stdout, prefix: stderr.slice(0, prefix.length), lines: stderr.split('\n').length }).toEqual({
    status: 2,
    stdout: '',
    prefix,
    lines: root.split('\n').length + 1,
  });
  return { accepted: false, reason: stderr.slice(prefix.length, -1) };
}

function constructVerdict(root: string): Verdict {
  const stack = new TerraformStack(Testing.app(), 'test');
  let message: string;
  try {
    expect(validateVolumeRoot(stack, 'hostRoot', root)).toBe(root);
    return { accepted: true };
  } catch (error) {
    message = (error as Error).message;
  }
  const prefix = `test: invalid hostRoot '${root}': `;
  expect(message.slice(0, prefix.length)).toBe(prefix);
  return { accepted: false, reason: message.slice(prefix.length) };
}

const SYNTAX = "use an absolute path of letters, digits, '.', '_', '-' and '/', without '.' or '..' components, empty components or a trailing '/'";
const OWN = 'use a folder of its own such as /var/lib/modulus/volumes';
const LIST = '(scripts/volume/forbidden-roots)';

/** [root, reason of the refusal or undefined when accepted]. The accepted ones also pass the host checks here. */
const ROOTS: Array<[string, string | undefined]> = [
  ['/var/lib/modulus/volumes', undefined],
  ['/var/lib/modulus/volumes/shop', undefined],
  ['/srv/modulus', undefined],
  ['/opt/modulus/volumes', undefined],
  ['/mnt/volumes', undefined],
  ['/data/volumes/a.b_c-d', undefined],
  ['/usr2', undefined],
  ['/etcetera/volumes', undefined],
  ['/var/lib/dockerd', undefined],
  ['/var/lib/containerd-data/volumes', undefined],
  ['/var/runner', undefined],
  ['/var/opt/modulus', undefined],
  ['/etc', `${OWN}: /etc is a system folder ${LIST}`],
  ['/usr', `${OWN}: /usr is a system folder ${LIST}`],
  ['/var/lib/docker', `${OWN}: /var/lib/docker is a system folder ${LIST}`],
  ['/var/run', `${OWN}: /var/run is a system folder ${LIST}`],
  ['/libx32', `${OWN}: /libx32 is a system folder ${LIST}`],
  ['/etc/modulus', `${OWN}: this one is inside the system folder /etc ${LIST}`],
  ['/etc/systemd/system', `${OWN}: this one is inside the system folder /etc ${LIST}`],
  ['/usr/local/lib/modulus', `${OWN}: this one is inside the system folder /usr ${LIST}`],
  ['/bin/volumes', `${OWN}: this one is inside the system folder /bin ${LIST}`],
  ['/sbin/x', `${OWN}: this one is inside the system folder /sbin ${LIST}`],
  ['/lib/modulus', `${OWN}: this one is inside the system folder /lib ${LIST}`],
  ['/lib32/x', `${OWN}: this one is inside the system folder /lib32 ${LIST}`],
  ['/lib64/x', `${OWN}: this one is inside the system folder /lib64 ${LIST}`],
  ['/boot/efi', `${OWN}: this one is inside the system folder /boot ${LIST}`],
  ['/dev/shm/volumes', `${OWN}: this one is inside the system folder /dev ${LIST}`],
  ['/proc/1/root', `${OWN}: this one is inside the system folder /proc ${LIST}`],
  ['/sys/fs/cgroup', `${OWN}: this one is inside the system folder /sys ${LIST}`],
  ['/run/modulus', `${OWN}: this one is inside the system folder /run ${LIST}`],
  ['/root/volumes', `${OWN}: this one is inside the system folder /root ${LIST}`],
  ['/home/deploy/volumes', `${OWN}: this one is inside the system folder /home ${LIST}`],
  ['/var/lib/docker/volumes/shop', `${OWN}: this one is inside the system folder /var/lib/docker ${LIST}`],
  ['/var/lib/containerd/x', `${OWN}: this one is inside the system folder /var/lib/containerd ${LIST}`],
  ['/var/run/modulus', `${OWN}: this one is inside the system folder /var/run ${LIST}`],
  ['/var', `${OWN}: this one holds the system folder /var/lib/docker ${LIST}`],
  ['/var/lib', `${OWN}: this one holds the system folder /var/lib/docker ${LIST}`],
  ['/', SYNTAX],
  ['', SYNTAX],
  ['var/lib/modulus', SYNTAX],
  ['/srv/modulus/', SYNTAX],
  ['/srv//modulus', SYNTAX],
  ['/srv/./modulus', SYNTAX],
  ['/srv/../etc', SYNTAX],
  ['/srv/..', SYNTAX],
  ['/srv/mod ulus', SYNTAX],
  ['/srv/$(id)', SYNTAX],
  ['/srv/modulus\n/etc', SYNTAX],
];

describe('volume roots: one table, the same verdict from the constructs and from the host script', () => {
  it.each(ROOTS)('%j', (root, reason) => {
    const expected: Verdict = reason === undefined ? { accepted: true } : { accepted: false, reason };
    expect(constructVerdict(root)).toEqual(expected);
    expect(shellVerdict(root)).toEqual(expected);
  });

  it('lists at least the folders of the issue, each an absolute path', () => {
    const required = '/ /etc /usr /bin /sbin /lib /lib32 /lib64 /libx32 /boot /dev /proc /sys /run /root /var/lib/docker /var/lib/containerd /var/run';
    expect(forbiddenRoots()).toEqual(expect.arrayContaining(required.split(' ')));
    for (const entry of forbiddenRoots()) expect(entry).toMatch(/^\/([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)?$/);
  });

  it("DockerHost checks volumes.root this way (its default passes)", () => {
    const host = (root?: string) => () =>
      new DockerHost(new TerraformStack(Testing.app(), 'test'), 'Host', { hostName: 'a', engine: 'unix:///var/run/docker.sock', volumes: { root } });
    expect(host()().volumeRoot).toBe('/var/lib/modulus/volumes');
    expect(host('/srv/volumes')().volumeRoot).toBe('/srv/volumes');
    expect(errorMessage(host('/etc'))).toBe(`test/Host: invalid volumes.root '/etc': ${OWN}: /etc is a system folder ${LIST}`);
    expect(errorMessage(host('/var/lib'))).toBe(`test/Host: invalid volumes.root '/var/lib': ${OWN}: this one holds the system folder /var/lib/docker ${LIST}`);
    expect(errorMessage(host('/srv/../etc'))).toBe(`test/Host: invalid volumes.root '/srv/../etc': ${SYNTAX}`);
  });
});

describe('check_root: the host folders on the way to the root', () => {
  const asRoot = process.getuid?.() === 0 ? it : it.skip;
  const SWAP = `${OWN}, which only root can change`;
  const refusal = (root: string, reason: string) => ({ status: 2, stdout: '', stderr: `t: error: invalid MODULUS_ROOT '${root}': ${reason}\n` });
  const accepted = { status: 0, stdout: '', stderr: '' };
  let base: string;
  beforeAll(() => {
    // A 0700 folder of root's in /tmp (root's, sticky): everything below it is this test's to shape.
    base = tempDir('modulus-roots-');
  });
  const folder = (name: string, mode = 0o755) => {
    const dir = path.join(base, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.chmodSync(dir, mode);
    return dir;
  };

  it('accepts missing folders below a folder only root can write, and existing ones of root', () => {
    expect(shell(path.join(base, 'new', 'volumes', 'shop'))).toEqual(accepted);
    const existing = folder('existing/volumes');
    expect(shell(existing)).toEqual(accepted);
    expect(shell(path.join(existing, 'shop'))).toEqual(accepted);
  });

  it('refuses a symbolic link on the way, or as the root itself (also a dangling one)', () => {
    const real = folder('real');
    fs.symlinkSync(real, path.join(base, 'link'));
    fs.symlinkSync('/nonexistent/modulus', path.join(base, 'dangling'));
    expect(shell(path.join(base, 'link', 'shop'))).toEqual(refusal(path.join(base, 'link', 'shop'), `${SWAP}: ${base}/link is a symbolic link`));
    expect(shell(path.join(base, 'link'))).toEqual(refusal(path.join(base, 'link'), `${SWAP}: ${base}/link is a symbolic link`));
    expect(shell(path.join(base, 'dangling'))).toEqual(refusal(path.join(base, 'dangling'), `${SWAP}: ${base}/dangling is a symbolic link`));
  });

  asRoot('refuses a folder on the way, or the root, owned by another user (uid 441, mop)', () => {
    const owned = folder('owned');
    fs.chownSync(owned, 441, 444);
    expect(shell(path.join(owned, 'shop'))).toEqual(refusal(path.join(owned, 'shop'), `${SWAP}: ${owned} is owned by uid 441, not root`));
    expect(shell(owned)).toEqual(refusal(owned, `${SWAP}: ${owned} is owned by uid 441, not root`));
    // As an app could arrange it: another app's volume (mnt is mop's) as the way to this root.
    const other = folder('volumes/other/mnt', 0o750);
    fs.chownSync(other, 441, 444);
    expect(shell(path.join(other, 'shop'))).toEqual(refusal(path.join(other, 'shop'), `${SWAP}: ${other} is owned by uid 441, not root`));
  });

  it('refuses a folder on the way writable by group or others without the sticky bit', () => {
    const open = folder('open', 0o777);
    const group = folder('group', 0o775);
    expect(shell(path.join(open, 'x', 'shop'))).toEqual(refusal(path.join(open, 'x', 'shop'), `${SWAP}: ${open} is writable by group or others without the sticky bit`));
    fs.mkdirSync(path.join(open, 'made'));
    expect(shell(path.join(open, 'made', 'shop'))).toEqual(
      refusal(path.join(open, 'made', 'shop'), `${SWAP}: ${open} is writable by group or others without the sticky bit`),
    );
    fs.mkdirSync(path.join(group, 'made'));
    expect(shell(path.join(group, 'made'))).toEqual(refusal(path.join(group, 'made'), `${SWAP}: ${group} is writable by group or others without the sticky bit`));
  });

  it('accepts an existing folder of root below a sticky one (like /tmp), but not a missing one, nor the sticky folder as the root', () => {
    const sticky = folder('sticky', 0o1777);
    const held = folder('sticky/held');
    expect(shell(path.join(held, 'shop'))).toEqual(accepted);
    expect(shell(path.join(sticky, 'missing'))).toEqual(
      refusal(path.join(sticky, 'missing'), `${SWAP}: ${sticky} is writable by group or others, who could create ${sticky}/missing first`),
    );
    expect(shell(sticky)).toEqual(refusal(sticky, `${SWAP}: ${sticky} is writable by group or others`));
    expect(shell('/tmp')).toEqual(refusal('/tmp', `${SWAP}: /tmp is writable by group or others`));
  });

  it('checks the list before the folders: /var/run (a symbolic link on most hosts) is named as a system folder', () => {
    expect(shell('/var/run/modulus')).toEqual(refusal('/var/run/modulus', `${OWN}: this one is inside the system folder /var/run ${LIST}`));
  });

  it('fails (exit 1) rather than pass any root when forbidden-roots is missing, empty or malformed', () => {
    const copy = (list?: string) => {
      const dir = tempDir('modulus-roots-scripts-');
      for (const file of ['messages.sh', 'rules.env', 'roots.sh']) fs.copyFileSync(path.join(SCRIPTS, file), path.join(dir, file));
      if (list !== undefined) fs.writeFileSync(path.join(dir, 'forbidden-roots'), list);
      return dir;
    };
    const missing = copy();
    expect(shell('/srv/modulus', missing)).toEqual({ status: 1, stdout: '', stderr: `t: error: cannot check MODULUS_ROOT: ${missing}/forbidden-roots is missing\n` });
    const empty = copy('# nothing\n\n');
    expect(shell('/srv/modulus', empty)).toEqual({ status: 1, stdout: '', stderr: `t: error: cannot check MODULUS_ROOT: ${empty}/forbidden-roots lists no folder\n` });
    const malformed = copy('/etc\n  /usr   # comment\netc\n');
    expect(shell('/srv/modulus', malformed)).toEqual({ status: 1, stdout: '', stderr: `t: error: ${malformed}/forbidden-roots: line 3: 'etc' is not an absolute path\n` });
    expect(shell('/usr/x', copy('/etc\n  /usr   # comment'))).toEqual(refusal('/usr/x', `${OWN}: this one is inside the system folder /usr ${LIST}`));
  });

  it('fails (exit 1) rather than pass a root whose folders it cannot read', () => {
    const bin = tempDir('modulus-roots-bin-');
    fs.writeFileSync(path.join(bin, 'stat'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    expect(shell('/srv/modulus', SCRIPTS, { PATH: `${bin}:${process.env.PATH}` })).toEqual({
      status: 1,
      stdout: '',
      stderr: 't: error: cannot check MODULUS_ROOT: no owner and mode for /\n',
    });
  });
});
