import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_ROOT_IMAGE } from '../../lib/image-hierarchy';
import { LANGUAGES } from '../../lib/standard-images';
import { copyCheckout, REPO_ROOT } from '../../harness/checkout';
import { waitForHttp } from '../contract/support/run';
import { holdEngineExclusively } from '../../harness/engine-lock';
import { bash, docker, ok, Run } from '../../harness/shell';

/**
 * The README's quick start on the suite's engine: `npm run deploy` in a clean checkout, from a shell with no
 * MODULUS_* setting and without the toolchain's environment (env.sh), brings up the four samples; a second
 * `npm run deploy` changes nothing and says so; `npm run destroy` leaves no container. With the default settings,
 * so the images are the real modulus/* names (their builds come from the engine's build cache when the contract
 * suite built them before) and the volumes are in /var/lib/modulus/volumes. Needs scripts/toolchain/setup.sh to
 * have run; run under the engine's lock like every e2e test.
 */
jest.setTimeout(40 * 60_000);

// Beside this checkout, as a clone would be: the toolchain finds the providers' source archives in
// ../shared/provider-sources from the project root.
const checkout = fs.mkdtempSync(path.join(path.dirname(REPO_ROOT), 'modulus-e2e-quickstart-'));
const VOLUME_ROOT = '/var/lib/modulus/volumes';
const OUR_CONTAINERS = 'name=^modulus-(app|build)-sample-';
const TOOLCHAIN_ENV = ['TF_CLI_CONFIG_FILE', 'TF_PLUGIN_CACHE_DIR', 'TERRAFORM_BINARY_NAME', 'CHECKPOINT_DISABLE', 'DISABLE_VERSION_CHECK'];
/** Where the suite's toolchain and provider archives are when not at their defaults (CI: the defaults, so none). */
const TOOLCHAIN_LOCATIONS = ['MODULUS_TOOLCHAIN_CACHE', 'MODULUS_PROVIDER_SOURCES'];
const DEFAULT_CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME ?? '/root', '.cache'), 'modulus-images', 'toolchain');

