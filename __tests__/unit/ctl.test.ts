import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App, TerraformStack } from 'cdktf';
import { Container } from '@cdktf/provider-docker/lib/container';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { CTL_ACTIONS, ctlCommand, ctlInvocation, CtlInvocation, ctlStackFile, DEFAULT_CTL_STACK, main, readCtlStack } from '../../scripts/ctl';
import { synthCtlStack } from './support/ctl-stack';
import { tempDir } from './support/temp';

const REPO_ROOT = path.resolve(__dirname, '../..');
const SUPERVISORCTL = (action: string) => ['modulus-app', action];
const LOADER = path.join(REPO_ROOT, 'scripts', 'typescript-loader.js');

/** Runs `scripts/ctl.ts ...args` as `npm run ctl` does, with the given environment only. */
function ctlProcess(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ['--require', LOADER, 'scripts/ctl.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8', env });
}

describe('npm run ctl', () => {
  it('drives supervisorctl in the run container through docker exec', () => {
    for (const action of ['status', 'start', 'stop', 'restart']) {
      expect(ctlCommand('shop', action)).toEqual(['docker', 'exec', 'modulus-app-shop', 'modulus-app', action]);
    }
  });

  it('tails the app log by name (it survives rotation)', () => {
    expect(ctlCommand('shop', 'tail')).toEqual(['docker', 'exec', 'modulus-app-shop', 'tail', '-n', '100', '-F', '/mnt/log/app.log']);
  });

  it('knows exactly the five actions', () => {
    expect([...CTL_ACTIONS]).toEqual(['status', 'start', 'stop', 'restart', 'tail']);
  });

  it('refuses unknown actions and invalid app names with usage (exit 2), without running anything', () => {
    expect(() => ctlCommand('shop', 'reload')).toThrow("unknown action 'reload': usage: modulus-ctl <app>[@<host>] status|start|stop|restart|tail");
    expect(() => ctlCommand('Shop;rm', 'status')).toThrow("invalid app name 'Shop;rm'");
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(main(['shop'])).toBe(2);
      expect(main(['shop', 'reload'])).toBe(2);
      expect(main(['../x', 'status'])).toBe(2);
      expect(main(['--help'])).toBe(0);
    } finally {
      stderr.mockRestore();
    }
  });

  it('is the package.json "ctl" script and exits with usage when called without arguments', () => {
    const pkg = require(path.join(REPO_ROOT, 'package.json'));
    expect(pkg.scripts.ctl).toBe('node --require ./scripts/typescript-loader.js scripts/ctl.ts');
    const result = spawnSync('bash', ['-c', pkg.scripts.ctl], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('usage: modulus-ctl <app>[@<host>] status|start|stop|restart|tail\n');
  });
});

