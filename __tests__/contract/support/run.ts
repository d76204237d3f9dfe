/**
 * Helpers for the run-image contract tests: a volume folder with the platform's layout, containers started
 * with the platform's restrictions, polling, HTTP and the supervisor.conf the platform generates.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { BuildVolume, outputOf, removeTempDirs, runBuild, SAMPLES } from './build';
import { docker, dockerRun, DockerResult, REPO_ROOT } from './docker';

export const MOP_UID = 441;
export const MOP_GID = 444;

export interface AppProgram {
  /** The program's command; the platform always uses `start`. */
  command?: string;
  environment?: Record<string, string>;
  /** `key=value` lines for [program:app], each replacing the generated line of the same key or added. */
  extra?: string[];
}

/**
 * /mnt/supervisor.conf exactly as the platform generates it (the volume script's render-config): [program:app]
 * and Navi's event listener. A test may swap the command or set keys of [program:app].
 */
export function supervisorConf(program: AppProgram = {}): string {
  const environment = program.environment ?? {};
  const rendered = execFileSync('bash', [path.join(REPO_ROOT, 'scripts/volume/modulus-volume.sh'), 'render-config'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      MODULUS_APP: 'contract',
      MODULUS_ENV_NAMES: Object.keys(environment).join(' '),
      ...Object.fromEntries(Object.entries(environment).map(([name, value]) => [`MODULUS_ENV_${name}`, value])),
    },
  });
  const [app, rest] = rendered.replace(/^command=start$/m, () => `command=${program.command ?? 'start'}`).split(/^(?=\[eventlistener:navi\]$)/m);
  const added: string[] = [];
  let section = app;
  for (const line of program.extra ?? []) {
    const key = line.slice(0, line.indexOf('='));
    const generated = new RegExp(`^${key}=.*$`, 'm');
    if (generated.test(section)) section = section.replace(generated, () => line);
    else added.push(line);
  }
  return section.replace(/^\[program:app\]$/m, () => ['[program:app]', ...added].join('\n')) + rest;
}

const tempRoots: string[] = [];

function chownTree(dir: string): void {
  execFileSync('chown', ['-R', `${MOP_UID}:${MOP_GID}`, dir]);
}

/** The file the volume script lays out on every app volume; require-volume starts nothing without it. */
const VOLUME_MARKER = '.modulus-volume';

/**
 * A host folder laid out like the platform's app volume: app/ home/ log/ notifications/ tmp/ + supervisor.conf,
 * all mop's, and the root-owned marker .modulus-volume.
 */
export class RunVolume {
  readonly dir: string;

