/**
 * Two Docker hosts: the image tree is built on the machine running Terraform, and each app runs on the host it
 * names (a: this machine's engine, on the built images; b: a remote engine over SSH, its volume made over SSH, on
 * the images the apps stack pushes to a registry for it and B pulls by digest).
 * Secrets come at plan/apply time: TF_VAR_registry_password, TF_VAR_ssh_private_key_b.
 */
import * as path from 'path';
import { App, TerraformVariable } from 'cdktf';
import {
  DockerHost,
  ImageHierarchy,
  ImageRegistry,
  ModulusApp,
  ModulusStack,
  PushedHierarchy,
  RegistryProtocol,
  STANDARD_IMAGES,
} from 'modulus-images';

const setting = (name: string, fallback: string): string => process.env[name] || fallback;
const registryAddress = setting('EXAMPLE_REGISTRY', 'registry.example.com');
const hostB = setting('EXAMPLE_HOST_B', 'b.example.com');
// What `ssh-keyscan b.example.com` prints (every key type sshd offers), taken where the network is trusted.
const hostBKeys = setting('EXAMPLE_HOST_B_KEYS', `${hostB} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx2bS0wZHVtbXkta2V5LWZvci10ZXN0cy1vbmx5`);

const app = new App();

const images = new ModulusStack(app, 'images');
const tree = new ImageHierarchy(images, 'Hierarchy', {
  // Named for the registry, which the apps stack pushes them to.
  repositoryPrefix: `${registryAddress}/modulus/`,
  // The shared bases and the two languages the apps use.
  images: STANDARD_IMAGES.filter((image) => ['base', 'build-base', 'run-base', 'build-node', 'run-node', 'build-static', 'run-static'].includes(image.name)),
});

const apps = new ModulusStack(app, 'apps');
const password = new TerraformVariable(apps, 'registry_password', { type: 'string', sensitive: true });
const registry = new ImageRegistry(apps, 'Registry', {
  address: registryAddress,
  username: 'ci',
  password: password.stringValue,
  protocol: RegistryProtocol.HTTPS,
});
// The apps stack's engine is the build host's: it pushes what the other hosts pull, as they ask for it.
apps.dockerProvider.registryAuth = [registry.registryAuth()];
const pushed = new PushedHierarchy(apps, 'Pushed', { registry, hierarchy: tree, provider: apps.dockerProvider, onDemand: true });
const sshKey = new TerraformVariable(apps, 'ssh_private_key_b', { type: 'string', sensitive: true });
const a = new DockerHost(apps, 'a', { hostName: 'a', engine: 'unix:///var/run/docker.sock' });
const b = new DockerHost(apps, 'b', {
  hostName: 'b',
  engine: `ssh://deploy@${hostB}`,
  provisioning: { user: 'deploy', address: hostB, privateKey: sshKey.stringValue, hostKeys: hostBKeys },
  volumes: { root: '/srv/modulus/volumes' },
  registries: [registry],
});
new ModulusApp(apps, 'web', { appName: 'web', language: 'node', source: path.join(__dirname, 'web'), images: pushed, host: a });
new ModulusApp(apps, 'docs', { appName: 'docs', language: 'static', source: path.join(__dirname, 'docs'), images: pushed, host: b });
app.synth();
