import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Container } from '@cdktf/provider-docker/lib/container';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { App, TerraformOutput, TerraformStack, TerraformVariable } from 'cdktf';
import { DockerHost, ImageRemovalPolicy } from '../../lib/docker-host';
import { ImageHierarchy } from '../../lib/image-hierarchy';
import { ImageRegistry, PulledImage, PushedHierarchy, RegistryProtocol } from '../../lib/image-registry';
import { pinProvider } from '../../lib/private/providers';
import { bash, docker, ok, REPO_ROOT, Run } from '../../harness/shell';
import { ROOT_IMAGE, startTestbed, Testbed } from '../../harness/testbed';

/**
 * Issue 13, multi-host images, with real parts: a two-image chain (parent FROM the root image, leaf FROM the
 * parent) built by ModulusImage on engine A, pushed with docker_registry_image to the testbed's registry (basic
 * auth, the password only in a sensitive variable set through TF_VAR_), pulled by digest on host B (a second
 * engine over ssh://) and run there in a hardened container. A leaf change replaces only the leaf's build, push,
 * pull and container. Needs scripts/toolchain/setup.sh and the root image. The tests run in order (one stack).
 */
jest.setTimeout(15 * 60_000);

const ENV_SH = path.join(REPO_ROOT, 'scripts/toolchain/env.sh');
const id = randomBytes(4).toString('hex');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-registry-images-'));
const imagesDirectory = path.join(work, 'images');
const outdir = path.join(work, 'cdktf.out');
const STACK = 'registry-images';
const stackDir = path.join(outdir, 'stacks', STACK);
const CONTAINER = `modulus-e2e-reg-${id}`;
const PREFIX = 'modulus-e2e-reg/';

let bed: Testbed | undefined;
let deployed = false;
const testbed = (): Testbed => {
  if (!bed) throw new Error('the testbed did not come up (see beforeAll)');
  return bed;
};
const output = (run: Run) => `${run.stdout}${run.stderr}`;

/** Terraform in the synthesized stack's folder; the password only in the environment. */
function terraform(args: string): Run {
  return bash(`source "$ENV_SH"\nterraform ${args} -no-color`, {
    cwd: stackDir,
    env: { ENV_SH, TF_VAR_registry_password: testbed().registry.password, TF_IN_AUTOMATION: '1' },
  });
}

/** The resource addresses of the stack: keys the test looks up plans and outputs by. */
interface Addresses {
  parentImage: string;
  leafImage: string;
  parentPush: string;
  leafPush: string;
  leafPull: string;
  container: string;
}

/**
 * A stack in `outdir` with the testbed's registry (the password a sensitive variable), provider A (this machine's
 * engine, which builds) and the two-image chain on A, named `<registry>/<prefix><name>:<id>`.
 */
function registryStack(app: App, name: string, prefix: string) {
  const { registry: tb } = testbed();
  const stack = new TerraformStack(app, name);
  pinProvider(stack, 'docker');
  const password = new TerraformVariable(stack, 'registry_password', { type: 'string', sensitive: true, description: 'registry password (TF_VAR_registry_password)' });
  const registry = new ImageRegistry(stack, 'registry', { address: tb.address, username: tb.username, password: password.stringValue, protocol: RegistryProtocol.HTTP });
  const a = new DockerProvider(stack, 'a', { alias: 'a', host: 'unix:///var/run/docker.sock', registryAuth: [registry.registryAuth()] });
  const tree = new ImageHierarchy(stack, 'images', {
    rootImage: ROOT_IMAGE,
    images: [{ name: 'parent' }, { name: 'leaf', parent: 'parent' }],
    imagesDirectory,
    repositoryPrefix: registry.repositoryPrefix(prefix),
    tag: id,
  });
  for (const image of tree.images) image.resource.provider = a;
  return { stack, registry, tree };
}

