/**
 * `npm run deploy` / `npm run destroy` (scripts/deploy.ts): what they choose from the engine's answers (a stand-in
 * `docker` first on PATH answers as an engine with or without a default bridge and a root image would), how they
 * follow cdktf's output, and the summary. The real deploy is in __tests__/e2e/quickstart.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdktf';
import { DeployCommand, detectSettings, OFFLINE_ROOT_IMAGE } from '../../scripts/deploy-settings';
import { errorBlocks, PhaseTracker, QuietWatch, sampleApps, summaryTable } from '../../scripts/deploy-progress';
import { main } from '../../scripts/deploy';
import { AppsStack } from '../../stacks/apps-stack';
import { ImagesStack } from '../../stacks/images-stack';
import { NetworkMode } from '../../lib/network-mode';
import { tempDir } from './support/temp';

const REPO_ROOT = path.resolve(__dirname, '../..');

/**
 * A stand-in `docker`: `network inspect bridge` succeeds when STANDIN_BRIDGE=1, `image inspect X` when X is in
 * STANDIN_IMAGES, `pull` when STANDIN_PULL=ok (else fails as an offline engine does). Every call is logged with
 * its DOCKER_HOST.
 */
const STANDIN = `#!/usr/bin/env bash
set -euo pipefail
printf '%s|%s\\n' "\${DOCKER_HOST:-}" "$*" >>"$STANDIN_LOG"
case "$1 \${2:-}" in
  "network inspect")
    if [[ "\${STANDIN_BRIDGE:-0}" == 1 ]]; then echo bridge; exit 0; fi
    echo "Error response from daemon: network bridge not found" >&2; exit 1 ;;
  "image inspect")
    for image in \${STANDIN_IMAGES:-}; do
      if [[ "$image" == "\${!#}" ]]; then echo "sha256:0123"; exit 0; fi
    done
    echo "Error: No such image: \${!#}" >&2; exit 1 ;;
  "pull --quiet")
    if [[ "\${STANDIN_PULL:-fail}" == ok ]]; then echo "docker.io/library/\${!#}"; exit 0; fi
    echo 'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host' >&2; exit 1 ;;
esac
echo "stand-in docker: unexpected call: $*" >&2
exit 99
`;

function engine(answers: { bridge?: boolean; images?: string[]; pull?: boolean }, extra: Record<string, string> = {}) {
  const dir = tempDir('modulus-deploy-standin-');
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.writeFileSync(path.join(dir, 'bin', 'docker'), STANDIN, { mode: 0o755 });
  const log = path.join(dir, 'calls.log');
  fs.writeFileSync(log, '');
  // Nothing of the caller's MODULUS_* settings: each test gives the ones it means.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MODULUS_')));
  Object.assign(env, {
    PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
    STANDIN_LOG: log,
    STANDIN_BRIDGE: answers.bridge ? '1' : '0',
    STANDIN_IMAGES: (answers.images ?? []).join(' '),
    STANDIN_PULL: answers.pull ? 'ok' : 'fail',
    ...extra,
  });
  return {
    detect: (command: DeployCommand = 'deploy') => detectSettings(command, env),
    calls: () => fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean),
  };
}

