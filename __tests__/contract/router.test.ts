/**
 * The router image on a real engine, run as the ModulusRouter construct runs it (mop, read-only root, no
 * capability, no-new-privileges, a tmpfs, memory and process limits, the host's network), fed the routes the
 * construct renders through the real host step (scripts/volume/modulus-router.sh → docker exec → modulus-router-apply):
 * routing by host name, TLS with a test CA, maintenance on and off, and no failed request for one app while
 * another app's route changes.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Lazy, TerraformStack, Testing } from 'cdktf';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { ModulusRouter } from '../../lib/router';
import { buildImage, docker, dockerRun, REPO_ROOT, ROOT_IMAGE } from './support/docker';
import { removeTempDirs, tempDir } from './support/build';
import { startProbing } from '../../harness/probe';
import { waitFor } from '../../harness/shell';

jest.setTimeout(300_000);

const HTTP_PORT = 18970;
const HTTPS_PORT = 18971;
const APPS = { alpha: 18972, beta: 18973 } as const;
/** alpha's second slot (health-gated releases). */
const ALPHA_GREEN = 18974;
const DOMAIN = 'apps.modulus.test';
// Not the construct's name: a deployment's router may run on the same engine.
const CONTAINER = 'modulus-router-contract';
const STATE_VOLUME = 'modulus-router-contract-state';
const KEY_MARKER = 'router-contract-key';

const work = tempDir('modulus-router-');
const servers: ChildProcess[] = [];
let certificate = '';
let privateKey = '';
let image = '';

/** The routes the construct renders for the two apps (with or without TLS, beta in maintenance or not). */
function renderedRoutes(options: { tls?: boolean; betaMaintenance?: string; betaPort?: number; alphaSlots?: boolean } = {}): string {
  const stack = new TerraformStack(Testing.app(), 'test');
  new DockerProvider(stack, 'docker', {});
  const token = Lazy.stringValue({ produce: () => 'from a sensitive variable' });
  const router = new ModulusRouter(stack, 'Router', {
    domain: DOMAIN,
    image: 'unused',
    address: '127.0.0.1',
    httpPort: HTTP_PORT,
    ...(options.tls ? { httpsPort: HTTPS_PORT, tls: { certificate: token, privateKey: token } } : {}),
  });
  const release = { standby: { ip: '127.0.0.1', port: ALPHA_GREEN }, healthCheckPath: '/', healthyStatus: 200, intervalMillis: 200, timeoutMillis: 1000 };
  router.addRoute(stack, 'alpha', { ip: '127.0.0.1', port: APPS.alpha }, { release: options.alphaSlots ? release : undefined });
  router.addRoute(stack, 'beta', { ip: '127.0.0.1', port: options.betaPort ?? APPS.beta }, { maintenance: options.betaMaintenance });
  const json = JSON.parse(Testing.synth(stack));
  const routes = Object.entries<any>(json.resource.null_resource).find(([key]) => key.startsWith('Router_Routes_'))![1];
  return routes.triggers.routes;
}

/** The host step as Terraform runs it: the routes, and the certificate and key, in its environment only. */
function apply(routes: string, tls = false): { status: number; output: string } {
  const result = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'volume', 'modulus-router.sh'), 'apply'], {
    env: {
      PATH: process.env.PATH,
      MODULUS_ROUTER_CONTAINER: CONTAINER,
      MODULUS_ROUTER_ROUTES: routes,
      ...(tls ? { MODULUS_ROUTER_TLS_CERTIFICATE: certificate, MODULUS_ROUTER_TLS_KEY: privateKey } : {}),
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status ?? -1, output: result.stdout + result.stderr };
}

/** curl through the router to `<app>.<domain>`: status and body (status 0 when nothing answered). */
function curl(app: string, options: { https?: boolean } = {}): { status: number; body: string } {
  const port = options.https ? HTTPS_PORT : HTTP_PORT;
  const host = `${app}.${DOMAIN}`;
  const args = ['-sS', '--max-time', '5', '-w', '\n%{http_code}', '--resolve', `${host}:${port}:127.0.0.1`];
  if (options.https) args.push('--cacert', path.join(work, 'ca.crt'));
  const result = spawnSync('curl', [...args, `${options.https ? 'https' : 'http'}://${host}:${port}/`], { encoding: 'utf8' });
  const lines = result.stdout.split('\n');
  return { status: Number(lines.pop()) || 0, body: lines.join('\n') };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Whether `what` holds within 10 s (checked every 100 ms). */
const until = async (what: () => boolean) => {
  for (let tries = 0; tries < 100 && !what(); tries++) await sleep(100);
  return what();
};

/**
 * Probes `app` every 100 ms until stopped; returns the statuses. From a process of its own (harness/probe.ts), so
 * that probing goes on while a test blocks in a synchronous docker call.
 */
function probe(app: string): { stop: () => Promise<number[]> } {
  const probing = startProbing(HTTP_PORT, 100, `${app}.${DOMAIN}`, 2);
  return { stop: async () => (await probing.stop()).map((each) => each.status) };
}

/** The status file of the router's processes: user, capabilities, no_new_privs. */
function processStatus(): Array<{ name: string; uid: string; capEff: string; noNewPrivs: string }> {
  const script = 'for d in /proc/[0-9]*; do [ -r "$d/status" ] && awk \'/^(Name|Uid|CapEff|NoNewPrivs):/ {printf "%s ", $2} END {print ""}\' "$d/status" 2>/dev/null; done; true';
  return docker(['exec', CONTAINER, 'sh', '-c', script])
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length === 4)
    .map(([name, uid, capEff, noNewPrivs]) => ({ name, uid, capEff, noNewPrivs }));
}