/** Synthesizes the stack into `outdir`: providers A (unix socket) and B (ssh://), both with the registry's auth. */
function synth(): Addresses {
  const { hostB } = testbed();
  const app = new App({ outdir, skipValidation: false });
  const { stack, registry, tree } = registryStack(app, STACK, PREFIX);
  const b = new DockerProvider(stack, 'b', { alias: 'b', host: hostB.dockerHost, sshOpts: [...hostB.sshOpts], registryAuth: [registry.registryAuth()] });
  // Each image after its parent: the leaf's push mounts the shared layers instead of uploading them again.
  const pushed = new PushedHierarchy(stack, 'pushed', { registry, hierarchy: tree });
  const pushes = { parent: pushed.image('parent'), leaf: pushed.image('leaf') };
  const leafOnB = new PulledImage(stack, 'leaf-on-b', { image: pushes.leaf, provider: b });
  const container = new Container(stack, 'app', {
    provider: b,
    name: CONTAINER,
    image: leafOnB.imageId,
    command: ['sleep', 'infinity'],
    readOnly: true,
    user: '441:444',
    capabilities: { drop: ['ALL'] },
    securityOpts: ['no-new-privileges'],
    memory: 64,
    // Docker's default is twice the memory; stated, so the plan does not drift.
    memorySwap: 64,
    networkMode: 'none',
    mustRun: true,
  });
  new TerraformOutput(stack, 'leaf_reference', { value: pushes.leaf.reference });
  new TerraformOutput(stack, 'parent_reference', { value: pushes.parent.reference });
  new TerraformOutput(stack, 'leaf_repo_digest_on_b', { value: leafOnB.repoDigest });
  new TerraformOutput(stack, 'leaf_image_id_on_b', { value: leafOnB.imageId });
  app.synth();
  const address = (resource: { terraformResourceType: string; friendlyUniqueId: string }) => `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;
  return {
    parentImage: address(tree.image('parent').resource),
    leafImage: address(tree.image('leaf').resource),
    parentPush: address(pushes.parent.resource),
    leafPush: address(pushes.leaf.resource),
    leafPull: address(leafOnB.resource),
    container: address(container),
  };
}

function writeImages(leafRevision: number): void {
  for (const name of ['parent', 'leaf']) fs.mkdirSync(path.join(imagesDirectory, name), { recursive: true });
  fs.writeFileSync(path.join(imagesDirectory, 'parent', 'parent.txt'), `parent ${id}\n`);
  fs.writeFileSync(path.join(imagesDirectory, 'parent', 'Dockerfile'), 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY parent.txt /opt/modulus-e2e/parent.txt\n');
  fs.writeFileSync(path.join(imagesDirectory, 'leaf', 'leaf.txt'), `leaf ${id}\n`);
  fs.writeFileSync(
    path.join(imagesDirectory, 'leaf', 'Dockerfile'),
    `ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\nCOPY leaf.txt /opt/modulus-e2e/leaf.txt\nLABEL org.modulus.e2e.revision="${leafRevision}"\n`,
  );
}

/** `<resource>: Creation complete after 12s` lines of an apply, as seconds by address. */
function creationTimes(apply: string): Record<string, number> {
  const times: Record<string, number> = {};
  for (const match of apply.matchAll(/^(\S+): Creation complete after (?:(\d+)m)?(\d+)s/gm)) {
    times[match[1]] = Number(match[2] ?? 0) * 60 + Number(match[3]);
  }
  return times;
}

function outputs(): Record<string, string> {
  const json = JSON.parse(ok(terraform('output -json'), 'terraform output')) as Record<string, { value: string }>;
  return Object.fromEntries(Object.entries(json).map(([key, value]) => [key, value.value]));
}

function expectNoPassword(text: string, what: string): void {
  const { password } = testbed().registry;
  expect(password.length).toBeGreaterThanOrEqual(16);
  if (text.includes(password)) throw new Error(`the registry password appears in ${what}`);
}

const onB = (...args: string[]) => testbed().hostB.docker(args);
const repoDigests = (run: Run) => JSON.parse(ok(run, 'image inspect RepoDigests')) as string[];

let addresses: Addresses;
let first: Record<string, string> = {};

beforeAll(async () => {
  bed = await startTestbed();
  writeImages(1);
  addresses = synth();
  ok(terraform('init -input=false'), 'terraform init');
}, 20 * 60_000);

afterAll(async () => {
  if (deployed && bed) {
    const destroy = terraform('destroy -input=false -auto-approve');
    if (destroy.status !== 0) console.log(`afterAll destroy failed:\n${output(destroy).slice(-4000)}`);
  }
  await bed?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a hierarchy built on A, pushed, pulled by digest on B', () => {
  it('applies: builds on A, pushes both images, pulls the leaf by digest on B and runs it hardened there', () => {
    const { registry } = testbed();
    deployed = true;
    const started = Date.now();
    const apply = terraform('apply -input=false -auto-approve');
    ok(apply, 'terraform apply');
    const times = creationTimes(apply.stdout);
    console.log(
      `first apply ${((Date.now() - started) / 1000).toFixed(1)} s; push parent ${times[addresses.parentPush]} s, push leaf ${times[addresses.leafPush]} s, ` +
        `pull leaf on B ${times[addresses.leafPull]} s, build parent ${times[addresses.parentImage]} s, build leaf ${times[addresses.leafImage]} s, container on B ${times[addresses.container]} s`,
    );
    expectNoPassword(output(apply), 'the apply output');

    first = outputs();
    const leafRepository = `${registry.address}/${PREFIX}leaf`;
    expect(first.leaf_reference).toMatch(new RegExp(`^${leafRepository.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
    expect(first.parent_reference).toMatch(/@sha256:[0-9a-f]{64}$/);
    // B has the image under exactly the pushed digest, and it is the very image A built (same config digest).
    expect(repoDigests(onB('image', 'inspect', '--format', '{{json .RepoDigests}}', first.leaf_reference))).toEqual([first.leaf_reference]);
    expect(first.leaf_repo_digest_on_b).toBe(first.leaf_reference);
    const idOnA = ok(docker('image', 'inspect', '--format', '{{.Id}}', `${leafRepository}:${id}`), 'inspect on A').trim();
    expect(ok(onB('image', 'inspect', '--format', '{{.Id}}', first.leaf_reference), 'inspect on B').trim()).toBe(idOnA);
    expect(first.leaf_image_id_on_b).toBe(idOnA);
    // The registry holds that manifest, and A's push is what B pulled (not a build on B: B has no tag).
    const revision = path.join(registry.storage, 'docker/registry/v2/repositories', `${PREFIX}leaf`, '_manifests/revisions/sha256', first.leaf_reference.split('@sha256:')[1], 'link');
    expect(fs.existsSync(revision)).toBe(true);
    expect(JSON.parse(ok(onB('image', 'inspect', '--format', '{{json .RepoTags}}', first.leaf_reference), 'RepoTags on B'))).toEqual([]);
    expect(onB('image', 'inspect', first.parent_reference).status).not.toBe(0);

    const state = ok(
      onB('container', 'inspect', '--format', '{{.State.Running}} {{.Image}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapDrop}} {{.HostConfig.Memory}}', CONTAINER),
      'container on B',
    ).trim();
    expect(state).toBe(`true ${idOnA} 441:444 true ["ALL"] ${64 << 20}`);
    expect(ok(onB('exec', CONTAINER, 'cat', '/opt/modulus-e2e/leaf.txt', '/opt/modulus-e2e/parent.txt'), 'exec on B')).toBe(`leaf ${id}\nparent ${id}\n`);
    // The container is B's, not A's.
    expect(docker('container', 'inspect', CONTAINER).status).not.toBe(0);
  });

  it('converges: a second plan changes nothing', () => {
    const plan = terraform('plan -input=false -detailed-exitcode');
    expect(output(plan)).toMatch(/No changes/);
    expect(plan.status).toBe(0);
  });

  it('never shows the registry password: not in outputs, terraform show, a plan, or the state', () => {
    expectNoPassword(ok(terraform('output -json'), 'output'), 'terraform output');
    expectNoPassword(ok(terraform('show'), 'show'), 'terraform show');
    expectNoPassword(ok(terraform('show -json'), 'show -json'), 'terraform show -json');
    expectNoPassword(output(terraform('plan -input=false')), 'terraform plan');
    expectNoPassword(ok(terraform('state pull'), 'state pull'), 'the state');
    // The synthesized configuration references the variable, never the value.
    expectNoPassword(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8'), 'cdk.tf.json');
    expect(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8')).toContain('${var.registry_password}');
  });

  it('a leaf change replaces exactly the leaf build, its push, its pull on B and the container; B then runs the new digest', () => {
    const { registry } = testbed();
    writeImages(2);
    addresses = synth();
    // The machine-readable plan stream (no plan file: a saved plan holds the variables' values, see below).
    const planned = terraform('plan -input=false -json');
    ok(planned, 'terraform plan -json');
    expectNoPassword(output(planned), 'the plan output');
    const changes = planned.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { type: string; change?: { resource: { addr: string }; action: string } })
      .filter((message) => message.type === 'planned_change')
      .map((message) => [message.change!.resource.addr, message.change!.action]);
    expect(Object.fromEntries(changes)).toEqual({
      [addresses.leafImage]: 'replace',
      [addresses.leafPush]: 'replace',
      [addresses.leafPull]: 'replace',
      [addresses.container]: 'replace',
    });

    // A saved plan file is a secret: Terraform stores the variables' values in it, sensitive ones included.
    ok(terraform(`plan -input=false -out="${path.join(work, 'leaf.tfplan')}"`), 'terraform plan -out');
    const saved = JSON.parse(ok(terraform(`show -json "${path.join(work, 'leaf.tfplan')}"`), 'show -json plan')) as Record<string, unknown>;
    fs.rmSync(path.join(work, 'leaf.tfplan'));
    const { variables, ...rest } = saved;
    expectNoPassword(JSON.stringify(rest), 'the JSON plan outside its variables');
    console.log(`saved plan file holds the sensitive variable's value: ${JSON.stringify(variables).includes(testbed().registry.password)}`);

    const started = Date.now();
    const apply = terraform('apply -input=false -auto-approve');
    ok(apply, 'terraform apply (leaf change)');
    const times = creationTimes(apply.stdout);
    console.log(
      `leaf-change apply ${((Date.now() - started) / 1000).toFixed(1)} s; rebuild leaf ${times[addresses.leafImage]} s, re-push leaf ${times[addresses.leafPush]} s, ` +
        `re-pull leaf on B ${times[addresses.leafPull]} s, container on B ${times[addresses.container]} s`,
    );
    expect(Object.keys(times).sort()).toEqual([addresses.container, addresses.leafImage, addresses.leafPull, addresses.leafPush].sort());
    expectNoPassword(output(apply), 'the apply output');

    const second = outputs();
    expect(second.parent_reference).toBe(first.parent_reference);
    expect(second.leaf_reference).not.toBe(first.leaf_reference);
    expect(second.leaf_reference).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(repoDigests(onB('image', 'inspect', '--format', '{{json .RepoDigests}}', second.leaf_reference))).toEqual([second.leaf_reference]);
    const running = ok(onB('container', 'inspect', '--format', '{{.State.Running}} {{.Image}}', CONTAINER), 'container on B').trim();
    expect(running).toBe(`true ${second.leaf_image_id_on_b}`);
    expect(ok(onB('image', 'inspect', '--format', '{{index .Config.Labels "org.modulus.e2e.revision"}}', second.leaf_reference), 'label').trim()).toBe('2');
    // The old digest is gone from B (the replaced pull removed it) but stays in the registry (keepRemotely).
    expect(onB('image', 'inspect', first.leaf_reference).status).not.toBe(0);
    const oldRevision = path.join(registry.storage, 'docker/registry/v2/repositories', `${PREFIX}leaf`, '_manifests/revisions/sha256', first.leaf_reference.split('@sha256:')[1], 'link');
    expect(fs.existsSync(oldRevision)).toBe(true);
  });

  it('destroy leaves neither A nor B with these images or the container', () => {
    const { registry } = testbed();
    ok(terraform('destroy -input=false -auto-approve'), 'terraform destroy');
    deployed = false;
    const images = (run: Run) => ok(run, 'image ls').trim();
    const filter = `reference=${registry.address}/${PREFIX}*`;
    expect(images(docker('image', 'ls', '-q', '--filter', filter))).toBe('');
    expect(images(onB('image', 'ls', '-q', '--filter', filter))).toBe('');
    expect(images(onB('image', 'ls', '-q', '--digests', '--filter', filter))).toBe('');
    expect(onB('container', 'inspect', CONTAINER).status).not.toBe(0);
    expect(ok(onB('ps', '-aq'), 'ps on B').trim()).toBe('');
  });
});

