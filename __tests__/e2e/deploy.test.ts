import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LANGUAGES, STANDARD_IMAGES } from '../../lib/standard-images';
import { copyCheckout, REPO_ROOT } from '../../harness/checkout';
import { httpGet, waitForHttp } from '../contract/support/run';
import { holdEngineExclusively, shareEngine } from '../../harness/engine-lock';
import { Probe, longestOutage, startProbing } from '../../harness/probe';
import { applySummaries } from '../../harness/cdktf-output';
import { bash, docker, ok, waitFor } from '../../harness/shell';

/**
 * The mission: one `cdktf deploy` builds every image and starts the four sample apps, on a real engine with real
 * Terraform, volumes and supervisord. Runs in a copy of this checkout (its own state, cdktf.out and volumes).
 * Needs scripts/toolchain/setup.sh to have run.
 */
jest.setTimeout(45 * 60_000);

const FIRST_PORT = 18080;
/** Starts threads (each waiting) until 5000 or until the kernel refuses one; prints the count, holds them 15 s. */
const THREAD_BOMB = [
  'import threading, time',
  'stop = threading.Event()',
  'count = 0',
  'try:',
  '    while count < 5000:',
  '        threading.Thread(target=stop.wait, daemon=True).start()',
  '        count += 1',
  'except RuntimeError:',
  '    pass',
  'print(count, flush=True)',
  'time.sleep(15)',
].join('\n');
const ports = Object.fromEntries(LANGUAGES.map((language, index) => [language, FIRST_PORT + index]));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-apps-'));
const checkout = path.join(work, 'checkout');
const volumeRoot = path.join(work, 'volumes');
// Its own repository prefix: deploying and destroying its images must not retag or untag the ones the contract
// tests built and run.
const PREFIX = 'modulus-e2e/';
const env: Record<string, string> = {
  MODULUS_REPOSITORY_PREFIX: PREFIX,
  MODULUS_ROOT_IMAGE: process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm',
  MODULUS_NETWORK_MODE: 'host',
  MODULUS_VOLUME_ROOT: volumeRoot,
  MODULUS_VOLUME_REMOVAL: 'destroy',
};
/** The cdktf CLI, as an operator runs it: the first deploy (of the previous release) and the last destroy. */
const cdktf = (args: string, extra: Record<string, string> = {}) =>
  ok(bash(`scripts/toolchain/cdktf.sh ${args} --no-color`, { cwd: checkout, env: { ...env, ...extra } }), `cdktf ${args}`);
/**
 * The same synth and Terraform runs as `cdktf deploy|destroy STACK... --auto-approve`, without the CLI's 5 s of CPU
 * (harness/deploy-stacks.sh): every other deploy here, as these tests are about what the stacks do.
 */
const stacks = (args: string, extra: Record<string, string> = {}) =>
  bash(`bash "${REPO_ROOT}/harness/deploy-stacks.sh" ${args}`, { cwd: checkout, env: { ...env, ...extra } });
const deployStacks = (extra: Record<string, string> = {}) => ok(stacks('deploy images apps', extra), 'deploy images apps');
const mnt = (language: string) => path.join(volumeRoot, `sample-${language}`, 'mnt');
const container = (language: string) => `modulus-app-sample-${language}`;
const imageIds = () =>
  Object.fromEntries(
    STANDARD_IMAGES.map(({ name }) => [name, ok(docker('image', 'inspect', '-f', '{{.Id}}', `${PREFIX}${name}:latest`), name).trim()]),
  );
/** The build and run containers of this test's apps (other deployments on the engine are not ours). */
const OUR_CONTAINERS = 'name=^modulus-(app|build)-sample-';
const containerIds = () =>
  ok(docker('ps', '-a', '--filter', OUR_CONTAINERS, '--format', '{{.Names}} {{.ID}}'), 'docker ps').trim().split('\n').sort();
/** The pid supervisord reports for the app of `language`. */
const appPid = (language: string) =>
  ok(docker('exec', container(language), 'supervisorctl', 'pid', 'app'), 'supervisorctl pid').trim();
const runContainerId = (language: string) => ok(docker('inspect', '-f', '{{.Id}}', container(language)), 'docker inspect').trim();
/** The processes working in `dir` whose arguments `match`. */
const pidsIn = (dir: string, match: (args: string[]) => boolean) =>
  fs.readdirSync('/proc').filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return fs.readlinkSync(`/proc/${pid}/cwd`) === dir && match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
    } catch {
      return false;
    }
  });
/** Ends the providers a SIGKILLed terraform in `dir` left running (they outlive it). */
const killLeftoverProviders = (dir: string) => {
  for (const pid of pidsIn(dir, (args) => /terraform-provider-/.test(path.basename(args[0])))) process.kill(Number(pid), 'SIGKILL');
};
/** A deploy of both stacks, not failing the test when it fails. */
const tryDeploy = () => stacks('deploy images apps');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every entry below `dir` (but the folders the app itself keeps writing to): path, type, owner, mode, content. */
const snapshot = (dir: string, skip: string[] = []) =>
  ok(bash(`cd "${dir}" && find . ${skip.map((name) => `-path ./${name} -prune -o `).join('')}-printf '%p %y %U:%G %m %l\\n' | sort && find . ${skip.map((name) => `-path ./${name} -prune -o `).join('')}-type f -print0 | sort -z | xargs -0 -r sha256sum`), 'snapshot');
// The node app writes its own logs and notifications (health checks, events) while the attacks run.
const nodeVolume = () => snapshot(mnt('node'), ['log', 'notifications']);
/** A folder of the host no app may reach: a cron.d an attack would love to write to. */
const canary = () => {
  const dir = path.join(work, 'canary');
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(path.join(dir, 'cron.d'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'cron.d', 'job'), '* * * * * root true\n', { mode: 0o644 });
  }
  return dir;
};
const indexHtml = path.join(checkout, 'samples', 'static', 'src', 'index.html');
const ATTACKED_ENTRIES = ['input', 'output', 'home', 'tmp', 'app', '.releases', 'app.previous', 'home/supervisor.sock', 'supervisor.conf', 'log'];

/**
 * `count` deploys of a changed static app while, as mop inside its own run container, it replaces each entry of
 * its volume with a link (to the canary, to the node app's volume and home), briefly, over and over. Returns each
 * deploy's outcome: 'ok', the failure's first line, or 'unexplained: <output>' for a failure that does not say why.
 */