/**
 * Starts the router container as lib/router.ts creates it (its labels too), on the state volume; `mounts` are
 * extra `--mount` values. Returns its id.
 */
function runRouter(mounts: string[] = [], httpPort = HTTP_PORT): string {
  return docker([
    'run', '-d', '--name', CONTAINER, '--network', 'host', '--user', '441:444', '--read-only', '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges:true', '--init', '--memory', '128m', '--memory-swap', '128m', '--pids-limit', '128',
    '--restart', 'unless-stopped', '--label', 'org.modulus.role=router', '--label', `org.modulus.domain=${DOMAIN}`,
    '--tmpfs', '/run/modulus-router:rw,noexec,nosuid,nodev,size=16m,mode=0700,uid=441,gid=444',
    '--mount', `type=volume,source=${STATE_VOLUME},target=/var/lib/modulus-router`, ...mounts.flatMap((mount) => ['--mount', mount]),
    '-e', `MODULUS_ROUTER_HTTP_BIND=127.0.0.1:${httpPort}`, '-e', 'TINI_SUBREAPER=1', image,
  ]).trim();
}

/** Every router container of DOMAIN: the one named CONTAINER, and those a hand-over renamed. */
function removeRouters(): void {
  const ids = docker(['ps', '-aq', '--filter', `label=org.modulus.domain=${DOMAIN}`]).split('\n').filter(Boolean);
  if (ids.length > 0) dockerRun(['rm', '-f', ...ids]);
}

beforeAll(() => {
  image = buildImage('router');
  // A test CA and a certificate for *.<domain> it signs.
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'ignore' });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=modulus router test CA', '-keyout', 'ca.key', '-out', 'ca.crt']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=*.${DOMAIN}`, '-keyout', 'site.key', '-out', 'site.csr']);
  fs.writeFileSync(path.join(work, 'ext'), `subjectAltName=DNS:*.${DOMAIN}\n`);
  openssl(['x509', '-req', '-in', 'site.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext', '-out', 'site.crt']);
  certificate = fs.readFileSync(path.join(work, 'site.crt'), 'utf8');
  // A comment line the test can look for in logs and inspect output (PEM parsers skip text outside the markers).
  privateKey = `${KEY_MARKER}\n${fs.readFileSync(path.join(work, 'site.key'), 'utf8')}`;
  // The two apps: python's http.server on the host's loopback, each serving its own name.
  for (const [app, port] of Object.entries(APPS)) {
    const dir = path.join(work, app);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'index.html'), `this is ${app}\n`);
    servers.push(spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { stdio: 'ignore' }));
  }
  removeRouters();
  dockerRun(['volume', 'rm', '-f', STATE_VOLUME]);
  runRouter();
});

afterAll(() => {
  removeRouters();
  dockerRun(['volume', 'rm', '-f', STATE_VOLUME]);
  for (const server of servers) server.kill();
  removeTempDirs();
});

