/**
 * The volume script's loopfile backend for real: loop devices, ext4, mounts, ownership, the size limit as
 * mop inside a container, keeping data across re-creates, growing, refusing to shrink, supervisor.conf as
 * supervisord itself parses it, the build copy/publish steps and destroy per removal policy.
 * The last part drives an AppVolume through Terraform itself (null_resource needs no provider): growing
 * and changing the environment without replacing the volume, refusing to shrink, secrets kept out of the
 * output, destroy per removal policy.
 * Needs root, loop devices, the Docker engine and Terraform (TERRAFORM_BINARY_NAME from
 * scripts/toolchain/env.sh, else `terraform` on PATH): the contract suite's machine. Every volume lives under
 * a temporary host root; afterAll unmounts them and detaches their loop devices whatever happened.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App as CdktfApp, LocalBackend, TerraformStack, TerraformVariable } from 'cdktf';
import { makeUniqueId } from 'cdktf/lib/private/unique';
import { AppVolume, AppVolumeProps, VolumeRemovalPolicy } from '../../lib/app-volume';
import { writeSourceArchive } from '../../lib/private/source-archive';
import { runContainerName } from '../../lib/run-container';
import { ctlCommand } from '../../scripts/ctl';
import { ROOT_IMAGE, buildImage, docker, dockerRun } from './support/docker';
import { hostFiles, isMounted, loopDevices, mnt, ok, runVolumeScript, ScriptRun, VOLUME_SCRIPT, volumeStepImage } from './support/volume-host';

const SCRIPT = VOLUME_SCRIPT;
const PROCESS_LIMIT = path.resolve(__dirname, '../../scripts/volume/modulus-process-limit.sh');
const TEMP = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-volume-contract-'));
const roots: string[] = [];
const HOST_FILES = hostFiles(TEMP);

function volumeScript(command: string, root: string, env: Record<string, string> = {}): ScriptRun {
  return runVolumeScript(TEMP, command, root, env);
}

/** A fresh volume of `sizeMiB` under the temporary root. */
function createVolume(name: string, sizeMiB = 64): string {
  const root = path.join(TEMP, name);
  roots.push(root);
  ok(volumeScript('create', root, { MODULUS_SIZE_MIB: String(sizeMiB) }));
  return root;
}

/** Size of the mounted file system in MiB (total blocks). */
const fsSizeMiB = (dir: string) => {
  const stat = fs.statfsSync(dir);
  return Math.round((stat.blocks * stat.bsize) / 1048576);
};
const modeOf = (file: string) => (fs.statSync(file).mode & 0o7777).toString(8).padStart(4, '0');
const ownerOf = (file: string) => `${fs.statSync(file).uid}:${fs.statSync(file).gid}`;

/** Runs a shell command as mop (441:444) in a container with the volume at /mnt. */
function asMop(root: string, command: string): { status: number; output: string } {
  const result = dockerRun(['run', '--rm', '--network', 'none', '--user', '441:444', '-v', `${mnt(root)}:/mnt`, ROOT_IMAGE, 'bash', '-c', command]);
  return { status: result.status, output: result.stdout + result.stderr };
}

afterAll(() => {
  for (const root of roots) {
    if (isMounted(mnt(root))) spawnSync('umount', [mnt(root)]);
    for (const device of loopDevices(root)) spawnSync('losetup', ['-d', device]);
  }
  fs.rmSync(TEMP, { recursive: true, force: true });
});

describe('loopfile volume: create', () => {
  let root: string;
  beforeAll(() => {
    root = createVolume('layout');
  });

  it('mounts an ext4 file system from a sparse file through a loop device, nodev and nosuid', () => {
    expect(isMounted(mnt(root))).toBe(true);
    const mount = spawnSync('findmnt', ['-n', '-o', 'SOURCE,FSTYPE,OPTIONS', '--mountpoint', mnt(root)], { encoding: 'utf8' }).stdout;
    expect(mount).toMatch(/^\/dev\/loop\d+\s+ext4\s+\S*nosuid/);
    expect(mount).toContain('nodev');
    const image = fs.statSync(path.join(root, 'volume.img'));
    expect(image.size).toBe(64 * 1048576);
    expect(image.blocks * 512).toBeLessThan(image.size); // sparse
  });

  it('lays out app/ home/ log/ notifications/ tmp/ input/ output/ .releases/ and supervisor.conf, owned by mop, closed to others', () => {
    expect(ownerOf(mnt(root))).toBe('441:444');
    expect(modeOf(mnt(root))).toBe('0750');
    for (const dir of ['app', 'log', 'notifications', 'input', 'output', '.releases']) {
      expect([dir, ownerOf(path.join(mnt(root), dir)), modeOf(path.join(mnt(root), dir))]).toEqual([dir, '441:444', '0750']);
    }
    for (const dir of ['home', 'tmp']) {
      expect([dir, ownerOf(path.join(mnt(root), dir)), modeOf(path.join(mnt(root), dir))]).toEqual([dir, '441:444', '0700']);
    }
    const conf = path.join(mnt(root), 'supervisor.conf');
    expect([ownerOf(conf), modeOf(conf)]).toEqual(['441:444', '0600']);
    const marker = path.join(mnt(root), '.modulus-volume');
    // Made inside the volume as mop, like everything in it.
    expect([ownerOf(marker), modeOf(marker), fs.statSync(marker).size]).toEqual(['441:444', '0640', 0]);
    expect(modeOf(root)).toBe('0700');
    expect(ownerOf(root)).toBe('0:0');
  });

  it('reports itself', () => {
    expect(ok(volumeScript('status', root)).stdout).toContain('exists=true\nmounted=true\nsize_mib=64\npolicy=retain\n');
  });
});

describe('loopfile volume: the size limit', () => {
  it('lets mop write inside the limit and fails past it with "No space left on device"', () => {
    const root = createVolume('quota', 64);
    const small = asMop(root, 'head -c 1048576 /dev/zero > /mnt/tmp/small && echo written');
    expect(small).toEqual({ status: 0, output: 'written\n' });
    const big = asMop(root, 'dd if=/dev/zero of=/mnt/tmp/big bs=1M count=200 status=none');
    expect(big.status).not.toBe(0);
    expect(big.output).toContain('No space left on device');
    // No reserved blocks: root on the host hits the same limit.
    const hostWrite = spawnSync('dd', ['if=/dev/zero', `of=${path.join(mnt(root), 'tmp', 'root')}`, 'bs=1M', 'count=200', 'status=none'], { encoding: 'utf8' });
    expect(hostWrite.stderr).toContain('No space left on device');
  });

  it('keeps mop out of everything but the volume root folders it owns', () => {
    const root = createVolume('perms', 64);
    expect(asMop(root, 'touch /mnt/app/x && touch /mnt/home/x && echo ok')).toEqual({ status: 0, output: 'ok\n' });
    expect(asMop(root, 'ls /mnt/lost+found').status).not.toBe(0);
  });
});

