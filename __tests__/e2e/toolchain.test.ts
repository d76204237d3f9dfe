import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bash, docker, ok, REPO_ROOT, Run } from './support/shell';

/**
 * The offline deploy toolchain (scripts/toolchain/) against a real engine, real Terraform and real providers:
 * `terraform init/validate/plan` and `cdktf diff` on the synthesized images stack, then a real
 * `cdktf deploy` and `cdktf destroy` of the root -> base part.
 *
 * Needs `scripts/toolchain/setup.sh` to have run; without it every test here fails and says so.
 */

jest.setTimeout(20 * 60_000);

const ENV_SH = path.join(REPO_ROOT, 'scripts/toolchain/env.sh');
const ROOT_IMAGE = process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm';

/** Runs a bash script with scripts/toolchain/env.sh sourced, as a user of the toolchain would. */
function withToolchain(script: string, options: { cwd?: string; env?: Record<string, string> } = {}): Run {
  return bash(`source "$ENV_SH"\n${script}`, { cwd: options.cwd, env: { ENV_SH, ...options.env } });
}

interface Toolchain {
  cache: string;
  terraform: string;
  dockerProvider: string;
}

let toolchain: Toolchain;

/** What setup.sh left behind; throws (failing every test) when any piece is missing. */
function inspectToolchain(): Toolchain {
  const setupHint = 'run `bash scripts/toolchain/setup.sh` first (see "Offline / air-gapped installation" in README.md)';
  const facts = withToolchain('printf "%s\\n%s\\n" "$MODULUS_TOOLCHAIN_CACHE" "$(command -v terraform)"');
  const [cache, terraform] = ok(facts, 'source env.sh').trim().split('\n');
  if (!fs.existsSync(path.join(cache, 'terraform.rc'))) {
    throw new Error(`toolchain missing: no Terraform CLI config in ${cache}; ${setupHint}`);
  }
  const mirror = path.join(cache, 'mirror/registry.terraform.io');
  const versions = (provider: string) =>
    fs.existsSync(path.join(mirror, provider)) ? fs.readdirSync(path.join(mirror, provider)) : [];
  const docker = versions('kreuzwerker/docker');
  if (docker.length !== 1) {
    throw new Error(`toolchain: expected one kreuzwerker/docker in ${mirror}, found [${docker.join(', ')}]; ${setupHint}`);
  }
  return { cache, terraform, dockerProvider: docker[0] };
}

beforeAll(() => {
  toolchain = inspectToolchain();
  if (docker('info').status !== 0) {
    throw new Error('no Docker engine answers `docker info`; run `bash scripts/toolchain/setup.sh`');
  }
  if (docker('image', 'inspect', ROOT_IMAGE).status !== 0) {
    throw new Error(`root image ${ROOT_IMAGE} is missing; run \`bash scripts/toolchain/setup.sh\``);
  }
});

describe('env.sh', () => {
  it('puts the toolchain Terraform 1.5.7 first on PATH, ahead of any other terraform', () => {
    expect(toolchain.terraform).toBe(path.join(toolchain.cache, 'terraform/1.5.7/bin/terraform'));
    const version = JSON.parse(ok(withToolchain('terraform version -json'), 'terraform version'));
    expect(version.terraform_version).toBe('1.5.7');
    expect(ok(withToolchain('printf %s "$TERRAFORM_BINARY_NAME"'), 'env')).toBe(toolchain.terraform);
    expect(ok(withToolchain('printf %s "$MODULUS_DOCKER_PROVIDER_VERSION"'), 'env')).toBe(toolchain.dockerProvider);
  });

  it('points Terraform at a CLI config that installs providers from the local mirror only', () => {
    const env = ok(withToolchain('printf "%s\\n%s\\n" "$TF_CLI_CONFIG_FILE" "$CHECKPOINT_DISABLE"'), 'env');
    const [cliConfig, checkpoint] = env.trim().split('\n');
    expect(checkpoint).toBe('1');
    const config = fs.readFileSync(cliConfig, 'utf8');
    expect(config).toContain(`filesystem_mirror {\n    path    = "${path.join(toolchain.cache, 'mirror')}"`);
    expect(config).not.toMatch(/\bdirect\b|network_mirror/);
    const binary = path.join(
      toolchain.cache,
      'mirror/registry.terraform.io/kreuzwerker/docker',
      toolchain.dockerProvider,
      'linux_amd64',
      `terraform-provider-docker_v${toolchain.dockerProvider}`,
    );
    expect(fs.statSync(binary).mode & 0o111).not.toBe(0);
  });
});

