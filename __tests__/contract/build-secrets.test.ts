/**
 * A BuildJob through Terraform, for real: its secret environment reaches `build` and nothing else (not the
 * output, the state, `docker inspect` or the volume afterwards), and Terraform's state keeps only the build's last
 * log lines while the whole log is in the volume. The build image is a tiny one FROM base whose `build` reports
 * what it received. A build of the inputs (source, image, settings, secrets) of a release the volume keeps reuses
 * it instead of building. Needs the engine, loop devices and the toolchain's Terraform and provider mirror.
 */
import { createHash } from 'crypto';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { App as CdktfApp, LocalBackend, TerraformStack, TerraformVariable } from 'cdktf';
import { AppVolume, VolumeRemovalPolicy } from '../../lib/app-volume';
import { BuildJob } from '../../lib/build-job';
import { NetworkMode } from '../../lib/network-mode';
import { buildImage, docker, dockerRun } from './support/docker';
import { isMounted, loopDevices, mnt } from './support/volume-host';

jest.setTimeout(1_800_000);

const TEMP = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-build-secrets-'));
const APP = 'secretbuild';
const HOST_ROOT = path.join(TEMP, 'volumes', APP);
const SECRET = 'npm_s3cr3t-"quoted"=100%';
const IMAGE = 'modulus-test/secret-build:latest';
const terraform = process.env.TERRAFORM_BINARY_NAME || 'terraform';
const stackDir = path.join(TEMP, 'stacks', 'build');
const statePath = path.join(TEMP, 'build.tfstate');
const SOURCE = path.join(TEMP, 'source');

function tf(...args: string[]) {
  return tfWithSecret(SECRET, ...args);
}

