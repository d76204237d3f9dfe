import * as fs from 'fs';
import * as path from 'path';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { App, TerraformStack, Testing } from 'cdktf';
import { Construct } from 'constructs';
import { ModulusApp, ModulusAppProps } from '../../lib/app';
import { AppVolume, AppVolumeProps } from '../../lib/app-volume';
import { BuildJob, BuildJobProps } from '../../lib/build-job';
import { ContainerSecurityPolicy } from '../../lib/container-policy';
import { DockerHost } from '../../lib/docker-host';
import { ImageRegistry, PulledImage, PushedHierarchy, PushedImage } from '../../lib/image-registry';
import { ImageHierarchy, ImageHierarchyProps } from '../../lib/image-hierarchy';
import { ModulusImage, ModulusImageProps } from '../../lib/modulus-image';
import { ModulusStack, ModulusStackProps } from '../../lib/modulus-stack';
import { ModulusRouter } from '../../lib/router';
import { synthErrors } from '../../lib/private/synth-errors';
import { RunContainer, RunContainerProps } from '../../lib/run-container';
import * as validation from '../../lib/private/validation';
import { stateBackendFromEnvironment } from '../../lib/state-backend';
import { errorMessage, sourceFolder } from './support/app-runtime';

/**
 * Every validation error of every construct has one form: `<construct path>: invalid <field> <value>: <what is
 * allowed>`, the value shown as given (strings quoted) unless it may be secret. The sites are found in the
 * sources: every `throw` in lib/ and stacks/ must build its error with invalid()/invalidSetting() (or be one of
 * the few package errors below), and every construct class must have a row here whose error comes from it.
 */
const IMAGES = path.resolve(__dirname, '../../images');
const stack = () => new TerraformStack(Testing.app(), 'test');
const volume = (props: Partial<AppVolumeProps> = {}) => new AppVolume(stack(), 'Vol', { appName: 'shop', image: 'run-image', ...props });
const containerProps = (scope: Construct) => ({
  volume: new AppVolume(scope, 'Vol', { appName: 'shop', image: 'run-image' }),
  image: 'modulus/run-node:latest',
  language: 'node',
});
const runContainer = (props: Partial<RunContainerProps>) => {
  const scope = stack();
  return new RunContainer(scope, 'Run', { ...containerProps(scope), ...props });
};
const buildJob = (props: Partial<BuildJobProps>) => {
  const scope = stack();
  return new BuildJob(scope, 'Build', { ...containerProps(scope), source: sourceFolder(), ...props });
};
const app = (props: Partial<ModulusAppProps>) =>
  new ModulusApp(stack(), 'App', { appName: 'shop', language: 'node', source: sourceFolder(), buildImage: 'b', runImage: 'r', ...props });
const image = (props: Partial<ModulusImageProps>) =>
  new ModulusImage(stack(), 'Img', { repository: 'modulus/base', directory: path.join(IMAGES, 'base'), parent: 'debian:bookworm-slim', ...props });
const hierarchy = (props: ImageHierarchyProps) => new ImageHierarchy(stack(), 'Tree', props);
/** A ModulusStack records its own invalid props (the synth fails with them) rather than throwing: the first is thrown here. */
const modulusStack = (props: ModulusStackProps) => {
  const made = new ModulusStack(new App(), 'images', props);
  const [recorded] = synthErrors(made);
  if (recorded !== undefined) throw new Error(recorded);
  return made;
};
const registry = (scope: Construct = stack()) => new ImageRegistry(scope, 'Registry', { address: '127.0.0.1:5000' });
const pushedImage = () => {
  const scope = stack();
  return new PushedImage(scope, 'Push', { registry: registry(scope), image: image({ repository: 'elsewhere.example.com/base' }) });
};
const pulledImage = () => new PulledImage(stack(), 'Pull', { image: 'registry.example.com/base:latest', provider: new DockerProvider(stack(), 'docker', {}) });
const pushedHierarchy = () => {
  const scope = stack();
  const reg = registry(scope);
  return new PushedHierarchy(scope, 'Pushed', { registry: reg, hierarchy: new ImageHierarchy(scope, 'Tree', { repositoryPrefix: reg.repositoryPrefix('modulus/') }) }).image('run-cobol');
};