describe('loopfile volume: never losing data', () => {
  let root: string;
  beforeAll(() => {
    root = createVolume('data', 64);
    fs.writeFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'precious\n');
  });

  it('re-running create keeps the file system and its data', () => {
    const before = fs.statSync(path.join(root, 'volume.img')).ino;
    const run = ok(volumeScript('create', root, { MODULUS_SIZE_MIB: '64' }));
    expect(run.stderr).toContain('exists; keeping its data');
    expect(fs.statSync(path.join(root, 'volume.img')).ino).toBe(before);
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
  });

  it('re-mounts after an unmount (e.g. a reboot) without touching the data', () => {
    expect(spawnSync('umount', [mnt(root)]).status).toBe(0);
    expect(modeOf(mnt(root))).toBe('0000'); // closed while unmounted: nothing can write to the host disk
    ok(volumeScript('create', root, { MODULUS_SIZE_MIB: '64' }));
    expect(isMounted(mnt(root))).toBe(true);
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
  });

  it('grows in place, keeping the data', () => {
    const run = ok(volumeScript('resize', root, { MODULUS_SIZE_MIB: '128' }));
    expect(run.stderr).toContain('from 64 MiB to 128 MiB in place');
    expect(fs.statSync(path.join(root, 'volume.img')).size).toBe(128 * 1048576);
    expect(fsSizeMiB(mnt(root))).toBeGreaterThan(100);
    expect(isMounted(mnt(root))).toBe(true);
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
    expect(ok(volumeScript('status', root)).stdout).toContain('size_mib=128');
  });

  it('refuses to shrink, changing nothing', () => {
    const run = volumeScript('resize', root, { MODULUS_SIZE_MIB: '64' });
    expect(run.status).toBe(3);
    expect(run.stderr).toContain("refusing to shrink the volume of app 'data' from 128 MiB to 64 MiB");
    expect(fs.statSync(path.join(root, 'volume.img')).size).toBe(128 * 1048576);
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
  });

  it('never resizes a file system that a container still has mounted; finishes the grow once it is free', () => {
    const container = docker(['run', '-d', '--network', 'none', '--user', '441:444', '-v', `${mnt(root)}:/mnt`, ROOT_IMAGE, 'sleep', '300']).trim();
    try {
      const run = volumeScript('resize', root, { MODULUS_SIZE_MIB: '192' });
      // Online growth works where the kernel allows it (CAP_SYS_RESOURCE); otherwise the offline fallback must
      // refuse while the container holds the file system.
      if (run.status !== 0) {
        expect(run.status).toBe(3);
        expect(run.stderr).toContain('still mounted elsewhere');
      }
      expect(isMounted(mnt(root))).toBe(true);
      expect(loopDevices(root)).toHaveLength(1);
      expect(docker(['exec', container, 'cat', '/mnt/app/keep.txt'])).toBe('precious\n');
    } finally {
      docker(['rm', '-f', container]);
    }
    ok(volumeScript('resize', root, { MODULUS_SIZE_MIB: '192' }));
    expect(fsSizeMiB(mnt(root))).toBeGreaterThan(160);
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
  });

  it('waits for a loop device that stays attached a moment after the unmount, then grows', async () => {
    const [device] = loopDevices(root);
    // Holds the loop device open for 2 s: it stays attached that long after the resize unmounts it, as after a
    // container that just went away.
    const holder = spawn('bash', ['-c', 'exec 3<"$1"; sleep 2', 'hold', device], { stdio: 'ignore' });
    const exited = new Promise((resolve) => holder.on('exit', resolve));
    const run = ok(volumeScript('resize', root, { MODULUS_SIZE_MIB: '256' }));
    await exited;
    expect(fsSizeMiB(mnt(root))).toBeGreaterThan(224);
    expect(isMounted(mnt(root))).toBe(true);
    expect(loopDevices(root)).toHaveLength(1);
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
    // Where the kernel allows online growth there is no unmount to wait for.
    if (/resizing offline/.test(run.stderr)) expect(run.stderr).not.toContain('still mounted elsewhere');
  });
});

describe('loopfile volume: build input and output', () => {
  let root: string;
  let source: string;
  beforeAll(() => {
    root = createVolume('build', 64);
    const folder = fs.mkdtempSync(path.join(TEMP, 'source-'));
    fs.mkdirSync(path.join(folder, 'lib'));
    fs.writeFileSync(path.join(folder, 'package.json'), '{"name":"x"}\n');
    fs.writeFileSync(path.join(folder, 'lib', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.symlinkSync('run.sh', path.join(folder, 'lib', 'start.sh'));
    source = `${folder}.tar`;
    writeSourceArchive(folder, source);
  });

  it('copies the source into input/ for mop, replacing what was there', () => {
    fs.writeFileSync(path.join(mnt(root), 'input', 'stale'), 'old');
    fs.writeFileSync(path.join(mnt(root), 'output', 'stale'), 'old');
    ok(volumeScript('prepare-build', root, { MODULUS_SOURCE: source, MODULUS_BUILD_KEY: '0123456789abcdef'.repeat(4) }));
    expect(fs.readdirSync(path.join(mnt(root), 'input')).sort()).toEqual(['lib', 'package.json']);
    expect(fs.readdirSync(path.join(mnt(root), 'output'))).toEqual([]);
    expect(ownerOf(path.join(mnt(root), 'input', 'lib', 'run.sh'))).toBe('441:444');
    expect(modeOf(path.join(mnt(root), 'input', 'lib', 'run.sh'))).toBe('0750');
    expect(fs.readlinkSync(path.join(mnt(root), 'input', 'lib', 'start.sh'))).toBe('run.sh');
  });

  it('publishes output/ as a release that app/ links to, and leaves an empty output/', () => {
    expect(asMop(root, 'echo built > /mnt/output/index.js').status).toBe(0);
    ok(volumeScript('publish', root, { MODULUS_RELEASE: 'r1', MODULUS_RUN_CONTAINER: 'modulus-app-none-here' }));
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'index.js'), 'utf8')).toBe('built\n');
    expect(fs.readlinkSync(path.join(mnt(root), 'app'))).toBe('.releases/r1');
    expect(fs.readdirSync(path.join(mnt(root), 'output'))).toEqual([]);
    expect([ownerOf(path.join(mnt(root), '.releases', 'r1')), modeOf(path.join(mnt(root), '.releases', 'r1'))]).toEqual(['441:444', '0750']);
  });

  it('does not follow a symlink the app planted in place of input/ out of the volume', () => {
    const outside = fs.mkdtempSync(path.join(TEMP, 'outside-'));
    // What a malicious app could do (mop owns the volume root): input/ → a folder outside the volume.
    fs.rmSync(path.join(mnt(root), 'input'), { recursive: true, force: true });
    fs.symlinkSync(outside, path.join(mnt(root), 'input'));
    ok(volumeScript('prepare-build', root, { MODULUS_SOURCE: source, MODULUS_BUILD_KEY: '0123456789abcdef'.repeat(4) }));
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.lstatSync(path.join(mnt(root), 'input')).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(mnt(root), 'input')).sort()).toEqual(['lib', 'package.json']);
  });
});

