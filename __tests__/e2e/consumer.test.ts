import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { httpGet, waitForHttp } from '../contract/support/run';
import { copyFixture, packPackage, REPO_ROOT } from '../unit/support/package';
import { applySummaries } from '../../harness/cdktf-output';
import { bash, docker, ok, waitFor } from '../../harness/shell';

/**
 * A project outside this repository, as a user has it: it installs modulus-images from the `npm pack` tarball with
 * npm, adds a language the package does not ship (its own images/build-python and images/run-python,
 * examples/python-consumer) and deploys a python app with `cdktf deploy` on a real engine, with real
 * Terraform and a real volume; the package's binaries control the app and plan the project. Needs scripts/toolchain/setup.sh to have run; the npm registry (or npm's cache)
 * provides the package's dependencies.
 */
jest.setTimeout(45 * 60_000);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-consumer-'));
const consumer = path.join(work, 'consumer');
const volumeRoot = path.join(work, 'volumes');
// Its own repository prefix, app name and port: nothing shared with the other suites' images and containers.
const PREFIX = `modulus-consumer-${process.pid}/`;
const APP = `consumer-python-${process.pid}`;
const PORT = 18295;
const env = {
  CONSUMER_ROOT_IMAGE: process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm',
  CONSUMER_REPOSITORY_PREFIX: PREFIX,
  CONSUMER_APP: APP,
  CONSUMER_PORT: String(PORT),
  CONSUMER_VOLUME_ROOT: volumeRoot,
  CHECKPOINT_DISABLE: '1',
};
/** This checkout's cdktf CLI (a dev tool, not something the package brings) with the offline toolchain. */
const cdktf = (args: string) =>
  bash(`source "${REPO_ROOT}/scripts/toolchain/env.sh" && "${REPO_ROOT}/node_modules/.bin/cdktf" ${args} --skip-provider-lock --no-color`, {
    cwd: consumer,
    env,
  });
const installed = path.join(consumer, 'node_modules', 'modulus-images');

beforeAll(() => {
  const { tarball } = packPackage(work);
  copyFixture(consumer);
  const repo = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  fs.writeFileSync(
    path.join(consumer, 'package.json'),
    JSON.stringify(
      {
        name: 'python-consumer',
        private: true,
        // cdktf and constructs are the package's peer dependencies: the project's own, at the versions tested here.
        dependencies: { 'modulus-images': `file:${tarball}`, cdktf: repo.devDependencies.cdktf, constructs: repo.devDependencies.constructs },
        devDependencies: { typescript: repo.devDependencies.typescript, '@types/node': repo.devDependencies['@types/node'] },
      },
      null,
      2,
    ),
  );
  ok(bash('npm install --prefer-offline --no-audit --no-fund --loglevel=error', { cwd: consumer }), 'npm install');
  // The project's own cdktf CLI, which modulus-plan runs (`npx cdktf synth`): this checkout's.
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'cdktf'), path.join(consumer, 'node_modules', '.bin', 'cdktf'));
  ok(bash('npx --no-install tsc -p tsconfig.json', { cwd: consumer }), 'tsc');
});

afterAll(() => {
  // Whatever failed above: take down what this test deployed (images included), then its volume and folder.
  cdktf('destroy python --auto-approve');
  const script = path.join(installed, 'scripts', 'volume', 'modulus-volume.sh');
  if (fs.existsSync(script)) {
    bash(`MODULUS_REMOVAL_POLICY=destroy bash "${script}" set-policy && bash "${script}" destroy`, {
      env: { MODULUS_APP: APP, MODULUS_ROOT: path.join(volumeRoot, APP) },
    });
  }
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a project using the packed package', () => {
  it('installs the package from its tarball, with the files it ships', () => {
    expect(fs.realpathSync(require.resolve('modulus-images', { paths: [consumer] }))).toBe(path.join(fs.realpathSync(installed), 'dist', 'lib', 'index.js'));
    expect(fs.existsSync(path.join(installed, 'scripts', 'volume', 'limits.env'))).toBe(true);
    expect(fs.existsSync(path.join(installed, 'scripts', 'toolchain'))).toBe(false);
  });

  it('deploys its python app with cdktf deploy', () => {
    const output = ok(cdktf('deploy python --auto-approve'), 'cdktf deploy');
    expect(applySummaries(output, 'python')).toEqual([expect.stringMatching(/^Apply complete! Resources: \d+ added/)]);
  });

  it('built its own build-python and run-python FROM the package images', () => {
    const layers = (name: string): string[] =>
      JSON.parse(ok(docker('image', 'inspect', '-f', '{{json .RootFS.Layers}}', `${PREFIX}${name}:latest`), name));
    for (const [parent, child] of [['base', 'build-base'], ['base', 'run-base'], ['build-base', 'build-python'], ['run-base', 'run-python']]) {
      const [parentLayers, childLayers] = [layers(parent), layers(child)];
      expect({ child, layers: childLayers.slice(0, parentLayers.length) }).toEqual({ child, layers: parentLayers });
      expect(childLayers.length).toBeGreaterThan(parentLayers.length);
    }
  });

  it('serves the python app with HTTP 200 on loopback, as the hardened run container', async () => {
    const answer = await waitForHttp(PORT);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('hello from python on python\n');
    const inspect = JSON.parse(ok(docker('inspect', `modulus-app-${APP}`), 'docker inspect'))[0];
    expect(inspect.Config.Labels['org.modulus.language']).toBe('python');
    expect(inspect.HostConfig.ReadonlyRootfs).toBe(true);
    expect(inspect.Config.User).toBe('441:444');
    expect((await httpGet(PORT, '/any/path')).status).toBe(200);
  });

  it('modulus-ctl (the package binary) reports the app RUNNING; modulus-plan (another) plans no change', async () => {
    const npx = (args: string) => bash(`source "${REPO_ROOT}/scripts/toolchain/env.sh" && npx --no-install ${args}`, { cwd: consumer, env });
    // supervisord calls the app RUNNING once it has stayed up for startsecs (10 s), which may come after its first answer.
    const status = await waitFor('modulus-ctl to report the app RUNNING', () => {
      const run = npx(`modulus-ctl ${APP} status`);
      return /^app\s+RUNNING\s+pid \d+/m.test(run.stdout) ? run : undefined;
    });
    expect(status.status).toBe(0);
    const plan = ok(npx('modulus-plan'), 'modulus-plan');
    expect(plan).toContain('## Plan for stack `python`');
    expect(plan).toContain('No changes: the infrastructure matches the configuration.');
    expect(fs.readFileSync(path.join(consumer, 'plan', 'summary.md'), 'utf8')).toBe(plan);
  });

  it('destroys everything it created: containers, images and the volume', () => {
    ok(cdktf('destroy python --auto-approve'), 'cdktf destroy');
    expect(docker('container', 'inspect', `modulus-app-${APP}`).status).not.toBe(0);
    expect(docker('image', 'inspect', `${PREFIX}run-python:latest`).status).not.toBe(0);
    expect(fs.existsSync(path.join(volumeRoot, APP, 'volume.img'))).toBe(false);
  });
});