function tfWithSecret(secret: string, ...args: string[]) {
  const result = spawnSync(terraform, [...args, '-no-color', ...(args[0] === 'show' ? [] : ['-input=false'])], {
    cwd: stackDir,
    env: { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_VAR_npm_token: secret },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`terraform ${args.join(' ')} exited ${result.status}:\n${result.stderr}\n${result.stdout}`);
  return result.stdout + result.stderr;
}

beforeAll(() => {
  // `build` reports what it got: the secret's hash, whether the secrets file is still there, 100 log lines.
  const context = path.join(TEMP, 'image');
  fs.mkdirSync(context);
  fs.writeFileSync(
    path.join(context, 'build'),
    [
      '#!/usr/bin/env bash',
      'set -euo pipefail',
      'printf %s "${NPM_TOKEN:-}" | sha256sum | cut -d" " -f1 >"$OUTPUT/token.sha256"',
      'if [ -e /mnt/.build-secrets ]; then echo present; else echo gone; fi >"$OUTPUT/secrets-file"',
      'for i in $(seq 1 100); do echo "build line $i"; done',
      'cat /proc/sys/kernel/random/uuid >"$OUTPUT/build-id"',
      'cp "$INPUT/index.html" "$OUTPUT/index.html"',
    ].join('\n'),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${buildImage('base')}\nCOPY build /opt/modulus/bin/build\n`);
  docker(['build', '-q', '-t', IMAGE, context]);

  fs.mkdirSync(SOURCE);
  synth('hello\n');
  tf('init');
});

/** The stack, its source's index.html holding `page`. */
function synth(page: string): void {
  fs.writeFileSync(path.join(SOURCE, 'index.html'), page);
  const app = new CdktfApp({ outdir: TEMP });
  const stack = new TerraformStack(app, 'build');
  new LocalBackend(stack, { path: statePath });
  new DockerProvider(stack, 'docker', {});
  const token = new TerraformVariable(stack, 'npm_token', { type: 'string', sensitive: true });
  const volume = new AppVolume(stack, 'Vol', { appName: APP, image: buildImage('base'), hostRoot: HOST_ROOT, sizeMiB: 64, removalPolicy: VolumeRemovalPolicy.DESTROY });
  new BuildJob(stack, 'Build', {
    volume,
    image: IMAGE,
    language: 'static',
    source: SOURCE,
    networkMode: NetworkMode.NONE,
    failureLogLines: 5,
    secretEnvironment: { NPM_TOKEN: token.stringValue },
  });
  app.synth();
}

/** The build's container: `modulus-build-<app>-<UTC time of its creation>`, the only one of the app. */
function buildContainer(): string {
  const names = docker(['ps', '-a', '--filter', `name=^modulus-build-${APP}-\\d{14}$`, '--format', '{{.Names}}']).trim().split('\n');
  expect(names).toHaveLength(1);
  return names[0];
}

afterAll(() => {
  spawnSync(terraform, ['destroy', '-auto-approve', '-no-color', '-input=false'], { cwd: stackDir, env: { ...process.env, TF_VAR_npm_token: SECRET } });
  if (isMounted(mnt(HOST_ROOT))) spawnSync('umount', [mnt(HOST_ROOT)]);
  for (const device of loopDevices(HOST_ROOT)) spawnSync('losetup', ['-d', device]);
  const leftover = dockerRun(['ps', '-aq', '--filter', `name=^modulus-build-${APP}-`]).stdout.trim();
  if (leftover) dockerRun(['rm', '-f', ...leftover.split('\n')]);
  dockerRun(['rmi', IMAGE]);
  fs.rmSync(TEMP, { recursive: true, force: true });
});

describe('BuildJob through Terraform: build secrets and logs', () => {
  let apply = '';
  beforeAll(() => {
    apply = tf('apply', '-auto-approve');
  });

  it('hands the secret to `build` only: not in the output, the state, docker inspect or the volume afterwards', () => {
    const app = path.join(mnt(HOST_ROOT), 'app');
    expect(fs.readFileSync(path.join(app, 'token.sha256'), 'utf8').trim()).toBe(createHash('sha256').update(SECRET).digest('hex'));
    // The build container read and deleted the file before `build` started.
    expect(fs.readFileSync(path.join(app, 'secrets-file'), 'utf8').trim()).toBe('gone');
    expect(fs.existsSync(path.join(mnt(HOST_ROOT), '.build-secrets'))).toBe(false);
    expect(apply).not.toContain('s3cr3t');
    expect(fs.readFileSync(statePath, 'utf8')).not.toContain('s3cr3t');
    expect(docker(['inspect', buildContainer()])).not.toContain('s3cr3t');
    expect(tf('show')).not.toContain('s3cr3t');
  });

  it('keeps only the last lines of the build in the state; the whole log is in the volume', () => {
    const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
    const container = state.resources.find((resource: any) => resource.type === 'docker_container');
    const logs: string = container.instances[0].attributes.container_logs;
    expect(logs.trim().split('\n').map((line) => line.replace(/^[\x00-\x1f]+/, '').trim()).slice(-5)).toEqual(
      [96, 97, 98, 99, 100].map((n) => `build line ${n}`),
    );
    expect(logs).not.toContain('build line 95\n');
    const log = fs.readFileSync(path.join(mnt(HOST_ROOT), 'log', 'build.log'), 'utf8');
    expect(log.trim().split('\n')).toHaveLength(100);
  });

  it('runs the build under the app cgroup with a rotated json-file log', () => {
    const inspect = JSON.parse(docker(['inspect', buildContainer()]))[0];
    expect(inspect.HostConfig.CgroupParent).toBe(`/modulus/${APP}`);
    expect(inspect.HostConfig.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-file': '2', 'max-size': '10m' } });
    expect(inspect.Mounts.map((m: any) => [m.Source, m.Destination])).toEqual([[mnt(HOST_ROOT), '/mnt']]);
  });
});

describe('BuildJob through Terraform: rolling back to the inputs of a kept release reuses it', () => {
  const app = (file: string) => fs.readFileSync(path.join(mnt(HOST_ROOT), 'app', file), 'utf8');
  const serving = () => fs.readlinkSync(path.join(mnt(HOST_ROOT), 'app'));
  const buildLogs = () => docker(['logs', buildContainer()]);
  const publishTriggers = () => {
    const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
    const publish = state.resources.find((resource: any) => resource.type === 'null_resource' && resource.name.startsWith('Build_Publish_'));
    return publish.instances[0].attributes.triggers;
  };
  let first = '';

  it('builds a changed source', () => {
    first = app('build-id');
    synth('hello, release 2\n');
    tf('apply', '-auto-approve');
    expect(app('index.html')).toBe('hello, release 2\n');
    expect(app('build-id')).not.toBe(first);
    expect(buildLogs()).not.toContain('reused');
  });

  it('the previous source again: its release is reused, not built, and the plan names the source it came from', () => {
    synth('hello\n');
    const plan = tf('plan');
    // The source step's and the publish step's triggers both show the change.
    expect(plan.match(/"source_sha256" += "[0-9a-f]{64}" -> "[0-9a-f]{64}"/g)).toHaveLength(2);
    tf('apply', '-auto-approve');
    expect(app('index.html')).toBe('hello\n');
    expect(app('build-id')).toBe(first);
    expect(buildLogs()).toMatch(/modulus-build: release \S+ was built from the same source, image and settings: reused, not built again/);
    expect(publishTriggers().source_sha256).toMatch(/^[0-9a-f]{64}$/);
    // The release has a key beside it; the secret is nowhere in the volume.
    expect(fs.existsSync(path.join(mnt(HOST_ROOT), `${serving()}.key`))).toBe(true);
    expect(spawnSync('grep', ['-rl', 's3cr3t', mnt(HOST_ROOT)], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('a new secret builds again, and so does the build container replaced on its own (-replace)', () => {
    const reused = app('build-id');
    tfWithSecret('another-token', 'apply', '-auto-approve');
    expect(app('build-id')).not.toBe(reused);
    expect(app('token.sha256').trim()).toBe(createHash('sha256').update('another-token').digest('hex'));
    const rebuilt = app('build-id');
    const address = `docker_container.${JSON.parse(fs.readFileSync(statePath, 'utf8')).resources.find((resource: any) => resource.type === 'docker_container').name}`;
    tfWithSecret('another-token', 'apply', '-auto-approve', `-replace=${address}`);
    expect(app('build-id')).not.toBe(rebuilt);
    expect(buildLogs()).not.toContain('reused');
  });
});
