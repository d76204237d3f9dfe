import { execFileSync, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort } from '../ports';
import { bash, docker, ok, Run, waitFor } from '../shell';

export const HOST_B_IMAGE = process.env.MODULUS_HOST_B_IMAGE ?? 'modulus-test/host-b:latest';
export const ROOT_IMAGE = process.env.MODULUS_ROOT_IMAGE ?? 'modulus/root:bookworm';
const IMAGE_DIR = path.join(__dirname, 'host-b');

/**
 * The flags host B's container runs with on engine A. --privileged fails on machines without CAP_SYS_RESOURCE
 * (this one), so: every capability but that one, no seccomp/AppArmor filter, every device (loop devices come
 * and go, so a rule rather than --device), the host's /dev and cgroup tree, and the host network (engine A has no
 * bridge; everything listens on 127.0.0.0/8). /run is the container's own tmpfs, so B's dockerd, containerd and
 * sshd keep their sockets and pidfiles apart from A's.
 */
export const HOST_B_RUN_FLAGS = [
  '--cap-add', 'ALL',
  '--cap-drop', 'SYS_RESOURCE',
  '--security-opt', 'seccomp=unconfined',
  '--security-opt', 'apparmor=unconfined',
  '--device-cgroup-rule', 'a *:* rwm',
  '-v', '/dev:/dev',
  '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw',
  '--network', 'host',
  '--tmpfs', '/run:rw,exec,mode=0755',
];

/** A second Docker engine in a container of engine A, reached only over SSH on 127.0.0.1:<sshPort>. */
export interface HostB {
  /** The container's name on engine A (also the prefix of its volumes). */
  readonly container: string;
  readonly sshHost: '127.0.0.1';
  readonly sshPort: number;
  readonly sshUser: 'root';
  /** ssh://root@127.0.0.1:<port>: DOCKER_HOST for the docker CLI, `host` for the kreuzwerker provider. */
  readonly dockerHost: string;
  /** The client's ed25519 private key (0600, in the testbed's temporary folder); its content is never logged. */
  readonly privateKeyPath: string;
  readonly publicKey: string;
  /** B's host public keys (sshd's stock rsa, ecdsa and ed25519), "TYPE BASE64" lines, read through engine A. */
  readonly hostPublicKeys: string;
  /** "[127.0.0.1]:<port> TYPE BASE64" lines of hostPublicKeys, also written to knownHostsPath. */
  readonly knownHostsLines: string;
  readonly knownHostsPath: string;
  /** An ssh_config with the key, known_hosts, StrictHostKeyChecking yes and BatchMode yes for 127.0.0.1. */
  readonly sshConfigPath: string;
  /** ["-F", sshConfigPath]: the provider's ssh_opts. */
  readonly sshOpts: string[];
  /**
   * Environment for the docker CLI with -H ssh://: PATH starts with a folder whose `ssh` runs the real ssh with
   * -F sshConfigPath (ssh takes ~/.ssh from the passwd entry, not from HOME, so a temporary HOME does not work).
   */
  readonly env: Record<string, string>;
  /** The parent cgroup of B's containers, kept apart from engine A's /docker. */
  readonly cgroupParent: string;
  /** Runs a bash script on B over SSH (the script goes on stdin, with set -euo pipefail). */
  ssh(script: string, env?: Record<string, string>): Run;
  /** Runs the docker CLI against B's engine over SSH; extra environment (e.g. DOCKER_CONFIG) is added. */
  docker(args: string[], env?: Record<string, string>): Run;
  /** B's container log on engine A (dockerd and sshd failures end up there). */
  logs(): string;
  /** Stops B (its entrypoint removes B's containers and unmounts loop volumes), removes the container, its volumes and the temporary folder. Idempotent. */
  stop(): void;
}

/** Builds host B's image FROM the root image (apt reaches the Debian mirror through the host network). */
export function buildHostBImage(): string {
  execFileSync('docker', ['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${ROOT_IMAGE}`, '-t', HOST_B_IMAGE, IMAGE_DIR], {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 1_200_000,
  });
  return HOST_B_IMAGE;
}

function removeCgroup(parent: string): void {
  const root = '/sys/fs/cgroup';
  if (!fs.existsSync(root)) return;
  const controllers = fs.readdirSync(root).map((entry) => path.join(root, entry, parent));
  // cgroup v2 (unified at the root) has no controller folders: the parent is right under the root.
  controllers.push(path.join(root, parent));
  const rmdirDeep = (dir: string) => {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) rmdirDeep(path.join(dir, entry.name));
    try {
      fs.rmdirSync(dir);
    } catch {
      // still in use: left for the engine that owns it
    }
  };
  for (const dir of controllers) rmdirDeep(dir);
}