describe('loopfile volume: supervisor.conf', () => {
  const env = {
    MODULUS_ENV_NAMES: 'NODE_ENV GREETING',
    MODULUS_ENV_NODE_ENV: 'production',
    MODULUS_ENV_GREETING: 'say "hi", 100% a\\b $HOME ${X} a;b#c %(ENV_HOME)s',
    MODULUS_SECRET_NAMES: 'DB_PASSWORD',
    MODULUS_SECRET_DB_PASSWORD: "p@ss'w0rd,=x",
  };

  it('writes it 0600 for mop, never printing a value', () => {
    const root = createVolume('config', 64);
    const run = ok(volumeScript('write-config', root, env));
    expect(run.stdout + run.stderr).not.toContain("p@ss'w0rd");
    const conf = path.join(mnt(root), 'supervisor.conf');
    expect([ownerOf(conf), modeOf(conf)]).toEqual(['441:444', '0600']);
    expect(fs.readFileSync(conf, 'utf8')).toBe(ok(volumeScript('render-config', root, env)).stdout);
  });

  it('ends once it has the bytes the host counted, though its stdin never ends (docker run -i may not pass the end on)', async () => {
    const folder = fs.mkdtempSync(path.join(TEMP, 'fed-'));
    fs.chownSync(folder, 441, 444);
    const inVolume = fs.readFileSync(path.resolve(__dirname, '../../scripts/volume/in-volume.sh'), 'utf8');
    const step = spawn('docker', ['run', '--rm', '-i', '--network', 'none', '--user', '441:444', '--mount', `type=bind,source=${folder},target=/mnt`, '--workdir', '/mnt', ROOT_IMAGE, 'bash', '-c', inVolume, 'in-volume', 'write-file', 'supervisor.conf', '10'], { stdio: ['pipe', 'ignore', 'inherit'] });
    // 10 bytes, and the pipe left open: a step that waited for the end of its input would still run after a minute.
    step.stdin.write('[app]\nx=1\n');
    const exited = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => resolve('still running after 60 s'), 60_000);
      step.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code ?? -1);
      });
    });
    step.stdin.destroy();
    step.kill();
    expect(exited).toBe(0);
    expect(fs.readFileSync(path.join(folder, 'supervisor.conf'), 'utf8')).toBe('[app]\nx=1\n');
  }, 120_000);

  it('is read back unchanged by supervisord in the run-base image', () => {
    const root = path.join(TEMP, 'parse');
    const conf = ok(volumeScript('render-config', root, env)).stdout;
    const runBase = buildImage('run-base');
    // Parse with supervisor's own option parser, /mnt paths pointed at a scratch folder.
    const parser = [
      'import os, sys, tempfile',
      'from supervisor.options import ServerOptions',
      'd = tempfile.mkdtemp()',
      'os.makedirs(d + "/log")',
      'conf = sys.stdin.read().replace("/mnt/", d + "/")',
      'open(d + "/app.conf", "w").write(conf)',
      'open(d + "/main.conf", "w").write("[supervisord]\\nlogfile=%s/s.log\\n[include]\\nfiles=%s/app.conf\\n" % (d, d))',
      'o = ServerOptions(); o.configfile = d + "/main.conf"; o.process_config(do_usage=False)',
      'import json',
      'print(json.dumps({p.name: {"command": p.command, "environment": p.environment} for g in o.process_group_configs for p in g.process_configs}, sort_keys=True))',
    ].join('\n');
    const parsed = JSON.parse(docker(['run', '--rm', '-i', '--network', 'none', '--entrypoint', 'python3', runBase, '-c', parser], conf));
    expect(parsed.app).toEqual({
      command: 'start',
      environment: {
        DB_PASSWORD: "p@ss'w0rd,=x",
        GREETING: 'say "hi", 100% a\\b $HOME ${X} a;b#c %(ENV_HOME)s',
        NODE_ENV: 'production',
      },
    });
    expect(parsed.navi.command).toMatch(/^navi --output .*\/notifications$/);
  }, 1_800_000);
});

