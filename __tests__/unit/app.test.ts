import * as os from 'os';
import { Aspects } from 'cdktf';
import { ModulusApp, ModulusAppProps } from '../../lib/app';
import { ContainerSecurityPolicy } from '../../lib/container-policy';
import { ImageHierarchy } from '../../lib/image-hierarchy';
import { NetworkMode } from '../../lib/network-mode';
import { STANDARD_IMAGES } from '../../lib/standard-images';
import { addImageFolder, makeImagesDirectory } from './support/fixtures';
import { annotations, errorMessage, localExecs, resource, resourceKey, resourcesOf, sourceFolder, synthStack } from './support/app-runtime';

const SOURCE = sourceFolder({ 'package.json': '{"name":"hello","scripts":{"start":"node index.js"}}\n', 'index.js': 'require("http")\n' });

function synthApp(props: Partial<ModulusAppProps> = {}, source = SOURCE) {
  let app!: ModulusApp;
  const result = synthStack((stack) => {
    app = new ModulusApp(stack, 'Hello', {
      appName: 'hello',
      language: 'node',
      source,
      buildImage: '${docker_image.build_node.image_id}',
      runImage: '${docker_image.run_node.image_id}',
      ...props,
    });
    Aspects.of(stack).add(new ContainerSecurityPolicy());
  });
  return { ...result, app };
}

describe('ModulusApp: volume → build → run', () => {
  const { json, stack, app } = synthApp({ environment: { NODE_ENV: 'production' }, networkMode: NetworkMode.HOST, volume: { sizeMiB: 1024 } });
  const build = resource(json, 'docker_container', 'Hello_Build_Container');
  const run = resource(json, 'docker_container', 'Hello_Run_Container');

  it('composes one volume, one build and one run container named after the app', () => {
    expect(Object.keys(resourcesOf(json, 'docker_container'))).toHaveLength(2);
    expect(build.name).toBe('modulus-build-hello-${formatdate("YYYYMMDDhhmmss", timestamp())}');
    expect(run.name).toBe('modulus-app-hello');
    expect(app.containerName).toBe('modulus-app-hello');
    expect(resource(json, 'null_resource', 'Hello_Volume').triggers.modulus_volume).toBe('hello');
    expect(app.volume.sizeMiB).toBe(1024);
  });

  it('uses the build image for the build and the run image for the run container', () => {
    expect(build.image).toBe('${docker_image.build_node.image_id}');
    expect(run.image).toBe('${docker_image.run_node.image_id}');
  });

  it('orders the run container after the published build, which a new build does not replace', () => {
    const publish = resourceKey(json, 'null_resource', 'Hello_Build_Publish');
    expect(run.depends_on).toContain(`null_resource.${publish}`);
    expect(JSON.stringify(run)).not.toContain(`null_resource.${publish}.id`);
    expect(resource(json, 'null_resource', 'Hello_Build_Publish').triggers.build).toBe(
      `\${docker_container.${resourceKey(json, 'docker_container', 'Hello_Build_Container')}.id}`,
    );
  });

  it("has the publish step, which restarts the app in place, wait until it answers its run container's check", () => {
    const publish = localExecs(resource(json, 'null_resource', 'Hello_Build_Publish'))[0];
    const ready = localExecs(resource(json, 'null_resource', 'Hello_Run_Ready'))[0];
    const readiness = { MODULUS_READY_PORTS: '8080', MODULUS_HEALTH_PATH: '/', MODULUS_HEALTH_TIMEOUT_SECONDS: '5', MODULUS_READY_TIMEOUT_SECONDS: '120' };
    expect(publish.environment).toMatchObject(readiness);
    expect(ready.environment).toMatchObject(readiness);
    // Without a check to wait for, publish waits for supervisord as before: the variables are empty.
    const unchecked = synthApp({ run: { healthCheck: { waitForHealthy: false } } }).json;
    expect(localExecs(resource(unchecked, 'null_resource', 'Hello_Build_Publish'))[0].environment).toMatchObject({ MODULUS_READY_PORTS: '' });
  });

  it('applies the network mode to build and run', () => {
    expect(build.network_mode).toBe('host');
    expect(run.network_mode).toBe('host');
  });

  it('passes the secure defaults of its own policy', () => {
    expect(annotations(stack).filter((annotation) => annotation.level !== 'info')).toEqual([]);
  });

  it('keeps the volume untouched when the source, the images or the environment change', () => {
    const volumeOf = (j: any) => resource(j, 'null_resource', 'Hello_Volume');
    const changed = synthApp(
      { environment: { NODE_ENV: 'staging' }, networkMode: NetworkMode.HOST, volume: { sizeMiB: 1024 }, runImage: 'other', buildImage: 'other-build' },
      sourceFolder({ 'index.js': 'changed' }),
    ).json;
    // What replaces a null_resource: its triggers (the steps run in the new run image, which changes no trigger).
    expect(volumeOf(changed).triggers).toEqual(volumeOf(json).triggers);
    expect(resource(changed, 'null_resource', 'Hello_Volume_Mount').triggers).toEqual(resource(json, 'null_resource', 'Hello_Volume_Mount').triggers);
    expect(resource(changed, 'null_resource', 'Hello_Build_Input').triggers).not.toEqual(resource(json, 'null_resource', 'Hello_Build_Input').triggers);
  });

  it('keeps the synthesized JSON free of the source folder path', () => {
    const { raw } = synthApp();
    expect(raw).not.toContain(SOURCE);
    expect(raw).not.toMatch(new RegExp(`"${os.tmpdir()}/`));
  });
});

