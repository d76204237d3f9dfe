/**
 * scripts/volume/modulus-volume.sh without touching the host: its dry-run mode (the exact commands for the
 * lvm-thin backend, which cannot run here: no device-mapper), its supervisor.conf rendering and its input
 * checks. The loopfile backend runs for real in __tests__/contract/volume.test.ts.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { Testing } from 'cdktf';
import { parseSizeMiB } from '../../lib/private/app-runtime';

const SCRIPT = path.resolve(__dirname, '../../scripts/volume/modulus-volume.sh');

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function script(command: string, env: Record<string, string>): Run {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('MODULUS_') && value !== undefined) clean[key] = value;
  }
  const result = spawnSync('bash', [SCRIPT, command], { env: { ...clean, ...env }, encoding: 'utf8' });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

const LVM = { MODULUS_DRY_RUN: '1', MODULUS_APP: 'shop', MODULUS_BACKEND: 'lvm-thin', MODULUS_LVM_VG: 'vg0', MODULUS_LVM_POOL: 'pool0' };
const ROOT = '/var/lib/modulus/volumes/shop';
const LAYOUT = [
  `chown 441:444 -- ${ROOT}/mnt`,
  `chmod 0750 -- ${ROOT}/mnt`,
  `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/app`,
  `install -d -o 441 -g 444 -m 0700 -- ${ROOT}/mnt/home`,
  `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/log`,
  `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/notifications`,
  `install -d -o 441 -g 444 -m 0700 -- ${ROOT}/mnt/tmp`,
  `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/input`,
  `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/output`,
];
// require-volume's marker; the last layout step, on every create (existing volumes get it too).
const MARKER = `install -o 0 -g 0 -m 0444 /dev/null ${ROOT}/mnt/.modulus-volume`;

const lines = (run: Run) => run.stdout.split('\n').filter((line) => line !== '');

describe('volume script, lvm-thin dry run: the exact commands', () => {
  it('creates a thin volume of the default 2 GiB, formats, mounts and lays it out', () => {
    const run = script('create', LVM);
    expect(run.status).toBe(0);
    expect(lines(run)).toEqual([
      `install -d -o 0 -g 0 -m 0700 -- ${ROOT}`,
      'lvcreate --yes --virtualsize 2048m --thin vg0/pool0 --name modulus-shop',
      'mkfs.ext4 -q -m 0 -E root_owner=441:444 -- /dev/vg0/modulus-shop',
      `install -d -o 0 -g 0 -m 0000 -- ${ROOT}/mnt`,
      `mount -o nodev,nosuid -- /dev/vg0/modulus-shop ${ROOT}/mnt`,
      ...LAYOUT,
      `install -o 441 -g 444 -m 0600 /dev/null ${ROOT}/mnt/supervisor.conf`,
      MARKER,
      '# register shop for boot in /etc/modulus/volumes/shop.env',
    ]);
  });

  it('re-running create on an existing, mounted volume keeps it: no lvcreate, mkfs, mount or new supervisor.conf', () => {
    const run = script('create', { ...LVM, MODULUS_DRY_RUN_SIZE_MIB: '2048' });
    expect(run.status).toBe(0);
    expect(lines(run)).toEqual([`install -d -o 0 -g 0 -m 0700 -- ${ROOT}`, ...LAYOUT, MARKER, '# register shop for boot in /etc/modulus/volumes/shop.env']);
    expect(run.stderr).toContain("volume of app 'shop' exists; keeping its data");
  });

  it('grows in place with lvextend and an online resize2fs', () => {
    const run = script('resize', { ...LVM, MODULUS_DRY_RUN_SIZE_MIB: '2048', MODULUS_SIZE_MIB: '5120' });
    expect(run.status).toBe(0);
    expect(lines(run)).toEqual(['lvextend --size 5120m vg0/modulus-shop', 'resize2fs -- /dev/vg0/modulus-shop']);
  });

  it('does nothing when the size is unchanged', () => {
    const run = script('resize', { ...LVM, MODULUS_DRY_RUN_SIZE_MIB: '2048', MODULUS_SIZE_MIB: '2048' });
    expect(run.status).toBe(0);
    expect(lines(run)).toEqual([]);
  });

  it('refuses to shrink before changing anything (exit 3)', () => {
    const run = script('resize', { ...LVM, MODULUS_DRY_RUN_SIZE_MIB: '4096', MODULUS_SIZE_MIB: '2048' });
    expect(run.status).toBe(3);
    expect(lines(run)).toEqual([]);
    expect(run.stderr).toContain("refusing to shrink the volume of app 'shop' from 4096 MiB to 2048 MiB");
    expect(run.stderr).toContain('Nothing was changed');
  });

  it('create also refuses to adopt a larger existing volume at a smaller size', () => {
    const run = script('create', { ...LVM, MODULUS_DRY_RUN_SIZE_MIB: '4096', MODULUS_SIZE_MIB: '2048' });
    expect(run.status).toBe(3);
    expect(lines(run).some((line) => /lvcreate|mkfs|lvextend|resize2fs/.test(line))).toBe(false);
  });

  it('destroy with the policy destroy unmounts and removes the logical volume', () => {
    const run = script('destroy', { ...LVM, MODULUS_DRY_RUN_SIZE_MIB: '2048', MODULUS_REMOVAL_POLICY: 'destroy' });
    expect(run.status).toBe(0);
    expect(lines(run)).toEqual([
      `umount -- ${ROOT}/mnt`,
      'lvremove --yes vg0/modulus-shop',
      `rmdir -- ${ROOT}/mnt`,
      `rm -f -- ${ROOT}/removal-policy ${ROOT}/.lock`,
      'rm -f -- /etc/modulus/volumes/shop.env',
      `rmdir -- ${ROOT}`,
    ]);
  });

  it('destroy with the policy retain (or none recorded) changes nothing', () => {
    for (const policy of ['retain', '']) {
      const run = script('destroy', { ...LVM, MODULUS_DRY_RUN_SIZE_MIB: '2048', MODULUS_REMOVAL_POLICY: policy });
      expect(run.status).toBe(0);
      expect(lines(run)).toEqual([]);
      expect(run.stderr).toContain("removal policy is 'retain': keeping the volume of app 'shop'");
    }
  });

  it('prepare-build and publish move data only inside the volume', () => {
    expect(lines(script('prepare-build', { ...LVM, MODULUS_DRY_RUN_SIZE_MIB: '2048', MODULUS_SOURCE: 'assets/src/HASH' }))).toEqual([
      `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/input`,
      `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/output`,
      `find ${ROOT}/mnt/input ${ROOT}/mnt/output -mindepth 1 -delete`,
      `cp -R --no-dereference --preserve=mode,timestamps,links -- assets/src/HASH/. ${ROOT}/mnt/input/`,
      `chown -R -h 441:444 -- ${ROOT}/mnt/input`,
      `chmod -R o-rwx -- ${ROOT}/mnt/input`,
    ]);
    expect(lines(script('publish', { ...LVM, MODULUS_DRY_RUN_SIZE_MIB: '2048' }))).toEqual([
      `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/output`,
      `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/app`,
      `mv -T -- ${ROOT}/mnt/app ${ROOT}/mnt/app.previous`,
      `mv -T -- ${ROOT}/mnt/output ${ROOT}/mnt/app`,
      `chmod 0750 -- ${ROOT}/mnt/app`,
      `install -d -o 441 -g 444 -m 0750 -- ${ROOT}/mnt/output`,
      `# restart program app through ${ROOT}/mnt/home/supervisor.sock`,
      `rm -rf -- ${ROOT}/mnt/app.previous`,
    ]);
  });
});

describe('volume script, loopfile dry run', () => {
  it('creates a sparse file under a temporary name, formats it and mounts it through a loop device', () => {
    const run = script('create', { MODULUS_DRY_RUN: '1', MODULUS_APP: 'shop', MODULUS_ROOT: '/srv/v/shop', MODULUS_SIZE_MIB: '512' });
    expect(run.status).toBe(0);
    expect(lines(run).slice(0, 8)).toEqual([
      'install -d -o 0 -g 0 -m 0700 -- /srv/v/shop',
      'rm -f -- /srv/v/shop/volume.img.new',
      'truncate -s 512M -- /srv/v/shop/volume.img.new',
      'chmod 0600 -- /srv/v/shop/volume.img.new',
      'mkfs.ext4 -q -m 0 -E root_owner=441:444 -- /srv/v/shop/volume.img.new',
      'mv -- /srv/v/shop/volume.img.new /srv/v/shop/volume.img',
      'install -d -o 0 -g 0 -m 0000 -- /srv/v/shop/mnt',
      'mount -o loop,nodev,nosuid -- /srv/v/shop/volume.img /srv/v/shop/mnt',
    ]);
  });

  it('grows by extending the file, refreshing the loop device and resizing online', () => {
    const run = script('resize', { MODULUS_DRY_RUN: '1', MODULUS_APP: 'shop', MODULUS_DRY_RUN_SIZE_MIB: '2048', MODULUS_SIZE_MIB: '3072', MODULUS_DRY_RUN_LOOP_DEVICE: '/dev/loop7' });
    expect(lines(run)).toEqual([`truncate -s 3072M -- ${ROOT}/volume.img`, 'losetup --set-capacity /dev/loop7', 'resize2fs -- /dev/loop7']);
  });
});

describe('volume script: input checks (exit 2, nothing done)', () => {
  it.each([
    ['an invalid app name', { MODULUS_APP: 'Bad_Name' }, "invalid app name 'Bad_Name'"],
    ['a missing app name', { MODULUS_APP: '' }, 'MODULUS_APP is required'],
    ['a relative root', { MODULUS_APP: 'shop', MODULUS_ROOT: 'relative/x' }, "invalid MODULUS_ROOT 'relative/x'"],
    ['a root with ..', { MODULUS_APP: 'shop', MODULUS_ROOT: '/var/../etc' }, "no '.' or '..' components"],
    ['an unknown backend', { MODULUS_APP: 'shop', MODULUS_BACKEND: 'zfs' }, "unknown MODULUS_BACKEND 'zfs'"],
    ['lvm-thin without a volume group', { MODULUS_APP: 'shop', MODULUS_BACKEND: 'lvm-thin', MODULUS_LVM_POOL: 'p' }, 'lvm-thin needs MODULUS_LVM_VG'],
    ['a size with a unit', { MODULUS_APP: 'shop', MODULUS_SIZE_MIB: '2G' }, "invalid MODULUS_SIZE_MIB '2G'"],
    ['a negative size', { MODULUS_APP: 'shop', MODULUS_SIZE_MIB: '-5' }, "invalid MODULUS_SIZE_MIB '-5'"],
    ['a tiny size', { MODULUS_APP: 'shop', MODULUS_SIZE_MIB: '8' }, 'below the minimum of 64 MiB'],
  ])('refuses %s', (_what, env, message) => {
    const run = script('create', { MODULUS_DRY_RUN: '1', ...env });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
  });

  it('refuses unknown commands and policies', () => {
    expect(script('shrink', { MODULUS_APP: 'shop' }).status).toBe(2);
    const policy = script('set-policy', { MODULUS_DRY_RUN: '1', MODULUS_APP: 'shop', MODULUS_REMOVAL_POLICY: 'maybe' });
    expect(policy.status).toBe(2);
    expect(policy.stderr).toContain("invalid MODULUS_REMOVAL_POLICY 'maybe'");
  });
});

/**
 * One source of truth for the size limits (scripts/volume/limits.env): each row goes through the construct's
 * parser and the script's own check, and both must agree with the row.
 */
