import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LANGUAGES, STANDARD_IMAGES } from '../../lib/standard-images';
import { copyCheckout } from '../unit/support/checkout';
import { httpGet, waitForHttp } from '../contract/support/run';
import { bash, docker, ok, waitFor } from './support/shell';

/**
 * The mission: one `cdktf deploy` builds every image and starts the four sample apps, on a real engine with real
 * Terraform, volumes and supervisord. Runs in a copy of this checkout (its own state, cdktf.out and volumes).
 * Needs scripts/toolchain/setup.sh to have run.
 */
jest.setTimeout(45 * 60_000);

const FIRST_PORT = 18080;
const ports = Object.fromEntries(LANGUAGES.map((language, index) => [language, FIRST_PORT + index]));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-apps-'));
const checkout = path.join(work, 'checkout');
const volumeRoot = path.join(work, 'volumes');
// Its own repository prefix: deploying and destroying its images must not retag or untag the ones the contract
// tests built and run.
const PREFIX = 'modulus-e2e/';
const env = {
  MODULUS_REPOSITORY_PREFIX: PREFIX,
  MODULUS_ROOT_IMAGE: process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm',
  MODULUS_NETWORK_MODE: 'host',
  MODULUS_VOLUME_ROOT: volumeRoot,
  MODULUS_VOLUME_REMOVAL: 'destroy',
};
const cdktf = (args: string) =>
  ok(bash(`scripts/toolchain/cdktf.sh ${args} --no-color`, { cwd: checkout, env }), `cdktf ${args}`);
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
const notifications = (language: string) =>
  fs
    .readdirSync(path.join(mnt(language), 'notifications'))
    .filter((file) => file.endsWith('.json'))
    .map((file) => JSON.parse(fs.readFileSync(path.join(mnt(language), 'notifications', file), 'utf8')));

beforeAll(() => {
  copyCheckout(checkout);
});

afterAll(() => {
  // Whatever failed above: take down what this test deployed, then its folder.
  bash('scripts/toolchain/cdktf.sh destroy apps images --auto-approve --no-color', { cwd: checkout, env });
  for (const language of LANGUAGES) {
    bash(`MODULUS_APP=sample-${language} MODULUS_ROOT="$ROOT/sample-${language}" MODULUS_REMOVAL_POLICY=destroy bash scripts/volume/modulus-volume.sh set-policy && MODULUS_APP=sample-${language} MODULUS_ROOT="$ROOT/sample-${language}" bash scripts/volume/modulus-volume.sh destroy`, {
      cwd: checkout,
      env: { ROOT: volumeRoot },
    });
  }
  fs.rmSync(work, { recursive: true, force: true });
});

describe('one cdktf deploy', () => {
  it('deploys the images and apps stacks', () => {
    const output = cdktf('deploy images apps --auto-approve');
    expect(output).toMatch(/images\s+Apply complete!/);
    expect(output).toMatch(/apps\s+Apply complete!/);
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
    // The whole process group supervisord started: `npm start` runs node as a child, and a crash is node dying.
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

  it('rebuilds and restarts an app when its source changes', async () => {
    const before = containerIds();
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
    cdktf('deploy images apps --auto-approve');
    const replaced = containerIds().filter((line) => !before.includes(line)).map((line) => line.split(' ')[0]);
    expect(replaced.sort()).toEqual([`modulus-build-sample-node`, container('node')].sort());
    expect((await waitForHttp(ports.node)).status).toBe(200);
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

  it('changes nothing on a second deploy', () => {
    const output = cdktf('deploy images apps --auto-approve');
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
    const output = cdktf('deploy images apps --auto-approve');
    expect(output).toMatch(/images\s+Apply complete! Resources: 1 added, 0 changed, 1 destroyed\./);
    const imagesAfter = imageIds();
    const rebuilt = Object.keys(imagesAfter).filter((name) => imagesAfter[name] !== imagesBefore[name]);
    expect(rebuilt).toEqual(['run-static']);
    const replaced = containerIds().filter((line) => !containersBefore.includes(line)).map((line) => line.split(' ')[0]);
    expect(replaced).toEqual([container('static')]);
  });

  it('destroy leaves no container of ours and removes images and volumes per their policies', () => {
    cdktf('destroy apps images --auto-approve');
    const ours = ok(docker('ps', '-a', '--filter', OUR_CONTAINERS, '--format', '{{.Names}}'), 'docker ps');
    expect(ours.trim()).toBe('');
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
