import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Testing } from 'cdktf';
import { AppVolume } from '../../lib/app-volume';
import { BuildJob, BuildJobProps, buildContainerName } from '../../lib/build-job';
import { NetworkMode } from '../../lib/network-mode';
import { errorMessage, localExecs, resource, resourceKey, sourceFolder, synthStack } from './support/app-runtime';

const IMAGE = 'sha256:0123456789abcdef';

function synthBuild(props: Partial<BuildJobProps> = {}, source = sourceFolder()) {
  let job!: BuildJob;
  const result = synthStack((stack) => {
    const volume = new AppVolume(stack, 'Vol', { appName: 'shop', image: 'run-image' });
    job = new BuildJob(stack, 'Build', { volume, image: IMAGE, language: 'node', source, ...props });
  });
  return { ...result, job, source };
}

const buildError = (props: Partial<BuildJobProps>): string => errorMessage(() => synthBuild(props));

/** The build container's name ends in the UTC time of its creation (read at apply): one name per attempt. */
const ATTEMPT = '-${formatdate("YYYYMMDDhhmmss", timestamp())}';

describe('BuildJob: the build container', () => {
  const { json, raw, job } = synthBuild();
  const container = resource(json, 'docker_container', 'Build_Container');

  it('runs `build` from the build image as mop, read-only, without capabilities, to completion', () => {
    expect(Testing.toHaveResourceWithProperties(raw, 'docker_container', { name: `modulus-build-shop${ATTEMPT}`, image: IMAGE })).toBe(true);
    expect(container).toMatchObject({
      name: `${buildContainerName('shop')}${ATTEMPT}`,
      user: '441:444',
      read_only: true,
      capabilities: { drop: ['ALL'] },
      security_opts: ['no-new-privileges:true'],
      memory: 1024,
      memory_swap: 1024,
      network_mode: 'bridge',
      attach: true,
      logs: true,
      must_run: false,
      // The app's cgroup, whose process limit the app's RunContainer sets; rotated logs.
      cgroup_parent: '/modulus/shop',
      log_driver: 'json-file',
      log_opts: { 'max-size': '10m', 'max-file': '2' },
    });
    // `build` under the outer timeout, its whole log to /mnt/log/build.log, only the last 30 lines to Terraform.
    expect(container.command).toEqual(['bash', '-c', expect.stringContaining('timeout --kill-after=10 "$1" build 2>&1 | tee /mnt/log/build.log'), 'modulus-build', '930', '30']);
    expect(job.containerName).toBe('modulus-build-shop');
    expect(job.node.defaultChild).toBe(job.resource);
    expect(job.resource.node.path).toBe('test/Build/Container');
  });

  it('names each attempt apart, so a container an interrupted apply left behind never blocks the next one; plans stay empty', () => {
    expect(container.name).toBe(`modulus-build-shop${ATTEMPT}`);
    // Once created, the container keeps its name: the time read by the next plan is not a change.
    expect(container.lifecycle.ignore_changes).toEqual(['name']);
  });

  it('waits for a build left running by an interrupted deploy, then clears output/ before building', () => {
    const script: string = container.command[2];
    const lock = script.indexOf('flock -w "$1" 9');
    expect(script).toContain('exec 9>>/mnt/.build-lock');
    expect(lock).toBeGreaterThan(0);
    expect(script).toContain('still holds /mnt/.build-lock after $1 s');
    expect(script.indexOf('find /mnt/output -mindepth 1 -delete')).toBeGreaterThan(lock);
    expect(script.indexOf('timeout --kill-after=10 "$1" build')).toBeGreaterThan(script.indexOf('find /mnt/output'));
  });

  it('sets INPUT/OUTPUT, INPUT_DIR/OUTPUT_DIR and BUILD_TIMEOUT (15 minutes by default)', () => {
    expect(container.env).toEqual(['BUILD_TIMEOUT=900', 'INPUT=/mnt/input', 'INPUT_DIR=/mnt/input', 'OUTPUT=/mnt/output', 'OUTPUT_DIR=/mnt/output']);
  });

  it('mounts the volume from its mount point, as the run container does: never a folder inside it by its host path', () => {
    expect(container.mounts).toEqual([{ type: 'bind', source: '/var/lib/modulus/volumes/shop/mnt', target: '/mnt' }]);
  });

  it('fails the deploy on a non-zero exit, with the last log lines (the provider itself does not)', () => {
    const [postcondition] = container.lifecycle.postcondition;
    expect(postcondition.condition).toBe('${self.exit_code == 0}');
    expect(postcondition.error_message).toContain("Build of app 'shop' (node) ${self.exit_code == 124 ? \"timed out after 900 s\" : ");
    expect(postcondition.error_message).toContain('"failed with exit status ${self.exit_code}"');
    expect(postcondition.error_message).toContain('Last log lines:\n${join("\\n", slice(split("\\n", trimspace(self.container_logs == null ? "" : self.container_logs))');
    expect(postcondition.error_message).toContain(' - 30), length(');
  });

  it('copies the source into input/ first (after the volume is ready), and publishes output/ to app/ after', () => {
    const input = resource(json, 'null_resource', 'Build_Input');
    const [copy] = localExecs(input);
    expect(copy.command).toMatch(/^bash assets\/ModulusVolumeScript\/[0-9A-F]{32}\/modulus-volume\.sh prepare-build$/);
    expect(copy.environment.MODULUS_SOURCE).toMatch(/^assets\/SourceArchives_Asset_[0-9A-F]{8}\/[0-9A-F]{32}\/[0-9a-f]{64}\.tar$/);
    expect(copy.environment.MODULUS_IMAGE).toBe('run-image');
    expect(input.triggers).toMatchObject({ source_sha256: job.sourceHash, image: IMAGE });
    expect(input.depends_on).toEqual(
      ['Volume', 'Config', 'Mount'].map((name) => `null_resource.${resourceKey(json, 'null_resource', `Vol_${name}`)}`),
    );
    expect(container.depends_on).toEqual([`null_resource.${resourceKey(json, 'null_resource', 'Build_Input')}`]);

    const publish = resource(json, 'null_resource', 'Build_Publish');
    expect(localExecs(publish)[0].command).toMatch(/modulus-volume\.sh publish$/);
    const buildId = `\${docker_container.${resourceKey(json, 'docker_container', 'Build_Container')}.id}`;
    // The plan shows the source of each release it publishes.
    expect(publish.triggers).toEqual({ build: buildId, source_sha256: job.sourceHash, volume: `\${null_resource.${resourceKey(json, 'null_resource', 'Vol_Volume')}.id}` });
    expect(localExecs(publish)[0].environment).toMatchObject({ MODULUS_RELEASE: buildId, MODULUS_RUN_CONTAINER: 'modulus-app-shop' });
  });

  it("keys the build on its inputs (source, image, command, environment), which the copy step writes for it: a kept release of the same key is reused", () => {
    const key = (props: Partial<BuildJobProps>) => localExecs(resource(synthBuild(props).json, 'null_resource', 'Build_Input'))[0].environment.MODULUS_BUILD_KEY;
    const plain = key({});
    expect(plain).toBe(`\${sha256(join("\\n", ["${job.sourceHash}", "${IMAGE}"]))}`);
    expect(key({ command: ['build', '--fast'] })).toBe(`\${sha256(join("\\n", ["${job.sourceHash}", "${IMAGE}", "build", "--fast"]))}`);
    expect(key({ environment: { MODE: 'ci' } })).toContain('"MODE=ci"');
    expect(key({ secretEnvironment: { NPM_TOKEN: 'npm-literal-secret' } })).toMatch(/sensitive\(sha256\(local\.Build_Secret_NPM_TOKEN_[0-9A-F]{8}\)\)\]\)\)\}$/);
    const command = container.command[2];
    expect(command).toContain('if [[ -f /mnt/.build-key && ! -L /mnt/.build-key ]]; then');
    expect(command.indexOf('/mnt/.build-key')).toBeLessThan(command.indexOf('timeout --kill-after=10'));
  });

  it('rebuilds when the copied input changes: the container is labelled with the copy step and the source hash', () => {
    const labels = Object.fromEntries(container.labels.map((label: any) => [label.label, label.value]));
    expect(labels).toEqual({
      'org.modulus.app': 'shop',
      'org.modulus.role': 'build',
      'org.modulus.language': 'node',
      'org.modulus.source-sha256': job.sourceHash,
      'org.modulus.input': `\${null_resource.${resourceKey(json, 'null_resource', 'Build_Input')}.id}`,
    });
  });
});

