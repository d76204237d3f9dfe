import { App } from 'cdktf';
import { ImagesStack } from './stacks/images-stack';

const app = new App();
new ImagesStack(app, 'images', {
  rootImage: process.env.MODULUS_ROOT_IMAGE || undefined,
  dockerHost: process.env.MODULUS_DOCKER_HOST || undefined,
});
app.synth();