const CASES: Array<[string, () => unknown, string, string, string]> = [
  // [what, make, construct path, field, value as shown]
  ['app name', () => volume({ appName: 'Shop' }), 'test/Vol', 'appName', "'Shop'"],
  ['volume size', () => volume({ sizeMiB: 10 }), 'test/Vol', 'sizeMiB', '10'],
  ['volume backend', () => volume({ backend: 'zfs' as any }), 'test/Vol', 'backend', "'zfs'"],
  ['removal policy', () => volume({ removalPolicy: 'snapshot' as any }), 'test/Vol', 'removalPolicy', "'snapshot'"],
  ['lvm without lvm-thin', () => volume({ lvm: { volumeGroup: 'vg', thinPool: 'p' } }), 'test/Vol', 'lvm', '{"volumeGroup":"vg","thinPool":"p"}'],
  ['host root', () => volume({ hostRoot: 'var/x' }), 'test/Vol', 'hostRoot', "'var/x'"],
  ['volume root', () => new DockerHost(stack(), 'Host', { hostName: 'a', engine: 'unix:///var/run/docker.sock', volumes: { root: '/etc' } }), 'test/Host', 'volumes.root', "'/etc'"],
  ['environment name', () => volume({ environment: { 'A-B': '1' } }), 'test/Vol', 'environment name', "'A-B'"],
  ['secret value', () => volume({ secretEnvironment: { TOKEN: 'a\nb' } }), 'test/Vol', 'secretEnvironment.TOKEN', '(value hidden)'],
  ['secret given twice', () => volume({ environment: { A: '1' }, secretEnvironment: { A: '2' } }), 'test/Vol', 'secretEnvironment name', "'A'"],
  ['port', () => runContainer({ port: 0 }), 'test/Run', 'port', '0'],
  ['restart policy', () => runContainer({ restart: 'sometimes' as any }), 'test/Run', 'restart', "'sometimes'"],
  ['network mode', () => runContainer({ networkMode: 'mynet' as any }), 'test/Run', 'networkMode', "'mynet'"],
  ['publish with host network', () => runContainer({ networkMode: 'host' as any, publish: {} }), 'test/Run', 'publish', '{}'],
  ['health check path', () => runContainer({ healthCheck: { path: 'x y' } }), 'test/Run', 'healthCheck.path', "'x y'"],
  ['process limit', () => runContainer({ processLimit: 1 }), 'test/Run', 'processLimit', '1'],
  ['image', () => runContainer({ image: '' }), 'test/Run', 'image', "''"],
  ['build timeout', () => buildJob({ timeoutSeconds: 1 }), 'test/Build', 'timeoutSeconds', '1'],
  ['build source', () => buildJob({ source: '/nonexistent/source' }), 'test/Build', 'source', "'/nonexistent/source'"],
  ['reserved build variable', () => buildJob({ environment: { INPUT: '/x' } }), 'test/Build', 'environment.INPUT', "'/x'"],
  ['language', () => app({ language: 'Py thon' }), 'test/App', 'language', "'Py thon'"],
  ['reserved app variable', () => app({ environment: { PORT: '1' } }), 'test/App', 'environment.PORT', "'1'"],
  ['missing images', () => app({ buildImage: undefined, runImage: undefined }), 'test/App', 'language', "'node'"],
  ['image repository', () => image({ repository: 'Modulus/Base' }), 'test/Img', 'repository', "'Modulus/Base'"],
  ['image tag', () => image({ tag: '-x' }), 'test/Img', 'tag', "'-x'"],
  ['image parent', () => image({ parent: 'not a reference' }), 'test/Img', 'parent', "'not a reference'"],
  ['image folder', () => image({ directory: '/nonexistent/folder' }), 'test/Img', 'directory', "'/nonexistent/folder'"],
  ['reserved build arg', () => image({ buildArgs: { BASE_IMAGE: 'x' } }), 'test/Img', 'buildArgs.BASE_IMAGE', "'x'"],
  ['image build network', () => image({ buildNetworkMode: 'mynet' as any }), 'test/Img', 'buildNetworkMode', "'mynet'"],
  ['root image', () => hierarchy({ rootImage: 'NOT VALID' }), 'test/Tree', 'rootImage', "'NOT VALID'"],
  ['image name', () => hierarchy({ additionalImages: [{ name: 'Run_Python', parent: 'run-base' }] }), 'test/Tree', 'image name', "'Run_Python'"],
  ['duplicate image', () => hierarchy({ additionalImages: [{ name: 'base' }] }), 'test/Tree', 'image name', "'base'"],
  ['unknown parent', () => hierarchy({ additionalImages: [{ name: 'run-python', parent: 'run-bas' }] }), 'test/Tree', 'images[run-python].parent', "'run-bas'"],
  ['image lookup', () => hierarchy({}).image('run-cobol'), 'test/Tree', 'image name', "'run-cobol'"],
  ['host name', () => new DockerHost(stack(), 'Host', { hostName: 'Edge', engine: 'unix:///var/run/docker.sock' }), 'test/Host', 'hostName', "'Edge'"],
  ['registry address', () => new ImageRegistry(stack(), 'Registry', { address: 'https://r.example.com' }), 'test/Registry', 'address', "'https://r.example.com'"],
  ['pushed image', pushedImage, 'test/Push', 'image', "'elsewhere.example.com/base:latest'"],
  ['pulled image', pulledImage, 'test/Pull', 'image', "'registry.example.com/base:latest'"],
  ['pushed image lookup', pushedHierarchy, 'test/Pushed', 'image name', "'run-cobol'"],
  ['router domain', () => new ModulusRouter(stack(), 'Router', { domain: 'Shop.Example' }), 'test/Router', 'domain', "'Shop.Example'"],
  ['docker host', () => modulusStack({ dockerHost: 'localhost:2375' }), 'images', 'dockerHost', "'localhost:2375'"],
  ['state path', () => modulusStack({ statePath: '/abs/state' }), 'images', 'statePath', "'/abs/state'"],
  ['state backend', () => modulusStack({ backend: { type: 's3' } as any }), 'images', 'backend', '{"type":"s3"}'],
  ['pg schema prefix', () => modulusStack({ backend: { type: 'pg', schemaPrefix: 'Bad-' } as any }), 'images', 'backend.schemaPrefix', "'Bad-'"],
  ['policy exemption', () => ContainerSecurityPolicy.exempt(stack(), ''), 'test', 'ContainerSecurityPolicy exemption reason', "''"],
  ['policy rule', () => ContainerSecurityPolicy.exempt(stack(), 'a good reason', ['no-root' as any]), 'test', 'ContainerSecurityPolicy exemption rule', "'no-root'"],
];

