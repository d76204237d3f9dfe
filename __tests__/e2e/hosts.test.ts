import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { copyCheckout } from '../../harness/checkout';
import { creationSeconds } from '../../harness/cdktf-output';
import { httpGet, waitForHttp } from '../contract/support/run';
import { Probe, probesSince, startProbing } from '../../harness/probe';
import { bash, docker, ok, Run, waitFor } from '../../harness/shell';
import { startTestbed, Testbed } from '../../harness/testbed';

/**
 * Many hosts, with the product's own stacks and main.ts: one `cdktf deploy` builds the images on engine A (this
 * machine), pushes them to a real registry (Debian's docker-registry, basic auth, 127.0.0.1), runs the node
 * sample on A and the static and php samples on host B (a second engine in a container, reached only over SSH),
 * their volumes made on B over SSH. The tests run in order on one deployment: run the file whole.
 */
jest.setTimeout(40 * 60_000);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-hosts-'));
const checkout = path.join(work, 'checkout');
const PLATFORM = path.join(work, 'platform.json');
const A_VOLUMES = path.join(work, 'volumes');
const B_VOLUMES = '/var/lib/modulus-hosts-e2e/volumes';
const PREFIX = 'modulus-hosts-e2e/';
const PLACEMENT = { a: ['node'], b: ['static', 'php'] };
const PORTS = { node: 18280, static: 18281, php: 18282 };
/** B's router, in front of the apps on B (A runs none: no app runs on the stack's engine). */
const ROUTER = { domain: 'hosts.modulus.test', httpPort: 18290 };
const SIZE_MIB = 1024;

