import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT, copyFixture, packPackage, PackedPackage } from './support/package';
import { tempDir } from './support/temp';

jest.setTimeout(240_000);

/** What the package entry point exports at run time (types are checked by compiling the consumer). */
const EXPORTED_VALUES = [
  'AppVolume',
  'BuildJob',
  'CONTAINER_POLICY_RULES',
  'ContainerPolicyLevel',
  'ContainerPolicyRule',
  'ContainerSecurityPolicy',
  'DEFAULT_DOCKER_HOST',
  'DEFAULT_PG_SCHEMA_PREFIX',
  'DEFAULT_REPOSITORY_PREFIX',
  'DEFAULT_ROOT_IMAGE',
  'DEFAULT_TAG',
  'DEFAULT_VOLUME_HOST_ROOT',
  'DockerHost',
  'ImageHierarchy',
  'ImageRegistry',
  'LANGUAGES',
  'ModulusApp',
  'ModulusImage',
  'ModulusRouter',
  'ModulusStack',
  'NetworkMode',
  'PARENT_BUILD_ARG',
  'PROVIDER_VERSIONS',
  'PulledImage',
  'PushedHierarchy',
  'PushedImage',
  'ROUTER_CONTAINER_NAME',
  'ROUTER_HEALTH_PATH',
  'ROUTER_IMAGE',
  'RegistryProtocol',
  'RestartPolicy',
  'RunContainer',
  'STANDARD_IMAGES',
  'StateBackendType',
  'VolumeBackend',
  'VolumeRemovalPolicy',
];

/**
 * The package as `npm pack` makes it (prepack builds it from a clean dist/), unpacked into the node_modules of
 * a separate TypeScript project (__tests__/fixtures/python-consumer) that requires it by name, adds a language
 * the package does not ship (python: its own build-python and run-python images) and deploys an app in it.
 * Here the consumer is compiled against the packed typings and synthesized; __tests__/e2e/consumer.test.ts
 * installs the same tarball with npm and deploys it.
 */
describe('the packed package', () => {
  let packed: PackedPackage;
  let consumer: string;
  let installed: string;
  let synthesized: any;

  beforeAll(() => {
    packed = packPackage(tempDir('modulus-pack-'));
    consumer = copyFixture(tempDir('modulus-consumer-'));
    installed = path.join(consumer, 'node_modules', 'modulus-images');
    fs.mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', packed.tarball, '-C', installed, '--strip-components=1']);
    // The package's dependencies and the consumer's tools, from this checkout (no registry in the unit suite).
    for (const dependency of ['cdktf', 'constructs', '@cdktf', '@types']) {
      fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', dependency), path.join(consumer, 'node_modules', dependency));
    }
    execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: consumer, stdio: 'pipe' });
    execFileSync('node', ['main.js'], { cwd: consumer, stdio: 'pipe', env: { ...process.env, CONSUMER_VOLUME_ROOT: '/srv/volumes' } });
    synthesized = JSON.parse(fs.readFileSync(path.join(consumer, 'cdktf.out', 'stacks', 'python', 'cdk.tf.json'), 'utf8'));
  });

  it('ships only what runs: the compiled library with its typings, the images and the volume script', () => {
    const unexpected = packed.files.filter(
      (file) => !/^(dist\/lib\/.+\.(js|d\.ts)|images\/.+|scripts\/volume\/.+|package\.json|README\.md)$/.test(file),
    );
    expect(unexpected).toEqual([]);
    for (const file of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'scripts/volume/modulus-volume.sh', 'scripts/volume/limits.env', 'images/base/Dockerfile']) {
      expect(packed.files).toContain(file);
    }
    expect(packed.files.filter((file) => /^(stacks|samples|__tests__|bench|scripts\/toolchain)\//.test(file))).toEqual([]);
  });

  it('resolves by name to the compiled entry point of the unpacked tarball', () => {
    const resolved = require.resolve('modulus-images', { paths: [consumer] });
    expect(resolved).toBe(path.join(installed, 'dist', 'lib', 'index.js'));
  });

  it('exports the constructs and their props, not the internal helpers', () => {
    const entry = require(path.join(installed, 'dist', 'lib', 'index.js'));
    expect(Object.keys(entry).sort()).toEqual(EXPORTED_VALUES);
    const typings = fs.readFileSync(path.join(installed, 'dist', 'lib', 'index.d.ts'), 'utf8');
    for (const name of ['ModulusAppProps', 'ImageHierarchyProps', 'ImageDefinition', 'Language', 'RunContainerOptions', 'AppVolumeOptions', 'BuildJobOptions']) {
      expect(typings).toMatch(new RegExp(`\\b${name}\\b`));
    }
    for (const helper of ['validateSizeMiB', 'invalidSetting', 'showValue', 'renamedChild', 'isValidReference', 'hierarchyToMermaid', 'runContainerName', 'packageRoot']) {
      expect(typings).not.toContain(helper);
    }
  });

  it('strips @internal members from the typings but keeps them in the code', () => {
    expect(fs.readFileSync(path.join(installed, 'dist', 'lib', 'app-volume.d.ts'), 'utf8')).not.toContain('_scriptStep');
    expect(fs.readFileSync(path.join(installed, 'dist', 'lib', 'app-volume.js'), 'utf8')).toContain('_scriptStep(');
  });

  it("builds and runs the consumer's python app on its own build-python and run-python images", () => {
    const images = Object.entries<any>(synthesized.resource.docker_image);
    expect(images.map(([, image]) => image.name).sort()).toEqual(
      ['base', 'build-base', 'build-python', 'run-base', 'run-python'].map((name) => `consumer/${name}:latest`),
    );
    const key = (name: string) => images.find(([, image]) => image.name === `consumer/${name}:latest`)![0];
    const containers = Object.values<any>(synthesized.resource.docker_container);
    const build = containers.find((container) => container.name === 'modulus-build-hello-python-${formatdate("YYYYMMDDhhmmss", timestamp())}');
    const run = containers.find((container) => container.name === 'modulus-app-hello-python');
    expect(build.image).toBe(`\${docker_image.${key('build-python')}.image_id}`);
    expect(run.image).toBe(`\${docker_image.${key('run-python')}.image_id}`);
    expect(run.labels).toContainEqual({ label: 'org.modulus.language', value: 'python' });
    expect(run.env).toContain('PORT=18290');
  });

  it('packages the host provisioning scripts with their size limits and forbidden roots into cdktf.out', () => {
    const command = Object.values<any>(synthesized.resource.null_resource)
      .map((step) => step.provisioner?.[0]?.['local-exec']?.command)
      .find(Boolean);
    const script = /bash (assets\/\S+)\/modulus-volume\.sh/.exec(command)![1];
    const folder = path.join(consumer, 'cdktf.out', 'stacks', 'python', script);
    expect(fs.readdirSync(folder).sort()).toEqual([
      'README.md', 'boot.sh', 'config.sh', 'container.sh', 'device.sh', 'forbidden-roots', 'host-keys.sh', 'in-volume.sh', 'layout.sh', 'limits.env', 'messages.sh',
      'modulus-process-limit.sh', 'modulus-router.sh', 'modulus-volume.sh', 'query.sh', 'remote-probe.sh', 'remote-step.sh', 'roots.sh', 'staging.sh',
    ]);
  });
});
