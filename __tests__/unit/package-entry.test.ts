import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT, compileProject, copyFixture, installPacked, packPackage, PackedPackage } from './support/package';
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
  'ImageRemovalPolicy',
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
  'ValidationError',
  'VolumeBackend',
  'VolumeRemovalPolicy',
  'invalidProp',
  'invalidSetting',
];

/**
 * The package as `npm pack` makes it (prepack builds it from a clean dist/), unpacked into the node_modules of
 * a separate TypeScript project (examples/python-consumer) that requires it by name, adds a language
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
    installed = installPacked(consumer, packed);
    compileProject(consumer);
    execFileSync('node', ['main.js'], { cwd: consumer, stdio: 'pipe', env: { ...process.env, CONSUMER_VOLUME_ROOT: '/srv/volumes' } });
    synthesized = JSON.parse(fs.readFileSync(path.join(consumer, 'cdktf.out', 'stacks', 'python', 'cdk.tf.json'), 'utf8'));
  });

  it('ships only what runs: the compiled library with its typings, the images and the volume script', () => {
    const unexpected = packed.files.filter(
      (file) => !/^(dist\/lib\/.+\.(js|d\.ts)|dist\/scripts\/(ctl|plan|plan-summary|stack-order)\.js|images\/.+|scripts\/volume\/.+|docs\/.+\.md|examples\/(python-consumer|two-hosts)\/.+|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/.test(file),
    );
    expect(unexpected).toEqual([]);
    for (const file of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'scripts/volume/modulus-volume.sh', 'scripts/volume/limits.env', 'images/base/Dockerfile']) {
      expect(packed.files).toContain(file);
    }
    expect(packed.files.filter((file) => /^(stacks|samples|__tests__|bench|scripts\/toolchain)\//.test(file))).toEqual([]);
  });

  it('ships a README whose every link resolves inside the package (or is an absolute address)', () => {
    const readme = fs.readFileSync(path.join(installed, 'README.md'), 'utf8');
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]);
    const relative = targets.filter((target) => !/^(https?:|mailto:|#)/.test(target)).map((target) => target.split('#')[0]);
    expect(relative.length).toBeGreaterThan(10);
    const missing = relative.filter((target) => !fs.existsSync(path.join(installed, target)));
    expect(missing).toEqual([]);
    expect(relative).toEqual(expect.arrayContaining(['CHANGELOG.md', 'LICENSE', 'docs/hierarchy.md', 'images/run-base/README.md', 'examples/two-hosts']));
    expect(fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8')).toContain('Apache License\n                           Version 2.0, January 2004');
  });

  it('has a version, peer dependencies its dev setup satisfies, and an exports map of the entry alone', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
    expect(manifest.repository).toEqual({ type: 'git', url: 'git+https://github.com/modulus-images/modulus-images.git' });
    expect(manifest.homepage).toBe('https://github.com/modulus-images/modulus-images#readme');
    expect(manifest.bugs).toEqual({ url: 'https://github.com/modulus-images/modulus-images/issues' });
    const changelog = fs.readFileSync(path.join(installed, 'CHANGELOG.md'), 'utf8');
    expect(changelog).toContain(`## ${manifest.version}\n`);
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['cdktf', 'constructs']);
    expect(manifest.dependencies.cdktf).toBeUndefined();
    expect(manifest.dependencies.constructs).toBeUndefined();
    // The versions this repository tests with are inside the ranges (semver, as npm checks them).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const semver = require(path.join(REPO_ROOT, 'node_modules', 'semver')) as { satisfies(version: string, range: string): boolean };
    for (const name of ['cdktf', 'constructs']) {
      const tested = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
      expect(semver.satisfies(tested, manifest.peerDependencies[name])).toBe(true);
    }
    expect(Object.keys(manifest.exports)).toEqual(['.', './package.json']);
    // Node's resolution (jest's own ignores exports maps): the entry resolves, a private module does not.
    const resolve = (request: string) => spawnSync('node', ['-e', `console.log(require.resolve(${JSON.stringify(request)}))`], { cwd: consumer, encoding: 'utf8' });
    expect(resolve('modulus-images').stdout.trim()).toBe(path.join(installed, 'dist', 'lib', 'index.js'));
    const hidden = resolve('modulus-images/dist/lib/private/validation');
    expect(hidden.status).not.toBe(0);
    expect(hidden.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
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
    // The error form (invalidProp, invalidSetting, ValidationError) is public, for stacks built on the package.
    for (const helper of ['validateSizeMiB', 'showValue', 'isValidReference', 'hierarchyToMermaid', 'runContainerName', 'packageRoot']) {
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
      'README.md', 'boot.sh', 'config.sh', 'container.sh', 'device.sh', 'forbidden-roots', 'handover.sh', 'host-keys.sh', 'in-volume.sh', 'layout.sh', 'limits.env', 'messages.sh',
      'modulus-process-limit.sh', 'modulus-router.sh', 'modulus-volume.sh', 'orphan.sh', 'query.sh', 'ready.sh', 'remote-probe.sh', 'remote-step.sh', 'roots.sh', 'rules.env', 'ssh-client.sh', 'ssh-step.sh', 'staging.sh', 'step-usage.sh',
    ]);
  });
});

/**
 * A user's `cdktf synth` of a stack with two errors, through the cdktf CLI and the packed package: both printed,
 * each on one line, no stack trace, a failed synth, and no stack left in cdktf.out (not even the one an earlier
 * synth wrote).
 */