describe('the router image', () => {
  it('answers 503 until it has routes', async () => {
    let answer = curl('alpha');
    for (let tries = 0; answer.status === 0 && tries < 50; tries++) {
      await sleep(200);
      answer = curl('alpha');
    }
    expect(answer).toEqual({ status: 503, body: 'no routes yet' });
  });

  it('runs HAProxy as mop with no capability and no-new-privileges, and cannot write its root file system', () => {
    const status = processStatus();
    const haproxy = status.filter((process) => process.name === 'haproxy');
    // The master and at least one worker.
    expect(haproxy.length).toBeGreaterThanOrEqual(2);
    for (const process of status) expect(process).toMatchObject({ uid: '441', capEff: '0000000000000000', noNewPrivs: '1' });
    const write = dockerRun(['exec', CONTAINER, 'touch', '/etc/modulus/router/x']);
    expect(write.status).not.toBe(0);
    expect(write.stderr).toContain('Read-only file system');
  });

  it('routes each app by its host name, and answers 404 for a host name it has no route for', () => {
    const applied = apply(renderedRoutes());
    expect(applied).toMatchObject({ status: 0, output: expect.stringMatching(/applied routes [0-9a-f]{64}/) });
    expect(curl('alpha')).toEqual({ status: 200, body: 'this is alpha\n' });
    expect(curl('beta')).toEqual({ status: 200, body: 'this is beta\n' });
    expect(curl('gamma')).toEqual({ status: 404, body: 'no app at this host name' });
  });

  it("an app's process (mop, the host's network) cannot bind the router's port beside it, with SO_REUSEPORT or without", () => {
    // socat as mop on the host's network, as a hostile app could run it; it would wait 3 s for a client if it bound.
    for (const options of ['reuseport', 'reuseaddr']) {
      const bound = dockerRun(['run', '--rm', '--network', 'host', '--user', '441:444', image, 'timeout', '3', 'socat', `TCP4-LISTEN:${HTTP_PORT},bind=127.0.0.1,${options}`, '-']);
      expect({ options, status: bound.status, refused: bound.stderr.includes('Address already in use') }).toEqual({ options, status: 1, refused: true });
    }
    expect(curl('alpha')).toEqual({ status: 200, body: 'this is alpha\n' });
  });

  it('serves TLS with the given certificate (curl --cacert of the test CA), the key only in its tmpfs', () => {
    const applied = apply(renderedRoutes({ tls: true }), true);
    expect(applied.status).toBe(0);
    expect(curl('alpha', { https: true })).toEqual({ status: 200, body: 'this is alpha\n' });
    expect(curl('beta', { https: true })).toEqual({ status: 200, body: 'this is beta\n' });
    expect(applied.output).not.toContain(KEY_MARKER);
    expect(docker(['exec', CONTAINER, 'stat', '-c', '%a %u', '/run/modulus-router/tls/router.pem']).trim()).toBe('600 441');
    expect(docker(['inspect', CONTAINER])).not.toMatch(new RegExp(`${KEY_MARKER}|PRIVATE KEY`));
    expect(docker(['logs', CONTAINER]) + dockerRun(['logs', CONTAINER]).stderr).not.toMatch(new RegExp(`${KEY_MARKER}|PRIVATE KEY`));
  });

  it('puts one app in maintenance (503 with its message) and back, the other app answering throughout', async () => {
    const probing = probe('alpha');
    await sleep(500);
    // Five route changes of beta: maintenance on and off, then a new port and back.
    const changes = [
      renderedRoutes({ tls: true, betaMaintenance: 'Back at 10:00, sorry!' }),
      renderedRoutes({ tls: true }),
      renderedRoutes({ tls: true, betaMaintenance: 'Back soon' }),
      renderedRoutes({ tls: true, betaPort: APPS.alpha }),
      renderedRoutes({ tls: true }),
    ];
    const seen: Array<{ status: number; body: string }> = [];
    for (const routes of changes) {
      expect(apply(routes, true).status).toBe(0);
      seen.push(curl('beta'));
      await sleep(300);
    }
    const statuses = await probing.stop();
    expect(seen).toEqual([
      { status: 503, body: 'Back at 10:00, sorry!' },
      { status: 200, body: 'this is beta\n' },
      { status: 503, body: 'Back soon' },
      { status: 200, body: 'this is alpha\n' },
      { status: 200, body: 'this is beta\n' },
    ]);
    expect(curl('beta', { https: true })).toEqual({ status: 200, body: 'this is beta\n' });
    console.log(`router: ${statuses.length} probes of alpha every 100 ms across 5 route changes of beta, ${statuses.filter((s) => s !== 200).length} failed`);
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });

  it('refuses routes HAProxy does not accept and keeps serving the ones in force', () => {
    const refused = apply('frontend http\n    bind 127.0.0.1:18970\n    no-such-keyword here\n', true);
    expect(refused.status).toBe(1);
    expect(refused.output).toContain('refuses the new routes (the routes in force stay)');
    expect(curl('alpha')).toEqual({ status: 200, body: 'this is alpha\n' });
    expect(curl('alpha', { https: true })).toEqual({ status: 200, body: 'this is alpha\n' });
  });

  it('keeps a copy of what it applied in its volume (mop, 0700; the key 0600), never on its root', () => {
    expect(docker(['exec', CONTAINER, 'stat', '-c', '%a %U %n', '/var/lib/modulus-router', '/var/lib/modulus-router/routes.cfg', '/var/lib/modulus-router/router.pem']).trim().split('\n')).toEqual([
      '700 mop /var/lib/modulus-router',
      '600 mop /var/lib/modulus-router/routes.cfg',
      '600 mop /var/lib/modulus-router/router.pem',
    ]);
  });

  it('never restarted: one container start, one HAProxy master', () => {
    expect(docker(['inspect', '-f', '{{.RestartCount}} {{.State.Running}}', CONTAINER]).trim()).toBe('0 true');
    expect(docker(['exec', CONTAINER, 'sh', '-c', 'printf "show proc\\n" | socat - UNIX-CONNECT:/run/modulus-router/master.sock']).match(/master\s+(\d+)/)![1]).toBe('7');
  });
});