describe('npm run ctl against supervisord in the run-base image', () => {
  const name = runContainerName('ctltest');
  let root: string;

  beforeAll(() => {
    const runBase = buildImage('run-base');
    root = createVolume('ctltest', 64);
    // The generated file, with `start` (which only run-<language> images have) replaced by a long sleep.
    const conf = ok(volumeScript('render-config', root)).stdout.replace('command=start\n', 'command=bash -c "echo app started; exec sleep 600"\n');
    fs.writeFileSync(path.join(mnt(root), 'supervisor.conf'), conf, { mode: 0o600 });
    fs.chownSync(path.join(mnt(root), 'supervisor.conf'), 441, 444);
    dockerRun(['rm', '-f', name]);
    docker(['run', '-d', '--name', name, '--network', 'none', '--user', '441:444', '--read-only', '--cap-drop', 'ALL',
      '--security-opt', 'no-new-privileges:true', '--init', '-e', 'TINI_SUBREAPER=1', '-v', `${mnt(root)}:/mnt`, runBase]);
    for (let i = 0; i < 30 && !ctl('status').stdout.includes('RUNNING'); i++) spawnSync('sleep', ['1']);
  }, 1_800_000);

  afterAll(() => {
    dockerRun(['rm', '-f', name]);
  });

  function ctl(action: string, timeout = 60_000): ScriptRun {
    const [command, ...args] = ctlCommand('ctltest', action);
    const result = spawnSync(command, args, { encoding: 'utf8', timeout });
    return { status: result.status ?? -1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  }

  it('status, stop, start and restart go through supervisorctl as mop', () => {
    expect(ctl('status').stdout).toMatch(/^app\s+RUNNING\s+pid \d+/);
    expect(ctl('stop').stdout).toBe('app: stopped\n');
    const stopped = ctl('status');
    expect(stopped.stdout).toMatch(/^app\s+STOPPED/);
    expect(stopped.status).toBe(3);
    expect(ctl('start').stdout).toBe('app: started\n');
    expect(ctl('restart').stdout).toBe('app: stopped\napp: started\n');
    expect(ctl('status').status).toBe(0);
  });

  it('tail follows /mnt/log/app.log', () => {
    const tail = ctl('tail', 3_000);
    expect(tail.stdout).toContain('app started\n');
  });
});

describe('npm run ctl for an app with two slots (behind a router)', () => {
  const name = runContainerName('ctlslots');

  beforeAll(() => {
    const runBase = buildImage('run-base');
    const root = createVolume('ctlslots', 64);
    const conf = ok(volumeScript('render-config', root, { MODULUS_SLOT_PORTS: '9001 9002' })).stdout.replace(/^command=start$/gm, 'command=bash -c "exec sleep 600"');
    fs.writeFileSync(path.join(mnt(root), 'supervisor.conf'), conf, { mode: 0o600 });
    fs.chownSync(path.join(mnt(root), 'supervisor.conf'), 441, 444);
    fs.symlinkSync('.releases/r1', path.join(mnt(root), 'app.link'));
    fs.lchownSync(path.join(mnt(root), 'app.link'), 441, 444);
    fs.rmSync(path.join(mnt(root), 'app'), { recursive: true, force: true });
    fs.renameSync(path.join(mnt(root), 'app.link'), path.join(mnt(root), 'app'));
    dockerRun(['rm', '-f', name]);
    docker(['run', '-d', '--name', name, '--network', 'none', '--user', '441:444', '--read-only', '--cap-drop', 'ALL',
      '--security-opt', 'no-new-privileges:true', '--init', '-v', `${mnt(root)}:/mnt`, runBase]);
    for (let i = 0; i < 30 && !ctl('status').stdout.includes('RUNNING'); i++) spawnSync('sleep', ['1']);
  }, 1_800_000);

  afterAll(() => {
    dockerRun(['rm', '-f', name]);
  });

  function ctl(action: string): ScriptRun {
    const [command, ...args] = ctlCommand('ctlslots', action);
    const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
    return { status: result.status ?? -1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  }

  it('status says which slot serves and its release; start, stop and restart act on the serving slot', () => {
    const status = ctl('status');
    expect(status.stdout).toMatch(/^serving: blue slot \(app-blue\), release r1\napp-blue\s+RUNNING\s+pid \d+.*\napp-green\s+STOPPED\s+Not started\n$/);
    expect(ctl('restart').stdout).toBe('app-blue: stopped\napp-blue: started\n');
    expect(ctl('stop').stdout).toBe('app-blue: stopped\napp-green: ERROR (not running)\n');
    expect(ctl('status').status).toBe(3);
    expect(ctl('start').stdout).toBe('app-blue: started\n');
    expect(ctl('status').stdout).toMatch(/\napp-blue\s+RUNNING/);
  });
});

describe("await-ready: the deploy's wait for a new run container's app", () => {
  // One volume and one container name; each case starts a run container whose app is a command of its own.
  const name = runContainerName('readytest');
  let root: string;
  let runBase: string;

  beforeAll(() => {
    runBase = buildImage('run-base');
    root = createVolume('readytest', 64);
  }, 1_800_000);

  afterAll(() => {
    dockerRun(['rm', '-f', name]);
  });

  /** A run container (as RunContainer makes it, Docker's health check every 15 s) whose app is `command`. */
  function startApp(command: string): void {
    const conf = ok(volumeScript('render-config', root)).stdout.replace('command=start\n', `command=bash -c ${JSON.stringify(command)}\n`);
    fs.writeFileSync(path.join(mnt(root), 'supervisor.conf'), conf, { mode: 0o600 });
    fs.chownSync(path.join(mnt(root), 'supervisor.conf'), 441, 444);
    fs.writeFileSync(path.join(mnt(root), 'log', 'app.log'), '');
    fs.chownSync(path.join(mnt(root), 'log', 'app.log'), 441, 444);
    dockerRun(['rm', '-f', name]);
    docker(['run', '-d', '--name', name, '--network', 'none', '--user', '441:444', '--read-only', '--cap-drop', 'ALL',
      '--security-opt', 'no-new-privileges:true', '--init', '-e', 'TINI_SUBREAPER=1', '-v', `${mnt(root)}:/mnt`,
      '--health-cmd', 'curl -sS -o /dev/null --max-time 5 http://127.0.0.1:9100/', '--health-interval', '15s', runBase]);
  }

  const awaitReady = (env: Record<string, string> = {}) =>
    volumeScript('await-ready', root, {
      MODULUS_IMAGE: runBase,
      MODULUS_RUN_CONTAINER: name,
      MODULUS_READY_PORTS: '9100',
      MODULUS_HEALTH_TIMEOUT_SECONDS: '2',
      MODULUS_READY_TIMEOUT_SECONDS: '60',
      ...env,
    });

  it("ends once the app answers on either port, before Docker's first health probe", () => {
    startApp('sleep 1; exec python3 -m http.server 9100 --bind 127.0.0.1');
    const ready = ok(awaitReady({ MODULUS_READY_PORTS: '9101 9100', MODULUS_HEALTH_PATH: '/?ready=1' }));
    expect(ready.stderr).toMatch(/answers in its run container modulus-app-readytest \(waited \d+\.\d s\)/);
    expect(docker(['inspect', '-f', '{{.State.Health.Status}}', name]).trim()).toBe('starting');
    expect(docker(['exec', name, 'cat', '/mnt/log/app.log'])).toContain('GET /?ready=1 HTTP/1.1" 200');
  });

  const NO_ANSWER = "app 'readytest' is not ready in its run container modulus-app-readytest: it did not answer on http://127.0.0.1:9100/ within 3 s";
  // The last: ends on its own (a hung step would be killed after 120 s: status -1), bounded by the timeout and the
  // calls' own bounds: the probe's (the time left + 5 s), then supervisord's (5 s).
  it.each([
    ["fails with the app's last log lines once supervisord gives the app up", 'echo "e2e: cannot start"; exit 1', '60',
      "app 'readytest' is not ready in its run container modulus-app-readytest: supervisord has it FATAL before it answered on http://127.0.0.1:9100/", 'e2e: cannot start'],
    ["fails after its timeout when the app never answers, with the app's last log lines", 'echo "e2e: listening nowhere"; exec sleep 600', '3',
      NO_ANSWER, 'e2e: listening nowhere'],
    ['an app that stops every probe and every call to supervisord (SIGSTOP) cannot hold the deploy: it fails at its timeout',
      'echo "e2e: stopping curl"; while :; do pkill -STOP -x curl; sleep 0.02; done', '3', NO_ANSWER, 'e2e: stopping curl'],
  ])('%s', (_name, command, timeoutSeconds, reason, logLine) => {
    startApp(command);
    const failed = awaitReady({ MODULUS_READY_TIMEOUT_SECONDS: timeoutSeconds });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain(reason);
    expect(failed.stderr).toContain(`  | ${logLine}`);
  });
});

describe('the run image and an unmounted volume (a host reboot)', () => {
  const line = "modulus: /mnt is not the app's volume (not mounted on the host?): refusing to start\n";
  let runBase: string;
  let root: string;
  const runApp = () =>
    dockerRun(['run', '--rm', '--network', 'none', '--user', '441:444', '--read-only', '--cap-drop', 'ALL',
      '--security-opt', 'no-new-privileges', '-v', `${mnt(root)}:/mnt`, runBase]);

  beforeAll(() => {
    runBase = buildImage('run-base');
    root = createVolume('reboot', 64);
  }, 1_800_000);

  it('create gives an existing volume without the marker (made before it existed) one, and replaces a planted one', () => {
    const marker = path.join(mnt(root), '.modulus-volume');
    fs.rmSync(marker);
    ok(volumeScript('create', root, { MODULUS_SIZE_MIB: '64' }));
    expect([ownerOf(marker), modeOf(marker)]).toEqual(['441:444', '0640']);
    fs.rmSync(marker);
    // What the app can plant: a folder of its own in the marker's place.
    fs.mkdirSync(path.join(marker, 'x'), { recursive: true });
    for (const dir of [marker, path.join(marker, 'x')]) fs.chownSync(dir, 441, 444);
    ok(volumeScript('create', root, { MODULUS_SIZE_MIB: '64' }));
    expect(fs.lstatSync(marker).isFile()).toBe(true);
  });

  it('with the volume unmounted the container exits 69 with one line and leaves the mount point empty', () => {
    expect(spawnSync('umount', [mnt(root)]).status).toBe(0);
    const result = runApp();
    expect(result).toEqual({ status: 69, stdout: '', stderr: line });
    expect(fs.readdirSync(mnt(root))).toEqual([]);
    // Mounted again by create, the same container command gets past the check (supervisord then starts).
    ok(volumeScript('create', root, { MODULUS_SIZE_MIB: '64' }));
    const name = 'modulus-test-reboot-remounted';
    dockerRun(['rm', '-f', name]);
    docker(['run', '-d', '--name', name, '--network', 'none', '--user', '441:444', '--read-only', '--cap-drop', 'ALL',
      '--security-opt', 'no-new-privileges', '-v', `${mnt(root)}:/mnt`, runBase]);
    try {
      let log = '';
      for (let i = 0; i < 30 && !/supervisord started/.test(log); i++) {
        spawnSync('sleep', ['1']);
        log = fs.existsSync(path.join(mnt(root), 'log', 'supervisord.log')) ? fs.readFileSync(path.join(mnt(root), 'log', 'supervisord.log'), 'utf8') : '';
      }
      expect(log).toMatch(/supervisord started/);
    } finally {
      dockerRun(['rm', '-f', name]);
    }
  });
});

describe('loopfile volume: destroy per removal policy', () => {
  it('retain (the default): destroy leaves the volume mounted with its data', () => {
    const root = createVolume('retained', 64);
    fs.writeFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'kept\n');
    const run = ok(volumeScript('destroy', root));
    expect(run.stderr).toContain("removal policy is 'retain'");
    expect(isMounted(mnt(root))).toBe(true);
    expect(fs.readFileSync(path.join(mnt(root), 'app', 'keep.txt'), 'utf8')).toBe('kept\n');
    ok(volumeScript('set-policy', root, { MODULUS_REMOVAL_POLICY: 'retain' }));
    ok(volumeScript('destroy', root));
    expect(isMounted(mnt(root))).toBe(true);
  });

  it('destroy: unmounts, detaches the loop device and removes the volume and its folder', () => {
    const root = createVolume('destroyed', 64);
    expect(loopDevices(root)).toHaveLength(1);
    ok(volumeScript('set-policy', root, { MODULUS_REMOVAL_POLICY: 'destroy' }));
    expect(ok(volumeScript('status', root)).stdout).toContain('policy=destroy');
    ok(volumeScript('destroy', root));
    expect(isMounted(mnt(root))).toBe(false);
    expect(loopDevices(root)).toEqual([]);
    expect(fs.existsSync(root)).toBe(false);
    // Destroying again is harmless.
    ok(volumeScript('destroy', root));
  });

  it('destroy refuses while the volume is busy, deleting nothing', () => {
    const root = createVolume('busy', 64);
    ok(volumeScript('set-policy', root, { MODULUS_REMOVAL_POLICY: 'destroy' }));
    const holder = spawnSync('bash', ['-c', `(cd ${mnt(root)} && exec sleep 30) >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' }).stdout.trim();
    try {
      const run = volumeScript('destroy', root);
      expect(run.status).toBe(3);
      expect(run.stderr).toContain('nothing was deleted');
      expect(fs.existsSync(path.join(root, 'volume.img'))).toBe(true);
      expect(isMounted(mnt(root))).toBe(true);
    } finally {
      spawnSync('kill', [holder]);
    }
  });
});

/**
 * A Terraform stack holding one AppVolume of app `app` under the temporary folder `name`, synthesized with
 * cdktf and run with the toolchain's Terraform (and its provider mirror, through TF_CLI_CONFIG_FILE).
 */
function volumeStack(name: string, app: string) {
  const terraform = process.env.TERRAFORM_BINARY_NAME || 'terraform';
  const work = path.join(TEMP, name);
  const hostRoot = path.join(TEMP, `${name}-volumes`, app);
  const secret = 'tf-s3cr3t "quoted" 100%';
  const stackDir = path.join(work, 'stacks', 'volume');
  const statePath = path.join(work, 'volume.tfstate');
  const cdkTfJson = path.join(stackDir, 'cdk.tf.json');

  function synth(props: Partial<AppVolumeProps>): void {
    const cdktfApp = new CdktfApp({ outdir: work });
    const stack = new TerraformStack(cdktfApp, 'volume');
    new LocalBackend(stack, { path: statePath });
    const password = new TerraformVariable(stack, 'db_password', { type: 'string', sensitive: true });
    new AppVolume(stack, 'Vol', {
      appName: app,
      image: volumeStepImage(),
      hostRoot,
      sizeMiB: 64,
      environment: { NODE_ENV: 'production' },
      secretEnvironment: { DB_PASSWORD: password.stringValue },
      ...props,
    });
    cdktfApp.synth();
  }

  function tf(...args: string[]): ScriptRun {
    const flags = args[0] === 'show' ? ['-no-color'] : ['-no-color', '-input=false'];
    const result = spawnSync(terraform, [...args, ...flags], {
      cwd: stackDir,
      env: { ...process.env, ...HOST_FILES, CHECKPOINT_DISABLE: '1', TF_VAR_db_password: secret, TF_IN_AUTOMATION: '1' },
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (result.error) throw result.error;
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  }

  /** Actions per resource address (type and construct id, without cdktf's hash suffix) of a saved plan. */
  function planActions(): Record<string, string[]> {
    ok(tf('plan', '-out=plan.bin'));
    const plan = JSON.parse(spawnSync(terraform, ['show', '-json', 'plan.bin'], { cwd: stackDir, encoding: 'utf8' }).stdout);
    return Object.fromEntries(
      plan.resource_changes.map((change: any) => [change.address.replace(/\.Vol_/, '.').replace(/_[0-9A-F]{8}$/, ''), change.change.actions]),
    );
  }

  roots.push(hostRoot);
  return { hostRoot, statePath, cdkTfJson, synth, tf, planActions };
}

/**
 * The synthesized JSON as releases up to 0.3 wrote it: the size and the removal policy in steps of their own
 * (`Size` running `resize`, `RemovalPolicy` running `set-policy`), and a `Mount` step running `mount`, keyed on
 * the health token and the scripts only.
 */
function withSeparateSettings(json: any): any {
  const previous = JSON.parse(JSON.stringify(json));
  const steps = previous.resource.null_resource;
  const [mountKey, mount] = Object.entries<any>(steps).find(([key]) => /^Vol_Mount_/.test(key))!;
  const command = (step: any, name: string) => step.provisioner[0]['local-exec'].command.replace(/ apply-settings$/, ` ${name}`);
  const environment = (step: any, ...keep: string[]) =>
    Object.fromEntries(Object.entries<string>(step.provisioner[0]['local-exec'].environment).filter(([key]) => !/^MODULUS_(SIZE_MIB|REMOVAL_POLICY|PIDS_MAX|HEAL_TOKEN|RUN_CONTAINER)$/.test(key) || keep.includes(key)));
  const step = (name: string, triggers: Record<string, string>, ...keep: string[]) => ({
    provider: mount.provider,
    provisioner: [{ 'local-exec': { command: command(mount, name), environment: environment(mount, ...keep) } }],
    triggers: { volume: mount.triggers.volume, ...triggers },
  });
  steps[makeUniqueId(['Vol', 'Size'])] = step('resize', { size_mib: mount.triggers.size_mib }, 'MODULUS_SIZE_MIB');
  steps[makeUniqueId(['Vol', 'RemovalPolicy'])] = step('set-policy', { removal_policy: mount.triggers.removal_policy }, 'MODULUS_REMOVAL_POLICY');
  steps[mountKey] = {
    ...step('mount', { health: mount.triggers.health, scripts_sha256: mount.triggers.scripts_sha256 }, 'MODULUS_HEAL_TOKEN', 'MODULUS_RUN_CONTAINER'),
    '//': mount['//'],
  };
  return previous;
}

/**
 * The synthesized JSON as releases before 0.2 wrote it: the same steps as `terraform_data` (triggers in
 * `triggers_replace`, no null provider), without the mount check (its `Mount` step and `State` data source).
 */
function asPreviousRelease(json: any): any {
  const { null_resource: allSteps, ...others } = json.resource;
  const steps = Object.fromEntries(Object.entries(allSteps).filter(([key]) => !/^Vol_Mount_/.test(key)));
  const previous = JSON.parse(
    JSON.stringify({ ...json, resource: { ...others, terraform_data: steps } })
      .replace(/\$\{self\.triggers\./g, '${self.triggers_replace.')
      .replace(/\$\{null_resource\./g, '${terraform_data.'),
  );
  for (const step of Object.values<any>(previous.resource.terraform_data)) {
    step.triggers_replace = step.triggers;
    delete step.triggers;
    delete step.provider;
  }
  delete previous.provider;
  delete previous.data;
  delete previous.terraform.required_providers;
  return previous;
}

describe('after a reboot: the boot unit brings volumes and process limits back without Terraform', () => {
  // A host of its own: its boot records, scripts and unit hold this volume only.
  const host = {
    MODULUS_REGISTRY: path.join(TEMP, 'reboot-host', 'etc-modulus'),
    MODULUS_BOOT_DIR: path.join(TEMP, 'reboot-host', 'boot'),
    MODULUS_SYSTEMD_DIR: path.join(TEMP, 'reboot-host', 'systemd'),
  };
  const registry = host.MODULUS_REGISTRY;
  const UNIT = path.join(host.MODULUS_SYSTEMD_DIR, 'modulus-volumes.service');
  const pidsMax = '/sys/fs/cgroup/pids/modulus/reboot/pids.max';
  let root: string;
  const processLimit = (command: string, env: Record<string, string> = {}) => {
    const result = spawnSync('bash', [PROCESS_LIMIT, command], {
      env: { ...process.env, MODULUS_APP: 'reboot', MODULUS_REGISTRY: registry, ...env },
      encoding: 'utf8',
    });
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  };
  /** What systemd would run: the unit's ExecStart with its Environment. */
  const runBootUnit = () => {
    const unit = fs.readFileSync(UNIT, 'utf8');
    const execStart = /^ExecStart=(.+)$/m.exec(unit)![1];
    const environment = Object.fromEntries([...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((match) => [match[1], match[2]]));
    const result = spawnSync('bash', ['-c', execStart], { env: { PATH: process.env.PATH!, ...environment }, encoding: 'utf8' });
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  };

  beforeAll(() => {
    root = path.join(TEMP, 'reboot');
    roots.push(root);
    ok(volumeScript('create', root, { ...host, MODULUS_SIZE_MIB: '64' }));
    ok(processLimit('apply', { MODULUS_PIDS_MAX: '100' }));
    fs.writeFileSync(path.join(mnt(root), 'home', 'keep.txt'), 'precious\n');
  });
  afterAll(() => {
    processLimit('remove');
    volumeScript('set-policy', root, { ...host, MODULUS_REMOVAL_POLICY: 'destroy' });
    volumeScript('destroy', root, host);
  });

  it('create records the volume and installs a boot unit ordered before and wanted by docker.service', () => {
    expect(fs.readFileSync(path.join(registry, 'volumes', 'reboot.env'), 'utf8')).toBe(
      `MODULUS_APP=reboot\nMODULUS_BACKEND=loopfile\nMODULUS_ROOT=${root}\nMODULUS_LVM_VG=\nMODULUS_LVM_POOL=\n`,
    );
    const unit = fs.readFileSync(UNIT, 'utf8');
    expect(unit).toMatch(/^Before=docker\.service/m);
    expect(unit).toMatch(/^WantedBy=docker\.service$/m);
    expect(unit).toContain(`ExecStart=${host.MODULUS_BOOT_DIR}/modulus-volume.sh boot`);
    expect(fs.readlinkSync(path.join(host.MODULUS_SYSTEMD_DIR, 'docker.service.wants', 'modulus-volumes.service'))).toBe(UNIT);
    expect(fs.readFileSync(path.join(host.MODULUS_BOOT_DIR, 'modulus-volume.sh'), 'utf8')).toBe(fs.readFileSync(SCRIPT, 'utf8'));
    expect(fs.readFileSync(pidsMax, 'utf8').trim()).toBe('100');
  });

  it('the unit mounts the volume again with its data and restores the process limit', () => {
    // The reboot: no mount, no loop device, no cgroups.
    expect(spawnSync('umount', [mnt(root)]).status).toBe(0);
    expect(isMounted(mnt(root))).toBe(false);
    expect(loopDevices(root)).toEqual([]);
    fs.rmdirSync(path.dirname(pidsMax));
    const probe = spawnSync('bash', [SCRIPT, 'probe'], { input: JSON.stringify({ app: 'reboot', backend: 'loopfile', root }), encoding: 'utf8' });
    expect(JSON.parse(probe.stdout)).toMatchObject({ exists: 'true', mounted: 'false', health: expect.stringMatching(/^heal-[0-9a-f]{16}$/) });

    const boot = runBootUnit();
    expect({ status: boot.status, stderr: boot.stderr }).toMatchObject({ status: 0 });
    expect(isMounted(mnt(root))).toBe(true);
    expect(fs.readFileSync(path.join(mnt(root), 'home', 'keep.txt'), 'utf8')).toBe('precious\n');
    expect(fs.readFileSync(pidsMax, 'utf8').trim()).toBe('100');
    // Booting again changes nothing.
    expect(runBootUnit().status).toBe(0);
  });

  it('refuses a process limit that is not a whole number from 16, naming the variable', () => {
    const run = processLimit('apply', { MODULUS_PIDS_MAX: '8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("invalid MODULUS_PIDS_MAX '8': a whole number from 16 to 4194304");
    expect(fs.readFileSync(pidsMax, 'utf8').trim()).toBe('100');
  });

  it('remove while the app still runs (a replaced limit step, create-before-destroy) leaves the busy cgroup, its limit and the record boot reads', () => {
    const holder = spawnSync('bash', ['-c', `sleep 60 >/dev/null 2>&1 & echo $! > "${path.dirname(pidsMax)}/cgroup.procs"; echo $!`], { encoding: 'utf8' }).stdout.trim();
    try {
      const run = processLimit('remove');
      expect(run.status).toBe(0);
      expect(run.stderr).toContain('processes still run in it');
      expect(run.stderr).toContain("app 'reboot': process limit kept");
      expect(fs.readFileSync(pidsMax, 'utf8').trim()).toBe('100');
      expect(fs.readFileSync(path.join(registry, 'process-limits', 'reboot'), 'utf8').trim()).toBe('100');
    } finally {
      spawnSync('bash', ['-c', `kill ${holder}; while [ -s "${path.dirname(pidsMax)}/cgroup.procs" ]; do sleep 0.1; done`], { timeout: 10_000 });
    }
    ok(processLimit('apply', { MODULUS_PIDS_MAX: '100' }));
  });

  it('destroy under the destroy policy removes the process limit (the limit step has no destroy step), forgets the volume, and the unit goes with the last one', () => {
    expect(fs.readFileSync(pidsMax, 'utf8').trim()).toBe('100');
    ok(volumeScript('set-policy', root, { ...host, MODULUS_REMOVAL_POLICY: 'destroy' }));
    const destroy = ok(volumeScript('destroy', root, host));
    expect(destroy.stderr).toContain("app 'reboot': process limit removed");
    expect(fs.existsSync(path.dirname(pidsMax))).toBe(false);
    expect(fs.existsSync(path.join(registry, 'process-limits', 'reboot'))).toBe(false);
    expect(fs.existsSync(path.join(registry, 'volumes', 'reboot.env'))).toBe(false);
    expect(destroy.stderr).toContain('no volume left on this host: removed the boot unit');
    expect(fs.existsSync(UNIT)).toBe(false);
  });
});

describe('upgrading from the terraform_data volume steps of releases before 0.2', () => {
  const { hostRoot, cdkTfJson, synth, tf, planActions } = volumeStack('upgrade', 'upshop');

  it('adopts the volume as it is: the data stays, and no destroy step runs', () => {
    // The strictest case: a removal policy of destroy, recorded on the host by the previous release.
    synth({ removalPolicy: VolumeRemovalPolicy.DESTROY });
    fs.writeFileSync(cdkTfJson, JSON.stringify(asPreviousRelease(withSeparateSettings(JSON.parse(fs.readFileSync(cdkTfJson, 'utf8')))), null, 2));
    ok(tf('init'));
    ok(tf('apply', '-auto-approve'));
    // (Its Volume step no longer lays the volume out: that is the Mount step's, which this emulation leaves out.)
    fs.writeFileSync(path.join(mnt(hostRoot), 'keep.txt'), 'precious\n');
    expect(fs.readFileSync(path.join(hostRoot, 'removal-policy'), 'utf8')).toBe('destroy\n');

    synth({ removalPolicy: VolumeRemovalPolicy.DESTROY });
    ok(tf('init'));
    const actions = planActions();
    expect(Object.entries(actions).filter(([address]) => address.startsWith('terraform_data.'))).toEqual(
      ['Config', 'RemovalPolicy', 'Size', 'Volume'].map((step) => [`terraform_data.${step}`, ['delete']]),
    );
    expect(Object.entries(actions).filter(([address]) => address.startsWith('null_resource.'))).toEqual(
      ['Config', 'Mount', 'Volume'].map((step) => [`null_resource.${step}`, ['create']]),
    );
    const apply = ok(tf('apply', '-auto-approve'));
    expect(apply.stdout).not.toContain('modulus-volume.sh destroy');
    expect(isMounted(mnt(hostRoot))).toBe(true);
    expect(fs.readFileSync(path.join(mnt(hostRoot), 'keep.txt'), 'utf8')).toBe('precious\n');
    expect(planActions()).toEqual(Object.fromEntries(['Config', 'Mount', 'Volume'].map((step) => [`null_resource.${step}`, ['no-op']])));
    ok(tf('destroy', '-auto-approve'));
    expect(fs.existsSync(hostRoot)).toBe(false);
  });
});

describe('upgrading from the separate Size and RemovalPolicy steps of releases up to 0.3', () => {
  const { hostRoot, cdkTfJson, synth, tf, planActions } = volumeStack('upgrade-settings', 'setshop');

  it('drops those steps without running anything and applies the same settings once in the Mount step: the data stays, the policy holds', () => {
    synth({ removalPolicy: VolumeRemovalPolicy.DESTROY });
    fs.writeFileSync(cdkTfJson, JSON.stringify(withSeparateSettings(JSON.parse(fs.readFileSync(cdkTfJson, 'utf8'))), null, 2));
    ok(tf('init'));
    ok(tf('apply', '-auto-approve'));
    fs.writeFileSync(path.join(mnt(hostRoot), 'app', 'keep.txt'), 'precious\n');
    expect(planActions()).toEqual(Object.fromEntries(['Config', 'Mount', 'RemovalPolicy', 'Size', 'Volume'].map((step) => [`null_resource.${step}`, ['no-op']])));

    synth({ removalPolicy: VolumeRemovalPolicy.DESTROY });
    expect(planActions()).toEqual({
      'null_resource.Config': ['no-op'],
      'null_resource.Mount': ['delete', 'create'],
      'null_resource.RemovalPolicy': ['delete'],
      'null_resource.Size': ['delete'],
      'null_resource.Volume': ['no-op'],
    });
    const apply = ok(tf('apply', '-auto-approve'));
    expect(apply.stdout).toContain('modulus-volume.sh apply-settings');
    expect(apply.stdout).not.toMatch(/modulus-volume\.sh (destroy|resize|set-policy)/);
    expect(fs.readFileSync(path.join(mnt(hostRoot), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
    expect(fs.readFileSync(path.join(hostRoot, 'removal-policy'), 'utf8')).toBe('destroy\n');
    expect(planActions()).toEqual(Object.fromEntries(['Config', 'Mount', 'Volume'].map((step) => [`null_resource.${step}`, ['no-op']])));
    // The policy the old step recorded, which the new one recorded again: destroy removes the volume.
    ok(tf('destroy', '-auto-approve'));
    expect(fs.existsSync(hostRoot)).toBe(false);
  });
});

describe('AppVolume through Terraform', () => {
  const { hostRoot, statePath, synth, tf, planActions: addressActions } = volumeStack('terraform', 'tfshop');
  /** Actions per volume step (Volume, Config, Mount). */
  const planActions = () => Object.fromEntries(Object.entries(addressActions()).map(([address, actions]) => [address.replace(/^null_resource\./, ''), actions]));

  beforeAll(() => {
    synth({});
    ok(tf('init'));
  });

  it('creates the volume and supervisor.conf, keeping the secret out of the output', () => {
    const run = ok(tf('apply', '-auto-approve'));
    expect(run.stdout + run.stderr).not.toContain('tf-s3cr3t');
    expect(run.stdout).toContain('(output suppressed due to sensitive value in config)');
    expect(isMounted(mnt(hostRoot))).toBe(true);
    expect(fs.readFileSync(path.join(mnt(hostRoot), 'supervisor.conf'), 'utf8')).toContain(
      `environment=DB_PASSWORD='tf-s3cr3t "quoted" 100%%',NODE_ENV="production"\n`,
    );
    fs.writeFileSync(path.join(mnt(hostRoot), 'app', 'keep.txt'), 'precious\n');
    expect(ok(tf('show')).stdout).not.toContain('tf-s3cr3t');
    const state = fs.readFileSync(statePath, 'utf8');
    expect(state).toContain('"modulus_volume": "tfshop"');
    expect(state).not.toContain('tf-s3cr3t');
  });

  it('shows a volume that is not mounted, or whose process limit is gone, in every plan until a deploy heals it, reboot after reboot', () => {
    const limit = (command: string, env: Record<string, string> = {}) =>
      ok(spawnSync('bash', [PROCESS_LIMIT, command], { env: { ...process.env, ...HOST_FILES, MODULUS_APP: 'tfshop', ...env }, encoding: 'utf8' }) as any);
    limit('apply', { MODULUS_PIDS_MAX: '100' });
    const pidsMax = '/sys/fs/cgroup/pids/modulus/tfshop/pids.max';
    // Nothing changed since the last apply: no plan (the process limit was recorded before the last probe).
    expect(Object.values(planActions()).filter((actions) => actions[0] !== 'no-op')).toEqual([]);
    try {
      for (let reboot = 1; reboot <= 2; reboot++) {
        // A reboot: mounts and cgroups gone.
        expect(spawnSync('umount', [mnt(hostRoot)]).status).toBe(0);
        expect(spawnSync('rmdir', [path.dirname(pidsMax)]).status).toBe(0);
        expect([reboot, planActions()]).toEqual([reboot, { Volume: ['no-op'], Config: ['no-op'], Mount: ['delete', 'create'] }]);
        expect([reboot, planActions().Mount]).toEqual([reboot, ['delete', 'create']]);
        ok(tf('apply', '-auto-approve'));
        expect(isMounted(mnt(hostRoot))).toBe(true);
        expect(fs.readFileSync(pidsMax, 'utf8').trim()).toBe('100');
        expect(fs.readFileSync(path.join(mnt(hostRoot), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
        expect([reboot, Object.values(planActions()).filter((actions) => actions[0] !== 'no-op')]).toEqual([reboot, []]);
      }
      // The limit alone (the mount still there) is drift too.
      expect(spawnSync('rmdir', [path.dirname(pidsMax)]).status).toBe(0);
      expect(planActions().Mount).toEqual(['delete', 'create']);
      ok(tf('apply', '-auto-approve'));
      expect(fs.readFileSync(pidsMax, 'utf8').trim()).toBe('100');
    } finally {
      limit('remove');
    }
  });

  it('grows the volume and rewrites supervisor.conf without replacing the volume', () => {
    synth({ sizeMiB: 96, environment: { NODE_ENV: 'staging' } });
    expect(planActions()).toEqual({
      Volume: ['no-op'],
      Config: ['delete', 'create'],
      Mount: ['delete', 'create'],
    });
    ok(tf('apply', '-auto-approve'));
    expect(fs.statSync(path.join(hostRoot, 'volume.img')).size).toBe(96 * 1048576);
    expect(fs.readFileSync(path.join(mnt(hostRoot), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
    expect(fs.readFileSync(path.join(mnt(hostRoot), 'supervisor.conf'), 'utf8')).toContain('NODE_ENV="staging"');
  });

  it('fails the apply on a shrink, before anything changes', () => {
    synth({ sizeMiB: 64, environment: { NODE_ENV: 'staging' } });
    const run = tf('apply', '-auto-approve');
    expect(run.status).not.toBe(0);
    expect(run.stderr.replace(/\s+/g, ' ')).toContain("refusing to shrink the volume of app 'tfshop' from 96 MiB to 64 MiB");
    expect(fs.statSync(path.join(hostRoot, 'volume.img')).size).toBe(96 * 1048576);
    expect(fs.readFileSync(path.join(mnt(hostRoot), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
  });

  it('retain (default): terraform destroy keeps the data; applying again adopts it', () => {
    synth({ sizeMiB: 96, environment: { NODE_ENV: 'staging' } });
    ok(tf('apply', '-auto-approve'));
    ok(tf('destroy', '-auto-approve'));
    expect(isMounted(mnt(hostRoot))).toBe(true);
    expect(fs.readFileSync(path.join(mnt(hostRoot), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
    ok(tf('apply', '-auto-approve'));
    expect(fs.readFileSync(path.join(mnt(hostRoot), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
  });

  it("destroy: switching the policy doesn't replace the volume; terraform destroy then removes it", () => {
    synth({ sizeMiB: 96, environment: { NODE_ENV: 'staging' }, removalPolicy: VolumeRemovalPolicy.DESTROY });
    expect(planActions()).toEqual({
      Volume: ['no-op'],
      Config: ['no-op'],
      Mount: ['delete', 'create'],
    });
    ok(tf('apply', '-auto-approve'));
    expect(fs.readFileSync(path.join(mnt(hostRoot), 'app', 'keep.txt'), 'utf8')).toBe('precious\n');
    ok(tf('destroy', '-auto-approve'));
    expect(isMounted(mnt(hostRoot))).toBe(false);
    expect(fs.existsSync(hostRoot)).toBe(false);
    expect(loopDevices(hostRoot)).toEqual([]);
  });
});