describe('the synthesized images stack', () => {
  let work: string;
  let stackDir: string;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-images-'));
    const out = path.join(work, 'cdktf.out');
    ok(
      withToolchain('npx cdktf synth --output "$OUT"', { env: { OUT: out, MODULUS_ROOT_IMAGE: ROOT_IMAGE } }),
      'npx cdktf synth',
    );
    stackDir = path.join(out, 'stacks/images');
    expect(fs.existsSync(path.join(stackDir, 'cdk.tf.json'))).toBe(true);
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('terraform init installs the providers from the mirror', () => {
    const out = ok(withToolchain('terraform init -input=false -no-color', { cwd: stackDir }), 'terraform init');
    expect(out).toContain(`Installing kreuzwerker/docker v${toolchain.dockerProvider}`);
    expect(out).toContain('Terraform has been successfully initialized!');
  });

  it('terraform validate accepts the stack', () => {
    const out = ok(withToolchain('terraform validate -no-color', { cwd: stackDir }), 'terraform validate');
    expect(out).toContain('Success! The configuration is valid.');
  });

  it('terraform plan against the running engine adds every standard image', () => {
    const out = ok(
      withToolchain('terraform plan -input=false -no-color -lock=false', { cwd: stackDir }),
      'terraform plan',
    );
    expect(out).toMatch(/Plan: 11 to add, 0 to change, 0 to destroy\./);
    expect(out).toContain('"modulus/base:latest"');
  });

  it('npx cdktf diff images prints the plan', () => {
    const out = ok(
      withToolchain('npx cdktf diff images --skip-synth --skip-provider-lock --no-color --output "$OUT"', {
        env: { OUT: path.dirname(path.dirname(stackDir)) },
      }),
      'npx cdktf diff images',
    );
    expect(out).toMatch(/Plan: 11 to add, 0 to change, 0 to destroy\./);
  });
});

describe('cdktf deploy and destroy of root -> base', () => {
  const prefix = `modulus-e2e-${process.pid}/`;
  const image = `${prefix}base:latest`;
  let work: string;
  let cdktf: (command: string) => Run;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-deploy-'));
    cdktf = (command: string) =>
      withToolchain(
        `npx cdktf ${command} e2e-base --app "npx ts-node __tests__/e2e/support/base-app.ts" ` +
          '--output "$OUT" --auto-approve --skip-provider-lock --no-color',
        {
          env: {
            OUT: path.join(work, 'cdktf.out'),
            E2E_ROOT_IMAGE: ROOT_IMAGE,
            E2E_REPOSITORY_PREFIX: prefix,
          },
        },
      );
  });
  afterAll(() => {
    // Only this test's own tag, whatever happened above.
    if (docker('image', 'inspect', image).status === 0) docker('rmi', '--force', image);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('deploy builds the base image FROM the root image', () => {
    ok(cdktf('deploy'), 'npx cdktf deploy e2e-base');
    const listed = ok(docker('images', '--format', '{{.Repository}}:{{.Tag}}'), 'docker images');
    expect(listed.split('\n')).toContain(image);
  });

  it('a container of the deployed image answers', () => {
    const run = docker('run', '--rm', '--network', 'none', image, 'bash', '-c', 'echo "answer from $(id -un)"');
    expect(ok(run, `docker run ${image}`)).toMatch(/^answer from \S+$/m);
  });

  it('destroy removes the image', () => {
    ok(cdktf('destroy'), 'npx cdktf destroy e2e-base');
    expect(docker('image', 'inspect', image).status).not.toBe(0);
    const listed = ok(docker('images', '--format', '{{.Repository}}:{{.Tag}}'), 'docker images');
    expect(listed.split('\n')).not.toContain(image);
  });
});