describe('the router image: switching an app between its two slots (health-gated releases)', () => {
  const server = (args: string[]) => dockerRun(['exec', CONTAINER, 'modulus-router-server', ...args]);
  const show = (slot: string) => server(['show', 'app-alpha', slot]).stdout.trim();
  it('health-checks both slots and sends requests only to the one that passes', async () => {
    expect(apply(renderedRoutes({ tls: true, alphaSlots: true }), true).status).toBe(0);
    expect(await until(() => show('blue') === 'UP 0' && show('green') === 'DOWN 0')).toBe(true);
    for (let i = 0; i < 5; i++) expect(curl('alpha')).toEqual({ status: 200, body: 'this is alpha\n' });
  });

  it('a new slot takes requests once up, the old one drains: no failed request', async () => {
    const probing = probe('alpha');
    await sleep(500);
    const dir = path.join(work, 'alpha-green');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'index.html'), 'this is alpha, release 2\n');
    // Until the end of the file, as the restarted router below serves it.
    servers.push(spawn('python3', ['-m', 'http.server', String(ALPHA_GREEN), '--bind', '127.0.0.1', '--directory', dir], { stdio: 'ignore' }));
    expect(server(['set', 'app-alpha', 'green', 'ready'])).toMatchObject({ status: 0 });
    expect(await until(() => show('green').startsWith('UP '))).toBe(true);
    expect(server(['set', 'app-alpha', 'blue', 'drain'])).toMatchObject({ status: 0 });
    expect(show('blue')).toMatch(/^DRAIN \d+$/);
    // The old slot stops: the router sends it nothing in drain, and a request that raced the stop is retried.
    servers[0].kill();
    await sleep(1000);
    const answers = Array.from({ length: 5 }, () => curl('alpha'));
    const statuses = await probing.stop();
    expect(answers).toEqual(Array(5).fill({ status: 200, body: 'this is alpha, release 2\n' }));
    console.log(`router: ${statuses.length} probes of alpha every 100 ms across a switch of its slots, ${statuses.filter((s) => s !== 200).length} failed`);
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });

  it('keeps the drained slot drained across a reload of the routes, while another process answers on its port', async () => {
    const dir = path.join(work, 'impostor');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'index.html'), 'an impostor on the idle slot\n');
    // Until the end of the file: the restarted router below must keep it drained too.
    servers.push(spawn('python3', ['-m', 'http.server', String(APPS.alpha), '--bind', '127.0.0.1', '--directory', dir], { stdio: 'ignore' }));
    expect(apply(renderedRoutes({ tls: true, alphaSlots: true }), true).status).toBe(0);
    // Idle since its drain: loaded in maintenance (not even checked), it takes no request.
    expect(await until(() => show('blue').startsWith('MAINT'))).toBe(true);
    await sleep(1500);
    expect(show('blue')).toMatch(/^MAINT /);
    expect(Array.from({ length: 10 }, () => curl('alpha').body)).toEqual(Array(10).fill('this is alpha, release 2\n'));
  });

  it('records every slot switch when apps release side by side: twenty at once, none fails or is lost', () => {
    // The states alpha already has (blue drained, green ready), each set ten times at once.
    const script = [
      'pids=()',
      'for i in $(seq 10); do',
      '  modulus-router-server set app-alpha blue drain & pids+=($!)',
      '  modulus-router-server set app-alpha green ready & pids+=($!)',
      'done',
      'failed=0',
      'for pid in "${pids[@]}"; do wait "${pid}" || failed=$((failed + 1)); done',
      'echo "failed ${failed}"',
    ].join('\n');
    const run = dockerRun(['exec', CONTAINER, 'bash', '-c', script]);
    expect(run).toMatchObject({ status: 0, stdout: 'failed 0\n', stderr: '' });
    expect(docker(['exec', CONTAINER, 'cat', '/var/lib/modulus-router/idle-servers'])).toBe('app-alpha/blue\n');
    expect(docker(['exec', CONTAINER, 'ls', '/var/lib/modulus-router']).split('\n').filter((name) => name.startsWith('idle-servers.') && name !== 'idle-servers.lock')).toEqual([]);
  });

  it('refuses a server or backend it does not have, and bad states', () => {
    expect(server(['show', 'app-alpha', 'purple'])).toMatchObject({ status: 1, stderr: expect.stringContaining('the router has no server app-alpha/purple') });
    expect(server(['set', 'app-nosuch', 'blue', 'ready'])).toMatchObject({ status: 1, stderr: expect.stringContaining('set server app-nosuch/blue state ready:') });
    expect(server(['set', 'app-alpha', 'blue', 'maint'])).toMatchObject({ status: 2 });
    expect(server(['show', 'App;x', 'blue'])).toMatchObject({ status: 2, stderr: expect.stringContaining("invalid backend 'App;x'") });
  });
});

