import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REFERENCE_HELP } from '../../lib/docker-reference';
import { copyCheckout } from '../../harness/checkout';

jest.setTimeout(180_000);

/** The real `cdktf synth` command, as a user runs it, in a copy of this checkout. */
describe('npx cdktf synth', () => {
  const checkout = copyCheckout(fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-cli-')));
  const synth = (env: Record<string, string>) =>
    spawnSync('npx', ['cdktf', 'synth'], {
      cwd: checkout,
      env: { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1', ...env },
      encoding: 'utf8',
    });
  afterAll(() => fs.rmSync(checkout, { recursive: true, force: true }));

  it('writes the images stack with one docker_image per standard image', () => {
    const result = synth({ MODULUS_ROOT_IMAGE: 'modulus/root:bookworm' });
    expect(result.status).toBe(0);
    const stack = JSON.parse(fs.readFileSync(path.join(checkout, 'cdktf.out/stacks/images/cdk.tf.json'), 'utf8'));
    expect(Object.keys(stack.resource.docker_image)).toHaveLength(11);
  });

  it('fails on an invalid MODULUS_ROOT_IMAGE with a message naming the field, and leaves no stack behind', () => {
    const result = synth({ MODULUS_ROOT_IMAGE: 'not a valid::ref' });
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(
      `images/Hierarchy: invalid rootImage 'not a valid::ref': give ${REFERENCE_HELP}`,
    );
    expect(result.stdout + result.stderr).toContain('MODULUS_ROOT_IMAGE sets rootImage');
    expect(fs.existsSync(path.join(checkout, 'cdktf.out/stacks/images'))).toBe(false);
  });

  it('fails on an invalid router setting with its message, and each app behind that router names it', () => {
    const result = synth({ MODULUS_ROOT_IMAGE: 'modulus/root:bookworm', MODULUS_LANGUAGES: 'node', MODULUS_ROUTER_DOMAIN: 'apps.test', MODULUS_ROUTER_HTTPS_PORT: '8443' });
    expect(result.status).not.toBe(0);
    const output = result.stdout + result.stderr;
    expect(output).toContain('apps/router: invalid httpsPort 8443: leave it out, or give tls: HTTPS needs a certificate and key');
    expect(output).toContain('apps/sample-node: invalid router (construct apps/router): fix that construct first: it refused its own props (its error is reported too)');
    // Not a follow-on error about a reference to the router's resources, which it never made.
    expect(output).not.toContain('Resolution error');
    expect(fs.existsSync(path.join(checkout, 'cdktf.out/stacks/apps'))).toBe(false);
  });
});

/** A policy error is only found while synthesizing (the ContainerSecurityPolicy aspect runs then). */
describe('npx cdktf synth with a ContainerSecurityPolicy error', () => {
  const checkout = copyCheckout(fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-cli-policy-')));
  const synth = () =>
    spawnSync('npx', ['cdktf', 'synth'], {
      cwd: checkout,
      env: { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1', MODULUS_ROOT_IMAGE: 'modulus/root:bookworm' },
      encoding: 'utf8',
    });
  afterAll(() => fs.rmSync(checkout, { recursive: true, force: true }));

  it('fails with the policy message and removes the stacks an earlier synth wrote', () => {
    expect(synth().status).toBe(0);
    expect(fs.existsSync(path.join(checkout, 'cdktf.out/stacks/apps/cdk.tf.json'))).toBe(true);

    // A change to the apps stack that the policy refuses: a privileged run container (an escape hatch).
    const appsStack = path.join(checkout, 'stacks/apps-stack.ts');
    const source = fs.readFileSync(appsStack, 'utf8');
    const policyLine = 'Aspects.of(this).add(new ContainerSecurityPolicy());';
    expect(source).toContain(policyLine);
    fs.writeFileSync(
      appsStack,
      source.replace(policyLine, `Object.values(this.apps)[0].run.resource.addOverride('privileged', true);\n    ${policyLine}`),
    );

    const result = synth();
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('modulus-images: synth failed:');
    expect(result.stdout + result.stderr).toMatch(/(^|\s)apps\/sample-\w+\/Run\/Container: invalid privileged true: leave it out or false: .*\(ContainerSecurityPolicy rule not-privileged\); or opt out with /m);
    expect(fs.existsSync(path.join(checkout, 'cdktf.out/stacks'))).toBe(false);
    expect(fs.existsSync(path.join(checkout, 'cdktf.out/manifest.json'))).toBe(false);
  });
});