const LIB = path.resolve(__dirname, '../../lib');
/** Errors that are not about a value a user gave: a broken package, a rethrow, the synth's list of the errors above. */
const PACKAGE_ERRORS = [/^return new Error\(`(\$\{scope.node.path\}: )?invalid \$\{/, /new Error\(`modulus-images: /, /^throw error;$/, /new Error\(`\$\{stackName\}: \$\{errors.length\} error/];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('one form for every validation error: <construct path>: invalid <field> <value>: <what is allowed>', () => {
  it.each(CASES)('%s', (_what, make, constructPath, field, value) => {
    const message = errorMessage(make);
    expect(message).toMatch(new RegExp(`^${escape(`${constructPath}: invalid ${field} ${value}: `)}\\S.{10,}$`, 's'));
  });

  it('has a row for every construct class of lib/, its error coming from an instance of that class', () => {
    const classes = fs
      .readdirSync(LIB)
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [...fs.readFileSync(path.join(LIB, file), 'utf8').matchAll(/^export class (\w+) extends (Construct|TerraformStack)\b/gm)].map((match) => match[1]));
    expect(classes.length).toBeGreaterThan(10);
    const seen = new Set<string>();
    const spy = jest.spyOn(validation, 'invalid');
    try {
      for (const [, make] of CASES) {
        spy.mockClear();
        errorMessage(make);
        for (const [scope] of spy.mock.calls) seen.add(scope.constructor.name);
      }
    } finally {
      spy.mockRestore();
    }
    expect(classes.filter((name) => !seen.has(name))).toEqual([]);
  });

  it('finds no error built another way in lib/ or stacks/: every throw is invalid() (invalidProp() outside lib), invalidSetting() or a listed package error', () => {
    const sources = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const file = path.join(dir, entry.name);
        return entry.isDirectory() ? sources(file) : entry.name.endsWith('.ts') ? [file] : [];
      });
    const others = [...sources(LIB), ...sources(path.join(LIB, '../stacks'))].flatMap((file) =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .map((line, index) => ({ where: `${path.relative(path.join(LIB, '..'), file)}:${index + 1}`, line: line.trim() }))
        .filter(({ line }) => /^(if \(.*\) )?throw |[^*] new Error\(/.test(line) && !/throw (invalid|invalidProp|invalidSetting)\(/.test(line))
        .filter(({ line }) => !PACKAGE_ERRORS.some((allowed) => allowed.test(line))),
    );
    expect(others).toEqual([]);
  });

  it('names the fix for enum choices by the enum member', () => {
    expect(errorMessage(() => volume({ backend: 'zfs' as any }))).toBe(
      "test/Vol: invalid backend 'zfs': use one of VolumeBackend.LOOPFILE ('loopfile'), VolumeBackend.LVM_THIN ('lvm-thin')",
    );
  });

  it('never shows a secret value, only its name', () => {
    const message = errorMessage(() => volume({ secretEnvironment: { TOKEN: 's3cr3t "x\' y' } }));
    expect(message).toContain('secretEnvironment.TOKEN');
    expect(message).not.toContain('s3cr3t');
  });

  it('uses the same form, without a construct path, for settings from the environment', () => {
    expect(errorMessage(() => stateBackendFromEnvironment({ MODULUS_STATE: 's3' }))).toMatch(/^invalid MODULUS_STATE 's3': use 'local'/);
    expect(errorMessage(() => stateBackendFromEnvironment({ MODULUS_STATE: 'pg' }))).toMatch(/^invalid PG_CONN_STR \(not set\): MODULUS_STATE 'pg' needs it/);
  });
});
