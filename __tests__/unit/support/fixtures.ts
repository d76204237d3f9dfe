import * as fs from 'fs';
import * as path from 'path';
import { App, Testing } from 'cdktf';
import { tempDir } from './temp';
import { ImagesStack, ImagesStackProps } from '../../../stacks/images-stack';
import { STANDARD_IMAGES } from '../../../lib/standard-images';
import { ROUTER_IMAGE } from '../../../lib/router';
import { NetworkMode } from '../../../lib/network-mode';
import { AppsStack, AppsStackProps } from '../../../stacks/apps-stack';

/** A temporary images/ folder with a minimal Dockerfile per name, for tests that must not depend on images/. */
export function makeImagesDirectory(names: readonly string[] = STANDARD_IMAGES.map((image) => image.name)): string {
  const root = tempDir('modulus-images-');
  for (const name of names) addImageFolder(root, name);
  return root;
}

export function addImageFolder(root: string, name: string, body = `LABEL fixture="${name}"\n`): string {
  const folder = path.join(root, name);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'Dockerfile'), `ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\n${body}`);
  return folder;
}

export interface SynthesizedStack {
  resource: Record<string, Record<string, any>>;
  terraform: Record<string, any>;
}

/** Synthesizes an ImagesStack into memory and parses its JSON. */
export function synthImages(props: ImagesStackProps = {}): { stack: ImagesStack; json: SynthesizedStack; raw: string } {
  const app = Testing.app();
  const stack = new ImagesStack(app, 'images', { imagesDirectory: makeImagesDirectory(), ...props });
  const raw = Testing.synth(stack);
  return { stack, json: JSON.parse(raw), raw };
}

/** The docker_image resource whose `name` is `modulus/<image>:latest`. */
export function imageResource(json: SynthesizedStack, image: string): Record<string, any> {
  const found = Object.values(json.resource.docker_image).find((r) => r.name === `modulus/${image}:latest`);
  if (!found) throw new Error(`no docker_image named modulus/${image}:latest`);
  return found;
}

export function resourceKey(json: SynthesizedStack, image: string): string {
  const entry = Object.entries(json.resource.docker_image).find(([, r]) => r.name === `modulus/${image}:latest`);
  if (!entry) throw new Error(`no docker_image named modulus/${image}:latest`);
  return entry[0];
}

/**
 * An app (its own outdir, validation skipped) with the images stack named for a registry on 127.0.0.1:5000 (the
 * router image included) and an apps stack that pushes them there: host networking, the first port 19000, then `props`.
 */
export function appsOnPushedImages(outdirPrefix: string, props: Partial<AppsStackProps>): { app: App; apps: AppsStack } {
  const app = new App({ outdir: tempDir(outdirPrefix), skipValidation: true });
  const registry = { address: '127.0.0.1:5000', username: 'ci', protocol: 'http' as never };
  const images = new ImagesStack(app, 'images', { additionalImages: [ROUTER_IMAGE], registry });
  const apps = new AppsStack(app, 'apps', { images: images.hierarchy, registry, networkMode: NetworkMode.HOST, firstPort: 19000, ...props });
  return { app, apps };
}
