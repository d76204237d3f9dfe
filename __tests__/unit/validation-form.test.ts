import * as path from 'path';
import { App, TerraformStack, Testing } from 'cdktf';
import { Construct } from 'constructs';
import { ModulusApp, ModulusAppProps } from '../../lib/app';
import { AppVolume, AppVolumeProps } from '../../lib/app-volume';
import { BuildJob, BuildJobProps } from '../../lib/build-job';
import { ContainerSecurityPolicy } from '../../lib/container-policy';
import { DockerHost } from '../../lib/docker-host';
import { ImageHierarchy, ImageHierarchyProps } from '../../lib/image-hierarchy';
import { ModulusImage, ModulusImageProps } from '../../lib/modulus-image';
import { ModulusStack, ModulusStackProps } from '../../lib/modulus-stack';
import { RunContainer, RunContainerProps } from '../../lib/run-container';
import { stateBackendFromEnvironment } from '../../lib/state-backend';
import { errorMessage, sourceFolder } from './support/app-runtime';

/**
 * Every validation error of every construct has one form: `<construct path>: invalid <field> <value>: <what is
 * allowed>`, the value shown as given (strings quoted) unless it may be secret. One row per check, across all
 * constructs, so a new check written in another form fails here.
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
const modulusStack = (props: ModulusStackProps) => new ModulusStack(new App(), 'images', props);

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
  ['docker host', () => modulusStack({ dockerHost: 'localhost:2375' }), 'images', 'dockerHost', "'localhost:2375'"],
  ['state path', () => modulusStack({ statePath: '/abs/state' }), 'images', 'statePath', "'/abs/state'"],
  ['state backend', () => modulusStack({ backend: { type: 's3' } as any }), 'images', 'backend', '{"type":"s3"}'],
  ['pg schema prefix', () => modulusStack({ backend: { type: 'pg', schemaPrefix: 'Bad-' } as any }), 'images', 'backend.schemaPrefix', "'Bad-'"],
  ['policy exemption', () => ContainerSecurityPolicy.exempt(stack(), ''), 'test', 'ContainerSecurityPolicy exemption reason', "''"],
  ['policy rule', () => ContainerSecurityPolicy.exempt(stack(), 'a good reason', ['no-root' as any]), 'test', 'ContainerSecurityPolicy exemption rule', "'no-root'"],
];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('one form for every validation error: <construct path>: invalid <field> <value>: <what is allowed>', () => {
  it.each(CASES)('%s', (_what, make, constructPath, field, value) => {
    const message = errorMessage(make);
    expect(message).toMatch(new RegExp(`^${escape(`${constructPath}: invalid ${field} ${value}: `)}\\S.{10,}$`, 's'));
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