describe('a host with ImageRemovalPolicy.RETAIN keeps what it pulled', () => {
  const WARM = 'registry-images-warm';
  const warmDir = path.join(outdir, 'stacks', WARM);
  const WARM_PREFIX = 'modulus-e2e-reg-warm/';
  const warmTerraform = (args: string) =>
    bash(`source "$ENV_SH"\nterraform ${args} -no-color`, { cwd: warmDir, env: { ENV_SH, TF_VAR_registry_password: testbed().registry.password, TF_IN_AUTOMATION: '1' } });
  /** Blob downloads from the leaf's repository the registry has answered so far (its log, one line per request). */
  const leafBlobGets = () => testbed().registry.log().split('\n').filter((line) => line.includes('http.request.method=GET') && line.includes(`/v2/${WARM_PREFIX}leaf/blobs/`)).length;
  let reference = '';

  beforeAll(() => {
    const { hostB } = testbed();
    const app = new App({ outdir, skipValidation: false });
    const { stack, registry, tree } = registryStack(app, WARM, WARM_PREFIX);
    const b = new DockerHost(stack, 'b', { hostName: 'b', engine: hostB.dockerHost, sshOptions: [...hostB.sshOpts], registries: [registry], imageRemovalPolicy: ImageRemovalPolicy.RETAIN });
    const leaf = new PushedHierarchy(stack, 'pushed', { registry, hierarchy: tree, keepRemotely: false }).image('leaf');
    new TerraformOutput(stack, 'leaf_image_id_on_b', { value: b.pulledImageId(leaf) });
    new TerraformOutput(stack, 'leaf_reference', { value: leaf.reference });
    app.synth();
    ok(warmTerraform('init -input=false'), 'terraform init (warm)');
  });

  afterAll(() => {
    warmTerraform('destroy -input=false -auto-approve');
    if (reference) onB('image', 'rm', '--force', reference);
  });

  it('destroying the pull leaves the image on B; pulling it again downloads nothing', () => {
    ok(warmTerraform('apply -input=false -auto-approve'), 'first apply');
    const first = JSON.parse(ok(warmTerraform('output -json'), 'output')) as Record<string, { value: string }>;
    reference = first.leaf_reference.value;
    const downloads = leafBlobGets();
    expect(downloads).toBeGreaterThan(0);

    const pull = ok(warmTerraform('state list'), 'state list').split('\n').find((address) => /^docker_image\.b_Pulls_leaf_/.test(address));
    expect(pull).toBeDefined();
    ok(warmTerraform(`destroy -input=false -auto-approve -target=${pull}`), 'destroy of the pull');
    expect(ok(warmTerraform('state list'), 'state list')).not.toContain(pull);
    expect(ok(onB('image', 'inspect', '--format', '{{.Id}}', reference), 'the image on B after the destroy').trim()).toBe(first.leaf_image_id_on_b.value);

    ok(warmTerraform('apply -input=false -auto-approve'), 'second apply');
    const second = JSON.parse(ok(warmTerraform('output -json'), 'output')) as Record<string, { value: string }>;
    expect(second.leaf_reference.value).toBe(reference);
    expect(second.leaf_image_id_on_b.value).toBe(first.leaf_image_id_on_b.value);
    expect(leafBlobGets()).toBe(downloads);
  });
});
