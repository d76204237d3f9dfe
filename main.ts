import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdktf';
import { ImagesStack } from './stacks/images-stack';

const app = new App();
try {
  new ImagesStack(app, 'images', {
    rootImage: process.env.MODULUS_ROOT_IMAGE || undefined,
    dockerHost: process.env.MODULUS_DOCKER_HOST || undefined,
  });
} catch (error) {
  // A failed synth must not leave an earlier synth's stacks behind, where a plan or deploy would pick them up.
  fs.rmSync(path.join(app.outdir, 'stacks'), { recursive: true, force: true });
  fs.rmSync(path.join(app.outdir, 'manifest.json'), { force: true });
  console.error(`modulus-images: synth failed: ${(error as Error).message}`);
  console.error('(rootImage comes from MODULUS_ROOT_IMAGE, dockerHost from MODULUS_DOCKER_HOST when they are set)');
  process.exit(1);
}
app.synth();