describe('volume size limits: the AppVolume construct and the script refuse the same sizes', () => {
  const app = Testing.app();
  const construct = (mib: number) => {
    try {
      return { ok: parseSizeMiB(app, 'size', `${mib}MiB`) === mib, error: '' };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  };
  const viaScript = (mib: number) => script('create', { MODULUS_DRY_RUN: '1', MODULUS_APP: 'shop', MODULUS_SIZE_MIB: String(mib) });

  it.each([
    [8, false, 'below the minimum of 64 MiB'],
    [16, false, 'below the minimum of 64 MiB'],
    [63, false, 'below the minimum of 64 MiB'],
    [64, true, ''],
    [2048, true, ''],
    [16 * 1024 * 1024, true, ''],
    [16 * 1024 * 1024 + 1, false, 'above the maximum of 16777216 MiB'],
    [64 * 1024 * 1024, false, 'above the maximum of 16777216 MiB'],
  ])('%d MiB: allowed %s', (mib, allowed, scriptMessage) => {
    const fromConstruct = construct(mib);
    expect(fromConstruct.ok).toBe(allowed);
    const run = viaScript(mib);
    expect(run.status).toBe(allowed ? 0 : 2);
    if (allowed) {
      expect(fromConstruct.error).toBe('');
    } else {
      expect(fromConstruct.error).toContain(`'${mib}MiB' is out of range: `);
      expect(fromConstruct.error).toContain('from 64 MiB to 16 TiB');
      expect(run.stderr).toContain(scriptMessage);
      expect(run.stdout).toBe('');
    }
  });
});

describe('volume script: supervisor.conf', () => {
  const render = (env: Record<string, string>) => script('render-config', { MODULUS_APP: 'shop', ...env });

  it('renders [program:app] and Navi with values quoted the way supervisor 4 reads them', () => {
    const run = render({
      MODULUS_ENV_NAMES: 'PORT NODE_ENV GREETING',
      MODULUS_ENV_PORT: '8080',
      MODULUS_ENV_NODE_ENV: 'production',
      MODULUS_ENV_GREETING: 'say "hi", 100% a\\b $HOME ${X} a;b#c',
      MODULUS_SECRET_NAMES: 'DB_PASSWORD',
      MODULUS_SECRET_DB_PASSWORD: "p@ss'w0rd,=%s",
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      [
        "; /mnt/supervisor.conf for app 'shop', generated by modulus-images (AppVolume) on every deploy.",
        "; Included by the run image's /etc/supervisor/supervisord.conf; edits here are overwritten.",
        '',
        '[program:app]',
        'command=start',
        `environment=DB_PASSWORD="p@ss'w0rd,=%%s",GREETING='say "hi", 100%% a\\b $HOME \${X} a;b#c',NODE_ENV="production",PORT="8080"`,
        'stdout_logfile=/mnt/log/app.log',
        'stdout_logfile_maxbytes=10MB',
        'stdout_logfile_backups=5',
        'redirect_stderr=true',
        'autostart=true',
        'autorestart=true',
        'startsecs=10',
        'startretries=5',
        'stopasgroup=true',
        'killasgroup=true',
        '',
        '[eventlistener:navi]',
        'command=navi --output /mnt/notifications',
        'events=PROCESS_STATE',
        'buffer_size=100',
        'autostart=true',
        'autorestart=true',
        'stdout_logfile=NONE',
        'stderr_logfile=/mnt/log/navi.log',
        'stderr_logfile_maxbytes=1MB',
        'stderr_logfile_backups=2',
        '',
      ].join('\n'),
    );
  });

  it('leaves out environment= when there is none', () => {
    const run = render({});
    expect(run.status).toBe(0);
    expect(run.stdout).not.toContain('environment=');
    expect(run.stdout).toContain('[program:app]\ncommand=start\nstdout_logfile=/mnt/log/app.log\n');
  });

  it.each([
    ['a line break', 'a\nb', 'contains a line break'],
    ['an inline comment', 'x ;y', "contains whitespace followed by ';' or '#'"],
    ['both quotes', `it's "it"`, 'contains both single and double quotes'],
    ['an edge quote', "'x", 'starts or ends with a quote'],
    ['%(here)s', 'a%(here)s', "contains '%(here)s'"],
  ])('refuses a secret with %s, naming the variable, never printing the value', (_what, value, reason) => {
    const run = render({ MODULUS_SECRET_NAMES: 'TOKEN', MODULUS_SECRET_TOKEN: value });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`the value of environment variable TOKEN ${reason}`);
    expect(run.stderr).not.toContain(value);
  });

  it('refuses a variable given as plain and secret, and a missing value', () => {
    expect(render({ MODULUS_ENV_NAMES: 'A', MODULUS_ENV_A: '1', MODULUS_SECRET_NAMES: 'A', MODULUS_SECRET_A: '2' }).stderr).toContain(
      'environment variable A is given both as a plain and as a secret value',
    );
    expect(render({ MODULUS_ENV_NAMES: 'B' }).stderr).toContain('MODULUS_ENV_B is not set');
  });

  it('write-config in a dry run reports the size only, not the content', () => {
    const run = script('write-config', {
      MODULUS_DRY_RUN: '1',
      MODULUS_APP: 'shop',
      MODULUS_DRY_RUN_SIZE_MIB: '2048',
      MODULUS_SECRET_NAMES: 'TOKEN',
      MODULUS_SECRET_TOKEN: 'hunter2-secret',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^# write supervisor\.conf \(\d+ bytes\) to \/var\/lib\/modulus\/volumes\/shop\/mnt\/supervisor\.conf, owner 441:444, mode 0600\n$/);
    expect(run.stdout + run.stderr).not.toContain('hunter2-secret');
  });
});

describe('volume script: lint', () => {
  it('passes shellcheck and runs under set -euo pipefail', () => {
    const result = spawnSync('shellcheck', ['-x', SCRIPT], { encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
    const text = require('fs').readFileSync(SCRIPT, 'utf8') as string;
    expect(text.startsWith('#!/usr/bin/env bash\n')).toBe(true);
    expect(text).toMatch(/^set -euo pipefail$/m);
  });
});
