/**
 * Two Docker hosts: the image tree is built on the machine running Terraform, pushed to a registry, and each app
 * runs on the host it names (a: this machine's engine; b: a remote engine over SSH, its volume made over SSH).
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
const pushPassword = new TerraformVariable(images, 'registry_password', { type: 'string', sensitive: true });
const registry = new ImageRegistry(images, 'Registry', {
  address: registryAddress,
  username: 'ci',
  password: pushPassword.stringValue,
  protocol: RegistryProtocol.HTTPS,
});
images.dockerProvider.registryAuth = [registry.registryAuth()];
const tree = new ImageHierarchy(images, 'Hierarchy', {
  repositoryPrefix: registry.repositoryPrefix('modulus/'),
  // The shared bases and the two languages the apps use.
  images: STANDARD_IMAGES.filter((image) => ['base', 'build-base', 'run-base', 'build-node', 'run-node', 'build-static', 'run-static'].includes(image.name)),
});
const pushed = new PushedHierarchy(images, 'Pushed', { registry, hierarchy: tree });

const apps = new ModulusStack(app, 'apps');
const pullPassword = new TerraformVariable(apps, 'registry_password', { type: 'string', sensitive: true });
const pulls = new ImageRegistry(apps, 'Registry', { address: registryAddress, username: 'ci', password: pullPassword.stringValue });
const sshKey = new TerraformVariable(apps, 'ssh_private_key_b', { type: 'string', sensitive: true });
const a = new DockerHost(apps, 'a', { hostName: 'a', engine: 'unix:///var/run/docker.sock', registries: [pulls] });
const b = new DockerHost(apps, 'b', {
  hostName: 'b',
  engine: `ssh://deploy@${hostB}`,
  provisioning: { user: 'deploy', address: hostB, privateKey: sshKey.stringValue, hostKeys: hostBKeys },
  volumes: { root: '/srv/modulus/volumes' },
  registries: [pulls],
});
new ModulusApp(apps, 'web', { appName: 'web', language: 'node', source: path.join(__dirname, 'web'), images: pushed, host: a });
new ModulusApp(apps, 'docs', { appName: 'docs', language: 'static', source: path.join(__dirname, 'docs'), images: pushed, host: b });
app.synth();