/** A user's shell: no MODULUS_* setting, no toolchain environment, no toolchain Terraform on PATH. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('MODULUS_') || TOOLCHAIN_ENV.includes(name) || name.startsWith('npm_')) continue;
    env[name] = value;
  }
  env.PATH = (process.env.PATH ?? '').split(':').filter((dir) => !dir.includes('/modulus-images/toolchain/')).join(':');
  for (const name of TOOLCHAIN_LOCATIONS) {
    const value = process.env[name];
    if (value && !(name === 'MODULUS_TOOLCHAIN_CACHE' && path.resolve(value) === DEFAULT_CACHE)) env[name] = value;
  }
  return env;
}

function npmRun(script: string): Run & { seconds: number } {
  const started = Date.now();
  const result = spawnSync('npm', ['run', script], { cwd: checkout, env: userEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`npm run ${script}: ${seconds}s\n${result.stdout}${result.stderr}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, seconds };
}

const ours = () => ok(docker('ps', '-a', '--filter', OUR_CONTAINERS, '--format', '{{.Names}} {{.ID}}'), 'docker ps').trim();
const existingVolumes = () => (fs.existsSync(VOLUME_ROOT) ? fs.readdirSync(VOLUME_ROOT).filter((name) => name.startsWith('sample-')) : []);
const createdFolders = ['/var/lib/modulus', VOLUME_ROOT].filter((dir) => !fs.existsSync(dir));

beforeAll(async () => {
  // The default names are the contract suite's images too (npm run test:all runs it beside this one): deploying
  // retags them, and npm run destroy removes them.
  await holdEngineExclusively();
  // Default settings mean the default names: refuse to adopt, and then remove, a deployment that is not ours.
  const present = [ours(), ...existingVolumes().map((name) => path.join(VOLUME_ROOT, name))].filter(Boolean);
  if (present.length > 0) {
    throw new Error(
      `a deployment with the default settings is already on this engine (${present.join(', ')}): this test deploys and ` +
        'destroys one with the default settings; take it down first (npm run destroy in its checkout)',
    );
  }
  copyCheckout(checkout);
});

afterAll(() => {
  // Whatever failed above: take down what this test deployed, its retained volumes, then its folders.
  if (fs.existsSync(path.join(checkout, 'cdktf.out'))) {
    if (ours()) npmRun('destroy');
    for (const app of existingVolumes()) {
      bash(
        `MODULUS_APP=${app} MODULUS_ROOT="$ROOT/${app}" MODULUS_REMOVAL_POLICY=destroy bash scripts/volume/modulus-volume.sh set-policy && ` +
          `MODULUS_APP=${app} MODULUS_ROOT="$ROOT/${app}" bash scripts/volume/modulus-volume.sh destroy`,
        { cwd: checkout, env: { ROOT: VOLUME_ROOT } },
      );
    }
  }
  for (const dir of [...createdFolders].reverse()) if (fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  fs.rmSync(checkout, { recursive: true, force: true });
});

describe('npm run deploy, again, a failing build, then npm run destroy (the quick start)', () => {
  const ports = Object.fromEntries(LANGUAGES.map((language, index) => [language, 18080 + index]));
  let containersAfterDeploy = '';

  it('npm run deploy says what it chose, one line per phase with its time, and a table of the samples answering', async () => {
    const expectedNetwork = docker('network', 'inspect', 'bridge').status === 0 ? 'bridge' : 'host';
    const expectedRoot = docker('image', 'inspect', DEFAULT_ROOT_IMAGE).status === 0 ? DEFAULT_ROOT_IMAGE : 'modulus/root:bookworm';
    const run = npmRun('deploy');
    expect({ status: run.status, output: run.status === 0 ? '' : run.stdout + run.stderr }).toEqual({ status: 0, output: '' });
    const lines = run.stdout.split('\n');
    expect(lines.filter((line) => line.startsWith('[deploy] network: '))).toEqual([expect.stringMatching(new RegExp(`^\\[deploy\\] network: ${expectedNetwork} \\(`))]);
    expect(lines.filter((line) => line.startsWith('[deploy] root image: '))).toEqual([expect.stringMatching(new RegExp(`^\\[deploy\\] root image: ${expectedRoot} \\(`))]);
    for (const phase of ['toolchain', 'images', 'volumes', 'builds', 'apps']) {
      expect({ phase, lines: lines.filter((line) => new RegExp(`^\\[deploy\\] ${phase} +(\\d+s|\\d+m\\d\\ds) +\\S`).test(line)).length }).toEqual({ phase, lines: 1 });
    }
    // A deploy from nothing creates in every phase.
    for (const phase of ['images', 'volumes', 'builds', 'apps']) expect(run.stdout).toMatch(new RegExp(`^\\[deploy\\] ${phase} .* \\d+ created$`, 'm'));
    expect(run.stdout).toMatch(/^\[deploy\] done in \S+$/m);
    for (const language of LANGUAGES) {
      expect(run.stdout).toMatch(new RegExp(`^sample-${language} +http://127\\.0\\.0\\.1:${ports[language]}/ +200 OK$`, 'm'));
      expect({ language, status: (await waitForHttp(ports[language])).status }).toEqual({ language, status: 200 });
      const mode = ok(docker('inspect', '-f', '{{.HostConfig.NetworkMode}}', `modulus-app-sample-${language}`), 'docker inspect').trim();
      expect({ language, mode }).toEqual({ language, mode: expectedNetwork });
    }
    // The chosen root image is the one the tree is built FROM.
    const images = fs.readFileSync(path.join(checkout, 'cdktf.out', 'stacks', 'images', 'cdk.tf.json'), 'utf8');
    expect(images).toContain(`"BASE_IMAGE": "${expectedRoot}"`);
    containersAfterDeploy = ours();
    expect(containersAfterDeploy.split('\n')).toHaveLength(2 * LANGUAGES.length);
  });

  it('npm run deploy again changes nothing and says so', async () => {
    const run = npmRun('deploy');
    expect({ status: run.status, output: run.status === 0 ? '' : run.stdout + run.stderr }).toEqual({ status: 0, output: '' });
    for (const phase of ['images', 'volumes', 'builds', 'apps']) expect(run.stdout).toMatch(new RegExp(`^\\[deploy\\] ${phase} +- +unchanged$`, 'm'));
    expect(run.stdout).toContain('[deploy] no changes: the images and the apps are as deployed (nothing built, replaced or restarted)');
    expect(ours()).toBe(containersAfterDeploy);
    for (const language of LANGUAGES) expect(run.stdout).toMatch(new RegExp(`^sample-${language} +http://127\\.0\\.0\\.1:${ports[language]}/ +200 OK$`, 'm'));
  });

  it("a failed build: npm run deploy names the phase and the resource, prints the build's last log lines, exits 1", () => {
    const packageJson = path.join(checkout, 'samples', 'node', 'package.json');
    const original = fs.readFileSync(packageJson, 'utf8');
    fs.writeFileSync(packageJson, '{ "name": "broken", ');
    let run: Run;
    try {
      run = npmRun('deploy');
    } finally {
      fs.writeFileSync(packageJson, original);
    }
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^\[deploy\] builds +\S+ +FAILED: docker_container\.sample-node_Build_Container_[0-9A-F]{8}$/m);
    expect(run.stdout).toMatch(/^\[deploy\] FAILED after \S+: cdktf deploy exited 1$/m);
    expect(run.stdout).toContain("Build of app 'sample-node' (node) failed with exit status 1. Last log lines:");
    // The build's own lines, as it wrote them (no stream headers of the engine's log format in front).
    expect(run.stdout).toMatch(/^\[build\] FAILED with status 1 after \d+s$/m);
    expect(run.stdout).not.toMatch(/[\x00-\x08]/);
    expect(run.stdout).toContain("cdktf.sh: stack 'apps': terraform apply failed (exit status 1)");
    expect(run.stdout).toContain('[deploy] full output: cdktf.out/deploy.log');
  });

  it('npm run destroy leaves no container and says which volumes it kept', () => {
    const run = npmRun('destroy');
    expect({ status: run.status, output: run.status === 0 ? '' : run.stdout + run.stderr }).toEqual({ status: 0, output: '' });
    expect(ours()).toBe('');
    expect(run.stdout).toContain(`[destroy] done in`);
    expect(run.stdout).toContain(`no container of the ${LANGUAGES.length} samples left`);
    // The default removal policy is retain.
    expect(run.stdout).toContain(`[destroy] volumes kept (their removal policy is retain; MODULUS_VOLUME_REMOVAL=destroy on deploy and destroy removes them): ${LANGUAGES.map((language) => path.join(VOLUME_ROOT, `sample-${language}`)).join(', ')}`);
  });
});