describe('the router image: a restarted container', () => {
  it('serves the routes and TLS it last applied at once, before any apply', async () => {
    docker(['restart', '--time', '5', CONTAINER]);
    expect(await until(() => curl('beta').status === 200)).toBe(true);
    expect(curl('beta')).toEqual({ status: 200, body: 'this is beta\n' });
    expect(curl('beta', { https: true })).toEqual({ status: 200, body: 'this is beta\n' });
    expect(docker(['logs', CONTAINER]) + dockerRun(['logs', CONTAINER]).stderr).toContain('modulus-router: starting with the routes applied last');
    // alpha's drained slot (an impostor answers on its port) stays drained: every request goes to the serving one.
    await sleep(1500);
    expect(Array.from({ length: 10 }, () => curl('alpha').body)).toEqual(Array(10).fill('this is alpha, release 2\n'));
  });

  it('on another port than the routes applied last listen on (the port changed): starts without them, healthy there', async () => {
    // Free during this file (its apps, slots and instances use 18972 to 18976).
    const moved = 18979;
    const health = () => spawnSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--noproxy', '*', '--max-time', '2', `http://127.0.0.1:${moved}/.modulus/router-health`], { encoding: 'utf8' }).stdout;
    removeRouters();
    try {
      const id = runRouter([], moved);
      expect(await until(() => health() === '200')).toBe(true);
      expect(dockerRun(['logs', id]).stderr).toContain(`modulus-router: the routes applied last do not listen on 127.0.0.1:${moved} (the router's address or port changed): starting without routes`);
    } finally {
      removeRouters();
    }
    // Back on its port, the routes applied last again (the next describe block replaces this router).
    runRouter();
    expect(await until(() => curl('beta').status === 200)).toBe(true);
    expect(curl('beta')).toEqual({ status: 200, body: 'this is beta\n' });
  });
});