describe('the packed package in the other examples and in a cdktf CLI run', () => {
  let packed: PackedPackage;
  beforeAll(() => {
    packed = packPackage(tempDir('modulus-pack-examples-'));
  });

  it('synthesizes examples/two-hosts: the tree built in the images stack, pushed by the apps stack for B, one app on each host', () => {
    const project = copyFixture(tempDir('modulus-two-hosts-'), path.join(REPO_ROOT, 'examples', 'two-hosts'));
    installPacked(project, packed);
    compileProject(project);
    execFileSync('node', ['main.js'], { cwd: project, stdio: 'pipe' });
    const stack = (name: string) => JSON.parse(fs.readFileSync(path.join(project, 'cdktf.out', 'stacks', name, 'cdk.tf.json'), 'utf8'));
    const images = stack('images');
    expect(images.resource.docker_registry_image).toBeUndefined();
    const apps = stack('apps');
    // What B pulls (static) and the parents: not build-node and run-node, which A runs as built.
    const pushes = Object.keys(apps.resource.docker_registry_image).map((key) => key.replace(/^Pushed_(.*)_[0-9A-F]{8}$/, '$1'));
    expect(pushes.sort()).toEqual(['base', 'build-base', 'build-static', 'run-base', 'run-static']);
    expect(Object.values<any>(apps.resource.docker_image).map((pull) => pull.provider)).toEqual(['docker.b', 'docker.b']);
    // The stack's own provider (no alias) and one aliased provider a host.
    expect(apps.provider.docker.map((provider: any) => [provider.alias, provider.host]).sort()).toEqual([
      [undefined, 'unix:///var/run/docker.sock'],
      ['a', 'unix:///var/run/docker.sock'],
      ['b', 'ssh://deploy@b.example.com'],
    ]);
    const runs = Object.values<any>(apps.resource.docker_container).filter((container) => /^modulus-app-/.test(container.name));
    expect(runs.map((container) => [container.name, container.provider]).sort()).toEqual([
      ['modulus-app-docs', 'docker.b'],
      ['modulus-app-web', 'docker.a'],
    ]);
  });

  it('installs with npm (from its cache) and offers modulus-ctl and modulus-plan, which act on the project they run in', () => {
    const project = copyFixture(tempDir('modulus-bin-'));
    const repo = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'bin-consumer', private: true, dependencies: { 'modulus-images': `file:${packed.tarball}`, cdktf: repo.devDependencies.cdktf, constructs: repo.devDependencies.constructs } }),
    );
    // The packages come from npm's cache, which `npm ci` of this checkout filled; the registry answers only for
    // their metadata (versions to resolve), which `npm ci` never fetches on a fresh machine.
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, stdio: 'pipe' });
    for (const dependency of ['@types', 'typescript']) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', dependency), path.join(project, 'node_modules', dependency));
    // The project's own cdktf CLI (a dev tool of the project; here this checkout's), which modulus-plan runs.
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'cdktf'), path.join(project, 'node_modules', '.bin', 'cdktf'));
    compileProject(project);
    // Stand-ins first on PATH: docker and terraform print what they were asked (terraform show -json: a plan with no
    // change; terraform version: what cdktf's validation asks).
    const bin = path.join(project, 'fake-bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'docker'), '#!/bin/sh\necho "docker $*"\n', { mode: 0o755 });
    fs.writeFileSync(
      path.join(bin, 'terraform'),
      '#!/bin/sh\ncase "$1" in version | -v) echo \'{"terraform_version":"1.5.7"}\'; exit ;; esac\n' +
        'echo "terraform $* in ${PWD##*/cdktf.out/}" >&2\n' +
        'case "$1 $2" in "show -json") echo \'{"resource_changes":[]}\' ;; "show -no-color") echo "No changes." ;; esac\n',
      { mode: 0o755 },
    );
    const npx = (...args: string[]) =>
      spawnSync('npx', ['--no-install', ...args], { cwd: project, encoding: 'utf8', env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, CHECKPOINT_DISABLE: '1', CI: '1' } });

    const help = npx('modulus-ctl', '--help');
    expect({ status: help.status, stderr: help.stderr }).toEqual({ status: 0, stderr: 'usage: modulus-ctl <app>[@<host>] status|start|stop|restart|tail\n' });

    // modulus-plan synthesizes the project, then plans its one stack, python (not this repository's images and apps).
    const plan = npx('modulus-plan');
    expect(`${plan.stderr}exit status ${plan.status}`).toMatch(/exit status 0$/);
    expect(plan.stderr).toContain('[plan] .: npx cdktf synth');
    expect(plan.stderr).toContain('terraform plan -input=false -no-color -lock=false -out=plan.tfplan in stacks/python');
    expect(plan.stdout).toContain('## Plan for stack `python`');
    expect(fs.readFileSync(path.join(project, 'plan', 'summary.md'), 'utf8')).toBe(plan.stdout);
    expect(fs.readdirSync(path.join(project, 'plan')).sort()).toEqual(['comment.md', 'plan.txt', 'python.md', 'summary.md']);

    // modulus-ctl finds the app in the project's synthesized stack (python, not apps) and uses its engine.
    const status = npx('modulus-ctl', 'hello-python', 'status');
    expect({ status: status.status, stdout: status.stdout, stderr: status.stderr }).toEqual({
      status: 0,
      stdout: 'docker -H unix:///var/run/docker.sock exec modulus-app-hello-python modulus-app status\n',
      stderr: '',
    });
  });

  /** A copy of the consumer with the packed package, synthesized once by the cdktf CLI (as a user runs it). */
  const synthesizedConsumer = (prefix: string) => {
    const consumer = copyFixture(tempDir(prefix));
    installPacked(consumer, packed);
    const cdktf = (app: string) =>
      spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'cdktf'), ['synth', '--app', app], {
        cwd: consumer,
        env: { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1' },
        encoding: 'utf8',
      });
    compileProject(consumer);
    expect(cdktf('node main.js').status).toBe(0);
    const stackFile = path.join(consumer, 'cdktf.out', 'stacks', 'python', 'cdk.tf.json');
    expect(fs.existsSync(stackFile)).toBe(true);
    return { consumer, cdktf, stackFile, main: fs.readFileSync(path.join(consumer, 'main.ts'), 'utf8') };
  };

  /** A failed synth that printed exactly `errors` of the stack's constructs, each on one line, with no stack trace. */
  const expectErrorLines = (result: ReturnType<typeof spawnSync>, errors: string[]) => {
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.status).not.toBe(0);
    const lines = output.split('\n').map((line) => line.trim());
    // Printed once by the app; the CLI shows the app's stderr as it comes and again in its failure summary.
    for (const error of errors) expect(lines.filter((line) => line.endsWith(error))).toHaveLength(2);
    // No stack trace, and nothing else of ours: the lines naming the stack or its constructs are the errors.
    expect(output).not.toMatch(/^\s+at /m);
    expect(output).not.toContain('node_modules/modulus-images');
    expect(lines.filter((line) => /python[/:]/.test(line) && !errors.some((error) => line.endsWith(error)))).toEqual([]);
  };

  it('the cdktf CLI on a consumer project with errors prints every error on one line, fails, and leaves no cdk.tf.json', () => {
    const { consumer, cdktf, stackFile, main } = synthesizedConsumer('modulus-consumer-cli-');
    // Two apps named hello-python on one engine, and two DockerHosts named local.
    const policy = 'Aspects.of(stack).add(new ContainerSecurityPolicy());';
    expect(main).toContain(policy);

    fs.writeFileSync(
      path.join(consumer, 'main.ts'),
      main.replace('  VolumeRemovalPolicy,\n', '  VolumeRemovalPolicy,\n  DockerHost,\n').replace(
        policy,
        "new ModulusApp(stack, 'again', { appName, language: 'python', source: path.join(__dirname, 'hello'), images, networkMode: NetworkMode.HOST });\n" +
          "new DockerHost(stack, 'HostA', { hostName: 'local', engine: 'unix:///var/run/docker.sock' });\n" +
          "new DockerHost(stack, 'HostB', { hostName: 'local', engine: 'unix:///var/run/docker.sock' });\n" +
          policy,
      ),
    );
    compileProject(consumer);
    expectErrorLines(cdktf('node main.js'), [
      "python/again/Volume: invalid appName 'hello-python': give each app on the stack's Docker engine its own name (it names the volume, cgroup and containers): python/hello/Volume has it",
      "python/HostB: invalid hostName 'local': give each DockerHost of a stack its own name (it is its docker provider's alias): python/HostA has it",
    ]);
    expect(fs.existsSync(stackFile)).toBe(false);
  });

  it('the cdktf CLI on a consumer project with invalid props in three constructs: every one, one line each, no stack left', () => {
    const { consumer, cdktf, stackFile, main } = synthesizedConsumer('modulus-consumer-thrown-');
    // Three errors in three constructs, each reported and the program going on: the stack's statePath, the app
    // volume's sizeMiB (inside the app: the app fails as a whole) and a DockerHost's hostName after them.
    const statePath = "statePath: '../../../terraform.python.tfstate'";
    const policy = 'Aspects.of(stack).add(new ContainerSecurityPolicy());';
    expect(main).toContain(statePath);
    expect(main).toContain('sizeMiB: 128,');
    expect(main).toContain(policy);
    const edit = (source: string) => {
      fs.writeFileSync(path.join(consumer, 'main.ts'), source);
      compileProject(consumer);
    };
    edit(
      main
        .replace(statePath, "statePath: '/srv/state/python.tfstate'")
        .replace('sizeMiB: 128,', 'sizeMiB: 10,')
        .replace('  VolumeRemovalPolicy,\n', '  VolumeRemovalPolicy,\n  DockerHost,\n')
        .replace(policy, `new DockerHost(stack, 'Remote', { hostName: 'Web 2', engine: 'unix:///var/run/docker.sock' });\n${policy}`),
    );
    const errors = [
      "python: invalid statePath '/srv/state/python.tfstate': give a path relative to cdktf.out/stacks/python",
      'python/hello/Volume: invalid sizeMiB 10: use a whole number from 64 to 16777216',
      "python/Remote: invalid hostName 'Web 2': use a lowercase letter, then lowercase letters, digits or '-', at most 30 characters (e.g. 'edge-1')",
    ];
    expectErrorLines(cdktf('node main.js'), errors);
    // The stack the first synth wrote is gone, from the folder and from the manifest.
    expect(fs.existsSync(stackFile)).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(consumer, 'cdktf.out', 'manifest.json'), 'utf8')).stacks).toEqual({});

    // Any other exception keeps Node's report, stack trace included, after the errors recorded before it.
    edit(main.replace(statePath, "statePath: '/srv/state/python.tfstate'").replace('app.synth();', "throw new Error('a bug of the project');\napp.synth();"));
    const bug = cdktf('node main.js');
    expect(bug.status).not.toBe(0);
    expect(`${bug.stdout}\n${bug.stderr}`).toMatch(new RegExp(`${errors[0].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\n[^]*Error: a bug of the project\n\\s+at `));
  });
});