function deploysUnderAttack(count: number, original: string): string[] {
  const targets = [path.join(canary(), 'cron.d'), mnt('node'), path.join(mnt('node'), 'home')];
  // Python rather than a shell loop of mv and ln: the same swaps for a twentieth of the CPU (a shell loop took more
  // than half a core), so the deploys it races run at their usual speed.
  const attack = [
    'import os, sys, time',
    'def attempt(action, *args):',
    '    try:',
    '        action(*args)',
    '    except OSError:',
    '        pass',
    'def remove_link_or_file(entry):',
    '    if os.path.islink(entry) or (os.path.lexists(entry) and not os.path.isdir(entry)):',
    '        attempt(os.unlink, entry)',
    "os.chdir('/mnt')",
    'while True:',
    '    for entry in sys.argv[1].split():',
    '        for target in sys.argv[2].split():',
    "            attempt(os.rename, entry, entry + '.saved')",
    '            remove_link_or_file(entry)',
    '            attempt(os.symlink, target, entry)',
    '            time.sleep(0.02)',
    '            remove_link_or_file(entry)',
    "            attempt(os.rename, entry + '.saved', entry)",
  ].join('\n');
  const attacker = spawn('docker', ['exec', container('static'), 'python3', '-c', attack, ATTACKED_ENTRIES.join(' '), targets.join(' ')], { stdio: 'ignore' });
  const outcomes: string[] = [];
  try {
    for (let deploy = 1; deploy <= count; deploy++) {
      fs.writeFileSync(indexHtml, `${original}\n<!-- attack deploy ${deploy} -->\n`);
      const run = stacks('deploy apps');
      const text = run.stdout + run.stderr;
      // Either done, or a failure that says what failed.
      outcomes.push(run.status === 0 ? 'ok' : /(modulus-volume: error: [^\n]+|Build of app '[^']+' \([a-z]+\) [^\n.]+|Error: [^\n]+)/.exec(text)?.[0] ?? `unexplained: ${text.slice(-2000)}`);
    }
  } finally {
    attacker.kill('SIGKILL');
    docker('exec', container('static'), 'pkill', '-KILL', '-f', 'python3 -c import os');
  }
  return outcomes;
}

/** The attacker stopped: puts back what it left as a link (its volume may be in any state it left). */
function undoAttack(): void {
  for (const entry of ATTACKED_ENTRIES) {
    bash(`cd "${mnt('static')}" && if [ -L "${entry}" ]; then rm -f "${entry}"; fi && if [ -e "${entry}.saved" ]; then mv -T "${entry}.saved" "${entry}"; fi`);
  }
}
const notifications = (language: string) =>
  fs
    .readdirSync(path.join(mnt(language), 'notifications'))
    .filter((file) => file.endsWith('.json'))
    .map((file) => JSON.parse(fs.readFileSync(path.join(mnt(language), 'notifications', file), 'utf8')));

/**
 * The release this one upgrades (0.2.0). The first deploy runs its code, as a platform deployed before this
 * release would have; the test then plans and applies this release over that state.
 */
const PREVIOUS_RELEASE = '50b9696';

/**
 * Makes `checkout` hold the files of `release` (a commit of this repository), or of this working tree when
 * none is given; the state files stay.
 */
function checkoutRelease(release?: string): void {
  fs.mkdirSync(checkout, { recursive: true });
  for (const entry of fs.readdirSync(checkout)) {
    if (!/^terraform\..+\.tfstate(\.backup)?$/.test(entry)) fs.rmSync(path.join(checkout, entry), { recursive: true, force: true });
  }
  if (!release) {
    copyCheckout(checkout);
    return;
  }
  // The files' modes as a clone under this user's umask has them (git archive's default is group-writable): the
  // image builds of the release's unchanged folders are then the same builds as this checkout's, cache hits.
  execFileSync('bash', ['-c', 'set -euo pipefail; git -C "$REPO" -c tar.umask=user archive "$RELEASE" | tar -x -C "$CHECKOUT"'], {
    env: { ...process.env, REPO: REPO_ROOT, RELEASE: release, CHECKOUT: checkout },
  });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
}

/** The planned changes of one stack of `checkout` (terraform show -json of a saved plan). */
function plannedChanges(stack: string): Array<{ address: string; previous_address?: string; change: { actions: string[] } }> {
  const run = (args: string) =>
    ok(
      bash(`terraform ${args}`, { cwd: path.join(checkout, 'cdktf.out', 'stacks', stack), env: { TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '' } }),
      `terraform ${args} (${stack})`,
    );
  run('init -input=false -no-color');
  run('plan -input=false -no-color -lock=false -out=upgrade.tfplan');
  return JSON.parse(run('show -json upgrade.tfplan')).resource_changes ?? [];
}

beforeAll(() => {
  try {
    execFileSync('git', ['-C', REPO_ROOT, 'cat-file', '-e', `${PREVIOUS_RELEASE}^{commit}`]);
  } catch {
    throw new Error(`the upgrade test needs commit ${PREVIOUS_RELEASE} (release 0.2.0) in this clone: clone without --depth, or git fetch --unshallow`);
  }
  checkoutRelease(PREVIOUS_RELEASE);
});

afterAll(() => {
  // Whatever failed above: take down what this test deployed, then its folder.
  stacks('destroy apps images');
  for (const language of LANGUAGES) {
    bash(`MODULUS_APP=sample-${language} MODULUS_ROOT="$ROOT/sample-${language}" MODULUS_REMOVAL_POLICY=destroy bash scripts/volume/modulus-volume.sh set-policy && MODULUS_APP=sample-${language} MODULUS_ROOT="$ROOT/sample-${language}" bash scripts/volume/modulus-volume.sh destroy`, {
      cwd: checkout,
      env: { ROOT: volumeRoot },
    });
  }
  fs.rmSync(work, { recursive: true, force: true });
});

describe('upgrading a deployment of the previous release', () => {
  it('deploys the previous release', () => {
    const output = cdktf('deploy images apps --auto-approve');
    expect(applySummaries(output, 'apps')).toEqual([expect.stringMatching(/^Apply complete!/)]);
  });

  it('plans this release over it without replacing or destroying any volume, nor any image whose folder did not change (moved, not recreated)', () => {
    const before = imageIds();
    // The images this release changed (their folder, or an ancestor's, differs from the previous release's) are
    // rebuilt; every other one only moves to its new address.
    const changed = new Set<string>();
    for (const { name, parent } of STANDARD_IMAGES) {
      const differs = bash(`git -C "${REPO_ROOT}" diff --quiet ${PREVIOUS_RELEASE} -- "images/${name}"`).status !== 0;
      if (differs || (parent !== undefined && changed.has(parent))) changed.add(name);
    }
    checkoutRelease();
    cdktf('synth');
    const images = plannedChanges('images').filter((change) => change.address.startsWith('docker_image.'));
    expect(images).toHaveLength(STANDARD_IMAGES.length);
    for (const image of images) {
      const name = /^docker_image\.Hierarchy_([a-z-]+)_Image_[0-9A-F]{8}$/.exec(image.address)?.[1] ?? image.address;
      const expected = changed.has(name) ? ['delete', 'create'] : ['no-op'];
      expect({ image: image.address, actions: [...image.change.actions].sort() }).toEqual({ image: image.address, actions: [...expected].sort() });
      expect(image.previous_address).toMatch(/^docker_image\.hierarchy_[a-z-]+_image_[0-9A-F]{8}$/);
    }
    // The apps stack reads the images' ids from the images stack's outputs, whose names follow the new
    // addresses: they exist once the images stack (moves, and the changed images) is applied, as `cdktf deploy
    // images apps` does.
    ok(
      bash('terraform apply -input=false -no-color upgrade.tfplan', {
        cwd: path.join(checkout, 'cdktf.out', 'stacks', 'images'),
        env: { TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '' },
      }),
      'terraform apply of the moves (images)',
    );
    const volumes = plannedChanges('apps').filter((change) => /^null_resource\.sample-[a-z]+_Volume_[0-9A-F]{8}$/.test(change.address));
    const volumeActions = Object.fromEntries(volumes.map((volume) => [/sample-([a-z]+)_Volume_/.exec(volume.address)![1], volume.change.actions]));
    expect(volumeActions).toEqual(Object.fromEntries(LANGUAGES.map((language) => [language, ['no-op']])));
    const after = imageIds();
    const kept = (ids: Record<string, string>) => Object.fromEntries(Object.entries(ids).filter(([name]) => !changed.has(name)));
    expect(kept(after)).toEqual(kept(before));
  });
});

describe('one cdktf deploy', () => {
  it('deploys the images and apps stacks', () => {
    const output = deployStacks();
    expect(output).toMatch(/Apply complete! Resources: \d+ added, \d+ changed, \d+ destroyed\./);
    expect(output).not.toMatch(/^\s*(\S+\s+)?Error/m);
    // Each new run container's Ready step ended once its app answered, not at Docker's first health probe.
    for (const language of LANGUAGES) expect(output).toMatch(new RegExp(`app 'sample-${language}' answers in its run container ${container(language)} \\(waited \\d+\\.\\d s\\)`));
  });

  it('built all the standard images', () => {
    expect(Object.keys(imageIds())).toHaveLength(STANDARD_IMAGES.length);
  });

  it.each(LANGUAGES.map((language) => [language]))('serves the %s sample with HTTP 200 on loopback', async (language) => {
    expect((await waitForHttp(ports[language])).status).toBe(200);
  });

  it('runs the node sample on the node major its package.json pins, not the build image default', async () => {
    expect((await httpGet(ports.node)).body).toMatch(/on node v20\./);
  });

  it('restarts a killed app and writes a crash notification to its volume', async () => {
    const before = notifications('node').length;
    const pid = ok(docker('exec', container('node'), 'supervisorctl', 'pid', 'app'), 'supervisorctl pid').trim();
    // The whole process group supervisord started: `sh -c "<scripts.start>"` runs node as a child, and a crash is node dying.
    ok(docker('exec', container('node'), 'bash', '-c', `kill -KILL -- -${pid}`), 'kill the app');
    const crash = await waitFor('a crash notification', () => notifications('node').slice(before).find((n) => n.type === 'crash'));
    expect(crash).toMatchObject({ type: 'crash', process: 'app', expected: false });
    expect(crash).toHaveProperty('Header');
    expect(crash).toHaveProperty('Payload');
    expect((await waitForHttp(ports.node)).status).toBe(200);
    // supervisord calls the app RUNNING once it has stayed up for startsecs (10 s), which may come after its first answer.
    const status = await waitFor('supervisord to report the app RUNNING', () => {
      const line = ok(docker('exec', container('node'), 'supervisorctl', 'status', 'app'), 'supervisorctl status');
      return /^app\s+RUNNING\s+pid \d+/.test(line) ? line : undefined;
    });
    expect(status).not.toContain(`pid ${pid},`);
  });

  it('a failing build leaves the running app alone: every probe answers 200 from before the deploy until it fails', async () => {
    const packageJson = path.join(checkout, 'samples', 'node', 'package.json');
    const original = fs.readFileSync(packageJson, 'utf8');
    const [pid, id] = [appPid('node'), runContainerId('node')];
    const probing = startProbing(ports.node);
    await sleep(1000);
    fs.writeFileSync(packageJson, '{ "name": "broken", ');
    const deploy = tryDeploy();
    await sleep(1000);
    const probes = await probing.stop();
    fs.writeFileSync(packageJson, original);
    expect(deploy.status).not.toBe(0);
    expect(deploy.stdout + deploy.stderr).toContain("Build of app 'sample-node' (node) failed");
    expect(probes.length).toBeGreaterThan(20);
    expect(probes.filter((probe) => probe.status !== 200)).toEqual([]);
    expect([appPid('node'), runContainerId('node')]).toEqual([pid, id]);
  });

  it('rebuilds an app when its source changes and restarts it in place: down only for its own restart', async () => {
    const before = containerIds();
    const [pid, id] = [appPid('node'), runContainerId('node')];
    const probing = startProbing(ports.node);
    // The kernel's OOM killer picks the largest process, so the app itself must be the one that allocates.
    fs.appendFileSync(
      path.join(checkout, 'samples', 'node', 'server.js'),
      "\n// Added by the e2e test: GET /allocate grows the app past its memory limit.\n" +
        "server.on('request', (req) => {\n" +
        "  if (req.url !== '/allocate') return;\n" +
        '  const chunks = [];\n' +
        '  setInterval(() => chunks.push(Buffer.alloc(64 << 20, 1)), 50);\n' +
        '});\n',
    );
    const output = deployStacks();
    expect((await waitForHttp(ports.node)).status).toBe(200);
    // Published once the new build answered, not after supervisord's startsecs (10 s).
    expect(output).toMatch(/the new build of app 'sample-node' answers \(waited \d+\.\d s\)/);
    const outage = longestOutage(await probing.stop());
    const replaced = containerIds().filter((line) => !before.includes(line)).map((line) => line.split(' ')[0]);
    expect(replaced).toEqual([expect.stringMatching(/^modulus-build-sample-node-\d{14}$/)]);
    expect(runContainerId('node')).toBe(id);
    expect(appPid('node')).not.toBe(pid);
    console.log(`source change: longest outage ${outage.ms} ms (${outage.failedProbes} failed probes, one every 100 ms)`);
    // Goal: no more than the app's own ready time (about 2 s for the samples); this shared machine is noisy.
    expect(outage.ms).toBeLessThan(5000);
  });

  it('writes an oom notification when the app allocates past its memory limit', async () => {
    const before = notifications('node').length;
    await httpGet(ports.node, '/allocate');
    const oom = await waitFor('an oom notification', () => notifications('node').slice(before).find((n) => n.type === 'oom'), 90_000);
    expect(oom).toMatchObject({ type: 'oom', process: 'app', expected: false });
    expect((await waitForHttp(ports.node)).status).toBe(200);
  });

  it('refuses writes past the volume size', () => {
    const fill = docker('exec', container('static'), 'bash', '-c', 'dd if=/dev/zero of=/mnt/tmp/fill bs=1M count=2200 2>&1; status=$?; rm -f /mnt/tmp/fill; exit $status');
    expect(fill.status).not.toBe(0);
    expect(fill.stdout).toContain('No space left on device');
  });

  it('a process bomb in one app stops at its process limit; the other apps keep answering and forking', async () => {
    const bomb = spawn('docker', ['exec', container('static'), 'python3', '-c', THREAD_BOMB], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    bomb.stdout.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => bomb.once('exit', resolve));
    const started = Number(await waitFor('the bomb to report its thread count', () => (output.includes('\n') ? output.trim() : undefined)));
    const limit = ok(bash('MODULUS_APP=sample-static bash scripts/volume/modulus-process-limit.sh status', { cwd: checkout }), 'status');
    expect(limit).toContain('enforced=512');
    expect(started).toBeGreaterThan(100);
    expect(started).toBeLessThan(512);
    for (const language of LANGUAGES.filter((other) => other !== 'static')) {
      expect({ language, status: (await httpGet(ports[language])).status }).toEqual({ language, status: 200 });
      const fork = docker('exec', container(language), 'bash', '-c', 'for i in 1 2 3 4 5; do /bin/true; done; echo forked');
      expect({ language, forked: fork.stdout.trim() }).toEqual({ language, forked: 'forked' });
    }
    await exited;
    expect((await waitForHttp(ports.static)).status).toBe(200);
  });

  it('a new build that does not start is rolled back: the previous build serves again and the deploy fails', async () => {
    const serverJs = path.join(checkout, 'samples', 'node', 'server.js');
    const working = fs.readFileSync(serverJs, 'utf8');
    const before = (await httpGet(ports.node)).body;
    fs.writeFileSync(serverJs, "throw new Error('e2e: this build refuses to start');\n" + working);
    const deploy = tryDeploy();
    fs.writeFileSync(serverJs, working);
    expect(deploy.status).not.toBe(0);
    expect(deploy.stdout + deploy.stderr).toContain("the new build of app 'sample-node' did not start");
    expect(await waitForHttp(ports.node)).toMatchObject({ status: 200, body: before });
    // The source as it was: built and published again, and the app serves it.
    deployStacks();
    expect(await waitForHttp(ports.node)).toMatchObject({ status: 200, body: before });
  });

  describe('an app that attacks the platform through its own volume', () => {
    let original: string;

    beforeAll(() => {
      original = fs.readFileSync(indexHtml, 'utf8');
    });
    afterAll(() => {
      fs.writeFileSync(indexHtml, original);
    });

    it('swapping its folders and socket for links during six deploys changes nothing outside its volume; once it stops, a deploy serves', async () => {
      const before = { canary: snapshot(canary()), node: nodeVolume(), nodePid: appPid('node') };
      const outcomes = deploysUnderAttack(6, original);
      console.log(`deploys under attack: ${outcomes.filter((outcome) => outcome === 'ok').length} of ${outcomes.length} succeeded; ${JSON.stringify(outcomes)}`);
      expect(outcomes.filter((outcome) => outcome.startsWith('unexplained'))).toEqual([]);
      expect(snapshot(canary())).toBe(before.canary);
      expect(nodeVolume()).toBe(before.node);
      expect(appPid('node')).toBe(before.nodePid);

      // The attacker stopped: its volume may be in any state it left; the next deploy repairs the layout and serves.
      undoAttack();
      fs.writeFileSync(indexHtml, `${original}\n<!-- after the attack -->\n`);
      deployStacks();
      expect(await waitForHttp(ports.static)).toMatchObject({ status: 200, body: expect.stringContaining('after the attack') });
    });

    it("replacing its home with a link to another app's home: its deploy neither writes there nor restarts that app", async () => {
      const before = { node: nodeVolume(), nodePid: appPid('node') };
      const home = path.join(mnt('static'), 'home');
      fs.renameSync(home, `${home}.real`);
      fs.symlinkSync(path.join(mnt('node'), 'home'), home);
      fs.lchownSync(home, 441, 444);
      try {
        fs.writeFileSync(indexHtml, `${original}\n<!-- moved home -->\n`);
        const run = tryDeploy();
        const served = (await httpGet(ports.static)).body;
        // Either it serves the new build, or the deploy failed saying why.
        expect(run.status === 0 ? served.includes('moved home') : /modulus-volume: error: .+|Build of app 'sample-static'/.test(run.stdout + run.stderr)).toBe(true);
        expect(nodeVolume()).toBe(before.node);
        expect(appPid('node')).toBe(before.nodePid);
      } finally {
        fs.rmSync(home, { force: true });
        fs.renameSync(`${home}.real`, home);
      }
      fs.writeFileSync(indexHtml, original);
      deployStacks();
      expect((await waitForHttp(ports.static)).status).toBe(200);
    });
  });

  it('keeps a volume and its data when its volume resources are replaced (the create step adopts it)', async () => {
    const keep = path.join(mnt('static'), 'home', 'keep.txt');
    fs.writeFileSync(keep, 'precious\n');
    const image = path.join(volumeRoot, 'sample-static', 'volume.img');
    const inode = fs.statSync(image).ino;
    // Under a retain policy: a replacement under `destroy` deletes the volume first, as that policy says.
    deployStacks({ MODULUS_VOLUME_REMOVAL: 'retain' });
    const stackDir = path.join(checkout, 'cdktf.out', 'stacks', 'apps');
    const terraform = (args: string) =>
      ok(bash(`terraform ${args} -no-color`, { cwd: stackDir, env: { TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '' } }), `terraform ${args}`);
    const steps = terraform('state list').split('\n').filter((address) => /^null_resource\.sample-static_Volume_/.test(address));
    expect(steps.map((address) => address.replace(/^null_resource\.sample-static_Volume_|_?[0-9A-F]{8}$/g, '')).sort()).toEqual(
      ['', 'Config', 'Mount'].sort(),
    );
    const apply = terraform(`apply -input=false -auto-approve ${steps.map((address) => `-replace=${address}`).join(' ')}`);
    expect(apply).toMatch(/Apply complete! Resources: \d+ added, 0 changed, \d+ destroyed\./);
    expect(fs.readFileSync(keep, 'utf8')).toBe('precious\n');
    expect(fs.statSync(image).ino).toBe(inode);
    expect((await waitForHttp(ports.static)).status).toBe(200);
    fs.rmSync(keep);
    deployStacks();
  });

  describe('a host reboot', () => {
    const stopEngine = async () => {
      bash('pkill -TERM -x dockerd');
      await waitFor('dockerd to stop', () => (bash('pgrep -x dockerd').status !== 0 ? true : undefined), 120_000);
    };
    const startEngine = () => ok(bash('bash scripts/toolchain/engine.sh', { cwd: checkout }), 'engine.sh');
    /** What a reboot loses: every mount and loop device of our volumes, and the apps' cgroups. */
    const loseVolumesAndCgroups = () => {
      for (const language of LANGUAGES) {
        ok(bash(`umount "${mnt(language)}"`), `umount ${language}`);
        expect(bash(`losetup -j "${path.join(volumeRoot, `sample-${language}`, 'volume.img')}" -O NAME -n`).stdout.trim()).toBe('');
        bash(`rmdir /sys/fs/cgroup/*/modulus/sample-${language}`);
      }
    };
    const keepFile = (language: string) => path.join(volumeRoot, `sample-${language}`, 'mnt', 'home', 'reboot.txt');

    beforeAll(async () => {
      // Stopping the engine would take down what the contract suite runs beside this one (npm run test:all).
      await holdEngineExclusively();
      for (const language of LANGUAGES) fs.writeFileSync(keepFile(language), `${language} data\n`);
    });
    // Whatever failed above: the engine runs again for the tests after these and for the teardown.
    afterEach(() => {
      if (docker('info').status !== 0) startEngine();
    });
    afterAll(() => shareEngine());

    it.each([[1], [2]])(
      'reboot %i without the boot unit: the apps refuse to start, the plan shows the drift, cdktf deploy heals it with data and process limits',
      async (reboot) => {
        await stopEngine();
        loseVolumesAndCgroups();
        startEngine();
        const line = "modulus: /mnt is not the app's volume (not mounted on the host?): refusing to start";
        for (const language of LANGUAGES) {
          const logs = await waitFor(`${language}: the refusal in its logs`, () => {
            const out = docker('logs', container(language));
            return (out.stdout + out.stderr).includes(line) ? out.stdout + out.stderr : undefined;
          });
          expect({ language, traceback: logs.includes('Traceback') }).toEqual({ language, traceback: false });
          expect({ language, files: fs.readdirSync(mnt(language)) }).toEqual({ language, files: [] });
        }
        // However many reboots come in a row: each plan shows every volume's Mount step.
        ok(bash('source scripts/toolchain/env.sh && npm run --silent plan', { cwd: checkout, env }), 'npm run plan');
        const apps = fs.readFileSync(path.join(checkout, 'plan', 'apps.md'), 'utf8');
        expect([reboot, apps.match(/`null_resource\.sample-[a-z]+_Volume_Mount_[0-9A-F]{8}`/g)?.length]).toEqual([reboot, LANGUAGES.length]);
        expect(apps).not.toContain('Data-destroying');

        deployStacks();
        for (const language of LANGUAGES) {
          expect({ language, status: (await waitForHttp(ports[language], '/', 120_000)).status }).toEqual({ language, status: 200 });
          expect(fs.readFileSync(keepFile(language), 'utf8')).toBe(`${language} data\n`);
          const limit = ok(bash(`MODULUS_APP=sample-${language} bash scripts/volume/modulus-process-limit.sh status`, { cwd: checkout }), 'status');
          expect({ language, limit: /enforced=(\S+)/.exec(limit)?.[1] }).toEqual({ language, limit: '512' });
        }
        // The limit holds again: a thread bomb stops at it.
        const bomb = docker('exec', container('static'), 'python3', '-c', THREAD_BOMB.replace('time.sleep(15)', 'time.sleep(1)'));
        expect(Number(bomb.stdout.trim())).toBeLessThan(512);
        // Healed: nothing left to do.
        const again = deployStacks();
        expect(again).not.toMatch(/Apply complete! Resources: [1-9]/);
      },
    );

    it('with the boot unit: volumes and process limits are back before the engine starts the apps', async () => {
      await stopEngine();
      loseVolumesAndCgroups();
      const unit = fs.readFileSync('/etc/systemd/system/modulus-volumes.service', 'utf8');
      expect(unit).toMatch(/^Before=docker\.service/m);
      const execStart = /^ExecStart=(.+)$/m.exec(unit)![1];
      ok(bash(execStart), 'the boot unit');
      startEngine();
      for (const language of LANGUAGES) {
        expect({ language, status: (await waitForHttp(ports[language], '/', 120_000)).status }).toEqual({ language, status: 200 });
        expect(fs.readFileSync(keepFile(language), 'utf8')).toBe(`${language} data\n`);
      }
      expect(ok(bash('MODULUS_APP=sample-static bash scripts/volume/modulus-process-limit.sh status', { cwd: checkout }), 'status')).toContain(
        'enforced=512',
      );
    });
  });

  describe('a deploy killed mid-way (SIGKILL of terraform apply, issue 21)', () => {
    const appsDir = () => path.join(checkout, 'cdktf.out', 'stacks', 'apps');
    const buildRunning = () =>
      ok(docker('ps', '--filter', 'name=^modulus-build-sample-static-', '--format', '{{.Names}}'), 'docker ps').trim() !== '';

    /** Whether the volume script runs `command` for the static sample now (a step's local-exec). */
    const stepRunning = (command: string) =>
      fs.readdirSync('/proc').some((pid) => {
        if (!/^\d+$/.test(pid)) return false;
        try {
          const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          return (
            args.some((arg) => arg.endsWith('/modulus-volume.sh')) &&
            args.includes(command) &&
            fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('MODULUS_APP=sample-static')
          );
        } catch {
          return false;
        }
      });

    /**
     * Starts `cdktf.sh deploy images apps`; once `reached()` holds, SIGKILLs the apps stack's `terraform apply` (only
     * terraform: the step it was running, a provider or a container go on as they would after the OOM killer's
     * pick). Returns the deploy's exit status and output.
     */
    async function killedDeploy(reached: () => boolean): Promise<{ status: number | null; output: string; killed: number }> {
      const child = spawn('bash', ['-c', 'scripts/toolchain/cdktf.sh deploy images apps --auto-approve --no-color'], {
        cwd: checkout,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const deadline = Date.now() + 10 * 60_000;
      while (!reached() && child.exitCode === null && Date.now() < deadline) await sleep(50);
      const pids = pidsIn(appsDir(), (args) => path.basename(args[0]) === 'terraform' && args[1] === 'apply');
      for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
      return { status: await exited, output, killed: pids.length };
    }

    const page = async () => (await waitForHttp(ports.static)).body;
    const sourcePage = path.join(checkout, 'samples', 'static', 'src', 'index.html');
    const packageJson = path.join(checkout, 'samples', 'static', 'package.json');
    let original: { page: string; packageJson: string };
    beforeAll(() => {
      original = { page: fs.readFileSync(sourcePage, 'utf8'), packageJson: fs.readFileSync(packageJson, 'utf8') };
    });
    afterAll(() => {
      fs.writeFileSync(sourcePage, original.page);
      fs.writeFileSync(packageJson, original.packageJson);
      // What the killed runs left behind of their own (provider processes): ours to end.
      killLeftoverProviders(appsDir());
      // The deployment serves the checkout's sources again, as the tests after these expect.
      deployStacks();
    });

    it.each([
      ['during a volume step (copying the source into input/)', () => stepRunning('prepare-build')],
      ['during the build (a build container outside the state keeps running)', buildRunning],
      ['during the publish step', () => stepRunning('publish')],
    ])('%s: the deploy fails naming the stack, the app keeps answering, the next deploy serves the new build', async (_, reached) => {
      const started = Date.now();
      const release = `interrupted-${started}`;
      // A changed app whose build takes a while (long enough to be killed inside it).
      fs.writeFileSync(sourcePage, original.page.replace('</body>', `<p>${release}</p></body>`));
      fs.writeFileSync(packageJson, original.packageJson.replace('"build": "node build.js"', '"build": "sleep 8 && node build.js"'));
      const before = await page();
      const probing = startProbing(ports.static);
      // Stopped whatever fails: a probe loop left running would keep jest (and the e2e lock) alive.
      let probes: Promise<Probe[]> | undefined;
      const stopProbing = () => (probes ??= probing.stop());
      try {
        await interruptAndRecover();
      } finally {
        await stopProbing();
      }
      async function interruptAndRecover(): Promise<void> {
      const killed = await killedDeploy(reached);
      expect({ killed: killed.killed, status: killed.status }).toEqual({ killed: 1, status: 1 });
      expect(killed.output).toContain("cdktf.sh: stack 'apps': terraform apply did not finish (killed by SIGKILL)");
      // Meanwhile the app serves its last good release (or, when the publish had switched, the new one).
      expect([before, expect.stringContaining(release)]).toContainEqual(await page());

      const recovered = tryDeploy();
      const outage = longestOutage(await stopProbing());
      expect({ status: recovered.status, output: recovered.status === 0 ? '' : recovered.stdout + recovered.stderr }).toEqual({ status: 0, output: '' });
      expect(await page()).toContain(release);
      // Left behind: nothing of the app's builds but the one in the state.
      const builds = ok(docker('ps', '-a', '--filter', 'name=^modulus-build-sample-static-', '--format', '{{.Names}}'), 'docker ps').trim().split('\n');
      expect(builds).toHaveLength(1);
      const plan = bash('terraform plan -input=false -no-color -lock=false -detailed-exitcode', {
        cwd: appsDir(),
        env: { TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '' },
      });
      expect({ status: plan.status, plan: plan.status === 0 ? '' : plan.stdout }).toEqual({ status: 0, plan: '' });
      console.log(`killed ${_}: longest outage ${outage.ms} ms (${outage.failedProbes} failed probes, one every 100 ms); ${Math.round((Date.now() - started) / 1000)} s`);
      // The app's own restart by the publish step, as in any deploy of a new build.
      expect(outage.ms).toBeLessThan(5000);
      }
    });

    it("during the run container's replacement, once the new container exists: the next deploy removes that container (outside the state) and serves", async () => {
      const started = Date.now();
      const tfEnv = { ...process.env, TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '' };
      const terraform = (args: string) => ok(bash(`terraform ${args} -no-color`, { cwd: appsDir(), env: tfEnv as Record<string, string> }), `terraform ${args}`);
      const address = terraform('state list').split('\n').find((line) => /^docker_container\.sample-static_Run_Container_/.test(line));
      expect(address).toBeDefined();
      const containerId = () => docker('inspect', '-f', '{{.Id}}', container('static')).stdout.trim();
      const before = containerId();
      // What a killed replacement leaves: the old container removed, a new one created under the same name that
      // Terraform never recorded (terraform dies before the provider's create returns; the provider goes on).
      const apply = spawn('terraform', ['apply', '-input=false', '-auto-approve', '-no-color', `-replace=${address}`], { cwd: appsDir(), env: tfEnv, stdio: 'ignore' });
      const exited = new Promise((resolve) => apply.on('close', resolve));
      // Polled tightly: the provider records the container within a second of creating it.
      for (const deadline = Date.now() + 120_000; [before, ''].includes(containerId()) && Date.now() < deadline; ) await sleep(20);
      apply.kill('SIGKILL');
      await exited;
      const orphan = containerId();
      expect(terraform('state pull')).not.toContain(orphan);

      const recovered = tryDeploy();
      expect({ status: recovered.status, output: recovered.status === 0 ? '' : recovered.stdout + recovered.stderr }).toEqual({ status: 0, output: '' });
      expect(recovered.stdout).toContain(`removed the run container ${container('static')} (${orphan.slice(0, 12)}) that an interrupted deploy left outside Terraform's state`);
      expect([before, orphan]).not.toContain(containerId());
      expect(terraform('state pull')).toContain(containerId());
      expect((await waitForHttp(ports.static)).status).toBe(200);
      const plan = bash('terraform plan -input=false -no-color -lock=false -detailed-exitcode', { cwd: appsDir(), env: { TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '' } });
      expect({ status: plan.status, plan: plan.status === 0 ? '' : plan.stdout }).toEqual({ status: 0, plan: '' });
      console.log(`killed during the run container's replacement: recovered in ${Math.round((Date.now() - started) / 1000)} s`);
    });
  });

  it('changes nothing on a second deploy', () => {
    const output = deployStacks();
    expect(output).not.toMatch(/Apply complete! Resources: [1-9]/);
    for (const stack of ['images', 'apps']) {
      const plan = bash('terraform plan -input=false -no-color -lock=false -detailed-exitcode', {
        cwd: path.join(checkout, 'cdktf.out', 'stacks', stack),
        env: { TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '' },
      });
      expect({ stack, status: plan.status, plan: plan.status === 0 ? '' : plan.stdout }).toEqual({ stack, status: 0, plan: '' });
    }
  });

  it('npm run plan summarizes each stack and flags a change that would replace the app volumes', () => {
    const plan = (extra: Record<string, string>) => {
      ok(bash('source scripts/toolchain/env.sh && npm run --silent plan', { cwd: checkout, env: { ...env, ...extra } }), 'npm run plan');
      return fs.readFileSync(path.join(checkout, 'plan', 'summary.md'), 'utf8');
    };
    const unchanged = plan({});
    expect(unchanged).toContain('## Plan for stack `images`');
    expect(unchanged).toContain('## Plan for stack `apps`');
    expect(unchanged.match(/No changes/g)).toHaveLength(2);
    expect(unchanged).not.toContain('Data-destroying');
    const moved = plan({ MODULUS_VOLUME_ROOT: path.join(work, 'moved-volumes') });
    expect(moved.split('\n').slice(0, 2)).toEqual([
      '> [!CAUTION]',
      `> **Data-destroying:** stack \`apps\` replaces or destroys ${LANGUAGES.length} app volume(s).`,
    ]);
    const apps = fs.readFileSync(path.join(checkout, 'plan', 'apps.md'), 'utf8');
    expect(apps.indexOf('Data-destroying')).toBeLessThan(apps.indexOf('| action | count |'));
  });

  it('rebuilds exactly the edited leaf image, and replaces only the container that runs it', () => {
    const imagesBefore = imageIds();
    const containersBefore = containerIds();
    // A label changes the image itself; a comment alone would rebuild to the same id from Docker's cache.
    fs.appendFileSync(path.join(checkout, 'images', 'run-static', 'Dockerfile'), 'LABEL org.modulus.e2e-edit="1"\n');
    const output = deployStacks();
    expect(applySummaries(output, 'images')).toEqual([expect.stringMatching(/^Apply complete! Resources: 1 added, 0 changed, 1 destroyed\./)]);
    const imagesAfter = imageIds();
    const rebuilt = Object.keys(imagesAfter).filter((name) => imagesAfter[name] !== imagesBefore[name]);
    expect(rebuilt).toEqual(['run-static']);
    const replaced = containerIds().filter((line) => !containersBefore.includes(line)).map((line) => line.split(' ')[0]);
    expect(replaced).toEqual([container('static')]);
  });

  describe('the router in front of the samples (issue 19)', () => {
    const DOMAIN = 'samples.modulus.test';
    const HTTP_PORT = 18090;
    const HTTPS_PORT = 18453;
    const KEY_MARKER = 'e2e-router-key-marker';
    const ROUTER = 'modulus-router';
    const tls = path.join(work, 'router-tls');
    /** curl through the router to sample-<language>.<domain>: status and body (0: no answer). */
    const viaRouter = (language: string, https = false) => {
      const host = `sample-${language}.${DOMAIN}`;
      const port = https ? HTTPS_PORT : HTTP_PORT;
      const run = bash(
        `curl -sS --noproxy '*' --max-time 5 -w '\\n%{http_code}' --resolve "${host}:${port}:127.0.0.1" ${https ? `--cacert "${tls}/ca.crt" https` : 'http'}://${host}:${port}/ || true`,
      );
      const lines = run.stdout.split('\n');
      return { status: Number(lines.pop()) || 0, body: lines.join('\n') };
    };
    const routerId = () => ok(docker('inspect', '-f', '{{.Id}} {{.RestartCount}}', ROUTER), 'docker inspect router').trim();
    /** The slot sample-node serves from after the five releases below. */
    let servedAfterReleases = 'green';

    beforeAll(() => {
      fs.mkdirSync(tls, { recursive: true });
      ok(
        bash(
          [
            `cd "${tls}"`,
            "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=modulus e2e test CA' -keyout ca.key -out ca.crt 2>/dev/null",
            `openssl req -newkey rsa:2048 -nodes -subj '/CN=*.${DOMAIN}' -keyout site.key -out site.csr 2>/dev/null`,
            `printf 'subjectAltName=DNS:*.${DOMAIN}\\n' > ext`,
            'openssl x509 -req -in site.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out site.crt 2>/dev/null',
          ].join('\n'),
        ),
        'openssl',
      );
      // From here on every deploy (and the destroy at the end) has the router: the settings and the sensitive
      // variables reach cdktf through the environment, as an operator's would.
      Object.assign(env, {
        MODULUS_ROUTER_DOMAIN: DOMAIN,
        MODULUS_ROUTER_HTTP_PORT: String(HTTP_PORT),
        MODULUS_ROUTER_HTTPS_PORT: String(HTTPS_PORT),
        MODULUS_ROUTER_TLS: 'on',
        TF_VAR_router_tls_certificate: fs.readFileSync(path.join(tls, 'site.crt'), 'utf8'),
        TF_VAR_router_tls_private_key: `${KEY_MARKER}\n${fs.readFileSync(path.join(tls, 'site.key'), 'utf8')}`,
      });
    });

    // Some tests below leave a changed static sample deployed for the next one: the checkout is restored at the end.
    let staticIndex = '';
    beforeAll(() => {
      staticIndex = fs.readFileSync(indexHtml, 'utf8');
    });
    afterAll(() => fs.writeFileSync(indexHtml, staticIndex));

    let deployOutput = '';
    it('one deploy adds the router image and container; every sample answers at sample-<language>.<domain>', async () => {
      deployOutput = deployStacks();
      for (const language of LANGUAGES) {
        // The app's own answer too: a sample that is down shows as such, not as a router fault. Its run container
        // was replaced beside the old one (two slots now), so it may serve from either slot's port.
        const direct = Math.max((await httpGet(ports[language])).status, (await httpGet(ports[language] + 100)).status);
        expect({ language, direct, router: viaRouter(language).status }).toEqual({ language, direct: 200, router: 200 });
      }
      expect(viaRouter('node').body).toMatch(/on node v20\./);
      expect(viaRouter('nosuchapp')).toEqual({ status: 404, body: 'no app at this host name' });
    });

    it('serves TLS with the certificate of the test CA (curl --resolve --cacert)', () => {
      for (const language of LANGUAGES) {
        expect({ language, status: viaRouter(language, true).status }).toEqual({ language, status: 200 });
      }
    });

    it('runs the router hardened like the apps, with the key in no output, log or docker inspect', () => {
      const inspect = JSON.parse(ok(docker('inspect', ROUTER), 'docker inspect'))[0];
      expect({
        user: inspect.Config.User,
        readOnly: inspect.HostConfig.ReadonlyRootfs,
        capDrop: inspect.HostConfig.CapDrop,
        capAdd: inspect.HostConfig.CapAdd,
        securityOpt: inspect.HostConfig.SecurityOpt,
        memory: inspect.HostConfig.Memory,
        swap: inspect.HostConfig.MemorySwap,
        cgroupParent: inspect.HostConfig.CgroupParent,
        tmpfs: Object.keys(inspect.HostConfig.Tmpfs ?? {}),
      }).toEqual({
        user: '441:444',
        readOnly: true,
        capDrop: ['ALL'],
        capAdd: null,
        securityOpt: ['no-new-privileges:true'],
        memory: 128 << 20,
        swap: 128 << 20,
        cgroupParent: '/modulus/modulus-router',
        tmpfs: ['/run/modulus-router'],
      });
      const status = ok(docker('exec', ROUTER, 'sh', '-c', '{ grep -h -E "^(Uid|CapEff|NoNewPrivs):" /proc/[0-9]*/status 2>/dev/null || true; } | sort -u'), 'process status');
      expect(status.trim().split('\n')).toEqual(['CapEff:\t0000000000000000', 'NoNewPrivs:\t1', 'Uid:\t441\t441\t441\t441']);
      const limit = ok(bash('MODULUS_APP=modulus-router bash scripts/volume/modulus-process-limit.sh status', { cwd: checkout }), 'process limit');
      expect(limit).toContain('enforced=128');
      const everything = [JSON.stringify(inspect), deployOutput, ok(docker('logs', ROUTER), 'logs') + docker('logs', ROUTER).stderr];
      for (const file of ['cdktf.out/stacks/apps/cdk.tf.json', 'terraform.apps.tfstate']) {
        if (fs.existsSync(path.join(checkout, file))) everything.push(fs.readFileSync(path.join(checkout, file), 'utf8'));
      }
      for (const text of everything) {
        expect(text).not.toContain(KEY_MARKER);
        expect(text).not.toContain('PRIVATE KEY');
      }
    });

    it('maintenance on and off for one app: 503 with its message, no failed request for the others, the router never restarted', async () => {
      const before = routerId();
      const probing = ['node', 'java', 'php'].map((language) => ({ language, probes: startProbing(HTTP_PORT, 100, `sample-${language}.${DOMAIN}`) }));
      await sleep(1000);
      deployStacks({ MODULUS_ROUTER_MAINTENANCE: JSON.stringify({ 'sample-static': 'Back at 10:00, sorry!' }) });
      const during = viaRouter('static');
      const duringTls = viaRouter('static', true);
      deployStacks();
      const after = viaRouter('static');
      await sleep(1000);
      const probes = await Promise.all(probing.map(async ({ language, probes }) => ({ language, probes: await probes.stop() })));
      expect(during).toEqual({ status: 503, body: 'Back at 10:00, sorry!' });
      expect(duringTls).toEqual({ status: 503, body: 'Back at 10:00, sorry!' });
      expect(after.status).toBe(200);
      for (const { language, probes: list } of probes) {
        console.log(`router: sample-${language}, ${list.length} probes every 100 ms across two route changes, ${list.filter((probe) => probe.status !== 200).length} failed`);
        expect(list.length).toBeGreaterThan(20);
        expect({ language, failed: list.filter((probe) => probe.status !== 200) }).toEqual({ language, failed: [] });
      }
      expect(routerId()).toBe(before);
    });

    it('a restarted router (a crash, an engine restart, a reboot) serves every sample over HTTP and HTTPS again without a deploy', async () => {
      ok(docker('restart', '--time', '5', ROUTER), 'docker restart router');
      const answers = await waitFor('the router answering for every sample after its restart', () => {
        const all = LANGUAGES.map((language) => ({ language, http: viaRouter(language).status, https: viaRouter(language, true).status }));
        return all.every((answer) => answer.http === 200 && answer.https === 200) ? all : undefined;
      }, 30_000);
      expect(answers).toHaveLength(LANGUAGES.length);
    });

    /**
     * A deploy killed while it replaces `name` beside the serving container: `terraform apply -replace` of the
     * Handover step whose address matches `handover`, SIGKILLed once Docker has the new container under the name
     * (the old one renamed, still serving; Terraform never recorded the new one). `whileKilled` checks the state in
     * between; then the next deploy recovers. Probes `host` through the router throughout (at least 5 s of them):
     * none may fail. Returns the recovering deploy's output and the ids.
     */
    async function killedReplacement(
      name: string,
      handover: RegExp,
      host: string,
      whileKilled: () => void = () => undefined,
    ): Promise<{ before: string; orphan: string; output: string }> {
      const started = Date.now();
      const appsDir = path.join(checkout, 'cdktf.out', 'stacks', 'apps');
      // The router's settings and sensitive variables (TLS) are in the deploys' environment.
      const tfEnv = { ...process.env, ...env, TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '' } as Record<string, string>;
      const terraform = (args: string) => ok(bash(`terraform ${args} -no-color`, { cwd: appsDir, env: tfEnv }), `terraform ${args}`);
      const address = terraform('state list').split('\n').find((line) => handover.test(line));
      expect(address).toBeDefined();
      const containerId = () => docker('inspect', '-f', '{{.Id}}', name).stdout.trim();
      const before = containerId();
      const probing = startProbing(HTTP_PORT, 100, host);
      let probes: Probe[] | undefined;
      const stopProbing = async () => (probes ??= await probing.stop());
      let orphan = '';
      let output = '';
      try {
        const apply = spawn('terraform', ['apply', '-input=false', '-auto-approve', '-no-color', `-replace=${address}`], { cwd: appsDir, env: tfEnv, stdio: 'ignore' });
        const exited = new Promise((resolve) => apply.on('close', resolve));
        for (const deadline = Date.now() + 120_000; [before, ''].includes(containerId()) && Date.now() < deadline; ) await sleep(20);
        apply.kill('SIGKILL');
        await exited;
        orphan = containerId();
        expect([before, '']).not.toContain(orphan);
        expect(terraform('state pull')).not.toContain(orphan);
        expect(docker('inspect', '-f', '{{.Name}} {{.State.Status}}', before).stdout.trim()).toBe(`/${name}-${before.slice(0, 12)} running`);
        whileKilled();

        const recovered = tryDeploy();
        expect({ status: recovered.status, output: recovered.status === 0 ? '' : recovered.stdout + recovered.stderr }).toEqual({ status: 0, output: '' });
        output = recovered.stdout;
        await sleep(1000);
      } finally {
        await stopProbing();
        // The killed apply's providers, which outlived it (as they would an OOM kill), until here.
        killLeftoverProviders(appsDir);
      }
      expect([before, orphan, '']).not.toContain(containerId());
      expect(docker('inspect', before).status).not.toBe(0);
      expect(terraform('state pull')).toContain(containerId());
      const plan = bash('terraform plan -input=false -no-color -lock=false -detailed-exitcode', { cwd: appsDir, env: tfEnv });
      expect({ status: plan.status, plan: plan.status === 0 ? '' : plan.stdout }).toEqual({ status: 0, plan: '' });
      const failed = probes!.filter((probe) => probe.status !== 200);
      console.log(`killed during the replacement of ${name}: ${probes!.length} probes of ${host} through the router every 100 ms, ${failed.length} failed; recovered in ${Math.round((Date.now() - started) / 1000)} s`);
      expect(probes!.length).toBeGreaterThan(50);
      expect(failed).toEqual([]);
      return { before, orphan, output };
    }

    it("killed during the router's replacement, once the new router container exists: every sample answers through the old one, the next deploy takes over", async () => {
      const everySampleAnswers = () => {
        for (const language of LANGUAGES) expect({ language, router: viaRouter(language).status }).toEqual({ language, router: 200 });
      };
      const { before, orphan, output } = await killedReplacement(ROUTER, /^null_resource\.router_Handover_/, `sample-node.${DOMAIN}`, everySampleAnswers);
      expect(output).toContain(`removed the router container ${ROUTER} (${orphan.slice(0, 12)}) that an interrupted deploy left outside Terraform's state`);
      expect(output).toContain(`stopped router container ${before.slice(0, 12)} of ${DOMAIN}: ${ROUTER} (${routerId().split(' ')[0].slice(0, 12)}) took its listening sockets over`);
      everySampleAnswers();
    });

    it("killed during a run container's replacement behind the router: the old container serves every request, the next deploy takes over", async () => {
      const { orphan, output } = await killedReplacement(container('static'), /^null_resource\.sample-static_Run_Handover_/, `sample-static.${DOMAIN}`);
      expect(output).toContain(`removed the run container ${container('static')} (${orphan.slice(0, 12)}) that an interrupted deploy left outside Terraform's state`);
      expect(output).toMatch(/the run container modulus-app-sample-static of app 'sample-static' serves in its (blue|green) slot/);
    });

    it('five releases of a changed node app through the router: each serves once deployed, no request fails for it or the others', async () => {
      const serverJs = path.join(checkout, 'samples', 'node', 'server.js');
      const original = fs.readFileSync(serverJs, 'utf8');
      const probing = LANGUAGES.map((language) => ({ language, probes: startProbing(HTTP_PORT, 100, `sample-${language}.${DOMAIN}`) }));
      let stopped: Promise<{ language: string; probes: Probe[] }[]> | undefined;
      const stopProbing = () => (stopped ??= Promise.all(probing.map(async ({ language, probes }) => ({ language, probes: await probes.stop() }))));
      const served: string[] = [];
      const slots: string[] = [];
      const servingBefore = /^app-green\s+RUNNING/m.test(docker('exec', container('node'), 'supervisorctl', 'status').stdout) ? 'green' : 'blue';
      try {
        await sleep(1000);
        for (let release = 1; release <= 5; release++) {
          // The fifth release is the source as checked out again.
          fs.writeFileSync(serverJs, release === 5 ? original : original.replace('modulus sample node app on', `modulus sample node app (release ${release}) on`));
          const started = Date.now();
          deployStacks();
          console.log(`router: release ${release} of sample-node deployed in ${Math.round((Date.now() - started) / 1000)} s`);
          served.push(viaRouter('node').body);
          // "app-blue RUNNING app-green STOPPED": each program's name and state.
          // (supervisorctl's exit status is 3 while a program is stopped.)
          const status = docker('exec', container('node'), 'supervisorctl', 'status').stdout;
          // A slot counts as started 10 s after it started (startsecs): STARTING is running too.
          slots.push([...status.matchAll(/^(app-(?:blue|green))\s+([A-Z]+)/gm)].map((match) => `${match[1]} ${match[2].replace('STARTING', 'RUNNING')}`).join(' '));
        }
        await sleep(1000);
      } finally {
        fs.writeFileSync(serverJs, original);
        await stopProbing();
      }
      expect(served).toEqual([
        ...[1, 2, 3, 4].map((release) => expect.stringMatching(new RegExp(`^modulus sample node app \\(release ${release}\\) on node v20\\.`))),
        expect.stringMatching(/^modulus sample node app on node v20\./),
      ]);
      // Each release in the other slot; the one it replaced stopped.
      const alternating = [1, 2, 3, 4, 5].map((release) => (release % 2 === 1) === (servingBefore === 'blue') ? 'green' : 'blue');
      expect(slots).toEqual(alternating.map((slot) => (slot === 'green' ? 'app-blue STOPPED app-green RUNNING' : 'app-blue RUNNING app-green STOPPED')));
      servedAfterReleases = alternating[4];
      for (const { language, probes } of await stopProbing()) {
        console.log(`router: sample-${language}, ${probes.length} probes every 100 ms across five releases of sample-node, ${probes.filter((probe) => probe.status !== 200).length} failed`);
        expect(probes.length).toBeGreaterThan(50);
        expect({ language, failed: probes.filter((probe) => probe.status !== 200) }).toEqual({ language, failed: [] });
      }
    });

    it('a restarted run container starts the slot that serves (the fifth release\'s), and the router finds it', async () => {
      const [serving, idle] = servedAfterReleases === 'green' ? ['green', 'blue'] : ['blue', 'green'];
      ok(docker('restart', '--time', '10', container('node')), 'docker restart');
      const status = await waitFor(`sample-node serving from its ${serving} slot after a restart`, () => {
        const line = docker('exec', container('node'), 'supervisorctl', 'status').stdout;
        return new RegExp(`^app-${serving}\\s+RUNNING`, 'm').test(line) && viaRouter('node').status === 200 ? line : undefined;
      }, 60_000);
      expect(status).toMatch(new RegExp(`^app-${idle}\\s+STOPPED`, 'm'));
    });

    it('a release that fails its health check never takes a request: the deploy fails with its log lines, the old release serves on', async () => {
      const serverJs = path.join(checkout, 'samples', 'node', 'server.js');
      const original = fs.readFileSync(serverJs, 'utf8');
      const before = viaRouter('node').body;
      const probing = startProbing(HTTP_PORT, 100, `sample-node.${DOMAIN}`);
      let probes: Probe[] = [];
      let deploy: ReturnType<typeof tryDeploy>;
      try {
        // Listens, but answers 500: started, never healthy.
        fs.writeFileSync(
          serverJs,
          "console.log('e2e: an unhealthy release');\n" +
            "require('http').createServer((req, res) => { res.statusCode = 500; res.end('unhealthy\\n'); }).listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');\n" +
            'return;\n' +
            original,
        );
        deploy = tryDeploy();
      } finally {
        fs.writeFileSync(serverJs, original);
        probes = await probing.stop();
      }
      const output = deploy.stdout + deploy.stderr;
      expect(deploy.status).not.toBe(0);
      expect(output).toMatch(/the new release of app 'sample-node' did not pass its health check within 20 s \(GET \/ on port 18[01]80 answered 500, expected 200\)/);
      expect(output).toContain('e2e: an unhealthy release');
      expect(output).toMatch(/app\/ is back on release [0-9a-f]+, which goes on serving/);
      expect(viaRouter('node').body).toBe(before);
      console.log(`router: sample-node, ${probes.length} probes every 100 ms while a release failed its health check, ${probes.filter((probe) => probe.status !== 200).length} failed`);
      expect(probes.length).toBeGreaterThan(50);
      expect(probes.filter((probe) => probe.status !== 200)).toEqual([]);
      // The source as checked out: released again, and it serves.
      deployStacks();
      expect(viaRouter('node').body).toBe(before);
    });

    it("an app answering on another app's idle slot port (host networking) never takes that app's requests: the release fails naming the port's holder", async () => {
      const serverJs = path.join(checkout, 'samples', 'node', 'server.js');
      const original = fs.readFileSync(serverJs, 'utf8');
      const before = viaRouter('node').body;
      // A slot counts as started 10 s after it started (startsecs): STARTING is running too.
      const idle = /^app-blue\s+(RUNNING|STARTING)/m.test(docker('exec', container('node'), 'supervisorctl', 'status').stdout) ? 'green' : 'blue';
      // The samples' standby slot listens 100 ports above the app's port.
      const idlePort = ports.node + (idle === 'green' ? 100 : 0);
      // As mop in the php app's own run container: a server on sample-node's idle port that answers 200.
      ok(docker('exec', container('php'), 'sh', '-c', 'mkdir -p /mnt/tmp/impostor && echo "the php app, posing as sample-node" > /mnt/tmp/impostor/index.html'), 'impostor page');
      // -n: no php.ini, so no opcache, whose lock file would need a writable /tmp.
      ok(docker('exec', '-d', container('php'), 'php', '-n', '-S', `127.0.0.1:${idlePort}`, '-t', '/mnt/tmp/impostor'), 'impostor');
      await waitFor('the impostor answering', () => (bash(`curl -s --noproxy '*' http://127.0.0.1:${idlePort}/`).stdout.includes('posing') ? true : undefined), 10_000);
      const probing = startProbing(HTTP_PORT, 100, `sample-node.${DOMAIN}`);
      const bodies = spawn('bash', ['-c', `while :; do curl -s --noproxy '*' --max-time 1 --resolve "sample-node.${DOMAIN}:${HTTP_PORT}:127.0.0.1" "http://sample-node.${DOMAIN}:${HTTP_PORT}/"; echo; sleep 0.1; done`]);
      let seen = '';
      bodies.stdout.on('data', (chunk) => (seen += chunk));
      let deploy: ReturnType<typeof tryDeploy>;
      let probes: Probe[] = [];
      try {
        fs.writeFileSync(serverJs, original.replace('modulus sample node app on', 'modulus sample node app (beside an impostor) on'));
        deploy = tryDeploy();
        await sleep(1000);
      } finally {
        fs.writeFileSync(serverJs, original);
        probes = await probing.stop();
        bodies.kill('SIGKILL');
        docker('exec', container('php'), 'pkill', '-KILL', '-f', 'php -n -S');
      }
      const output = deploy.stdout + deploy.stderr;
      expect(deploy.status).not.toBe(0);
      expect(output).toContain(`port ${idlePort} of the ${idle} slot of app 'sample-node' is held by a process outside its run container`);
      expect(output).toMatch(/app\/ is back on release [0-9a-f]+, which goes on serving/);
      console.log(`router: sample-node, ${probes.length} probes every 100 ms while the php app answered on its idle slot's port, ${probes.filter((probe) => probe.status !== 200).length} failed`);
      expect(seen).toContain(before.trim());
      expect(seen).not.toContain('posing as sample-node');
      expect(probes.filter((probe) => probe.status !== 200)).toEqual([]);
      expect(viaRouter('node').body).toBe(before);
      // The impostor gone, the next deploy releases the source as checked out.
      deployStacks();
      expect(viaRouter('node')).toEqual({ status: 200, body: before });
    });

    it('swapping its folders and socket for links while its releases go through the slots: nothing outside its volume changes, no other app loses a request', async () => {
      const original = fs.readFileSync(indexHtml, 'utf8');
      const programs = () => ok(docker('exec', container('node'), 'supervisorctl', 'pid', 'all'), 'supervisorctl pid all').trim();
      const before = { canary: snapshot(canary()), node: nodeVolume(), programs: programs(), served: viaRouter('node').body };
      const probing = ['node', 'java', 'php'].map((language) => ({ language, probes: startProbing(HTTP_PORT, 100, `sample-${language}.${DOMAIN}`) }));
      let outcomes: string[] = [];
      try {
        outcomes = deploysUnderAttack(3, original);
      } finally {
        fs.writeFileSync(indexHtml, original);
      }
      const probes = await Promise.all(probing.map(async ({ language, probes: list }) => ({ language, probes: await list.stop() })));
      console.log(`deploys under attack behind the router: ${outcomes.filter((outcome) => outcome === 'ok').length} of 3 succeeded; ${JSON.stringify(outcomes)}`);
      expect(outcomes.filter((outcome) => outcome.startsWith('unexplained'))).toEqual([]);
      expect(snapshot(canary())).toBe(before.canary);
      expect(nodeVolume()).toBe(before.node);
      expect(programs()).toBe(before.programs);
      expect(viaRouter('node').body).toBe(before.served);
      for (const { language, probes: list } of probes) {
        expect({ language, failed: list.filter((probe) => probe.status !== 200) }).toEqual({ language, failed: [] });
      }
      // Stays deployed (and checked out) until the end of this describe block: the next test plans against it.
      undoAttack();
      fs.writeFileSync(indexHtml, `${original}\n<!-- after the attack behind the router -->\n`);
      deployStacks();
      const served = await waitFor('sample-static serving through the router after the attack', () => {
        const answer = viaRouter('static');
        return answer.status === 200 ? answer : undefined;
      }, 20_000).catch((error) => {
        // What the router and supervisord saw, for the failure's report.
        const slots = ['blue', 'green'].map((slot) => `${slot}: ${docker('exec', ROUTER, 'modulus-router-server', 'show', 'app-sample-static', slot).stdout.trim()}`);
        const status = docker('exec', container('static'), 'supervisorctl', 'status').stdout;
        throw new Error(`${(error as Error).message}; router ${slots.join(', ')}; supervisord:\n${status}served-slot: ${fs.readFileSync(path.join(volumeRoot, 'sample-static', 'served-slot'), 'utf8')}`);
      });
      expect(served.body).toContain('after the attack behind the router');
    });

    it('a redeploy with the router plans nothing', () => {
      for (const stack of ['images', 'apps']) {
        const plan = bash('terraform plan -input=false -no-color -lock=false -detailed-exitcode', {
          cwd: path.join(checkout, 'cdktf.out', 'stacks', stack),
          env: {
            TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? '',
            TF_VAR_router_tls_certificate: env.TF_VAR_router_tls_certificate,
            TF_VAR_router_tls_private_key: env.TF_VAR_router_tls_private_key,
          },
        });
        expect({ stack, status: plan.status, plan: plan.status === 0 ? '' : plan.stdout }).toEqual({ stack, status: 0, plan: '' });
      }
    });
  });

  it('destroy leaves no container of ours and removes images and volumes per their policies', () => {
    cdktf('destroy apps images --auto-approve');
    const ours = ok(docker('ps', '-a', '--filter', OUR_CONTAINERS, '--format', '{{.Names}}'), 'docker ps');
    expect(ours.trim()).toBe('');
    expect(docker('container', 'inspect', 'modulus-router').status).not.toBe(0);
    for (const { name } of STANDARD_IMAGES) {
      expect({ name, present: docker('image', 'inspect', `${PREFIX}${name}:latest`).status === 0 }).toEqual({ name, present: false });
    }
    for (const language of LANGUAGES) {
      const mounted = bash(`findmnt --noheadings "${mnt(language)}"`).status === 0;
      expect({ language, mounted, image: fs.existsSync(path.join(volumeRoot, `sample-${language}`, 'volume.img')) }).toEqual({
        language,
        mounted: false,
        image: false,
      });
    }
  });
});