describe('what npm run deploy chooses from the engine', () => {
  it('an engine with a default bridge: bridge, and says so', () => {
    const { detect } = engine({ bridge: true, images: ['debian:bookworm-slim'] });
    const settings = detect();
    expect(settings.env.MODULUS_NETWORK_MODE).toBe(NetworkMode.BRIDGE);
    expect(settings.choices[0]).toMatch(/^network: bridge \(the engine has a default bridge network/);
  });

  it('an engine without a default bridge (dockerd --bridge=none): host, with the engine\'s answer', () => {
    const { detect } = engine({ bridge: false, images: ['debian:bookworm-slim'] });
    const settings = detect();
    expect(settings.env.MODULUS_NETWORK_MODE).toBe(NetworkMode.HOST);
    expect(settings.choices[0]).toBe(
      'network: host (the engine has no default bridge network: Error response from daemon: network bridge not found; the apps bind 127.0.0.1:<port> on the host; MODULUS_NETWORK_MODE=bridge overrides)',
    );
  });

  it('debian:bookworm-slim on the engine: that one, nothing pulled or built', () => {
    const { detect, calls } = engine({ images: ['debian:bookworm-slim', OFFLINE_ROOT_IMAGE], pull: true });
    const settings = detect();
    expect(settings.env.MODULUS_ROOT_IMAGE).toBe('debian:bookworm-slim');
    expect(settings.buildRootImage).toBe(false);
    expect(settings.choices[1]).toBe('root image: debian:bookworm-slim (on the engine; MODULUS_ROOT_IMAGE overrides)');
    expect(calls().filter((call) => call.includes('pull'))).toEqual([]);
  });

  it("only the toolchain's offline image on the engine: that one, its step kept up to date, nothing pulled", () => {
    const { detect, calls } = engine({ images: [OFFLINE_ROOT_IMAGE], pull: true });
    const settings = detect();
    expect(settings.env.MODULUS_ROOT_IMAGE).toBe('modulus/root:bookworm');
    expect(settings.buildRootImage).toBe(true);
    expect(settings.choices[1]).toMatch(/^root image: modulus\/root:bookworm \(the toolchain's offline image, on the engine; debian:bookworm-slim is not/);
    expect(calls().filter((call) => call.includes('pull'))).toEqual([]);
  });

  it('no root image, a registry that answers: pulls debian:bookworm-slim and uses it', () => {
    const { detect, calls } = engine({ images: [], pull: true });
    const settings = detect();
    expect(settings.env.MODULUS_ROOT_IMAGE).toBe('debian:bookworm-slim');
    expect(settings.buildRootImage).toBe(false);
    expect(settings.choices[1]).toBe('root image: debian:bookworm-slim (pulled; MODULUS_ROOT_IMAGE overrides)');
    expect(calls()).toContain('|pull --quiet debian:bookworm-slim');
  });

  it('no root image and no registry: the offline image, built by the toolchain, saying why', () => {
    const { detect } = engine({ images: [], pull: false });
    const settings = detect();
    expect(settings.env.MODULUS_ROOT_IMAGE).toBe('modulus/root:bookworm');
    expect(settings.buildRootImage).toBe(true);
    expect(settings.choices[1]).toBe(
      'root image: modulus/root:bookworm (the toolchain builds it offline with debootstrap: debian:bookworm-slim is not on the engine and docker pull failed: ' +
        'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host; MODULUS_ROOT_IMAGE overrides)',
    );
  });

  it('destroy neither pulls nor builds a root image', () => {
    const { detect, calls } = engine({ images: [OFFLINE_ROOT_IMAGE], pull: true });
    expect(detect('destroy')).toMatchObject({ env: { MODULUS_ROOT_IMAGE: 'modulus/root:bookworm' }, buildRootImage: false });
    const empty = engine({ images: [], pull: true });
    expect(empty.detect('destroy')).toMatchObject({ env: { MODULUS_ROOT_IMAGE: 'modulus/root:bookworm' }, buildRootImage: false });
    expect([...calls(), ...empty.calls()].filter((call) => call.includes('pull'))).toEqual([]);
  });

  it('explicit settings win, and the engine is not asked about them', () => {
    const { detect, calls } = engine({ bridge: true, images: ['debian:bookworm-slim'] }, { MODULUS_NETWORK_MODE: 'host', MODULUS_ROOT_IMAGE: 'registry.example.com/debian:12' });
    const settings = detect();
    expect(settings.env).toEqual({ MODULUS_NETWORK_MODE: 'host', MODULUS_ROOT_IMAGE: 'registry.example.com/debian:12' });
    expect(settings.choices).toEqual(['network: host (set by MODULUS_NETWORK_MODE)', 'root image: registry.example.com/debian:12 (set by MODULUS_ROOT_IMAGE)']);
    expect(settings.buildRootImage).toBe(false);
    expect(calls()).toEqual([]);
  });

  it('asks the engine MODULUS_DOCKER_HOST names, and knows the offline tag MODULUS_ROOT_IMAGE_TAG names', () => {
    const { detect, calls } = engine({ images: ['example/root:12'] }, { MODULUS_DOCKER_HOST: 'tcp://127.0.0.1:2375', MODULUS_ROOT_IMAGE_TAG: 'example/root:12' });
    expect(detect()).toMatchObject({ env: { MODULUS_ROOT_IMAGE: 'example/root:12' }, buildRootImage: true });
    expect(calls().length).toBeGreaterThan(0);
    expect(calls().every((call) => call.startsWith('tcp://127.0.0.1:2375|'))).toBe(true);
  });
});

/** cdktf deploy output as cdktf 0.21 prints it with --no-color (stack prefix, continuation lines indented). */
const DEPLOY_OUTPUT = [
  'images  Initializing the backend...',
  '        Terraform has been successfully initialized!',
  'images  Terraform will perform the following actions:',
  'images  # docker_image.Hierarchy_base_Image_CA09F2A7 (Hierarchy/base/Image) will be created',
  '          + resource "docker_image" "Hierarchy_base_Image_CA09F2A7" {',
  '        # docker_image.Hierarchy_run-base_Image_D0D17164 (Hierarchy/run-base/Image) must be replaced',
  '        Plan: 2 to add, 0 to change, 1 to destroy.',
  'images  docker_image.Hierarchy_base_Image_CA09F2A7 (Hierarchy/base/Image): Creating...',
  '        docker_image.Hierarchy_base_Image_CA09F2A7 (Hierarchy/base/Image): Creation complete after 20s [id=sha256:1]',
  'images  docker_image.Hierarchy_run-base_Image_D0D17164 (Hierarchy/run-base/Image): Destroying... [id=sha256:2]',
  'images  docker_image.Hierarchy_run-base_Image_D0D17164 (Hierarchy/run-base/Image): Destruction complete after 1s',
  'images  docker_image.Hierarchy_run-base_Image_D0D17164 (Hierarchy/run-base/Image): Creating...',
  'images  docker_image.Hierarchy_run-base_Image_D0D17164 (Hierarchy/run-base/Image): Creation complete after 9s [id=sha256:3]',
  'images  Apply complete! Resources: 2 added, 0 changed, 1 destroyed.',
  'apps  # null_resource.sample-node_Volume_02ED2BC1 (sample-node/Volume) will be created',
  '      # data.external.sample-node_Volume_MountProbe_1 (sample-node/Volume/MountProbe) will be read during apply',
  '      # docker_container.sample-node_Build_Container_D8C24F8B (sample-node/Build/Container) will be created',
  '      # docker_container.sample-node_Run_Container_319986DE (sample-node/Run/Container) will be updated in-place',
  '      Plan: 2 to add, 1 to change, 0 to destroy.',
  'apps  null_resource.sample-node_Volume_02ED2BC1 (sample-node/Volume): Creating...',
  '      null_resource.sample-node_Volume_02ED2BC1 (sample-node/Volume) (local-exec): Creation complete after 1s',
  '      null_resource.sample-node_Volume_02ED2BC1 (sample-node/Volume): Creation complete after 3s [id=1]',
  'apps  docker_container.sample-node_Build_Container_D8C24F8B (sample-node/Build/Container): Creating...',
  'apps  docker_container.sample-node_Run_Container_319986DE (sample-node/Run/Container): Modifying... [id=abc]',
  'apps  docker_container.sample-node_Build_Container_D8C24F8B (sample-node/Build/Container): Creation complete after 40s [id=def]',
  'apps  docker_container.sample-node_Run_Container_319986DE (sample-node/Run/Container): Modifications complete after 1s [id=abc]',
  'apps  Apply complete! Resources: 2 added, 1 changed, 0 destroyed.',
];

/** Feeds lines one second apart; returns [second, line] for each line printed. */
function follow(lines: string[], command = 'deploy'): { printed: Array<[number, string]>; tracker: PhaseTracker } {
  const tracker = new PhaseTracker(command);
  const printed: Array<[number, string]> = [];
  lines.forEach((line, second) => tracker.line(line, second * 1000).forEach((out) => printed.push([second, out])));
  tracker.finish().forEach((out) => printed.push([lines.length, out]));
  return { printed, tracker };
}

describe("following cdktf's output", () => {
  it('prints each phase once, when its last planned change ends, with its time and its changes', () => {
    const { printed, tracker } = follow(DEPLOY_OUTPUT);
    const at = (text: string) => DEPLOY_OUTPUT.findIndex((line) => line.includes(text));
    expect(printed).toEqual([
      // A replacement is two changes: the images phase ends with the new run-base, not with its destruction.
      [at('run-base_Image_D0D17164 (Hierarchy/run-base/Image): Creation complete'), '[deploy] images         5s  1 created, 1 replaced'],
      [at('Volume): Creation complete after 3s'), '[deploy] volumes        2s  1 created'],
      [at('Build/Container): Creation complete'), '[deploy] builds         2s  1 created'],
      [at('Run/Container): Modifications complete'), '[deploy] apps           2s  1 updated'],
    ]);
    expect(tracker.nothingChanged).toBe(false);
  });

  it('a stack with nothing to do: its phases are unchanged as soon as its plan says so; all of them: nothing changed', () => {
    const { printed, tracker } = follow([
      'images  No changes. Your infrastructure matches the configuration.',
      'images  Apply complete! Resources: 0 added, 0 changed, 0 destroyed.',
      'apps  No changes. Your infrastructure matches the configuration.',
    ]);
    expect(printed).toEqual([
      [0, '[deploy] images          -  unchanged'],
      [2, '[deploy] volumes         -  unchanged'],
      [2, '[deploy] builds          -  unchanged'],
      [2, '[deploy] apps            -  unchanged'],
    ]);
    expect(tracker.nothingChanged).toBe(true);
    expect(follow(DEPLOY_OUTPUT.slice(0, 14)).tracker.nothingChanged).toBe(false);
  });

  it('a failed build: its phase FAILED naming the resource, the phase after it did not finish', () => {
    const failing = [
      ...DEPLOY_OUTPUT.slice(14, 22),
      'apps  docker_container.sample-node_Build_Container_D8C24F8B (sample-node/Build/Container): Creating...',
      'apps  Error: Resource postcondition failed',
      '',
      '        on cdk.tf.json line 387, in resource.docker_container.sample-node_Build_Container_D8C24F8B (sample-node/Build/Container).lifecycle.postcondition[0]:',
    ];
    expect(follow(failing).printed.map(([, line]) => line)).toEqual([
      '[deploy] volumes        2s  1 created',
      '[deploy] builds         3s  FAILED: docker_container.sample-node_Build_Container_D8C24F8B',
      '[deploy] images          -  not reached',
      '[deploy] apps            -  did not finish (1 updated planned, 1 not done)',
    ]);
  });

  it("a volume's mount probe failing the plan: the volumes phase FAILED naming it", () => {
    const lines = follow([
      'images  No changes. Your infrastructure matches the configuration.',
      'apps  Error: External Program Execution Failed',
      '',
      '        with data.external.sample-node_Volume_MountProbe_1A2B3C4D (sample-node/Volume/MountProbe),',
    ]).printed.map(([, line]) => line);
    expect(lines).toEqual([
      '[deploy] images          -  unchanged',
      '[deploy] volumes         -  FAILED: data.external.sample-node_Volume_MountProbe_1A2B3C4D',
      '[deploy] builds          -  not reached',
      '[deploy] apps            -  not reached',
    ]);
  });

  it("shows Terraform's errors without the stack prefix and without Docker's stream headers in the build's last lines", () => {
    const header = (text: string) => `\x01\x00\x00\x00\x00\x00\x00${String.fromCharCode(text.length + 1)}${text}`;
    const output = [
      'apps  docker_container.x (x): Creation complete after 2s [id=1]',
      'apps  Error: Resource postcondition failed',
      '',
      '        on cdk.tf.json line 387, in resource.docker_container.x (x).lifecycle.postcondition[0]:',
      '          ├────────────────',
      // A new chunk inside the error: prefixed again; another resource's progress in between.
      'apps    │ self.exit_code is 1',
      'apps  docker_container.z (z): Still creating... [10s elapsed]',
      '',
      "      Build of app 'sample-node' (node) failed with exit status 1. Last log lines:",
      `      ${header('[build] input /mnt/input, output /mnt/output, timeout 900s')}`,
      `      ${header('[build] FAILED with status 1 after 1s')}`,
      '0 Stacks deploying     2 Stacks done     0 Stacks waiting',
      'Invoking Terraform CLI failed with exit code 1',
      'apps  Error: local-exec provisioner error',
      '        with null_resource.y (y),',
    ].join('\n');
    expect(errorBlocks(output)).toEqual([
      [
        'Error: Resource postcondition failed',
        '',
        '  on cdk.tf.json line 387, in resource.docker_container.x (x).lifecycle.postcondition[0]:',
        '    ├────────────────',
        '  │ self.exit_code is 1',
        '',
        "Build of app 'sample-node' (node) failed with exit status 1. Last log lines:",
        '[build] input /mnt/input, output /mnt/output, timeout 900s',
        '[build] FAILED with status 1 after 1s',
      ].join('\n'),
      'Error: local-exec provisioner error\n  with null_resource.y (y),',
    ]);
  });
});

describe('a long phase', () => {
  afterEach(() => jest.useRealTimers());

  it('gets a line saying how far it is after a minute without one, and again each quiet minute, until it stops', () => {
    jest.useFakeTimers();
    const printed: string[] = [];
    const quiet = new QuietWatch((line) => printed.push(line));
    let done = 0;
    const watch = quiet.watch(() => `images: ${done} of 11 changes done`);
    jest.advanceTimersByTime(59_000);
    expect(printed).toEqual([]);
    jest.advanceTimersByTime(1_000);
    expect(printed).toEqual(['images: 0 of 11 changes done']);
    // A line of the deploy's own resets the quiet minute.
    jest.advanceTimersByTime(30_000);
    quiet.say('[deploy] volumes  4s  20 created');
    done = 4;
    jest.advanceTimersByTime(59_000);
    expect(printed).toHaveLength(2);
    jest.advanceTimersByTime(1_000);
    expect(printed).toEqual(['images: 0 of 11 changes done', '[deploy] volumes  4s  20 created', 'images: 4 of 11 changes done']);
    watch.stop();
    jest.advanceTimersByTime(600_000);
    expect(printed).toHaveLength(3);
  });

  it('says which phases are under way and how far each is', () => {
    const tracker = new PhaseTracker('deploy');
    DEPLOY_OUTPUT.slice(0, 9).forEach((line, second) => tracker.line(line, second * 1000));
    expect(tracker.active()).toBe('images: 1 of 3 changes done');
  });
});

describe('the summary', () => {
  it("lists the apps stack's run containers with their ports, from the synthesized stack", () => {
    const app = new App({ outdir: tempDir('modulus-deploy-synth-'), skipValidation: true });
    const images = new ImagesStack(app, 'images', { images: [{ name: 'base' }, { name: 'build-base' }, { name: 'run-base' }, { name: 'build-static' }, { name: 'run-static' }, { name: 'build-node' }, { name: 'run-node' }] });
    new AppsStack(app, 'apps', { images: images.hierarchy, languages: ['static', 'node'], firstPort: 19000, networkMode: NetworkMode.HOST });
    app.synth();
    const stack = JSON.parse(fs.readFileSync(path.join(app.outdir, 'stacks', 'apps', 'cdk.tf.json'), 'utf8'));
    expect(sampleApps(stack)).toEqual([
      { app: 'sample-static', language: 'static', port: 19000, provider: undefined, container: 'modulus-app-sample-static' },
      { app: 'sample-node', language: 'node', port: 19001, provider: undefined, container: 'modulus-app-sample-node' },
    ]);
  });

  it('aligns the table', () => {
    expect(summaryTable([{ sample: 'sample-node', url: 'http://127.0.0.1:18080/', status: '200 OK' }, { sample: 'sample-java', url: 'http://127.0.0.1:18081/', status: 'no answer' }])).toBe(
      ['sample       URL                      status', 'sample-node  http://127.0.0.1:18080/  200 OK', 'sample-java  http://127.0.0.1:18081/  no answer'].join('\n'),
    );
  });
});

describe('the commands', () => {
  it('are the package.json "deploy" and "destroy" scripts', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    expect([pkg.scripts.deploy, pkg.scripts.destroy]).toEqual(['node --require ./scripts/typescript-loader.js scripts/deploy.ts deploy', 'node --require ./scripts/typescript-loader.js scripts/deploy.ts destroy']);
  });

  it('refuses anything else with usage (exit 2), running nothing', async () => {
    const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['apply'])).toBe(2);
      expect(await main(['deploy', 'extra'])).toBe(2);
      expect(stderr).toHaveBeenCalledWith('usage: npm run deploy | npm run destroy   (scripts/deploy.ts deploy|destroy)');
    } finally {
      stderr.mockRestore();
    }
  });
});