describe('the router image: replaced beside the one that serves (modulus-router.sh hand-over, take-over)', () => {
  const step = (command: string, env: Record<string, string> = {}) =>
    spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'volume', 'modulus-router.sh'), command], {
      env: { PATH: process.env.PATH, MODULUS_ROUTER_CONTAINER: CONTAINER, MODULUS_ROUTER_DOMAIN: DOMAIN, ...env },
      encoding: 'utf8',
      timeout: 120_000,
    });
  const takeOver = (id: string) => step('take-over', { MODULUS_ROUTER_ID: id, MODULUS_ROUTER_HEALTH_URL: `http://127.0.0.1:${HTTP_PORT}/.modulus/router-health` });
  const idOf = (name: string) => docker(['inspect', '-f', '{{.Id}}', name]).trim();
  const untilLogged = async (id: string, text: string) => {
    for (let tries = 0; tries < 100 && !dockerRun(['logs', id]).stderr.includes(text); tries++) await sleep(100);
    return dockerRun(['logs', id]).stderr;
  };

  it('the new router takes the listening sockets over, the old one finishes its requests and stops: no failed request', async () => {
    const old = idOf(CONTAINER);
    const probing = probe('alpha');
    await sleep(500);
    const handedOver = step('hand-over');
    expect({ status: handedOver.status, stderr: handedOver.stderr }).toEqual({
      status: 0,
      stderr: `modulus-router: renamed the router container ${CONTAINER} (${old.slice(0, 12)}) to ${CONTAINER}-${old.slice(0, 12)}: it serves until the new one took over, then Terraform removes it\n`,
    });
    const started = runRouter();
    expect(await untilLogged(started, 'Loading success')).toContain('modulus-router: taking the listening sockets over from the router that runs');
    // Both hold the same listening socket now (one socket, two processes).
    expect(apply(renderedRoutes({ tls: true, alphaSlots: true }), true).status).toBe(0);
    const tookOver = takeOver(started);
    expect({ status: tookOver.status, stderr: tookOver.stderr }).toEqual({
      status: 0,
      stderr:
        `modulus-router: stopped router container ${old.slice(0, 12)} of ${DOMAIN}: ${CONTAINER} (${started.slice(0, 12)}) took its listening sockets over\n` +
        `modulus-router: the router container ${CONTAINER} (${started.slice(0, 12)}) serves ${DOMAIN}\n`,
    });
    await sleep(1000);
    const statuses = await probing.stop();
    console.log(`router: ${statuses.length} probes of alpha every 100 ms across a replacement of the router container, ${statuses.filter((s) => s !== 200).length} failed`);
    expect(statuses.length).toBeGreaterThan(15);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    // The old one stopped for good (its restart policy too), the new one serves the routes and TLS.
    expect(docker(['inspect', '-f', '{{.Name}} {{.State.Status}} {{.HostConfig.RestartPolicy.Name}}', old]).trim()).toBe(`/${CONTAINER}-${old.slice(0, 12)} exited no`);
    expect(curl('alpha', { https: true })).toEqual({ status: 200, body: 'this is alpha, release 2\n' });
    expect(curl('beta')).toEqual({ status: 200, body: 'this is beta\n' });
    // Its runtime API and reloads are its own, not the old container's.
    expect(dockerRun(['exec', CONTAINER, 'modulus-router-server', 'show', 'app-alpha', 'green'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^UP \d+\n$/) });
    expect(apply(renderedRoutes({ tls: true, alphaSlots: true }), true).status).toBe(0);
    expect(curl('alpha')).toEqual({ status: 200, body: 'this is alpha, release 2\n' });
    dockerRun(['rm', old]);
  });

  it('a take-over refuses a router that is not the one named, and stops nothing', () => {
    const refused = takeOver('a'.repeat(64));
    expect({ status: refused.status, stderr: refused.stderr }).toEqual({ status: 1, stderr: `modulus-router: error: the router container ${CONTAINER} of ${DOMAIN} is not aaaaaaaaaaaa: run the deploy again\n` });
    expect(curl('beta')).toEqual({ status: 200, body: 'this is beta\n' });
  });

  it('a router from before hand-overs (no socket to hand over through) stops first, and the new one binds the ports', async () => {
    // The image's configuration without the hand-over socket and with SO_REUSEPORT, as before.
    const before = path.join(work, 'global-before.cfg');
    fs.writeFileSync(before, fs.readFileSync(path.join(REPO_ROOT, 'images', 'router', 'global.cfg'), 'utf8').replace(/^.*(handover\.sock|noreuseport).*\n/gm, ''), { mode: 0o644 });
    removeRouters();
    docker(['run', '--rm', '--user', '441:444', '--mount', `type=volume,source=${STATE_VOLUME},target=/var/lib/modulus-router`, image, 'rm', '-f', '/var/lib/modulus-router/handover.sock']);
    const old = runRouter([`type=bind,source=${before},target=/etc/modulus/router/global.cfg,readonly`]);
    expect(await untilLogged(old, 'Loading success')).not.toContain('taking the listening sockets over');
    const handedOver = step('hand-over');
    expect(handedOver.status).toBe(0);
    expect(handedOver.stderr).toContain(`stopped router container ${old.slice(0, 12)} of ${DOMAIN}: it predates hand-overs (no /var/lib/modulus-router/handover.sock): the new router binds the ports itself`);
    const started = runRouter();
    expect(await untilLogged(started, 'Loading success')).not.toContain('taking the listening sockets over');
    expect(takeOver(started).status).toBe(0);
    expect(curl('beta')).toEqual({ status: 200, body: 'this is beta\n' });
    expect(docker(['inspect', '-f', '{{.State.Status}}', old]).trim()).toBe('exited');
    dockerRun(['rm', old]);
  });
});

