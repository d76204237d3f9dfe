import { ChildProcess, spawn, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { freePort } from '../ports';
import { bash, ok, waitFor } from '../shell';

/**
 * A throw-away image registry: Debian's `docker-registry` (Docker Distribution 2.8) with its own config, storage
 * in a temporary folder, plain HTTP on 127.0.0.1:<free port> (Docker trusts 127.0.0.0/8 registries without TLS,
 * so neither engine needs a daemon change), run as the unprivileged `docker-registry` user (`nobody` when the
 * package did not create it), with basic auth (htpasswd, bcrypt) for one generated user.
 */
export interface Registry {
  /** 127.0.0.1:<port>: the prefix of image names (`${address}/probe:1`) and registry_auth's address. */
  readonly address: string;
  readonly port: number;
  readonly username: string;
  /** Generated; pass it on stdin or in the environment, never on a command line. */
  readonly password: string;
  /** A DOCKER_CONFIG folder logged in to this registry: for the docker CLI against engine A and, over SSH, host B. */
  readonly dockerConfig: string;
  /** The registry's storage root (Distribution's filesystem driver). */
  readonly storage: string;
  readonly pid: number;
  /** The registry's log so far. */
  log(): string;
  /** Stops the process (TERM, then KILL after 10 s) and removes the folder. Idempotent. */
  stop(): Promise<void>;
}

function status(url: string, auth?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.setTimeout(2000, () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

function userIds(name: string): { uid: number; gid: number; user: string } {
  for (const user of [name, 'nobody']) {
    const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout), gid: Number(gid.stdout), user };
  }
  throw new Error(`neither ${name} nor nobody exists`);
}

export async function startRegistry(): Promise<Registry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-registry-'));
  const storage = path.join(dir, 'storage');
  const dockerConfig = path.join(dir, 'docker-config');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const username = 'modulus';
  const password = randomBytes(18).toString('base64url');
  const owner = userIds('docker-registry');
  fs.mkdirSync(storage);
  fs.mkdirSync(dockerConfig, { mode: 0o700 });
  // htpasswd reads the password from stdin (-i); bcrypt (-B) is the only hash Distribution accepts.
  ok(bash('htpasswd -iBc "$DIR/htpasswd" "$REG_USER" 2>/dev/null', { env: { DIR: dir, REG_USER: username }, input: `${password}\n` }), 'htpasswd');
  fs.writeFileSync(
    path.join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: info',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${address}`,
      '  headers:',
      '    X-Content-Type-Options: [nosniff]',
      'auth:',
      '  htpasswd:',
      '    realm: modulus-testbed',
      `    path: ${path.join(dir, 'htpasswd')}`,
      '',
    ].join('\n'),
  );
  // The registry's user owns its folder (storage, config, htpasswd); the client config stays root's.
  for (const entry of [dir, storage, path.join(dir, 'config.yml'), path.join(dir, 'htpasswd')]) fs.chownSync(entry, owner.uid, owner.gid);
  fs.chmodSync(dir, 0o711);
  fs.chmodSync(path.join(dir, 'htpasswd'), 0o600);

  const logFile = path.join(dir, 'registry.log');
  const logFd = fs.openSync(logFile, 'a');
  let child: ChildProcess | undefined = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], {
    uid: owner.uid,
    gid: owner.gid,
    cwd: dir,
    stdio: ['ignore', logFd, logFd],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  fs.closeSync(logFd);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  // A safety net should the test process end without afterAll: never leave the registry running.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    if (child && !exited) {
      child.kill('SIGTERM');
      const deadline = Date.now() + 10_000;
      while (!exited && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      if (!exited) child.kill('SIGKILL');
    }
    child = undefined;
    process.removeListener('exit', killOnExit);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(`the registry on ${address}`, async () => {
      if (exited) throw new Error(`docker-registry exited:\n${log()}`);
      return (await status(`http://${address}/v2/`)) === 401 ? true : undefined;
    }, 30_000);
    ok(
      bash('docker login --username "$REG_USER" --password-stdin "$REG_ADDRESS" >/dev/null 2>&1', {
        env: { DOCKER_CONFIG: dockerConfig, REG_USER: username, REG_ADDRESS: address },
        input: password,
      }),
      `docker login ${address}`,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { address, port, username, password, dockerConfig, storage, pid: child.pid!, log, stop };
}

/** HTTP status of GET /v2/ with and without the credentials: 401 and 200 when auth is enforced. */
export async function registryStatus(registry: Registry): Promise<{ anonymous: number; authenticated: number }> {
  return {
    anonymous: await status(`http://${registry.address}/v2/`),
    authenticated: await status(`http://${registry.address}/v2/`, `${registry.username}:${registry.password}`),
  };
}
