/**
 * A cdktf app for the end-to-end deploy test: the images stack cut down to root -> base, built under a
 * repository prefix of its own so that a deploy and destroy never touch the real modulus/* images.
 *
 *   E2E_ROOT_IMAGE                   root image reference (the toolchain's modulus/root:bookworm)
 *   E2E_REPOSITORY_PREFIX            e.g. modulus-e2e-1234/
 */
import { App } from 'cdktf';
import { ImagesStack } from '../../../stacks/images-stack';

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`base-app: ${name} is not set`);
  return value;
};

const app = new App();
new ImagesStack(app, 'e2e-base', {
  rootImage: need('E2E_ROOT_IMAGE'),
  images: [{ name: 'base' }],
  repositoryPrefix: need('E2E_REPOSITORY_PREFIX'),
  statePath: 'terraform.tfstate',
});
app.synth();
