import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from './support/checkout';

jest.setTimeout(120_000);

/**
 * A separate project that depends on modulus-images the way a user's does: it requires the package by name
 * (resolved through node_modules to the compiled entry point), never our source files.
 */
describe('importing from the package entry point', () => {
  const consumer = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-consumer-'));
  let synthesized: any;

  beforeAll(() => {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'pipe' });
    fs.mkdirSync(path.join(consumer, 'node_modules'));
    fs.symlinkSync(REPO_ROOT, path.join(consumer, 'node_modules', 'modulus-images'));
    for (const dependency of ['cdktf', 'constructs']) {
      fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', dependency), path.join(consumer, 'node_modules', dependency));
    }
    fs.mkdirSync(path.join(consumer, 'images', 'run-python'), { recursive: true });
    fs.writeFileSync(
      path.join(consumer, 'images', 'run-python', 'Dockerfile'),
      'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nUSER root\nRUN apt-get update && apt-get install -y python3\nUSER mop\n',
    );
    fs.mkdirSync(path.join(consumer, 'shop'));
    fs.writeFileSync(path.join(consumer, 'shop', 'package.json'), '{"name":"shop","scripts":{"start":"node index.js"}}\n');
    fs.writeFileSync(
      path.join(consumer, 'main.js'),
      `const path = require('path');
const { App } = require('cdktf');
const { ImageHierarchy, ModulusApp, ModulusStack } = require('modulus-images');

class PlatformStack extends ModulusStack {
  constructor(scope, id) {
    super(scope, id);
    this.images = new ImageHierarchy(this, 'images', {
      rootImage: 'debian:bookworm-slim',
      additionalImages: [{ name: 'run-python', parent: 'run-base', directory: path.join(__dirname, 'images', 'run-python') }],
    });
    new ModulusApp(this, 'shop', {
      name: 'shop',
      language: 'node',
      source: path.join(__dirname, 'shop'),
      buildImage: this.images.image('build-node').imageId,
      runImage: this.images.image('run-node').imageId,
    });
  }
}

const app = new App({ outdir: path.join(__dirname, 'cdktf.out') });
const stack = new PlatformStack(app, 'platform');
console.log(stack.images.image('run-python').imageRef);
app.synth();
`,
    );
    const printed = execFileSync('node', ['main.js'], { cwd: consumer, encoding: 'utf8' });
    expect(printed.trim()).toBe('modulus/run-python:latest');
    synthesized = JSON.parse(fs.readFileSync(path.join(consumer, 'cdktf.out', 'stacks', 'platform', 'cdk.tf.json'), 'utf8'));
  });
  afterAll(() => fs.rmSync(consumer, { recursive: true, force: true }));

  it('builds and runs an app on the hierarchy images, with the volume script packaged into cdktf.out', () => {
    const containers = Object.values<any>(synthesized.resource.docker_container).map((container) => container.name);
    expect(containers.sort()).toEqual(['modulus-app-shop', 'modulus-build-shop']);
    const volumeSteps = Object.values<any>(synthesized.resource.null_resource);
    const command = volumeSteps.map((step) => step.provisioner?.[0]?.['local-exec']?.command).find(Boolean);
    const script = /bash (assets\/\S+\/modulus-volume\.sh)/.exec(command)![1];
    expect(fs.existsSync(path.join(consumer, 'cdktf.out', 'stacks', 'platform', script))).toBe(true);
  });

  it('resolves to the compiled output named in package.json', () => {
    const resolved = require.resolve('modulus-images', { paths: [consumer] });
    expect(fs.realpathSync(resolved)).toBe(path.join(REPO_ROOT, 'dist', 'lib', 'index.js'));
  });

  it('synthesizes the standard tree plus the custom image, wired to its parent', () => {
    const images = Object.entries<any>(synthesized.resource.docker_image);
    expect(images).toHaveLength(12);
    const [, python] = images.find(([, image]) => image.name === 'modulus/run-python:latest')!;
    const [runBaseKey] = images.find(([, image]) => image.name === 'modulus/run-base:latest')!;
    expect(python.build.build_args).toEqual({ BASE_IMAGE: 'modulus/run-base:latest' });
    expect(python.triggers.parent).toBe(`\${docker_image.${runBaseKey}.image_id}`);
    expect(fs.existsSync(path.join(consumer, 'cdktf.out', 'stacks', 'platform', python.build.context, 'Dockerfile'))).toBe(true);
  });
});
