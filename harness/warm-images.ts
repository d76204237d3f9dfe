/**
 * Builds every standard image and the router's once, with BuildKit as Terraform does, before the suites that build
 * them again run side by side (`npm run test:all`): the contract tests and every deploy, each under a prefix of its
 * own. Their builds are then BuildKit cache hits, seconds each, instead of several cold builds of the same images.
 * Tagged `modulus-warm/<name>:latest` for the whole run, so that removing a test's own tags of the same images (the
 * quick start's destroy removes `modulus/*`) only untags them.
 *
 *   node --require ts-node/register/transpile-only harness/warm-images.ts          build (or find cached) all
 *   node --require ts-node/register/transpile-only harness/warm-images.ts --remove untag them at the end
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ROUTER_IMAGE } from '../lib/router';
import { PARENT_BUILD_ARG, STANDARD_IMAGES } from '../lib/standard-images';
import { REPO_ROOT } from './checkout';
import { dockerBuild } from './docker-build';

const PREFIX = 'modulus-warm/';
const ROOT_IMAGE = process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm';
const IMAGES = [...STANDARD_IMAGES, ROUTER_IMAGE];
const ref = (name: string) => `${PREFIX}${name}:latest`;

if (process.argv.includes('--remove')) {
  for (const { name } of IMAGES) spawnSync('docker', ['image', 'rm', ref(name)], { stdio: 'ignore' });
} else {
  const started = Date.now();
  // Parents first: the list is in tree order.
  for (const { name, parent } of IMAGES) {
    const start = Date.now();
    const parentRef = parent ? ref(parent) : ROOT_IMAGE;
    dockerBuild(['--network', 'host', '--build-arg', `${PARENT_BUILD_ARG}=${parentRef}`, '-t', ref(name), path.join(REPO_ROOT, 'images', name)]);
    console.log(`warm-images: ${ref(name)} in ${Math.round((Date.now() - start) / 1000)} s`);
  }
  console.log(`warm-images: ${IMAGES.length} images in ${Math.round((Date.now() - started) / 1000)} s`);
}
