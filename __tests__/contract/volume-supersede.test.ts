/**
 * modulus-volume.sh's resource ids, for real (loop devices, ext4, mounts): `create` records MODULUS_RESOURCE_ID
 * (the Terraform resource creating or adopting the volume), and `destroy` from a resource whose id is no longer
 * the recorded one (a create_before_destroy replacement took the volume over, e.g. after a rotated SSH key) keeps
 * the volume whatever the policy, while the recorded resource's destroy, or a destroy by hand, honours it.
 * Needs root and loop devices (the contract suite's machine); no Docker. Every volume lives under a temporary
 * root; afterAll unmounts them and detaches their loop devices whatever happened.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isMounted, loopDevices, mnt, ok, runVolumeScript, ScriptRun } from './support/volume-host';

const TEMP = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-volume-supersede-'));
const roots: string[] = [];

function volumeScript(command: string, root: string, env: Record<string, string> = {}): ScriptRun {
  return runVolumeScript(TEMP, command, root, { MODULUS_SIZE_MIB: '64', ...env });
}

const recorded = (root: string) => fs.readFileSync(path.join(root, 'resource-id'), 'utf8');

/** A fresh volume created by resource `id`, with the policy `policy` and a file in app/. */
function volume(name: string, id: string, policy: 'retain' | 'destroy'): string {
  const root = path.join(TEMP, name);
  roots.push(root);
  ok(volumeScript('create', root, { MODULUS_RESOURCE_ID: id }));
  ok(volumeScript('set-policy', root, { MODULUS_REMOVAL_POLICY: policy }));
  fs.writeFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'precious\n');
  return root;
}

afterAll(() => {
  for (const root of roots) {
    if (isMounted(mnt(root))) spawnSync('umount', [mnt(root)]);
    for (const device of loopDevices(root)) spawnSync('losetup', ['-d', device]);
  }
  fs.rmSync(TEMP, { recursive: true, force: true });
});

describe('volume resource ids', () => {
  it('create records the resource id (root-only file); a later create (adoption) records the new one and keeps the data', () => {
    const root = volume('records', '1111', 'destroy');
    expect(recorded(root)).toBe('1111\n');
    expect((fs.statSync(path.join(root, 'resource-id')).mode & 0o777).toString(8)).toBe('600');
    const adopt = ok(volumeScript('create', root, { MODULUS_RESOURCE_ID: '2222' }));
    expect(adopt.stderr).toContain('exists; keeping its data');
    expect(recorded(root)).toBe('2222\n');
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
  });

  it('destroy from a superseded resource keeps the volume under the policy destroy; the current resource\'s destroy removes it', () => {
    const root = volume('superseded', '1111', 'destroy');
    ok(volumeScript('create', root, { MODULUS_RESOURCE_ID: '2222' }));
    const old = ok(volumeScript('destroy', root, { MODULUS_RESOURCE_ID: '1111' }));
    expect(old.stderr).toContain(`the volume of app 'superseded' was taken over by resource 2222 (this is 1111): superseded, keeping it`);
    // The app still runs under the resource that took over: its process limit stays.
    expect(old.stderr).not.toContain('process limit removed');
    expect(isMounted(mnt(root))).toBe(true);
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
    expect(ok(volumeScript('status', root)).stdout).toContain('policy=destroy');

    const current = ok(volumeScript('destroy', root, { MODULUS_RESOURCE_ID: '2222' }));
    expect(current.stderr).toContain("removed the volume of app 'superseded'");
    expect(current.stderr).toContain("app 'superseded': process limit removed");
    expect(isMounted(mnt(root))).toBe(false);
    expect(loopDevices(root)).toEqual([]);
    expect(fs.existsSync(root)).toBe(false);
  });

  it('destroy without an id (by hand, or today\'s local steps) honours the policy as before', () => {
    const root = volume('by-hand', '3333', 'destroy');
    ok(volumeScript('destroy', root));
    expect(fs.existsSync(root)).toBe(false);
  });

  it('a volume created without an id (before this change) is destroyed per policy by a resource that has one', () => {
    const root = path.join(TEMP, 'legacy');
    roots.push(root);
    ok(volumeScript('create', root));
    expect(fs.existsSync(path.join(root, 'resource-id'))).toBe(false);
    ok(volumeScript('set-policy', root, { MODULUS_REMOVAL_POLICY: 'destroy' }));
    ok(volumeScript('destroy', root, { MODULUS_RESOURCE_ID: '4444' }));
    expect(fs.existsSync(root)).toBe(false);
  });

  it('retain keeps the volume for the current resource too', () => {
    const root = volume('retained', '5555', 'retain');
    const run = ok(volumeScript('destroy', root, { MODULUS_RESOURCE_ID: '5555' }));
    expect(run.stderr).toContain("removal policy is 'retain'");
    expect(isMounted(mnt(root))).toBe(true);
    expect(recorded(root)).toBe('5555\n');
  });

  it('refuses an id that is not a plain token, changing nothing', () => {
    const root = volume('invalid', '6666', 'destroy');
    for (const command of ['create', 'destroy']) {
      const run = volumeScript(command, root, { MODULUS_RESOURCE_ID: '66 66; rm -rf /' });
      expect([command, run.status]).toEqual([command, 2]);
      expect(run.stderr).toContain("invalid MODULUS_RESOURCE_ID '66 66; rm -rf /'");
    }
    expect(isMounted(mnt(root))).toBe(true);
    expect(recorded(root)).toBe('6666\n');
  });
});
