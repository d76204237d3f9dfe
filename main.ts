import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdktf';
import { VolumeRemovalPolicy } from './lib/app-volume';
import { NetworkMode } from './lib/network-mode';
import { invalidSetting } from './lib/errors';
import { stateBackendFromEnvironment } from './lib/state-backend';
import { AppsStack } from './stacks/apps-stack';
import { ImagesStack } from './stacks/images-stack';
import { readPlatformFile } from './stacks/platform-file';
import { Language, STANDARD_IMAGES } from './lib/standard-images';
import { ROUTER_IMAGE } from './lib/router';
import { routerFromEnvironment } from './stacks/router-settings';

// cdktf's built-in validations run `terraform version` once per null_resource (24 here: 1.3 s of a 3 s
// synth). The constructs validate their props in their constructors, and Terraform checks itself at init/plan.
const app = new App({ skipValidation: true });
try {
  const dockerHost = process.env.MODULUS_DOCKER_HOST || undefined;
  const networkMode = (process.env.MODULUS_NETWORK_MODE || NetworkMode.BRIDGE) as NetworkMode;
  if (networkMode !== NetworkMode.BRIDGE && networkMode !== NetworkMode.HOST) {
    throw invalidSetting('MODULUS_NETWORK_MODE', networkMode, "use 'bridge' (default) or 'host'");
  }
  // MODULUS_STATE=pg keeps both stacks' state in PostgreSQL (PG_CONN_STR, read by Terraform, never synthesized).
  const backend = stateBackendFromEnvironment(process.env);
  // MODULUS_PLATFORM: a registry and several Docker hosts (stacks/platform-file.ts); without it, one engine.
  const platform = process.env.MODULUS_PLATFORM ? readPlatformFile(process.env.MODULUS_PLATFORM) : {};
  const languages = process.env.MODULUS_LANGUAGES
    ? (process.env.MODULUS_LANGUAGES.split(',') as Language[])
    : // A language on several hosts (replicas) is one app.
      platform.hosts && [...new Set(platform.hosts.flatMap((host) => host.languages))];
  // MODULUS_ROUTER_DOMAIN: a router on the stack's engine in front of the samples (stacks/router-settings.ts).
  const router = routerFromEnvironment(process.env);
  const images = new ImagesStack(app, 'images', {
    rootImage: process.env.MODULUS_ROOT_IMAGE || undefined,
    repositoryPrefix: process.env.MODULUS_REPOSITORY_PREFIX || undefined,
    // Only the images the apps need: the shared bases and each language's build and run image.
    images: languages ? STANDARD_IMAGES.filter(({ name }) => { const language = /^(?:build|run)-(.+)$/.exec(name)?.[1]; return !language || language === 'base' || languages.includes(language); }) : undefined,
    additionalImages: router ? [ROUTER_IMAGE] : undefined,
    registry: platform.registry,
    dockerHost,
    backend,
  });
  const removalPolicy = (process.env.MODULUS_VOLUME_REMOVAL || VolumeRemovalPolicy.RETAIN) as VolumeRemovalPolicy;
  if (!Object.values(VolumeRemovalPolicy).includes(removalPolicy)) {
    throw invalidSetting('MODULUS_VOLUME_REMOVAL', removalPolicy, "use 'retain' (default) or 'destroy'");
  }
  const sizeMiB = process.env.MODULUS_VOLUME_SIZE_MIB ? Number(process.env.MODULUS_VOLUME_SIZE_MIB) : undefined;
  const firstPort = process.env.MODULUS_FIRST_PORT ? Number(process.env.MODULUS_FIRST_PORT) : undefined;
  new AppsStack(app, 'apps', {
    images: images.hierarchy,
    languages,
    hosts: platform.hosts,
    registry: platform.registry,
    dockerHost,
    backend,
    networkMode,
    firstPort,
    volumeRoot: process.env.MODULUS_VOLUME_ROOT || undefined,
    volume: { removalPolicy, sizeMiB },
    router,
  });
  // Inside the try: a ModulusStack with errors found while synthesizing (conflicts, the ContainerSecurityPolicy) is
  // not written; under the cdktf CLI it prints them one a line and sets the exit code, elsewhere app.synth() throws.
  app.synth();
  if (process.exitCode) throw new Error('the errors above');
} catch (error) {
  // A failed synth must not leave an earlier synth's stacks behind, where a plan or deploy would pick them up.
  fs.rmSync(path.join(app.outdir, 'stacks'), { recursive: true, force: true });
  fs.rmSync(path.join(app.outdir, 'manifest.json'), { force: true });
  console.error(`modulus-images: synth failed: ${(error as Error).message}`);
  console.error(
    '(settings from the environment: MODULUS_ROOT_IMAGE sets rootImage, MODULUS_REPOSITORY_PREFIX repositoryPrefix, MODULUS_DOCKER_HOST dockerHost, ' +
      'MODULUS_NETWORK_MODE networkMode, MODULUS_VOLUME_ROOT volumeRoot, MODULUS_VOLUME_REMOVAL removalPolicy, MODULUS_VOLUME_SIZE_MIB sizeMiB, ' +
      'MODULUS_FIRST_PORT firstPort, MODULUS_LANGUAGES the languages, MODULUS_PLATFORM the registry and hosts file, ' +
      'MODULUS_ROUTER_DOMAIN, MODULUS_ROUTER_HTTP_PORT, MODULUS_ROUTER_HTTPS_PORT, MODULUS_ROUTER_TLS and MODULUS_ROUTER_MAINTENANCE the router, ' +
      'MODULUS_STATE and MODULUS_STATE_SCHEMA_PREFIX the state backend with PG_CONN_STR)',
  );
  process.exit(1);
}