describe('the router image: an app with instances on several hosts (replicas)', () => {
  const PORTS = { one: 18975, two: 18976 } as const;
  // Answers the health check (/health) and GET / with its name; `two` resets what else it gets (it closes the
  // connection unanswered). Each logs the method of every request but the checks.
  const SERVER = [
    'import http.server, sys',
    'name, port, log, resets = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "yes"',
    'class Handler(http.server.BaseHTTPRequestHandler):',
    '    def answer(self):',
    '        if self.path != "/health":',
    '            with open(log, "a") as out: out.write(self.command + "\\n")',
    '        if resets and self.path != "/health":',
    '            self.close_connection = True',
    '            return',
    '        body = ("this is " + name + "\\n").encode()',
    '        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)',
    '    do_GET = do_POST = answer',
    '    def log_message(self, *args): pass',
    'http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()',
  ].join('\n');
  const started: Record<string, ChildProcess> = {};
  const logOf = (name: string) => path.join(work, `gamma-${name}.log`);
  const methods = (name: string) => (fs.existsSync(logOf(name)) ? fs.readFileSync(logOf(name), 'utf8').split('\n').filter(Boolean) : []);
  // The server it replaces has exited before it binds the port (else it could fail to bind, and the old one serve on);
  // it answers its health check before this returns.
  const start = async (name: keyof typeof PORTS, resets: boolean) => {
    const previous = started[name];
    if (previous && previous.exitCode === null && previous.signalCode === null) {
      const exited = new Promise((resolve) => previous.once('exit', resolve));
      previous.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(logOf(name), { force: true });
    started[name] = spawn('python3', ['-c', SERVER, name, String(PORTS[name]), logOf(name), resets ? 'yes' : 'no'], { stdio: 'ignore' });
    servers.push(started[name]);
    const health = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', `http://127.0.0.1:${PORTS[name]}/health`];
    await waitFor(`test server ${name} answering on ${PORTS[name]}`, () => (spawnSync('curl', health, { encoding: 'utf8' }).stdout === '200' ? true : undefined), 5_000);
  };
  const request = (method: string) => {
    const host = `gamma.${DOMAIN}`;
    const result = spawnSync(
      'curl',
      ['-s', '-X', method, '--max-time', '10', '-w', '\n%{http_code} %{time_total}', '--resolve', `${host}:${HTTP_PORT}:127.0.0.1`, `http://${host}:${HTTP_PORT}/`],
      { encoding: 'utf8' },
    );
    const lines = result.stdout.split('\n');
    const [status, seconds] = lines.pop()!.split(' ');
    return { status: Number(status) || 0, body: lines.join('\n'), ms: Math.round(Number(seconds) * 1000) };
  };
  /** Both servers run (the ones started last) and the router counts both UP. */
  const bothUp = async () => {
    for (let tries = 0; tries < 100 && Object.values(started).every((server) => server.exitCode === null); tries++) {
      const states = ['one', 'two'].map((name) => dockerRun(['exec', CONTAINER, 'modulus-router-server', 'show', 'app-gamma', name]).stdout);
      if (states.every((state) => state.startsWith('UP'))) return true;
      await sleep(100);
    }
    return false;
  };

  beforeAll(() => {
    const stack = new TerraformStack(Testing.app(), 'test');
    new DockerProvider(stack, 'docker', {});
    const router = new ModulusRouter(stack, 'Router', { domain: DOMAIN, image: 'unused', address: '127.0.0.1', httpPort: HTTP_PORT });
    const servers = Object.entries(PORTS).map(([name, port]) => ({ name, ip: '127.0.0.1', port }));
    router._addReplicatedRoute(stack, 'gamma', servers, { healthCheckPath: '/health', healthyStatus: 200, intervalMillis: 200, timeoutMillis: 1000 }, undefined, 500);
    const json = JSON.parse(Testing.synth(stack));
    const routes = Object.entries<any>(json.resource.null_resource).find(([key]) => key.startsWith('Router_Routes_'))![1];
    expect(apply(routes.triggers.routes).status).toBe(0);
  });

  it('sends a GET that one instance reset to another, and never sends a POST twice', async () => {
    await start('one', false);
    await start('two', true);
    expect(await bothUp()).toBe(true);
    const gets = Array.from({ length: 6 }, () => request('GET'));
    expect(gets.map(({ status, body }) => ({ status, body }))).toEqual(Array(6).fill({ status: 200, body: 'this is one\n' }));
    expect(methods('two')).toContain('GET');
    const posts = Array.from({ length: 6 }, () => request('POST').status);
    const reset = methods('two').filter((method) => method === 'POST').length;
    // Each POST reached one instance: those `two` reset fail (502) and were not sent to `one`.
    expect(reset).toBeGreaterThan(0);
    expect(posts.filter((status) => status === 502).length).toBe(reset);
    expect(methods('one').filter((method) => method === 'POST').length).toBe(6 - reset);
  });

  it('sends a GET that a hung instance leaves unanswered to another after retryGetAfterMillis', async () => {
    await start('two', false);
    expect(await bothUp()).toBe(true);
    started.two.kill('SIGSTOP');
    try {
      // Round robin: one of the first two GETs meets the hung instance before its checks count it down.
      const gets = Array.from({ length: 4 }, () => request('GET'));
      console.log(`router: GETs through a backend with one instance hung: ${gets.map((get) => `${get.status} in ${get.ms} ms`).join(', ')}`);
      expect(gets.map(({ status, body }) => ({ status, body }))).toEqual(Array(4).fill({ status: 200, body: 'this is one\n' }));
      expect(Math.max(...gets.map((get) => get.ms))).toBeGreaterThanOrEqual(500);
      expect(Math.max(...gets.map((get) => get.ms))).toBeLessThan(5000);
    } finally {
      started.two.kill('SIGCONT');
    }
  });
});

describe("a router container an interrupted apply left outside Terraform's state (modulus-router.sh probe, remove-orphan)", () => {
  const SCRIPT = path.join(REPO_ROOT, 'scripts', 'volume', 'modulus-router.sh');
  const NAME = 'modulus-router-orphan-contract';
  const ORPHAN_DOMAIN = 'orphan.modulus.test';
  const bin = path.join(work, 'orphan-bin');
  const stateFile = path.join(work, 'orphan-state.json');
  const recordDir = path.join(work, 'orphan-record');
  /** A stand-in `terraform` whose `state pull` prints stateFile: the state the running plan reads. */
  beforeAll(() => {
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'terraform'), `#!/bin/sh\n[ "$1 $2" = "state pull" ] && exec cat "${stateFile}"\nexit 1\n`, { mode: 0o755 });
  });
  afterAll(() => dockerRun(['rm', '-f', NAME]));

  const create = (labels: string[]) => {
    dockerRun(['rm', '-f', NAME]);
    return docker(['create', '--name', NAME, ...labels.flatMap((label) => ['--label', label]), ROOT_IMAGE, 'true']).trim();
  };
  const run = (args: string[], env: Record<string, string>, input?: string) =>
    spawnSync('bash', [SCRIPT, ...args], { env: { PATH: `${bin}:${process.env.PATH}`, MODULUS_ROUTER_RECORD_DIR: recordDir, ...env }, input, encoding: 'utf8' });
  const probeOrphan = (domain = ORPHAN_DOMAIN) => {
    const result = run(['probe'], {}, JSON.stringify({ container: NAME, domain, state_check: 'terraform' }));
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    return JSON.parse(result.stdout) as { container: string; orphan: string };
  };
  const removeOrphan = (token: string) => run(['remove-orphan'], { MODULUS_ROUTER_CONTAINER: NAME, MODULUS_ROUTER_DOMAIN: ORPHAN_DOMAIN, MODULUS_HEAL_TOKEN: token });
  const exists = () => spawnSync('docker', ['inspect', NAME], { stdio: 'ignore' }).status === 0;

  it('the probe names the router container the state lacks, and remove-orphan removes exactly that one', () => {
    const id = create(['org.modulus.role=router', `org.modulus.domain=${ORPHAN_DOMAIN}`]);
    fs.writeFileSync(stateFile, JSON.stringify({ resources: [{ instances: [{ attributes: { id: 'f'.repeat(64) } }] }] }));
    const found = probeOrphan();
    expect(found.container).toBe(id);
    expect(found.orphan).toMatch(new RegExp(`^heal-orphan-${id}-[0-9a-f]+$`));
    // Recorded in the state: no orphan.
    fs.writeFileSync(stateFile, JSON.stringify({ resources: [{ instances: [{ attributes: { id } }] }] }));
    expect(probeOrphan()).toEqual({ container: id, orphan: '' });
    // A state that cannot be read knows everything: no orphan on a guess.
    fs.writeFileSync(stateFile, '');
    expect(probeOrphan().orphan).toBe('');

    const removed = removeOrphan(found.orphan);
    expect({ status: removed.status, stderr: removed.stderr }).toEqual({
      status: 0,
      stderr: `modulus-router: removed the router container ${NAME} (${id.slice(0, 12)}) that an interrupted deploy left outside Terraform's state\n`,
    });
    expect(exists()).toBe(false);
    // The token is recorded: the next plan's probe answers it, so Heal is not replaced again.
    expect(probeOrphan()).toEqual({ container: '', orphan: found.orphan });
    expect((fs.statSync(path.join(recordDir, `${NAME}.heal-token`)).mode & 0o777).toString(8)).toBe('600');
    expect(removeOrphan(found.orphan).stderr).toContain('is gone already');
  });

  it("never names or removes a container the platform did not make, another domain's router, or one that took the name since", () => {
    fs.writeFileSync(stateFile, JSON.stringify({ resources: [] }));
    for (const labels of [[], ['org.modulus.role=router', 'org.modulus.domain=other.modulus.test'], ['org.modulus.role=run', `org.modulus.domain=${ORPHAN_DOMAIN}`]]) {
      fs.rmSync(recordDir, { recursive: true, force: true });
      const id = create(labels);
      expect({ labels, probe: probeOrphan() }).toEqual({ labels, probe: { container: '', orphan: '' } });
      // Even with a token naming it (forged, or from an earlier plan).
      const kept = removeOrphan(`heal-orphan-${id}-1234`);
      expect({ labels, status: kept.status, exists: exists() }).toEqual({ labels, status: 0, exists: true });
    }
    // Another container under the name: the token's id no longer matches.
    create(['org.modulus.role=router', `org.modulus.domain=${ORPHAN_DOMAIN}`]);
    expect(removeOrphan(`heal-orphan-${'a'.repeat(64)}-1234`).stderr).toContain('is gone already');
    expect(exists()).toBe(true);
    // No token (the steady state): nothing to do.
    expect(removeOrphan('')).toMatchObject({ status: 0, stderr: '' });
    expect(exists()).toBe(true);
  });
});
