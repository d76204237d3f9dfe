import { TerraformStack, Testing } from 'cdktf';
import { Construct } from 'constructs';
import { ModulusApp } from '../../lib/app';
import { AppVolume, AppVolumeOptions, VolumeRemovalPolicy } from '../../lib/app-volume';
import { VolumeBackend } from '../../lib/volume-storage';
import { BuildJob, BuildJobOptions } from '../../lib/build-job';
import { NetworkMode } from '../../lib/network-mode';
import { RestartPolicy, RunContainer, RunContainerOptions } from '../../lib/run-container';
import { sourceFolder } from './support/app-runtime';

/**
 * ModulusApp hands each part its options whole. These objects set every option of every part to a value other
 * than its default: `Required<...>` makes the compiler demand a value for an option added later, and the tests
 * below fail when ModulusApp does not pass that value on.
 */
const VOLUME: Required<AppVolumeOptions> = {
  sizeMiB: 4096,
  backend: VolumeBackend.LVM_THIN,
  lvm: { volumeGroup: 'vg0', thinPool: 'pool0' },
  hostRoot: '/srv/modulus/shop',
  removalPolicy: VolumeRemovalPolicy.DESTROY,
};
const BUILD: Required<BuildJobOptions> = {
  timeoutSeconds: 600,
  memoryMiB: 2048,
  environment: { RUN_TESTS: '1' },
  secretEnvironment: { NPM_TOKEN: 'npm-secret' },
  failureLogLines: 5,
  command: ['build', '--verbose'],
};
const RUN: Required<RunContainerOptions> = {
  port: 9090,
  memoryMiB: 768,
  publish: { hostIp: '0.0.0.0', hostPort: 80 },
  restart: RestartPolicy.ALWAYS,
  healthCheck: { path: '/health', intervalSeconds: 7 },
  init: false,
  processLimit: 300,
  logOptions: { 'max-size': '1m' },
  labels: { 'com.example.team': 'shop' },
  networks: ['backend'],
  mounts: [{ source: '/srv/shared/config', target: '/etc/shop' }],
  additionalPorts: [{ containerPort: 9100, hostPort: 19100 }],
};
const SHARED = { networkMode: NetworkMode.BRIDGE, environment: { NODE_ENV: 'production' }, secretEnvironment: { TOKEN: 't' } };
const source = sourceFolder();

/** The app's parts built directly, under the construct path ModulusApp gives them. */
function synthParts(volume: AppVolumeOptions, build: BuildJobOptions, run: RunContainerOptions): any {
  const stack = new TerraformStack(Testing.app(), 'test');
  const app = new Construct(stack, 'App');
  const appVolume = new AppVolume(app, 'Volume', { ...volume, appName: 'shop', image: 'run-image', environment: SHARED.environment, secretEnvironment: SHARED.secretEnvironment });
  const container = { volume: appVolume, language: 'node', networkMode: SHARED.networkMode };
  const job = new BuildJob(app, 'Build', { ...build, ...container, image: 'build-image', source });
  new RunContainer(app, 'Run', { ...run, ...container, image: 'run-image', build: job });
  return JSON.parse(Testing.synth(stack));
}

function synthApp(): any {
  const stack = new TerraformStack(Testing.app(), 'test');
  new ModulusApp(stack, 'App', {
    appName: 'shop',
    language: 'node',
    source,
    buildImage: 'build-image',
    runImage: 'run-image',
    ...SHARED,
    volume: VOLUME,
    build: BUILD,
    run: RUN,
  });
  return JSON.parse(Testing.synth(stack));
}

describe('ModulusApp passes every option of its parts on', () => {
  const direct = synthParts(VOLUME, BUILD, RUN);

  it('synthesizes exactly what the parts given the same options synthesize', () => {
    expect(synthApp()).toEqual(direct);
  });

  // Without this, an option whose test value happened to be its default would pass the comparison above unseen.
  it.each([
    ...Object.keys(VOLUME).map((key) => ['volume', key]),
    ...Object.keys(BUILD).map((key) => ['build', key]),
    ...Object.keys(RUN).map((key) => ['run', key]),
  ])('%s.%s changes what is synthesized', (part, key) => {
    const without = <T extends object>(options: T, name: string): T =>
      Object.fromEntries(Object.entries(options).filter(([option]) => option !== name)) as T;
    const volume = part === 'volume' ? without(VOLUME, key) : VOLUME;
    // lvm goes with the lvm-thin backend: leaving one out means leaving out both.
    const consistentVolume = key === 'backend' || key === 'lvm' ? without(without(VOLUME, 'backend'), 'lvm') : volume;
    const synthesized = synthParts(consistentVolume, part === 'build' ? without(BUILD, key) : BUILD, part === 'run' ? without(RUN, key) : RUN);
    expect(synthesized).not.toEqual(direct);
  });
});
