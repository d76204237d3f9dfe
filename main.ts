import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdktf';
import { AppsStack } from './stacks/apps-stack';
import { ImagesStack } from './stacks/images-stack';

const app = new App();
try {
  const dockerHost = process.env.MODULUS_DOCKER_HOST || undefined;
  const networkMode = process.env.MODULUS_NETWORK_MODE || 'bridge';
  if (networkMode !== 'bridge' && networkMode !== 'host') {
    throw new Error(`MODULUS_NETWORK_MODE "${networkMode}" is not valid; use "bridge" (default) or "host".`);
  }
  const images = new ImagesStack(app, 'images', { rootImage: process.env.MODULUS_ROOT_IMAGE || undefined, dockerHost });
  new AppsStack(app, 'apps', { images: images.hierarchy, dockerHost, networkMode });
} catch (error) {
  // A failed synth must not leave an earlier synth's stacks behind, where a plan or deploy would pick them up.
  fs.rmSync(path.join(app.outdir, 'stacks'), { recursive: true, force: true });
  fs.rmSync(path.join(app.outdir, 'manifest.json'), { force: true });
  console.error(`modulus-images: synth failed: ${(error as Error).message}`);
  console.error(
    '(rootImage comes from MODULUS_ROOT_IMAGE, dockerHost from MODULUS_DOCKER_HOST, networkMode from MODULUS_NETWORK_MODE when they are set)',
  );
  process.exit(1);
}
app.synth();