describe('ModulusApp: validation', () => {
  const appError = (props: Partial<ModulusAppProps>) => errorMessage(() => synthApp(props));

  const APP_NAME = "use a lowercase letter, then lowercase letters, digits or '-', ending in a letter or digit, at most 40 characters (e.g. 'shop-api')";
  const LANGUAGE_NAME = "use a lowercase letter, then lowercase letters or digits, at most 30 characters (e.g. 'node' or 'python')";
  it.each<[Partial<ModulusAppProps>, string]>([
    [{ appName: 'Hello World' }, `test/Hello: invalid appName 'Hello World': ${APP_NAME}`],
    [{ language: 'Go' }, `test/Hello: invalid language 'Go': ${LANGUAGE_NAME}`],
    [{ language: 'node-legacy' }, `test/Hello: invalid language 'node-legacy': ${LANGUAGE_NAME}`],
    [{ buildImage: undefined }, "test/Hello: invalid language 'node': it has no images: pass images (an ImageHierarchy with build-node) or buildImage"],
    [
      { buildImage: undefined, runImage: undefined, language: 'python' },
      "test/Hello: invalid language 'python': it has no images: pass images (an ImageHierarchy with build-python and run-python) or buildImage and runImage",
    ],
    [{ images: {} as any }, 'test/Hello: invalid images {}: give an ImageHierarchy or a PushedHierarchy'],
    [{ volume: { sizeMiB: 10 } }, 'test/Hello/Volume: invalid sizeMiB 10: use a whole number from 64 to 16777216'],
    [{ volume: { sizeMiB: '2GiB' as any } }, "test/Hello/Volume: invalid sizeMiB '2GiB': use a whole number from 64 to 16777216"],
    [{ environment: { PORT: '80' } }, "test/Hello: invalid environment.PORT '80': leave it out: it is set from run.port"],
    [{ environment: { SERVO_SIZE: '1' } }, "test/Hello: invalid environment.SERVO_SIZE '1': leave it out: it is set from run.memoryMiB"],
    [{ build: { timeoutSeconds: 5 } }, 'test/Hello/Build: invalid timeoutSeconds 5: use a whole number from 10 to 86400'],
    [{ run: { port: -1 } }, 'test/Hello/Run: invalid port -1: use a whole number from 1 to 65535'],
  ])('refuses %j at synth', (props, message) => {
    expect(appError(props)).toBe(message);
  });
});

describe('ModulusApp: languages are open, images come from a hierarchy', () => {
  /** A stack with a hierarchy of the standard images plus `extra` (folders in a temporary images directory). */
  function synthWithImages(props: Partial<ModulusAppProps>, extra: Array<{ name: string; parent: string }> = []) {
    let images!: ImageHierarchy;
    const result = synthStack((stack) => {
      const imagesDirectory = makeImagesDirectory();
      for (const { name } of extra) addImageFolder(imagesDirectory, name);
      images = new ImageHierarchy(stack, 'images', { imagesDirectory, additionalImages: extra });
      new ModulusApp(stack, 'Hello', { appName: 'hello', language: 'node', source: SOURCE, images, ...props });
    });
    return { ...result, images };
  }
  const imageIdOf = (json: any, name: string) =>
    `\${docker_image.${Object.entries<any>(json.resource.docker_image).find(([, image]) => image.name === `modulus/${name}:latest`)![0]}.image_id}`;
  const PYTHON = [
    { name: 'build-python', parent: 'build-base' },
    { name: 'run-python', parent: 'run-base' },
  ];

  it('builds and runs a standard language on build-<language> and run-<language> of the hierarchy', () => {
    const { json } = synthWithImages({ language: 'php' });
    expect(resource(json, 'docker_container', 'Hello_Build_Container').image).toBe(imageIdOf(json, 'build-php'));
    expect(resource(json, 'docker_container', 'Hello_Run_Container').image).toBe(imageIdOf(json, 'run-php'));
  });

  it('accepts a language outside LANGUAGES once the hierarchy has its two images, and labels the containers with it', () => {
    const { json } = synthWithImages({ language: 'python' }, PYTHON);
    const build = resource(json, 'docker_container', 'Hello_Build_Container');
    const run = resource(json, 'docker_container', 'Hello_Run_Container');
    expect(build.image).toBe(imageIdOf(json, 'build-python'));
    expect(run.image).toBe(imageIdOf(json, 'run-python'));
    expect(run.labels).toContainEqual({ label: 'org.modulus.language', value: 'python' });
  });

  it('prefers an explicit buildImage or runImage over the hierarchy', () => {
    const { json } = synthWithImages({ language: 'python', runImage: 'registry.example/run-python:3' }, PYTHON.slice(0, 1));
    expect(resource(json, 'docker_container', 'Hello_Build_Container').image).toBe(imageIdOf(json, 'build-python'));
    expect(resource(json, 'docker_container', 'Hello_Run_Container').image).toBe('registry.example/run-python:3');
  });

  it.each([
    [[], 'it needs the images build-python and run-python', 'add them', 'buildImage and runImage'],
    [PYTHON.slice(0, 1), 'it needs the image run-python', 'add it', 'runImage'],
    [PYTHON.slice(1), 'it needs the image build-python', 'add it', 'buildImage'],
  ])('fails at synth naming the construct, the field, the value and the missing images (%j added)', (extra, needs, add, fields) => {
    const error = errorMessage(() => synthWithImages({ language: 'python' }, extra));
    const has = [...STANDARD_IMAGES.map((image) => image.name), ...extra.map((image) => image.name)].sort().join(', ');
    expect(has).toMatch(/^base, build-base, build-java, /);
    expect(error).toBe(
      `test/Hello: invalid language 'python': ${needs}, which test/images does not have (it has ${has}): ` +
        `${add} through ImageHierarchyProps.additionalImages, or pass ${fields}`,
    );
  });
});