describe('npm run ctl on several Docker hosts (the synthesized apps stack)', () => {
  const PRIVATE = '/tmp/modulus-ctl-test';
  const options = { privateDir: PRIVATE, path: '/usr/local/bin:/usr/bin:/bin', ssh: '/usr/bin/ssh' };
  let stack: unknown;

  beforeAll(() => {
    const file = synthCtlStack(tempDir('modulus-ctl-stack-'), [
      { host: 'unix:///var/run/docker.sock', apps: ['shop'] },
      { alias: 'b', host: 'ssh://root@127.0.0.1:2222', sshOpts: ['-F', '/etc/modulus/ssh_config'], apps: ['blog', 'wiki'] },
      { alias: 'c', host: 'ssh://deploy@127.0.0.2:22', apps: ['docs'] },
      { alias: 'tls', host: 'tcp://127.0.0.3:2376', certPath: '/etc/modulus/certs', apps: ['api'] },
      { alias: 'plain', host: 'tcp://127.0.0.4:2375', apps: ['cron'] },
    ]);
    expect(file.endsWith(path.join('stacks', 'apps', 'cdk.tf.json'))).toBe(true);
    stack = readCtlStack(file);
  });

  it('reads the stack of cdktf.out/manifest.json that has the app, whatever its name, unless MODULUS_CTL_STACK names one', () => {
    const project = tempDir('modulus-ctl-project-');
    const outdir = path.join(project, 'cdktf.out');
    // One cdktf App with three stacks: python has shop, web has blog, and apps (the default) has nothing of either.
    const app = new App({ outdir, skipValidation: true });
    for (const [name, apps] of [['python', ['shop']], ['web', ['blog', 'twice']], ['apps', []], ['other', ['twice']]] as const) {
      const stack = new TerraformStack(app, name);
      new DockerProvider(stack, 'Docker', { host: `ssh://deploy@${name}.example.com` });
      for (const appName of apps) new Container(stack, appName, { name: `modulus-app-${appName}`, image: 'modulus/run-static:latest' });
    }
    app.synth();
    expect(ctlStackFile('shop', {}, project)).toBe(path.join(outdir, 'stacks', 'python', 'cdk.tf.json'));
    expect(ctlStackFile('blog', {}, project)).toBe(path.join(outdir, 'stacks', 'web', 'cdk.tf.json'));
    expect(ctlStackFile('shop', { MODULUS_CTL_STACK: '/srv/stack.json' }, project)).toBe('/srv/stack.json');
    // In no stack: the default file (then the local engine, with a notice); in two: refused.
    expect(ctlStackFile('gone', {}, project)).toBe(path.join(project, DEFAULT_CTL_STACK));
    expect(() => ctlStackFile('twice', {}, project)).toThrow(
      `app 'twice': 2 stacks in cdktf.out/manifest.json have a run container named modulus-app-twice (${path.join(outdir, 'stacks', 'other', 'cdk.tf.json')}, ` +
        `${path.join(outdir, 'stacks', 'web', 'cdk.tf.json')}): set MODULUS_CTL_STACK to one`,
    );
    // Without a manifest (nothing synthesized): the default file, which does not exist either (the local engine).
    expect(ctlStackFile('shop', {}, tempDir('modulus-ctl-empty-'))).toMatch(/modulus-ctl-empty-.*\/cdktf\.out\/stacks\/apps\/cdk\.tf\.json$/);
  });

  it('reads cdktf.out/stacks/apps/cdk.tf.json unless MODULUS_CTL_STACK says otherwise; a missing file is no stack', () => {
    expect(DEFAULT_CTL_STACK).toBe('cdktf.out/stacks/apps/cdk.tf.json');
    expect(readCtlStack(path.join(tempDir('modulus-ctl-none-'), 'cdk.tf.json'))).toBeUndefined();
    const bad = path.join(tempDir('modulus-ctl-bad-'), 'cdk.tf.json');
    fs.writeFileSync(bad, '{"provider":');
    expect(() => readCtlStack(bad)).toThrow(`cannot parse the apps stack ${bad}`);
  });

  it('a run container of the default provider goes to its host with -H (unix://)', () => {
    const run = ctlInvocation('shop', 'status', stack, options);
    expect(run).toEqual<CtlInvocation>({
      argv: ['docker', '-H', 'unix:///var/run/docker.sock', 'exec', 'modulus-app-shop', ...SUPERVISORCTL('status')],
      env: { DOCKER_TLS_VERIFY: '', DOCKER_TLS: '' },
      files: [],
      engine: 'docker (unix:///var/run/docker.sock)',
    });
  });

  it('an aliased ssh:// provider: docker -H ssh://..., its ssh_opts added by a private ssh wrapper first on PATH', () => {
    for (const app of ['blog', 'wiki']) {
      const run = ctlInvocation(app, 'restart', stack, options);
      expect(run.argv).toEqual(['docker', '-H', 'ssh://root@127.0.0.1:2222', 'exec', `modulus-app-${app}`, ...SUPERVISORCTL('restart')]);
      expect(run.env).toEqual({ DOCKER_TLS_VERIFY: '', DOCKER_TLS: '', PATH: `${PRIVATE}/bin:/usr/local/bin:/usr/bin:/bin` });
      expect(run.files).toEqual([{ path: `${PRIVATE}/bin/ssh`, content: `#!/bin/sh\nexec '/usr/bin/ssh' '-F' '/etc/modulus/ssh_config' "$@"\n`, mode: 0o700 }]);
      expect(run.engine).toBe('docker.b (ssh://root@127.0.0.1:2222)');
    }
    expect(ctlInvocation('blog', 'tail', stack, options).argv).toEqual(
      ['docker', '-H', 'ssh://root@127.0.0.1:2222', 'exec', 'modulus-app-blog', 'tail', '-n', '100', '-F', '/mnt/log/app.log'],
    );
    // Run from the stack's folder, as the provider is: relative options (DockerHost's known hosts asset) hold.
    expect(ctlInvocation('blog', 'status', stack, { ...options, stackDir: 'cdktf.out/stacks/apps' }).files[0].content).toBe(
      `#!/bin/sh\ncd '${path.resolve('cdktf.out/stacks/apps')}' || exit 255\nexec '/usr/bin/ssh' '-F' '/etc/modulus/ssh_config' "$@"\n`,
    );
    // Without ssh_opts there is no wrapper: the docker CLI's own ssh from the caller's PATH.
    const docs = ctlInvocation('docs', 'stop', stack, options);
    expect(docs).toEqual({ argv: ['docker', '-H', 'ssh://deploy@127.0.0.2:22', 'exec', 'modulus-app-docs', ...SUPERVISORCTL('stop')], env: { DOCKER_TLS_VERIFY: '', DOCKER_TLS: '' }, files: [], engine: 'docker.c (ssh://deploy@127.0.0.2:22)' });
  });

  it('the wrapper really hands ssh_opts to OpenSSH (ssh -G evaluates them without connecting)', () => {
    const dir = tempDir('modulus-ctl-wrapper-');
    const config = path.join(dir, 'ssh_config');
    fs.writeFileSync(config, `Host 127.0.0.1\n  Port 2222\n  UserKnownHostsFile ${dir}/known_hosts_from_config\n`);
    fs.writeFileSync(path.join(dir, 'id key'), '', { mode: 0o600 }); // ssh -G lists an identity file only when it exists
    const ssh = ok(spawnSync('bash', ['-c', 'command -v ssh'], { encoding: 'utf8' }).stdout.trim());
    const cases: Array<[string[], RegExp[]]> = [
      [['-F', config], [/^port 2222$/m, new RegExp(`^userknownhostsfile ${dir}/known_hosts_from_config$`, 'm')]],
      [['-i', `${dir}/id key`, '-o', `UserKnownHostsFile=${dir}/known_hosts`, '-o', 'StrictHostKeyChecking=yes'], [new RegExp(`^identityfile ${dir}/id key$`, 'm'), new RegExp(`^userknownhostsfile ${dir}/known_hosts$`, 'm'), /^stricthostkeychecking true$/m]],
    ];
    for (const [sshOpts, expected] of cases) {
      const json = { provider: { docker: [{ alias: 'b', host: 'ssh://root@127.0.0.1:2222', ssh_opts: sshOpts }] }, resource: { docker_container: { run: { name: 'modulus-app-blog', provider: 'docker.b' } } } };
      const run = ctlInvocation('blog', 'status', json, { privateDir: path.join(dir, `p${expected.length}`), path: process.env.PATH, ssh });
      for (const file of run.files) {
        fs.mkdirSync(path.dirname(file.path), { recursive: true });
        fs.writeFileSync(file.path, file.content, { mode: file.mode });
      }
      // What the docker CLI's connection helper finds first on PATH, with the arguments it would add.
      const result = spawnSync('ssh', ['-G', '-l', 'root', '-p', '2222', '--', '127.0.0.1'], { encoding: 'utf8', env: { ...process.env, ...run.env } });
      expect(result.status).toBe(0);
      for (const pattern of expected) expect(result.stdout).toMatch(pattern);
    }
  });

  it('tcp://: -H, and --tlsverify with the certificates of cert_path; *_material goes to private files, never argv', () => {
    expect(ctlInvocation('api', 'status', stack, options).argv).toEqual([
      'docker', '-H', 'tcp://127.0.0.3:2376',
      '--tlsverify', '--tlscacert', '/etc/modulus/certs/ca.pem', '--tlscert', '/etc/modulus/certs/cert.pem', '--tlskey', '/etc/modulus/certs/key.pem',
      'exec', 'modulus-app-api', ...SUPERVISORCTL('status'),
    ]);
    expect(ctlInvocation('cron', 'start', stack, options).argv).toEqual(['docker', '-H', 'tcp://127.0.0.4:2375', 'exec', 'modulus-app-cron', ...SUPERVISORCTL('start')]);

    const pem = (kind: string) => `-----BEGIN ${kind}-----\nc2VjcmV0\n-----END ${kind}-----\n`;
    const json = {
      provider: { docker: { alias: 'm', host: 'tcp://127.0.0.5:2376', ca_material: pem('CERTIFICATE'), cert_material: pem('CERTIFICATE'), key_material: pem('PRIVATE KEY') } },
      resource: { docker_container: { run: { name: 'modulus-app-shop', provider: 'docker.m' } } },
    };
    const run = ctlInvocation('shop', 'status', json, options);
    expect(run.argv).toEqual([
      'docker', '-H', 'tcp://127.0.0.5:2376',
      '--tlsverify', '--tlscacert', `${PRIVATE}/tls/ca.pem`, '--tlscert', `${PRIVATE}/tls/cert.pem`, '--tlskey', `${PRIVATE}/tls/key.pem`,
      'exec', 'modulus-app-shop', ...SUPERVISORCTL('status'),
    ]);
    expect(run.argv.join(' ')).not.toContain('c2VjcmV0');
    expect(run.files).toEqual([
      { path: `${PRIVATE}/tls/ca.pem`, content: pem('CERTIFICATE'), mode: 0o600 },
      { path: `${PRIVATE}/tls/cert.pem`, content: pem('CERTIFICATE'), mode: 0o600 },
      { path: `${PRIVATE}/tls/key.pem`, content: pem('PRIVATE KEY'), mode: 0o600 },
    ]);
  });

  it('falls back to the local engine: no stack, an app not in it (with a notice), a default provider without host', () => {
    const local = ['docker', 'exec', 'modulus-app-shop', ...SUPERVISORCTL('status')];
    expect(ctlInvocation('shop', 'status', undefined, options)).toEqual({ argv: local, env: {}, files: [], engine: 'local engine' });
    const missing = ctlInvocation('gone', 'status', stack, options);
    expect(missing.argv).toEqual(['docker', 'exec', 'modulus-app-gone', ...SUPERVISORCTL('status')]);
    expect(missing.notice).toBe("app 'gone' has no run container (docker_container named modulus-app-gone) in the apps stack: using the local engine");
    expect(ctlInvocation('shop', 'status', { resource: { docker_container: { run: { name: 'modulus-app-shop' } } } }, options).argv).toEqual(local);
    expect(ctlInvocation('shop', 'status', { provider: { docker: [{}] }, resource: { docker_container: { run: { name: 'modulus-app-shop', provider: 'docker' } } } }, options).argv).toEqual(local);
  });

  it('refuses a stack it cannot follow, naming the app, the provider and what is allowed', () => {
    const withContainer = (provider: unknown, providers: unknown[]) => ({
      provider: { docker: providers },
      resource: { docker_container: { run: { name: 'modulus-app-shop', ...(provider === undefined ? {} : { provider }) } } },
    });
    const two = [{ host: 'unix:///var/run/docker.sock' }, { alias: 'b', host: 'ssh://root@127.0.0.1:2222' }];
    expect(() => ctlInvocation('shop', 'status', withContainer('docker.c', two), options)).toThrow(
      "app 'shop': docker_container.run uses provider docker.c, but the apps stack has no docker provider with alias 'c'; the stack's docker providers are docker, docker.b",
    );
    expect(() => ctlInvocation('shop', 'status', withContainer('${docker.b}', two), options)).toThrow(
      `app 'shop': docker_container.run names provider "\${docker.b}": ctl follows "docker" or "docker.<alias>"; the stack's docker providers are docker, docker.b`,
    );
    expect(() => ctlInvocation('shop', 'status', withContainer('docker.b', [{ alias: 'b', host: 'http://127.0.0.1:2375' }]), options)).toThrow(
      "app 'shop': provider docker.b has host 'http://127.0.0.1:2375': ctl supports unix://, tcp://, ssh://",
    );
    expect(() => ctlInvocation('shop', 'status', withContainer('docker.b', [{ alias: 'b', host: '${var.host_b}' }]), options)).toThrow(
      "app 'shop': provider docker.b has host \"${var.host_b}\": ctl needs a literal unix://, tcp://, ssh:// address in the synthesized stack",
    );
    expect(() => ctlInvocation('shop', 'status', withContainer('docker.b', [{ alias: 'b', host: 'ssh://root@127.0.0.1:2222', ssh_opts: '-F x' }]), options)).toThrow(
      "app 'shop': provider docker.b has ssh_opts \"-F x\": ctl needs a list of literal strings",
    );
    const twice = { provider: { docker: two }, resource: { docker_container: { a: { name: 'modulus-app-shop' }, b: { name: 'modulus-app-shop', provider: 'docker.b' } } } };
    expect(() => ctlInvocation('shop', 'status', twice, options)).toThrow(
      "app 'shop': 2 run containers are named modulus-app-shop in the apps stack: docker_container.a (docker), docker_container.b (docker.b); ctl needs exactly one",
    );
    // The action and the app name are checked first, whatever the stack.
    expect(() => ctlInvocation('shop', 'reload', withContainer('docker.c', two), options)).toThrow("unknown action 'reload'");
  });

  it('an app with replicas: <app>@<host> picks the instance on that host; the bare name asks for one', () => {
    const hosts = [{ alias: 'a', host: 'unix:///var/run/docker.sock' }, { alias: 'b', host: 'tcp://127.0.0.1:2375' }];
    const replicated = { provider: { docker: hosts }, resource: { docker_container: { a: { name: 'modulus-app-shop', provider: 'docker.a' }, b: { name: 'modulus-app-shop', provider: 'docker.b' } } } };
    expect(ctlInvocation('shop@b', 'status', replicated, options)).toMatchObject({ argv: ['docker', '-H', 'tcp://127.0.0.1:2375', 'exec', 'modulus-app-shop', 'modulus-app', 'status'], engine: 'docker.b (tcp://127.0.0.1:2375)' });
    expect(ctlInvocation('shop@a', 'status', replicated, options).engine).toBe('docker.a (unix:///var/run/docker.sock)');
    expect(() => ctlInvocation('shop', 'status', replicated, options)).toThrow("app 'shop' runs as 2 instances (on hosts a, b): name one, e.g. shop@a");
    expect(() => ctlInvocation('shop@c', 'status', replicated, options)).toThrow("app 'shop' has no run container on host 'c' in the apps stack: it runs on a, b");
    expect(() => ctlInvocation('shop@B', 'status', replicated, options)).toThrow("invalid host 'B' in 'shop@B': give <app>@<host name>, e.g. shop@b");
  });

  it('the script: MODULUS_CTL_STACK is read; a stack error exits 2 before anything runs, a missing app says so and uses the local engine', () => {
    const dir = tempDir('modulus-ctl-script-');
    const emptyPath = path.join(dir, 'bin');
    fs.mkdirSync(emptyPath);
    const file = path.join(dir, 'cdk.tf.json');
    fs.writeFileSync(file, JSON.stringify({ provider: { docker: [{ alias: 'b', host: 'ssh://root@127.0.0.1:2222' }] }, resource: { docker_container: { run: { name: 'modulus-app-shop', provider: 'docker.c' } } } }));
    // PATH holds no docker: whatever would run fails to start (exit 1), so nothing reaches an engine.
    const env = { PATH: emptyPath, MODULUS_CTL_STACK: file, HOME: dir, TMPDIR: dir };
    const refused = ctlProcess(['shop', 'status'], env);
    expect({ status: refused.status, stderr: refused.stderr }).toEqual({
      status: 2,
      stderr: "ctl: app 'shop': docker_container.run uses provider docker.c, but the apps stack has no docker provider with alias 'c'; the stack's docker providers are docker.b\n",
    });
    const missing = ctlProcess(['gone', 'status'], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(
      `ctl: app 'gone' has no run container (docker_container named modulus-app-gone) in the apps stack: using the local engine (${file})\nctl: spawnSync docker ENOENT\n`,
    );
    // No stack file: the local engine, silently.
    const none = ctlProcess(['gone', 'status'], { ...env, MODULUS_CTL_STACK: path.join(dir, 'absent.json') });
    expect({ status: none.status, stderr: none.stderr }).toEqual({ status: 1, stderr: 'ctl: spawnSync docker ENOENT\n' });
    // The private folder (ssh wrapper, TLS material) is removed again.
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('modulus-ctl-'))).toEqual([]);
  }, 180_000);
});

function ok(value: string): string {
  if (!value) throw new Error('ssh is not installed (openssh-client)');
  return value;
}
