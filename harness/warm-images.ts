/**
 * Builds every standard image and the router's once, with BuildKit as Terraform does, before the suites that build
 * them again run side by side (`npm run test:all`): the contract tests and every deploy, each under a prefix of its
 * own. Their builds are then BuildKit cache hits, seconds each, instead of several cold builds of the same images.
 * Tagged `modulus-warm/<name>:latest` for the whole run, so that removing a test's own tags of the same images (the
 * quick start's destroy removes `modulus/*`) only untags them.
 *
 *   node --require ./scripts/typescript-loader.js harness/warm-images.ts          build (or find cached) all
 *   node --require ./scripts/typescript-loader.js harness/warm-images.ts --remove untag them at the end
 */
import { spawnSync } from 'child_process';
import { ROUTER_IMAGE } from '../lib/router';
import { STANDARD_IMAGES } from '../lib/standard-images';
import { buildStandardImage } from './docker-build';

const PREFIX = 'modulus-warm/';
const ROOT_IMAGE = process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm';
const IMAGES = [...STANDARD_IMAGES, ROUTER_IMAGE];

if (process.argv.includes('--remove')) {
  for (const { name } of IMAGES) spawnSync('docker', ['image', 'rm', `${PREFIX}${name}:latest`], { stdio: 'ignore' });
} else {
  const started = Date.now();
  // Parents first (the list is in tree order), so that each line times one image's build.
  for (const { name } of IMAGES) {
    const start = Date.now();
    const ref = buildStandardImage(name, PREFIX, ROOT_IMAGE);
    console.log(`warm-images: ${ref} in ${Math.round((Date.now() - start) / 1000)} s`);
  }
  console.log(`warm-images: ${IMAGES.length} images in ${Math.round((Date.now() - started) / 1000)} s`);
}
