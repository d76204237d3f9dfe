import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PROVIDER_VERSIONS } from '../../lib/modulus-stack';
import { bash, docker, ok, REPO_ROOT, Run } from '../../harness/shell';

/**
 * The offline deploy toolchain (scripts/toolchain/) against a real engine, real Terraform and real providers:
 * `terraform init/validate/plan` and `cdktf diff` on the synthesized images stack, then a real
 * `cdktf deploy` and `cdktf destroy` of the root -> base part.
 *
 * Needs `scripts/toolchain/setup.sh` to have run; without it every test here fails and says so.
 */

jest.setTimeout(20 * 60_000);

const ENV_SH = path.join(REPO_ROOT, 'scripts/toolchain/env.sh');
/** Where CI has the providers' release-tag archives: shared/provider-sources beside the checkout. */
const DEFAULT_SOURCES = path.resolve(REPO_ROOT, '..', 'shared', 'provider-sources');
const ROOT_IMAGE = process.env.MODULUS_ROOT_IMAGE || 'modulus/root:bookworm';

/** Runs a bash script with scripts/toolchain/env.sh sourced, as a user of the toolchain would. */
function withToolchain(script: string, options: { cwd?: string; env?: Record<string, string> } = {}): Run {
  return bash(`source "$ENV_SH"\n${script}`, { cwd: options.cwd, env: { ENV_SH, ...options.env } });
}

interface Toolchain {
  cache: string;
  terraform: string;
}

/** What the mirror must hold: exactly the versions the bindings were generated from, nothing else. */
const MIRRORED = {
  'kreuzwerker/docker': PROVIDER_VERSIONS.docker,
  'hashicorp/null': PROVIDER_VERSIONS.null,
  'hashicorp/external': PROVIDER_VERSIONS.external,
};

let toolchain: Toolchain;

/** What setup.sh left behind; throws (failing every test) when any piece is missing. */
function inspectToolchain(): Toolchain {
  const setupHint = 'run `bash scripts/toolchain/setup.sh` first (see "Offline / air-gapped installation" in README.md)';
  const facts = withToolchain('printf "%s\\n%s\\n" "$MODULUS_TOOLCHAIN_CACHE" "$(command -v terraform)"');
  const [cache, terraform] = ok(facts, 'source env.sh').trim().split('\n');
  if (!fs.existsSync(path.join(cache, 'terraform.rc'))) {
    throw new Error(`toolchain missing: no Terraform CLI config in ${cache}; ${setupHint}`);
  }
  return { cache, terraform };
}

/** The mirror's package folder of one provider (the unpacked layout Terraform reads). */
function packageDir(provider: keyof typeof MIRRORED): string {
  return path.join(toolchain.cache, 'mirror/registry.terraform.io', provider, MIRRORED[provider], 'linux_amd64');
}

/**
 * Terraform's `h1:` hash of an unpacked provider package (golang.org/x/mod/sumdb/dirhash Hash1): SHA-256 over
 * the sorted lines "<sha256 of file>  <file name>\n", base64. Computed here independently of Terraform.
 */
function h1Hash(dir: string): string {
  const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  const lines = files
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort()
    .map((name) => `${createHash('sha256').update(fs.readFileSync(path.join(dir, name))).digest('hex')}  ${name}\n`);
  return `h1:${createHash('sha256').update(lines.join('')).digest('base64')}`;
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
    // Offline and online deploys pin the same versions: nothing to tell the stacks any more.
    expect(ok(withToolchain('printf %s "${MODULUS_DOCKER_PROVIDER_VERSION-unset}"'), 'env')).toBe('unset');
  });

  it('points Terraform at a CLI config that installs providers from the local mirror only', () => {
    const env = ok(withToolchain('printf "%s\\n%s\\n" "$TF_CLI_CONFIG_FILE" "$CHECKPOINT_DISABLE"'), 'env');
    const [cliConfig, checkpoint] = env.trim().split('\n');
    expect(checkpoint).toBe('1');
    const config = fs.readFileSync(cliConfig, 'utf8');
    expect(config).toContain(`filesystem_mirror {\n    path    = "${path.join(toolchain.cache, 'mirror')}"`);
    expect(config).not.toMatch(/\bdirect\b|network_mirror/);
  });

  it("turns the providers' SDK logs off unless TF_LOG, TF_LOG_PROVIDER or TF_LOG_SDK asks for logs", () => {
    const sdkLevel = (env: Record<string, string>) => ok(withToolchain('printf "[%s]" "${TF_LOG_SDK-}"', { env: { TF_LOG: '', TF_LOG_PROVIDER: '', TF_LOG_SDK: '', ...env } }), 'env');
    expect(sdkLevel({})).toBe('[off]');
    expect(sdkLevel({ TF_LOG: 'debug' })).toBe('[]');
    expect(sdkLevel({ TF_LOG_PROVIDER: 'trace' })).toBe('[]');
    expect(sdkLevel({ TF_LOG_SDK: 'info' })).toBe('[info]');
  });

  it("has Terraform and the providers collect garbage less often (GOGC=400) unless GOGC is set", () => {
    const gogc = (value: string) => ok(withToolchain('printf "[%s]" "${GOGC-}"', { env: { GOGC: value } }), 'env');
    expect(gogc('')).toBe('[400]');
    expect(gogc('100')).toBe('[100]');
  });

  it('holds exactly kreuzwerker/docker 3.6.2, hashicorp/null 3.2.4 and hashicorp/external 2.3.5, one executable each', () => {
    const mirror = path.join(toolchain.cache, 'mirror/registry.terraform.io');
    const held = fs
      .readdirSync(mirror)
      .flatMap((namespace) => fs.readdirSync(path.join(mirror, namespace)).map((type) => `${namespace}/${type}`))
      .map((provider) => [provider, fs.readdirSync(path.join(mirror, provider))]);
    expect(Object.fromEntries(held)).toEqual(Object.fromEntries(Object.entries(MIRRORED).map(([provider, version]) => [provider, [version]])));
    for (const [provider, version] of Object.entries(MIRRORED)) {
      const dir = packageDir(provider as keyof typeof MIRRORED);
      const type = provider.split('/')[1];
      expect(fs.readdirSync(dir)).toEqual([`terraform-provider-${type}_v${version}`]);
      expect(fs.statSync(path.join(dir, `terraform-provider-${type}_v${version}`)).mode & 0o111).not.toBe(0);
    }
  });
});