  constructor(program: AppProgram = {}, appSource?: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-run-volume-'));
    tempRoots.push(this.dir);
    for (const sub of ['app', 'home', 'log', 'notifications', 'tmp']) fs.mkdirSync(path.join(this.dir, sub));
    if (appSource) fs.cpSync(appSource, path.join(this.dir, 'app'), { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'supervisor.conf'), supervisorConf(program));
    chownTree(this.dir);
    fs.chmodSync(this.dir, 0o755);
    fs.writeFileSync(path.join(this.dir, VOLUME_MARKER), '', { mode: 0o444 });
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /** Writes a file as mop would own it. */
  write(relative: string, content: string, mode = 0o644): void {
    const file = this.path(relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content, { mode });
    execFileSync('chown', [`${MOP_UID}:${MOP_GID}`, file]);
  }

  read(relative: string): string {
    try {
      return fs.readFileSync(this.path(relative), 'utf8');
    } catch {
      return '';
    }
  }

  /** Parsed notifications (*.json), oldest first; temp files are not listed. */
  notifications(): Array<Record<string, unknown>> {
    return fs
      .readdirSync(this.path('notifications'))
      .filter((name) => name.endsWith('.json'))
      .sort()
      .map((name) => JSON.parse(fs.readFileSync(this.path('notifications', name), 'utf8')));
  }

  notificationFiles(): string[] {
    return fs.readdirSync(this.path('notifications')).sort();
  }
}

export interface RunOptions {
  name?: string;
  network?: 'host' | 'none';
  memory?: string;
  env?: Record<string, string>;
  /** Arguments before the image (extra docker run flags). */
  extraArgs?: string[];
  /** Command after the image; default the image's CMD (supervisord). */
  command?: string[];
}

/** The platform's restrictions: read-only root, only /mnt writable, no capabilities, no privilege gain, mop. */
export function restrictedRunArgs(volume: Pick<RunVolume, 'dir'>, options: RunOptions = {}): string[] {
  const args = [
    '--read-only',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--user',
    `${MOP_UID}:${MOP_GID}`,
    '--network',
    options.network ?? 'none',
    '-v',
    `${volume.dir}:/mnt`,
  ];
  if (options.memory) args.push('--memory', options.memory, '--memory-swap', options.memory);
  for (const [key, value] of Object.entries(options.env ?? {})) args.push('-e', `${key}=${value}`);
  return [...args, ...(options.extraArgs ?? [])];
}

const containers: string[] = [];

/** Starts a detached container (supervisord by default) and returns its name. */
export function startContainer(image: string, volume: RunVolume, options: RunOptions = {}): string {
  const name = options.name ?? `modulus-test-${path.basename(volume.dir).replace(/[^a-zA-Z0-9_.-]/g, '')}`;
  dockerRun(['rm', '-f', name]);
  docker(['run', '-d', '--name', name, ...restrictedRunArgs(volume, options), image, ...(options.command ?? [])]);
  containers.push(name);
  return name;
}

/** A one-off restricted container; returns status and output. */
export function runOnce(image: string, volume: RunVolume, command: string[], options: RunOptions = {}, input?: string): DockerResult {
  return dockerRun(['run', '--rm', '-i', ...restrictedRunArgs(volume, options), image, ...command], input);
}

export function exec(container: string, command: string[], input?: string): DockerResult {
  return dockerRun(['exec', '-i', container, ...command], input);
}

/** Removes the containers and volume folders this test file created. */
export function cleanup(): void {
  for (const name of containers.splice(0)) dockerRun(['rm', '-f', name]);
  for (const dir of tempRoots.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  removeTempDirs();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a truthy value or the timeout passes; returns the last value. */
export async function waitFor<T>(probe: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!value && Date.now() < deadline) {
    await sleep(intervalMs);
    value = await probe();
  }
  return value;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (distinct per call within a process). */
const handedOut = new Set<number>();
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address() as net.AddressInfo;
        server.close(() => resolve(address.port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

export interface HttpResult {
  status: number;
  body: string;
}

/** GET http://127.0.0.1:<port><path>; status 0 when the connection fails. */
export function httpGet(port: number, urlPath = '/', timeoutMs = 5_000): Promise<HttpResult> {
  return new Promise((resolve) => {
    // agent: false, a fresh connection each time: node's default agent keeps sockets alive, and a server's
    // keep-alive timeout would make a later request on the pooled socket fail.
    const request = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** Waits until GET answers 200. */
export async function waitForHttp(port: number, urlPath = '/', timeoutMs = 60_000): Promise<HttpResult> {
  let last: HttpResult = { status: 0, body: '' };
  await waitFor(async () => {
    last = await httpGet(port, urlPath);
    return last.status === 200;
  }, timeoutMs, 500);
  return last;
}

/** `supervisorctl status` lines as { name: state }. */
export function supervisorStates(container: string): Record<string, string> {
  const result = exec(container, ['supervisorctl', 'status']);
  const states: Record<string, string> = {};
  for (const line of result.stdout.split('\n')) {
    const [name, state] = line.trim().split(/\s+/);
    if (name && state) states[name] = state;
  }
  return states;
}

export function appPid(container: string): number {
  return Number(exec(container, ['supervisorctl', 'pid', 'app']).stdout.trim());
}

/** Processes in the container as { pid, ppid, stat, user, args }. */
export function processes(container: string): Array<{ pid: number; ppid: number; stat: string; user: string; args: string }> {
  const out = exec(container, ['ps', '-eo', 'pid=,ppid=,stat=,user=,args=']).stdout;
  return out
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [pid, ppid, stat, user, ...args] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), stat, user, args: args.join(' ') };
    });
}

/**
 * Builds samples/<sample> with a build image the way the platform does (support/build.ts runBuild: read-only,
 * mop, host network, the machine's CA bundle) and copies the output into `appDir` (a run volume's app/).
 */
export function buildSampleInto(buildImageRef: string, sample: string, appDir: string): DockerResult {
  const volume = new BuildVolume(path.join(SAMPLES, sample));
  const result = runBuild(buildImageRef, volume);
  if (result.status !== 0) throw new Error(`${buildImageRef} could not build samples/${sample}:\n${outputOf(result)}`);
  fs.cpSync(volume.output, appDir, { recursive: true });
  chownTree(appDir);
  return result;
}

/**
 * The npm registry settings of this machine (`npm config get registry` / `cafile`), as container arguments:
 * the registry as npm_config_registry and, when npm trusts an extra CA bundle (a TLS-intercepting proxy), that
 * file mounted read-only with npm_config_cafile pointing at it. Mirrors how the platform passes its registry.
 */
export function machineNpmSettings(): { env: Record<string, string>; extraArgs: string[] } {
  const get = (key: string) => execFileSync('npm', ['config', 'get', key], { encoding: 'utf8' }).trim();
  const env: Record<string, string> = { npm_config_registry: get('registry') };
  const extraArgs: string[] = [];
  const cafile = get('cafile');
  if (cafile && cafile !== 'null' && cafile !== 'undefined' && fs.existsSync(cafile)) {
    extraArgs.push('-v', `${cafile}:/etc/modulus-machine/npm-ca.crt:ro`);
    env.npm_config_cafile = '/etc/modulus-machine/npm-ca.crt';
  }
  return { env, extraArgs };
}