let bed: Testbed | undefined;
let env: Record<string, string> = {};
const testbed = (): Testbed => {
  if (!bed) throw new Error('the testbed did not come up (see beforeAll)');
  return bed;
};
const output = (run: Run) => `${run.stdout}${run.stderr}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The cdktf CLI, as an operator runs it: the first deploy and the destroy. */
const cdktf = (args: string) => bash(`scripts/toolchain/cdktf.sh ${args} --no-color`, { cwd: checkout, env });
/**
 * The same synth and Terraform runs as `cdktf deploy|destroy STACK... --auto-approve`, without the CLI's 5 s of CPU
 * (harness/deploy-stacks.sh): every other deploy here, as these tests are about what the stacks do.
 */
const stacks = (args: string) => bash(`bash harness/deploy-stacks.sh ${args}`, { cwd: checkout, env });
const terraform = (stack: string, args: string) =>
  bash(`terraform ${args} -no-color`, { cwd: path.join(checkout, 'cdktf.out', 'stacks', stack), env: { ...env, TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '' } });
/** Our containers on one engine, as `name id` lines. */
const containersOn = (host: 'a' | 'b'): string[] => {
  const args = ['ps', '-a', '--filter', 'name=^modulus-(app|build)-sample-', '--format', '{{.Names}} {{.ID}}'];
  const run = host === 'a' ? docker(...args) : testbed().hostB.docker(args);
  return ok(run, `docker ps on ${host}`).trim().split('\n').filter(Boolean).sort();
};
const runContainer = (host: 'a' | 'b', language: string) => containersOn(host).find((line) => line.startsWith(`modulus-app-sample-${language} `));

beforeAll(async () => {
  bed = await startTestbed();
  copyCheckout(checkout);
  const { registry, hostB } = bed;
  const keyscan = ok(bash('ssh-keyscan -p "$PORT" "$HOST" 2>&1', { env: { PORT: String(hostB.sshPort), HOST: hostB.sshHost } }), 'ssh-keyscan');
  const scanned = keyscan.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => line.split(' ').slice(1, 3).join(' '));
  expect(scanned.sort()).toEqual(hostB.hostPublicKeys.split('\n').sort());
  expect(scanned.map((key) => key.split(' ')[0]).sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa']);
  const platform = {
    registry: { address: registry.address, username: registry.username, protocol: 'http' },
    hosts: [
      { hostName: 'a', engine: 'unix:///var/run/docker.sock', languages: PLACEMENT.a },
      {
        hostName: 'b',
        engine: hostB.dockerHost,
        sshOptions: hostB.sshOpts,
        // Pinned as an operator does: ssh-keyscan's output as it is (checked here against the keys read through
        // engine A, the trusted channel).
        provisioning: { user: hostB.sshUser, address: hostB.sshHost, port: hostB.sshPort, hostKeys: keyscan },
        volumes: { root: B_VOLUMES },
        languages: PLACEMENT.b,
        router: { httpPort: ROUTER.httpPort },
      },
    ],
  };
  fs.writeFileSync(PLATFORM, JSON.stringify(platform, null, 2));
  env = {
    MODULUS_PLATFORM: PLATFORM,
    MODULUS_REPOSITORY_PREFIX: PREFIX,
    MODULUS_ROOT_IMAGE: process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm',
    MODULUS_NETWORK_MODE: 'host',
    MODULUS_VOLUME_ROOT: A_VOLUMES,
    MODULUS_VOLUME_REMOVAL: 'destroy',
    MODULUS_VOLUME_SIZE_MIB: String(SIZE_MIB),
    MODULUS_FIRST_PORT: String(PORTS.node),
    MODULUS_ROUTER_DOMAIN: ROUTER.domain,
    // The secrets: only in Terraform's environment (sensitive variables).
    TF_VAR_registry_password: registry.password,
    // As people paste keys: Windows line ends, no last line break.
    TF_VAR_ssh_private_key_b: fs.readFileSync(hostB.privateKeyPath, 'utf8').trim().replace(/\n/g, '\r\n'),
  };
}, 20 * 60_000);

afterAll(async () => {
  if (bed) stacks('destroy apps images');
  await bed?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('apps on two hosts, images through a registry', () => {
  let deployOutput = '';

  it('one cdktf deploy builds on A, pushes, and runs node on A and static and php on B', async () => {
    const started = Date.now();
    const deploy = cdktf('deploy images apps --auto-approve');
    deployOutput = output(deploy);
    ok(deploy, 'cdktf deploy');
    const pushes = creationSeconds(deployOutput, /^docker_registry_image\./);
    const pulls = creationSeconds(deployOutput, /^docker_image\./);
    console.log(
      `deploy on two hosts: ${((Date.now() - started) / 1000).toFixed(0)} s; pushes ${pushes.length} (${pushes.reduce((a, b) => a + b, 0)} s summed), ` +
        `image builds and pulls ${pulls.length} (${pulls.reduce((a, b) => a + b, 0)} s summed)`,
    );
    for (const [language, port] of Object.entries(PORTS)) {
      expect({ language, status: (await waitForHttp(port, '/', 120_000)).status }).toEqual({ language, status: 200 });
    }
  });

  it('runs each app on its own host: node on A, static and php on B', () => {
    // A build container's name ends in the time of its creation (-YYYYMMDDhhmmss).
    const names = (host: 'a' | 'b') => containersOn(host).map((line) => line.split(' ')[0].replace(/-\d{14}$/, ''));
    expect(names('a')).toEqual(['modulus-app-sample-node', 'modulus-build-sample-node']);
    expect(names('b')).toEqual([
      'modulus-app-sample-php',
      'modulus-app-sample-static',
      'modulus-build-sample-php',
      'modulus-build-sample-static',
    ]);
  });

  it('keeps the secrets out of the output and the synthesized stacks', () => {
    const { registry } = testbed();
    const key = env.TF_VAR_ssh_private_key_b.split('\r\n')[1];
    for (const text of [deployOutput, fs.readFileSync(path.join(checkout, 'cdktf.out', 'stacks', 'apps', 'cdk.tf.json'), 'utf8')]) {
      expect(text).not.toContain(registry.password);
      expect(text).not.toContain(key);
    }
  });

  it("keeps B's SSH key in the state once per app on B (its Volume, for the destroy step), nowhere else", () => {
    const keyLine = env.TF_VAR_ssh_private_key_b.split('\r\n')[1];
    const state = JSON.parse(fs.readFileSync(path.join(checkout, 'terraform.apps.tfstate'), 'utf8'));
    const holders = state.resources
      .filter((resource: any) => JSON.stringify(resource.instances).includes(keyLine))
      .map((resource: any) => `${resource.mode === 'data' ? 'data.' : ''}${resource.type}.${resource.name.replace(/_[0-9A-F]{8}$/, '')}`)
      .sort();
    expect(holders).toEqual(['null_resource.sample-php_Volume', 'null_resource.sample-static_Volume']);
    const copies = fs.readFileSync(path.join(checkout, 'terraform.apps.tfstate'), 'utf8').split(keyLine).length - 1;
    expect(copies).toBe(PLACEMENT.b.length);
  });

  /** curl through B's router to sample-<language>.<domain>: status and body (0: no answer). */
  const viaRouter = (language: string) => {
    const host = `sample-${language}.${ROUTER.domain}`;
    const run = bash(`curl -sS --noproxy '*' --max-time 5 -w '\\n%{http_code}' --resolve "${host}:${ROUTER.httpPort}:127.0.0.1" http://${host}:${ROUTER.httpPort}/ || true`);
    const lines = run.stdout.split('\n');
    return { status: Number(lines.pop()) || 0, body: lines.join('\n') };
  };

  it("runs a router on B, hardened, in front of B's apps: each answers at sample-<language>.<domain>, node (on A) does not", () => {
    const { hostB } = testbed();
    const inspect = JSON.parse(ok(hostB.docker(['inspect', 'modulus-router']), 'inspect the router on B'))[0];
    expect({ user: inspect.Config.User, readOnly: inspect.HostConfig.ReadonlyRootfs, capDrop: inspect.HostConfig.CapDrop, running: inspect.State.Running }).toEqual({
      user: '441:444',
      readOnly: true,
      capDrop: ['ALL'],
      running: true,
    });
    expect(docker('inspect', 'modulus-router').status).not.toBe(0);
    // Its process limit, set on B by the router's step over SSH.
    expect(ok(hostB.ssh('cat /sys/fs/cgroup/pids/modulus/modulus-router/pids.max 2>/dev/null || cat /sys/fs/cgroup/modulus/modulus-router/pids.max'), 'pids.max on B').trim()).toBe('128');
    for (const language of PLACEMENT.b) expect({ language, status: viaRouter(language).status }).toEqual({ language, status: 200 });
    expect(viaRouter('node')).toEqual({ status: 404, body: 'no app at this host name' });
  });

  it("releases a changed app on B through its slots behind B's router: no request fails", async () => {
    const indexHtml = path.join(checkout, 'samples', 'static', 'src', 'index.html');
    const original = fs.readFileSync(indexHtml, 'utf8');
    const probing = startProbing(ROUTER.httpPort, 100, `sample-static.${ROUTER.domain}`);
    let probes: Probe[] = [];
    try {
      await sleep(500);
      // Stays deployed (the checkout is this test's copy): the tests below deploy nothing else for it.
      fs.writeFileSync(indexHtml, `${original}\n<!-- released on B -->\n`);
      ok(stacks('deploy images apps'), 'deploy of a changed static app');
      await sleep(500);
    } finally {
      probes = await probing.stop();
    }
    expect(viaRouter('static').body).toContain('released on B');
    const status = testbed().hostB.docker(['exec', 'modulus-app-sample-static', 'supervisorctl', 'status']).stdout;
    // A slot counts as started 10 s after it started (startsecs): STARTING is running too.
    expect(status).toMatch(/^app-green\s+(RUNNING|STARTING)/m);
    expect(status).toMatch(/^app-blue\s+STOPPED/m);
    console.log(`router on B: sample-static, ${probes.length} probes every 100 ms across a release, ${probes.filter((probe) => probe.status !== 200).length} failed`);
    expect(probes.length).toBeGreaterThan(20);
    expect(probes.filter((probe) => probe.status !== 200)).toEqual([]);
  });

  it('pushes only what B pulls, with the parents: no node image in the registry, no pull on A', async () => {
    const { registry } = testbed();
    const authorization = `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}`;
    const catalog = await fetch(`http://${registry.address}/v2/_catalog?n=1000`, { headers: { authorization } });
    const { repositories } = (await catalog.json()) as { repositories: string[] };
    const ours = repositories.filter((repository) => repository.startsWith(PREFIX)).map((repository) => repository.slice(PREFIX.length));
    expect(ours.sort()).toEqual(['base', 'build-base', 'build-php', 'build-static', 'router', 'run-base', 'run-php', 'run-static']);
    expect(creationSeconds(deployOutput, /^docker_image\.a_Pulls_/)).toEqual([]);
    expect(creationSeconds(deployOutput, /^docker_image\.b_Pulls_/)).toHaveLength(5);
  });

  it('runs byte-identical images: B pulled the digest pushed from A', () => {
    const { hostB } = testbed();
    const onB = ok(hostB.docker(['inspect', '-f', '{{.Image}}', 'modulus-app-sample-static']), 'inspect on B').trim();
    const onA = ok(docker('image', 'inspect', '-f', '{{.Id}}', `${testbed().registry.address}/${PREFIX}run-static:latest`), 'inspect on A').trim();
    expect(onB).toBe(onA);
    const digests = ok(hostB.docker(['image', 'inspect', '-f', '{{join .RepoDigests " "}}', onB]), 'repo digests on B');
    expect(digests).toMatch(new RegExp(`${testbed().registry.address}/${PREFIX}run-static@sha256:[0-9a-f]{64}`));
  });

  it("makes B's volumes in B's filesystem, not in A's, and enforces their size there", () => {
    const { hostB } = testbed();
    for (const language of PLACEMENT.b) {
      ok(hostB.ssh(`mountpoint -q "${B_VOLUMES}/sample-${language}/mnt" && test -f "${B_VOLUMES}/sample-${language}/mnt/supervisor.conf"`), `volume of ${language} on B`);
      expect(fs.existsSync(`${B_VOLUMES}/sample-${language}`)).toBe(false);
    }
    expect(fs.existsSync(path.join(A_VOLUMES, 'sample-node', 'mnt', 'supervisor.conf'))).toBe(true);
    const file = `${B_VOLUMES}/sample-static/mnt/tmp/fill`;
    const fill = hostB.ssh(`status=0; dd if=/dev/zero of="${file}" bs=1M count=${SIZE_MIB + 64} 2>&1 || status=$?; rm -f "${file}"; exit "$status"`);
    expect(fill.status).not.toBe(0);
    expect(output(fill)).toContain('No space left on device');
  });

  it('npm run ctl reaches an app on B (not a container of the same name on A)', async () => {
    // A decoy on A without supervisorctl: a ctl that talked to A would fail.
    ok(docker('run', '-d', '--name', 'modulus-app-sample-static', '--network', 'none', env.MODULUS_ROOT_IMAGE, 'sleep', 'infinity'), 'decoy on A');
    try {
      // Behind B's router: two slots, the serving one running (once seen STARTING right after the test above
      // filled the volume: supervisord had restarted it).
      const running = /^app-(blue|green)\s+RUNNING\s+pid \d+/m;
      const run = await waitFor('sample-static RUNNING on B, through ctl', () => {
        const status = bash('npm run --silent ctl -- sample-static status', { cwd: checkout, env });
        return status.status === 0 && running.test(status.stdout) ? status : undefined;
      }, 30_000);
      expect(run.stdout).toMatch(running);
      const stopped = bash('npm run --silent ctl -- sample-static stop && npm run --silent ctl -- sample-static status', { cwd: checkout, env });
      expect(stopped.status).toBe(3);
      expect(stopped.stdout).toMatch(/^app-blue\s+STOPPED/m);
      expect(stopped.stdout).toMatch(/^app-green\s+STOPPED/m);
      ok(bash('npm run --silent ctl -- sample-static start', { cwd: checkout, env }), 'ctl start');
    } finally {
      docker('rm', '-f', 'modulus-app-sample-static');
    }
  });

  it('a leaf image edit re-pushes that image and replaces only the containers running it, on either host', async () => {
    const before = { a: containersOn('a'), b: containersOn('b') };
    const dockerfile = path.join(checkout, 'images', 'run-static', 'Dockerfile');
    fs.appendFileSync(dockerfile, '\nLABEL org.modulus.e2e-edit="1"\n');
    const deploy = stacks('deploy images apps');
    ok(deploy, 'deploy after the leaf edit');
    const text = output(deploy);
    const replaced = (type: string) => [...text.matchAll(new RegExp(`(${type}\\.[A-Za-z0-9_-]+)(?: \\([^)]*\\))?: Destruction complete`, 'g'))].map((match) => match[1]).sort();
    expect(replaced('docker_registry_image')).toEqual([expect.stringMatching(/^docker_registry_image\.Pushed_run-static_/)]);
    expect(replaced('docker_image')).toEqual([
      expect.stringMatching(/^docker_image\.Hierarchy_run-static_Image_/),
      expect.stringMatching(/^docker_image\.b_Pulls_run-static_/),
    ]);
    expect(containersOn('a')).toEqual(before.a);
    const after = containersOn('b');
    expect(after.filter((line) => !line.startsWith('modulus-app-sample-static '))).toEqual(before.b.filter((line) => !line.startsWith('modulus-app-sample-static ')));
    expect(runContainer('b', 'static')).not.toEqual(before.b.find((line) => line.startsWith('modulus-app-sample-static ')));
    // The new container starts the slot that serves (green, since the release above), behind B's router.
    const served = await waitFor('sample-static answering through the router on B', () => (viaRouter('static').status === 200 ? true : undefined), 120_000);
    expect(served).toBe(true);
    expect(viaRouter('static').body).toContain('released on B');
  });

  it("moving B's builds to A (buildHost): one deploy builds there, B publishes the delivered releases behind its router, no request fails, B keeps no build", async () => {
    const { hostB, registry } = testbed();
    const platform = JSON.parse(fs.readFileSync(PLATFORM, 'utf8'));
    platform.hosts[1] = { ...platform.hosts[1], buildHost: 'a' };
    fs.writeFileSync(PLATFORM, JSON.stringify(platform, null, 2));
    const probing = startProbing(ROUTER.httpPort, 100, `sample-static.${ROUTER.domain}`);
    let probes: Probe[] = [];
    try {
      await sleep(500);
      ok(stacks('deploy images apps'), "deploy with B's builds on A");
      await sleep(500);
    } finally {
      probes = await probing.stop();
    }
    console.log(`builds moved to A: sample-static through B's router, ${probes.length} probes every 100 ms, ${probes.filter((probe) => probe.status !== 200).length} failed`);
    expect(probes.length).toBeGreaterThan(20);
    expect(probes.filter((probe) => probe.status !== 200)).toEqual([]);
    const names = (host: 'a' | 'b') => containersOn(host).map((line) => line.split(' ')[0].replace(/-\d{14}$/, ''));
    expect(names('a')).toEqual(['modulus-app-sample-node', 'modulus-build-sample-node', 'modulus-build-sample-php', 'modulus-build-sample-static']);
    expect(names('b')).toEqual(['modulus-app-sample-php', 'modulus-app-sample-static']);
    // B no longer holds a build image (its pulls were destroyed), and serves the release A built.
    const imagesOnB = ok(hostB.docker(['images', '--format', '{{.Repository}}']), 'images on B').split('\n');
    expect(imagesOnB.filter((repository) => repository.startsWith(`${registry.address}/${PREFIX}build-`))).toEqual([]);
    for (const language of PLACEMENT.b) {
      const build = containersOn('a').find((line) => line.startsWith(`modulus-build-sample-${language}-`))!.split(' ')[0];
      const release = ok(docker('inspect', '-f', '{{.Id}}', build), `build of ${language} on A`).trim();
      const served = ok(hostB.docker(['exec', `modulus-app-sample-${language}`, 'readlink', '/mnt/app']), `app/ of ${language} on B`).trim();
      expect({ language, served }).toEqual({ language, served: `.releases/${release}` });
      // Behind B's router: the serving slot is blue or green.
      expect({ language, status: viaRouter(language).status }).toEqual({ language, status: 200 });
    }
    expect(viaRouter('static').body).toContain('released on B');
  });

  it('a host that cannot be reached fails the plan, naming it; the other host is untouched', async () => {
    const { hostB } = testbed();
    const nodeBefore = runContainer('a', 'node');
    // B's sshd stops answering (SIGSTOP: B's entrypoint ends B when sshd exits); connections hang, then time out.
    const pid = ok(docker('exec', hostB.container, 'cat', '/run/sshd.pid'), 'sshd pid').trim();
    ok(docker('exec', hostB.container, 'kill', '-STOP', pid), 'stop sshd');
    let plan: Run;
    try {
      plan = terraform('apps', 'plan -input=false -lock=false');
    } finally {
      ok(docker('exec', hostB.container, 'kill', '-CONT', pid), 'continue sshd');
    }
    expect(plan.status).not.toBe(0);
    expect(output(plan)).toMatch(/host 'b'/);
    expect(runContainer('a', 'node')).toBe(nodeBefore);
    expect((await waitForHttp(PORTS.node)).status).toBe(200);
    expect(ok(terraform('images', 'plan -input=false -lock=false -detailed-exitcode'), 'plan of the images stack')).toContain('No changes.');
  });

  describe('replicas: sample-node scaled out from A to B, behind the routers of both hosts', () => {
    const ROUTER_A = 18300;
    /** The port of sample-node's instance on B: hosts A and B share one network here. */
    const NODE_ON_B = PORTS.node + 1000;
    const onHost = (host: 'a' | 'b', args: string[]) => (host === 'a' ? docker(...args) : testbed().hostB.docker(args));
    /** The release sample-node's instance on a host serves: where its app/ link points. */
    const releaseOn = (host: 'a' | 'b') => ok(onHost(host, ['exec', 'modulus-app-sample-node', 'readlink', '/mnt/app']), `app/ of sample-node on ${host}`).trim();
    const nodeVia = (port: number) => {
      const host = `sample-node.${ROUTER.domain}`;
      const run = bash(`curl -sS --noproxy '*' --max-time 5 -w '\\n%{http_code}' --resolve "${host}:${port}:127.0.0.1" http://${host}:${port}/ || true`);
      const lines = run.stdout.split('\n');
      return { status: Number(lines.pop()) || 0, body: lines.join('\n') };
    };
    const failed = (probes: Probe[]) => probes.filter((probe) => probe.status !== 200);
    /** What an instance answers on whichever of its two slots serves (the standby slot is 100 ports above). */
    const instanceAnswer = async (port: number, timeoutMs = 60_000) => {
      let body = '';
      await waitFor(`sample-node answering on port ${port} or ${port + 100}`, async () => {
        for (const slot of [port, port + 100]) {
          const answer = await httpGet(slot, '/');
          if (answer.status === 200) body = answer.body;
        }
        return body !== '' ? true : undefined;
      }, timeoutMs);
      return body;
    };
    const serverJs = () => path.join(checkout, 'samples', 'node', 'server.js');

    it('one deploy adds an instance on B: its own volume there, the build of A delivered (not rebuilt), both routers answer', async () => {
      const platform = JSON.parse(fs.readFileSync(PLATFORM, 'utf8'));
      // A's root as MODULUS_VOLUME_ROOT gave it (its volume stays where it is); each host's instance under its own root.
      platform.hosts[0] = { ...platform.hosts[0], appAddress: '127.0.0.1', router: { httpPort: ROUTER_A }, volumes: { root: A_VOLUMES } };
      platform.hosts[1] = { ...platform.hosts[1], languages: [...PLACEMENT.b, 'node'], replicaPortOffset: 1000 };
      fs.writeFileSync(PLATFORM, JSON.stringify(platform, null, 2));
      const started = Date.now();
      const deploy = stacks('deploy images apps');
      ok(deploy, 'deploy with sample-node on A and B');
      // A's instance keeps its volume (and build): only its run container changes (one program becomes two slots).
      expect(output(deploy)).not.toMatch(/null_resource\.sample-node_Volume_[0-9A-F]+(?: \([^)]*\))?: Destroying/);
      expect(output(deploy)).not.toMatch(/docker_container\.sample-node_Build_Container_[0-9A-F]+(?: \([^)]*\))?: Destroying/);
      console.log(`replicas: sample-node scaled out to B in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      expect(await instanceAnswer(NODE_ON_B)).toContain('modulus sample node app');
      // One build, on A: B has no build container of sample-node, and serves A's release byte for byte.
      expect(containersOn('b').filter((line) => line.startsWith('modulus-build-sample-node'))).toEqual([]);
      expect(releaseOn('b')).toBe(releaseOn('a'));
      const tree = (host: 'a' | 'b') => ok(onHost(host, ['exec', 'modulus-app-sample-node', 'bash', '-c', 'cd /mnt/app/ && find . -type f -print0 | sort -z | xargs -0 sha256sum']), `files on ${host}`);
      expect(tree('b')).toBe(tree('a'));
      expect(tree('b')).toContain('./server.js');
      // Its volume is on B, mounted there with its own size limit.
      const volume = `${B_VOLUMES}/sample-node/mnt`;
      const size = ok(testbed().hostB.ssh(`mountpoint -q "${volume}" && df -BM --output=size "${volume}" | tail -n 1`), 'the volume of sample-node on B').trim();
      expect(Number(size.replace('M', ''))).toBeGreaterThan(SIZE_MIB * 0.9);
      expect(Number(size.replace('M', ''))).toBeLessThanOrEqual(SIZE_MIB);
      for (const port of [ROUTER_A, ROUTER.httpPort]) expect({ port, status: nodeVia(port).status }).toEqual({ port, status: 200 });
      // ctl: one instance by its host; the bare name asks for one.
      const onB = bash('npm run --silent ctl -- sample-node@b status', { cwd: checkout, env });
      // The deploy ends once the app answers; supervisord calls it RUNNING 10 s after its start (startsecs).
      expect({ status: onB.status, serving: /^app-(blue|green)\s+(RUNNING|STARTING)/m.test(onB.stdout) }).toEqual({ status: 0, serving: true });
      const bare = bash('npm run --silent ctl -- sample-node status', { cwd: checkout, env });
      expect({ status: bare.status, stderr: bare.stderr.trim() }).toEqual({ status: 2, stderr: "ctl: app 'sample-node' runs as 2 instances (on hosts a, b): name one, e.g. sample-node@a" });
      const plan = terraform('apps', 'plan -input=false -lock=false -detailed-exitcode');
      expect({ status: plan.status, output: output(plan).includes('No changes.') }).toEqual({ status: 0, output: true });
    });

    it('a changed app rolls out A, then B, while both routers answer every request', async () => {
      const original = fs.readFileSync(serverJs(), 'utf8');
      const probing = [startProbing(ROUTER_A, 100, `sample-node.${ROUTER.domain}`), startProbing(ROUTER.httpPort, 100, `sample-node.${ROUTER.domain}`)];
      let probes: Probe[][] = [];
      let deploy: Run;
      try {
        await sleep(500);
        fs.writeFileSync(serverJs(), original.replace('modulus sample node app', 'modulus sample node app (rolled)'));
        deploy = stacks('deploy images apps');
        await sleep(500);
      } finally {
        probes = await Promise.all(probing.map((probe) => probe.stop()));
      }
      ok(deploy, 'deploy of a changed sample-node');
      const text = output(deploy);
      const finished = (step: RegExp) => text.split('\n').findIndex((line) => step.test(line) && line.includes('Creation complete'));
      expect(finished(/null_resource\.sample-node_Build_Publish_/)).toBeGreaterThan(-1);
      expect(finished(/null_resource\.sample-node_instance-b_Publish_/)).toBeGreaterThan(finished(/null_resource\.sample-node_Build_Publish_/));
      expect(releaseOn('b')).toBe(releaseOn('a'));
      for (const port of [PORTS.node, NODE_ON_B]) expect(await instanceAnswer(port)).toContain('(rolled)');
      probes.forEach((each, index) => console.log(`replicas: router ${index === 0 ? 'A' : 'B'}, ${each.length} probes every 100 ms across a rolling release, ${failed(each).length} failed`));
      for (const each of probes) {
        expect(each.length).toBeGreaterThan(50);
        expect(failed(each)).toEqual([]);
      }
    });

    it("host B frozen (its engine, sshd and instance): A's router sends a GET B leaves unanswered to A's instance, stops sending to B within its health check's window; thawed, B takes requests again", async () => {
      // A client that waits up to 5 s: the router gives an unanswered GET 1 s (the apps stack's retryGetAfterMillis).
      const probing = startProbing(ROUTER_A, 100, `sample-node.${ROUTER.domain}`, 5);
      const { hostB } = testbed();
      let probes: Probe[] = [];
      let frozenAt = 0;
      try {
        await sleep(1000);
        // B's containers are in cgroups of their own, outside B's: its instance first (over SSH), then B itself.
        frozenAt = Date.now();
        ok(hostB.docker(['pause', 'modulus-app-sample-node']), "pause B's instance");
        ok(docker('pause', hostB.container), 'pause host B (its engine and sshd)');
        await sleep(12_000);
      } finally {
        docker('unpause', hostB.container);
        hostB.docker(['unpause', 'modulus-app-sample-node']);
        probes = await probing.stop();
      }
      const { during, slow, longestMs, lastSlowSeconds } = probesSince(probes, frozenAt);
      console.log(
        `replicas: host B frozen: ${failed(during).length} of ${probes.length} probes through A's router failed; ` +
          `${slow.length} waited 1 s or more (the longest ${longestMs} ms), none after ${lastSlowSeconds.toFixed(1)} s`,
      );
      expect(failed(during)).toEqual([]);
      // Some probes met the frozen instance and were sent on; after two failed checks (fall 2) none did.
      expect(slow).not.toEqual([]);
      expect(slow.filter((probe) => probe.atMs >= frozenAt + 8000)).toEqual([]);
      expect(probes.filter((probe) => probe.atMs < frozenAt)).not.toEqual([]);
      // Thawed, B's instance passes its checks again and answers through A's router (its address, B's port).
      const status = (server: string) => docker('exec', 'modulus-router', 'modulus-router-server', 'show', 'app-sample-node', server).stdout;
      const up = await waitFor("B's instance up in A's router", () => (['b-blue', 'b-green'].some((server) => status(server).startsWith('UP')) ? true : undefined), 30_000);
      expect(up).toBe(true);
    });

    it("B's instance stopped: the app answers from A; the next deploy starts it again", async () => {
      ok(testbed().hostB.docker(['stop', '--time', '5', 'modulus-app-sample-node']), "stop B's instance");
      expect(nodeVia(ROUTER.httpPort).status).toBe(200);
      expect(nodeVia(ROUTER_A).status).toBe(200);
      ok(stacks('deploy images apps'), 'deploy after B lost its instance');
      expect(await instanceAnswer(NODE_ON_B)).toContain('(rolled)');
    });

    it('a release that fails its health check on A stops the roll-out: B stays on its release, no request fails', async () => {
      const original = fs.readFileSync(serverJs(), 'utf8');
      const before = { a: releaseOn('a'), b: releaseOn('b') };
      const probing = [startProbing(ROUTER_A, 100, `sample-node.${ROUTER.domain}`), startProbing(ROUTER.httpPort, 100, `sample-node.${ROUTER.domain}`)];
      let probes: Probe[][] = [];
      let deploy: Run;
      try {
        fs.writeFileSync(
          serverJs(),
          "require('http').createServer((req, res) => { res.statusCode = 500; res.end('unhealthy\\n'); }).listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');\nreturn;\n" + original,
        );
        deploy = stacks('deploy images apps');
      } finally {
        fs.writeFileSync(serverJs(), original);
        probes = await Promise.all(probing.map((probe) => probe.stop()));
      }
      expect(deploy.status).not.toBe(0);
      expect(output(deploy)).toMatch(/the new release of app 'sample-node' did not pass its health check/);
      expect(output(deploy)).not.toMatch(/sample-node_instance-b_Publish_[0-9A-F]+(?: \([^)]*\))?: Creating/);
      expect({ a: releaseOn('a'), b: releaseOn('b') }).toEqual(before);
      for (const each of probes) {
        expect(each.length).toBeGreaterThan(50);
        expect(failed(each)).toEqual([]);
      }
    });

    it('rolling back is deploying the previous source: A reuses the release it built from it (no build) and rolls it out to B', async () => {
      const rolled = fs.readFileSync(serverJs(), 'utf8');
      const before = releaseOn('a');
      const probing = [startProbing(ROUTER_A, 100, `sample-node.${ROUTER.domain}`), startProbing(ROUTER.httpPort, 100, `sample-node.${ROUTER.domain}`)];
      let probes: Probe[][] = [];
      let deploy: Run;
      const started = Date.now();
      try {
        fs.writeFileSync(serverJs(), rolled.replace('modulus sample node app (rolled)', 'modulus sample node app'));
        deploy = stacks('deploy images apps');
      } finally {
        probes = await Promise.all(probing.map((probe) => probe.stop()));
      }
      ok(deploy, 'deploy of the previous sample-node');
      const builds = ok(docker('ps', '-a', '--filter', 'name=^modulus-build-sample-node-', '--format', '{{.Names}}'), 'build containers').trim().split('\n').sort();
      expect(ok(docker('logs', builds[builds.length - 1]), 'build log')).toMatch(/modulus-build: release \S+ was built from the same source, image and settings: reused, not built again/);
      expect(releaseOn('a')).not.toBe(before);
      expect(releaseOn('b')).toBe(releaseOn('a'));
      for (const port of [ROUTER_A, ROUTER.httpPort]) {
        const answer = nodeVia(port);
        expect(answer.status).toBe(200);
        expect(answer.body).toContain('modulus sample node app');
        expect(answer.body).not.toContain('(rolled)');
      }
      console.log(`replicas: rollback deploy ${((Date.now() - started) / 1000).toFixed(1)} s; ${probes.map((each) => `${failed(each).length} of ${each.length}`).join(' and ')} probes through the routers failed`);
      for (const each of probes) expect(failed(each)).toEqual([]);
    });
  });

  it('destroy leaves both hosts clean', () => {
    const { hostB, registry } = testbed();
    ok(cdktf('destroy apps images --auto-approve'), 'cdktf destroy');
    expect(containersOn('a')).toEqual([]);
    expect(containersOn('b')).toEqual([]);
    const leftOnB = ok(hostB.docker(['images', '--format', '{{.Repository}}']), 'images on B');
    expect(leftOnB.split('\n').filter((repository) => repository.startsWith(`${registry.address}/${PREFIX}`))).toEqual([]);
    // The destroy policy: nothing mounted or left under B's volume root.
    expect(ok(hostB.ssh(`ls -A "${B_VOLUMES}" 2>/dev/null || true`), 'volume root on B').trim()).toBe('');
  });
});