describe('providers.sh', () => {
  let sources: string;
  const providers = (env: Record<string, string>) => bash('bash scripts/toolchain/providers.sh', { env });
  const archives = fs.readdirSync(DEFAULT_SOURCES).filter((file) => file.endsWith('.tar.gz'));

  beforeEach(() => {
    sources = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-provider-sources-'));
    for (const file of [...archives, 'SHA256SUMS']) fs.copyFileSync(path.join(DEFAULT_SOURCES, file), path.join(sources, file));
  });
  afterEach(() => fs.rmSync(sources, { recursive: true, force: true }));

  it('is cached by archive checksum: a second run builds nothing', () => {
    const run = providers({ MODULUS_PROVIDER_SOURCES: sources });
    ok(run, 'providers.sh');
    for (const provider of Object.keys(MIRRORED)) expect(run.stderr).toMatch(new RegExp(`provider ${provider} \\S+: cached at `));
    expect(run.stderr).not.toContain('go build');
  });

  it('stops at an archive whose checksum does not match SHA256SUMS, naming it, before building anything', () => {
    const damaged = path.join(sources, 'terraform-provider-null-3.2.4.tar.gz');
    fs.appendFileSync(damaged, 'tampered');
    const run = providers({ MODULUS_PROVIDER_SOURCES: sources });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`sha256sum ${damaged}`);
    expect(run.stderr).toContain('fetch it again from the release tag');
    expect(run.stderr).not.toContain('go build');
  });

  it('stops at a missing archive, naming it and the variable that points at the folder', () => {
    fs.rmSync(path.join(sources, 'terraform-provider-external-2.3.5.tar.gz'));
    const run = providers({ MODULUS_PROVIDER_SOURCES: sources });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${sources}/terraform-provider-external-2.3.5.tar.gz (archive missing; MODULUS_PROVIDER_SOURCES=${sources}`);
  });
});

describe('the synthesized stacks', () => {
  let work: string;
  let stackDir: string;
  const stackDirOf = (stack: string) => path.join(path.dirname(stackDir), stack);

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

  // Every stack: docker and null; external only where a data source uses it (the apps stack's mount checks).
  const PROVIDERS_OF: Record<string, Array<keyof typeof MIRRORED>> = {
    images: ['kreuzwerker/docker', 'hashicorp/null'],
    apps: ['kreuzwerker/docker', 'hashicorp/null', 'hashicorp/external'],
  };

  it.each([['images'], ['apps']])('terraform init of %s installs exactly the pinned providers from the mirror', (stack) => {
    const out = ok(withToolchain('terraform init -input=false -no-color', { cwd: stackDirOf(stack) }), `terraform init ${stack}`);
    for (const provider of PROVIDERS_OF[stack]) expect(out).toContain(`Installing ${provider} v${MIRRORED[provider]}`);
    expect(out).toContain('Terraform has been successfully initialized!');
    const version = JSON.parse(ok(withToolchain('terraform version -json', { cwd: stackDirOf(stack) }), 'terraform version -json'));
    expect(version.provider_selections).toEqual(
      Object.fromEntries(PROVIDERS_OF[stack].map((provider) => [`registry.terraform.io/${provider}`, MIRRORED[provider]])),
    );
  });

  it.each([['images'], ['apps']])(".terraform.lock.hcl of %s holds its providers with the mirror's hashes", (stack) => {
    const lock = fs.readFileSync(path.join(stackDirOf(stack), '.terraform.lock.hcl'), 'utf8');
    for (const provider of PROVIDERS_OF[stack]) {
      const block = new RegExp(`provider "registry\\.terraform\\.io/${provider}" \\{([^}]*)\\}`).exec(lock);
      expect({ provider, locked: block !== null }).toEqual({ provider, locked: true });
      expect(block![1]).toContain(`version     = "${MIRRORED[provider]}"`);
      expect(block![1]).toContain(`constraints = "${MIRRORED[provider]}"`);
      expect(block![1]).toContain(`"${h1Hash(packageDir(provider))}"`);
    }
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

  it("TF_LOG_SDK=off keeps the providers from writing their request logs at all (Terraform would drop them)", () => {
    // TF_LOG_PROVIDER makes Terraform write what the providers send it to TF_LOG_PATH, so both plans show it.
    const providerLines = (sdkLevel: string) => {
      const logFile = path.join(work, `provider-${sdkLevel || 'default'}.log`);
      const env = { TF_LOG: '', TF_LOG_PROVIDER: 'trace', TF_LOG_SDK: sdkLevel, TF_LOG_PATH: logFile };
      ok(withToolchain('terraform plan -input=false -no-color -lock=false', { cwd: stackDir, env }), 'terraform plan');
      return fs.readFileSync(logFile, 'utf8').split('\n').filter((line) => /Received request|Served request/.test(line)).length;
    };
    expect(providerLines('')).toBeGreaterThan(20);
    expect(providerLines('off')).toBe(0);
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
        `npx cdktf ${command} e2e-base --app "node --require ./scripts/typescript-loader.js __tests__/e2e/support/base-app.ts" ` +
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
