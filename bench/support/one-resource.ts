/** The smallest cdktf app: one docker_image with its provider. The baseline of the synth benchmarks. */
import { Image } from '@cdktf/provider-docker/lib/image';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { App, TerraformStack } from 'cdktf';

const app = new App();
const stack = new TerraformStack(app, 'one');
new DockerProvider(stack, 'docker', {});
new Image(stack, 'image', { name: 'debian:bookworm-slim' });
app.synth();
