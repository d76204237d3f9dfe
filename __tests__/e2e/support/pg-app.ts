/**
 * A cdktf app for the shared-state tests (pg-state.test.ts): an `images` stack with two tiny images built from the
 * root image (pg-base -> pg-leaf, from fixtures/pg-images) and an `apps` stack with one container running the leaf,
 * reading its image id across stacks like the real apps stack does. The state backend comes from the environment
 * exactly as in main.ts (MODULUS_STATE, MODULUS_STATE_SCHEMA_PREFIX, PG_CONN_STR).
 *
 *   E2E_ROOT_IMAGE          root image reference (the toolchain's modulus/root:bookworm)
 *   E2E_REPOSITORY_PREFIX   e.g. modulus-pg-e2e-1234/; the container is named after it too
 *   E2E_STEP, E2E_STEP_SECONDS  a terraform_data in apps, replaced whenever E2E_STEP changes, whose creation
 *                           sleeps E2E_STEP_SECONDS: an apply that takes a while, for the lock and kill tests
 */
import * as path from 'path';
import { Container } from '@cdktf/provider-docker/lib/container';
import { App, DataResource } from 'cdktf';
import { ImageHierarchy } from '../../../lib/image-hierarchy';
import { ModulusStack } from '../../../lib/modulus-stack';
import { stateBackendFromEnvironment } from '../../../lib/state-backend';

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`pg-app: ${name} is not set`);
  return value;
};

const app = new App({ skipValidation: true });
const prefix = need('E2E_REPOSITORY_PREFIX');
const props = { backend: stateBackendFromEnvironment(process.env) };
const images = new ModulusStack(app, 'images', props);
const hierarchy = new ImageHierarchy(images, 'Hierarchy', {
  rootImage: need('E2E_ROOT_IMAGE'),
  images: [{ name: 'pg-base' }, { name: 'pg-leaf', parent: 'pg-base' }],
  imagesDirectory: path.join(__dirname, 'fixtures', 'pg-images'),
  repositoryPrefix: prefix,
});
const apps = new ModulusStack(app, 'apps', props);
new Container(apps, 'leaf', {
  name: `${prefix.replace(/\/$/, '')}-leaf`,
  image: hierarchy.image('pg-leaf').imageId,
  command: ['sleep', 'infinity'],
  init: true,
  networkMode: 'none',
  mustRun: true,
});
new DataResource(apps, 'step', {
  triggersReplace: { step: process.env.E2E_STEP ?? '0' },
  provisioners: [{ type: 'local-exec', command: `sleep ${Number(process.env.E2E_STEP_SECONDS ?? '0')}` }],
});
app.synth();