export async function startHostB(image = HOST_B_IMAGE): Promise<HostB> {
  const id = randomBytes(4).toString('hex');
  const container = `modulus-testbed-host-b-${id}`;
  const cgroupParent = `/modulus-testbed-${id}`;
  const volumes = [`${container}-docker`, `${container}-modulus`];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-host-b-'));
  fs.chmodSync(dir, 0o700);
  const privateKeyPath = path.join(dir, 'id_ed25519');
  const knownHostsPath = path.join(dir, 'known_hosts');
  const sshConfigPath = path.join(dir, 'ssh_config');
  const binDir = path.join(dir, 'bin');
  const sshPort = await freePort();
  const dockerHost = `ssh://root@127.0.0.1:${sshPort}`;

  let started = false;
  const stop = () => {
    if (started) {
      // The entrypoint traps TERM: removes B's containers, unmounts loop volumes, stops dockerd and sshd.
      docker('stop', '--time', '30', container);
      docker('rm', '--force', '--volumes', container);
      started = false;
    }
    docker('volume', 'rm', '--force', ...volumes);
    removeCgroup(cgroupParent);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    ok(bash('ssh-keygen -q -t ed25519 -N "" -C modulus-testbed -f "$KEY" </dev/null >/dev/null', { env: { KEY: privateKeyPath } }), 'ssh-keygen');
    const publicKey = fs.readFileSync(`${privateKeyPath}.pub`, 'utf8').trim();
    const run = docker(
      'run', '--detach', '--name', container,
      ...HOST_B_RUN_FLAGS,
      '-v', `${volumes[0]}:/var/lib/docker`,
      '-v', `${volumes[1]}:/var/lib/modulus`,
      '-e', `HOST_B_SSH_PORT=${sshPort}`,
      '-e', `HOST_B_AUTHORIZED_KEY=${publicKey}`,
      '-e', `HOST_B_CGROUP_PARENT=${cgroupParent}`,
      image,
    );
    started = true;
    ok(run, `docker run ${container}`);
    const logs = () => {
      const result = docker('logs', container);
      return `${result.stdout}${result.stderr}`;
    };
    await waitFor(`host B (${container}) to be ready`, () => {
      const state = docker('inspect', '--format', '{{.State.Running}}', container).stdout.trim();
      if (state !== 'true') throw new Error(`host B is not running:\n${logs()}`);
      return /\[host-b\] ready:/.test(logs()) ? true : undefined;
    }, 90_000);
    // The host keys are public: read them through engine A (the trusted channel) and pin them for every SSH client.
    const hostPublicKeys = ok(docker('exec', container, 'bash', '-c', 'cat /etc/ssh/ssh_host_*_key.pub'), 'read the host keys')
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).slice(0, 2).join(' '))
      .join('\n');
    const knownHostsLines = hostPublicKeys
      .split('\n')
      .map((key) => `[127.0.0.1]:${sshPort} ${key}`)
      .join('\n');
    fs.writeFileSync(knownHostsPath, `${knownHostsLines}\n`, { mode: 0o600 });
    fs.writeFileSync(
      sshConfigPath,
      [
        'Host 127.0.0.1',
        '  User root',
        `  Port ${sshPort}`,
        `  IdentityFile ${privateKeyPath}`,
        '  IdentitiesOnly yes',
        '  IdentityAgent none',
        `  UserKnownHostsFile ${knownHostsPath}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  UpdateHostKeys no',
        '  BatchMode yes',
        '  PasswordAuthentication no',
        '  KbdInteractiveAuthentication no',
        '  ConnectTimeout 10',
        '  LogLevel ERROR',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const realSsh = ok(bash('command -v ssh'), 'command -v ssh').trim();
    fs.mkdirSync(binDir);
    fs.writeFileSync(path.join(binDir, 'ssh'), `#!/bin/sh\nexec '${realSsh}' -F '${sshConfigPath}' "$@"\n`, { mode: 0o755 });
    const env = { PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}` };

    const ssh = (script: string, extra: Record<string, string> = {}): Run => {
      const assignments = Object.entries(extra).map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join('');
      const result = spawnSync(realSsh, ['-F', sshConfigPath, '127.0.0.1', 'bash', '-s'], {
        input: `set -euo pipefail\n${assignments}${script}\n`,
        encoding: 'utf8',
        maxBuffer: 64 << 20,
        timeout: 300_000,
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    const dockerB = (args: string[], extra: Record<string, string> = {}): Run => {
      const result = spawnSync('docker', ['-H', dockerHost, ...args], {
        env: { ...process.env, ...extra, ...env },
        encoding: 'utf8',
        maxBuffer: 64 << 20,
        timeout: 300_000,
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    return {
      container,
      sshHost: '127.0.0.1',
      sshPort,
      sshUser: 'root',
      dockerHost,
      privateKeyPath,
      publicKey,
      hostPublicKeys,
      knownHostsLines,
      knownHostsPath,
      sshConfigPath,
      sshOpts: ['-F', sshConfigPath],
      env,
      cgroupParent,
      ssh,
      docker: dockerB,
      logs,
      stop,
    };
  } catch (error) {
    const detail = started ? `${docker('logs', container).stdout}${docker('logs', container).stderr}` : '';
    stop();
    throw detail ? new Error(`${error}\n--- host B log\n${detail}`) : error;
  }
}

/** Single-quotes a value for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