describe('BuildJob: source changes', () => {
  const hashOf = (files: Record<string, string>) => synthBuild({}, sourceFolder(files)).job.sourceHash;

  it('hashes names, contents and the executable bit, not the folder location', () => {
    const base = hashOf({ 'a.js': '1' });
    expect(hashOf({ 'a.js': '1' })).toBe(base);
    expect(hashOf({ 'a.js': '2' })).not.toBe(base);
    expect(hashOf({ 'b.js': '1' })).not.toBe(base);
    const executable = sourceFolder({ 'a.js': '1' });
    fs.chmodSync(path.join(executable, 'a.js'), 0o755);
    expect(synthBuild({}, executable).job.sourceHash).not.toBe(base);
  });

  it('a changed source changes the copy step and the container label, nothing of the volume', () => {
    const before = synthBuild({}, sourceFolder({ 'a.js': '1' })).json;
    const after = synthBuild({}, sourceFolder({ 'a.js': '2' })).json;
    expect(resource(after, 'null_resource', 'Build_Input').triggers.source_sha256).not.toBe(
      resource(before, 'null_resource', 'Build_Input').triggers.source_sha256,
    );
    for (const name of ['Volume', 'Config', 'Mount']) {
      expect(resource(after, 'null_resource', `Vol_${name}`)).toEqual(resource(before, 'null_resource', `Vol_${name}`));
    }
  });

  it('keeps absolute source paths out of the JSON', () => {
    const { raw, source } = synthBuild();
    expect(raw).not.toContain(source);
    expect(raw).not.toContain('modulus-source-');
    expect(raw).not.toMatch(new RegExp(`"${os.tmpdir()}/`));
  });

  it('resolves relative sources like cdktf assets, from the folder of cdktf.json', () => {
    const repo = path.resolve(__dirname, '../..');
    const relative = path.relative(repo, sourceFolder({ 'x.js': 'x' }));
    expect(synthBuild({ source: relative }).job.sourceHash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('BuildJob: options', () => {
  it('passes timeout, memory, network and extra environment', () => {
    const { json } = synthBuild({ timeoutSeconds: 60, memoryMiB: 2048, networkMode: NetworkMode.HOST, environment: { RUN_TESTS: 'true', NPM_TOKEN: '${abc}' } });
    const container = resource(json, 'docker_container', 'Build_Container');
    expect(container).toMatchObject({ memory: 2048, memory_swap: 2048, network_mode: 'host' });
    expect(container.command.slice(3)).toEqual(['modulus-build', '90', '30']);
    expect(container.env).toEqual(expect.arrayContaining(['BUILD_TIMEOUT=60', 'RUN_TESTS=true', 'NPM_TOKEN=$${abc}']));
    expect(container.lifecycle.postcondition[0].error_message).toContain('timed out after 60 s');
  });

  const NETWORK_MODES = "use one of NetworkMode.BRIDGE ('bridge'), NetworkMode.HOST ('host'), NetworkMode.NONE ('none')";
  it.each<[Partial<BuildJobProps>, string]>([
    [{ language: 'Ruby' }, "test/Build: invalid language 'Ruby': use a lowercase letter, then lowercase letters or digits, at most 30 characters (e.g. 'node' or 'python')"],
    [{ image: '' }, "test/Build: invalid image '': give a non-empty image id or reference (e.g. modulusImage.imageId)"],
    [{ timeoutSeconds: 0 }, 'test/Build: invalid timeoutSeconds 0: use a whole number from 10 to 86400'],
    [{ memoryMiB: -1 }, 'test/Build: invalid memoryMiB -1: use a whole number from 64 to 1048576'],
    [{ memoryMiB: 1.5 }, 'test/Build: invalid memoryMiB 1.5: use a whole number from 64 to 1048576'],
    [{ networkMode: 'my net' as any }, `test/Build: invalid networkMode 'my net': ${NETWORK_MODES}`],
    // Named Docker networks are no longer accepted.
    [{ networkMode: 'my-network' as any }, `test/Build: invalid networkMode 'my-network': ${NETWORK_MODES}`],
    [{ environment: { INPUT: '/x' } }, "test/Build: invalid environment.INPUT '/x': leave it out: the build job sets it (/mnt/input or /mnt/output)"],
    [{ environment: { 'A-B': '1' } }, "test/Build: invalid environment name 'A-B': use letters, digits and '_', not starting with a digit"],
    [
      { source: '/nonexistent/modulus-source' },
      "test/Build: invalid source '/nonexistent/modulus-source': give an existing folder (relative paths are relative to cdktf.json)",
    ],
  ])('refuses %j', (props, message) => {
    expect(buildError(props)).toBe(message);
  });

  it('refuses a source with a link that leads out of the folder, naming the link and its target', () => {
    const source = sourceFolder({ 'index.js': '1' });
    fs.symlinkSync('../../etc/passwd', path.join(source, 'leak'));
    expect(buildError({ source })).toBe(
      `test/Build: invalid source '${source}': the link leak -> ../../etc/passwd leads out of the folder (1 such link); replace it with the file it points at or a link inside the folder`,
    );
  });

  it('keeps links inside the source as links and hashes them as links: a new target rebuilds', () => {
    const source = sourceFolder({ 'a.js': '1', 'b.js': '2' });
    fs.symlinkSync('a.js', path.join(source, 'main.js'));
    const before = synthBuild({}, source);
    fs.unlinkSync(path.join(source, 'main.js'));
    fs.symlinkSync('b.js', path.join(source, 'main.js'));
    expect(synthBuild({}, source).job.sourceHash).not.toBe(before.job.sourceHash);
    // The archive the asset copies into cdktf.out at synth.
    const archive = path.join(os.tmpdir(), 'modulus-images-sources', `${before.job.sourceHash}.tar`);
    const listing = execFileSync('tar', ['-tvf', archive], { encoding: 'utf8' });
    expect(listing).toMatch(/^l\S+ .* main\.js -> a\.js$/m);
  });

  it('build secrets: only in the copy step\'s sensitive environment, never in the container or its triggers', () => {
    const { json, raw } = synthBuild({ secretEnvironment: { NPM_TOKEN: 'npm-literal-secret' }, environment: { RUN_TESTS: 'true' } });
    const container = resource(json, 'docker_container', 'Build_Container');
    expect(JSON.stringify(container)).not.toContain('npm-literal-secret');
    const input = resource(json, 'null_resource', 'Build_Input');
    const [copy] = localExecs(input);
    expect(copy.environment.MODULUS_BUILD_SECRET_NAMES).toBe('NPM_TOKEN');
    expect(copy.environment.MODULUS_BUILD_SECRET_NPM_TOKEN).toMatch(/^\$\{sensitive\(local\.Build_Secret_NPM_TOKEN_[0-9A-F]{8}\)\}$/);
    expect(input.triggers.secret_NPM_TOKEN_sha256).toMatch(/^\$\{sensitive\(sha256\(local\.Build_Secret_NPM_TOKEN/);
    // The literal appears once: in the local (documented: prefer sensitive variables).
    expect(raw.split('npm-literal-secret').length - 1).toBe(1);
  });

  it('needs an AppVolume', () => {
    expect(
      errorMessage(() =>
        synthStack((stack) => new BuildJob(stack, 'Build', { volume: {} as any, image: IMAGE, language: 'node', source: sourceFolder() })),
      ),
    ).toBe('test/Build: invalid volume {}: give an AppVolume');
  });
});
