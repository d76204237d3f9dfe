/**
 * The whole platform in one command, on a fresh Debian machine as root:
 *
 *   npm run deploy      toolchain (engine, root image, Terraform, providers), then `cdktf deploy images apps`
 *   npm run destroy     `cdktf destroy apps images`
 *
 * 1. toolchain: scripts/toolchain/setup.sh sets up what is missing (the engine step is skipped when
 *    MODULUS_DOCKER_HOST names an engine of your own).
 * 2. What the engine offers (scripts/deploy-settings.ts): the network mode and the root image, one line each;
 *    MODULUS_* settings in the environment win.
 * 3. scripts/toolchain/cdktf.sh (cdktf with the toolchain's Terraform; fails naming the stack when Terraform is
 *    killed), its output in cdktf.out/<command>.log; one line per phase with its time (scripts/deploy-progress.ts),
 *    Terraform's errors (a failed build's last log lines) on failure.
 * 4. deploy: "no changes" when there were none, and a table of the samples (URL and whether it answers);
 *    destroy: whether a container of the samples is left, and which volumes were kept.
 *
 * Exit status 0 when everything is up (or down) and answering, 1 otherwise, 2 for a usage error.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { DeployCommand, detectSettings } from './deploy-settings';
import { errorBlocks, formatDuration, phaseLine, PhaseTracker, QuietWatch, SampleApp, sampleApps, summaryTable } from './deploy-progress';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'cdktf.out');
const TOOLCHAIN = path.join(ROOT, 'scripts', 'toolchain');
/** The apps stack's default volume root (stacks/apps-stack.ts). */
const DEFAULT_VOLUME_ROOT = '/var/lib/modulus/volumes';
/** How long the summary waits for each sample to answer after the deploy. */
const ANSWER_TIMEOUT_MS = 90_000;
const USAGE = 'usage: npm run deploy | npm run destroy   (scripts/deploy.ts deploy|destroy)';

let child: ReturnType<typeof spawn> | undefined;

/** Runs a command with its output appended to `log`; calls `onLine` for each line. Resolves to its exit status. */
function runLogged(file: string, args: string[], env: NodeJS.ProcessEnv, log: string, onLine: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const out = fs.openSync(log, 'a');
    child = spawn(file, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let status: number | undefined;
    let open = 2;
    let finished = false;
    const done = () => {
      if (finished || open > 0 || status === undefined) return;
      finished = true;
      fs.closeSync(out);
      child = undefined;
      resolve(status);
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.on('data', (chunk: Buffer) => {
        fs.writeSync(out, chunk);
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop()!;
        lines.forEach(onLine);
      });
      stream.on('end', () => {
        if (rest) onLine(rest);
        open--;
        done();
      });
    }
    child.on('error', (error) => {
      fs.writeSync(out, `${file}: ${error.message}\n`);
      status = 127;
      open = 0;
      done();
    });
    child.on('close', (code, signal) => {
      status = code ?? 128 + (signal ? os.constants.signals[signal] : 0);
      done();
    });
  });
}

/** HTTP status of GET url, or the error's message. */
function get(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const request = http.get(url, { timeout: 5000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 'no status');
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 5 s')));
    request.on('error', (error) => resolve(error.message));
  });
}

/** Polls a sample until it answers (any status below 500) or the timeout passes; its status line. */
async function sampleStatus(sample: SampleApp, env: NodeJS.ProcessEnv): Promise<{ ok: boolean; status: string }> {
  const url = `http://127.0.0.1:${sample.port}/`;
  const deadline = Date.now() + ANSWER_TIMEOUT_MS;
  let last: number | string = '';
  while (Date.now() < deadline) {
    last = await get(url);
    if (typeof last === 'number' && last < 500) return { ok: true, status: `${last} ${http.STATUS_CODES[last] ?? ''}`.trim() };
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const state = spawnSync('docker', ['inspect', '--format', '{{.State.Status}} (exit code {{.State.ExitCode}})', sample.container], { env, encoding: 'utf8' });
  const container = state.status === 0 ? state.stdout.trim() : 'missing';
  return { ok: false, status: `no answer after ${ANSWER_TIMEOUT_MS / 1000}s (${last}); container ${container}: npm run ctl -- ${sample.app} status` };
}

function readApps(): SampleApp[] {
  const file = path.join(OUT, 'stacks', 'apps', 'cdk.tf.json');
  return fs.existsSync(file) ? sampleApps(JSON.parse(fs.readFileSync(file, 'utf8'))) : [];
}

export async function main(argv: string[]): Promise<number> {
  const command = argv[0] as DeployCommand;
  if (argv.length !== 1 || (command !== 'deploy' && command !== 'destroy')) {
    console.error(USAGE);
    return argv[0] === '--help' ? 0 : 2;
  }
  const quiet = new QuietWatch((line) => console.log(line));
  const say = (line: string) => quiet.say(line);
  const started = Date.now();
  fs.mkdirSync(OUT, { recursive: true });
  const relative = (file: string) => path.relative(process.cwd(), file) || file;

  // 1. The toolchain, and what the engine offers.
  const toolchainLog = path.join(OUT, `${command}-toolchain.log`);
  fs.writeFileSync(toolchainLog, '');
  let step = '';
  const times: string[] = [];
  const heartbeat = (what: () => string) => quiet.watch(() => `[${command}] … ${what()}`);
  const setup = async (steps: string[]): Promise<boolean> => {
    const status = await runLogged('bash', [path.join(TOOLCHAIN, 'setup.sh'), ...steps], process.env, toolchainLog, (line) => {
      const begun = /^\[toolchain\] step: (\S+)$/.exec(line);
      if (begun) step = begun[1];
      const ended = /^\[toolchain\] step: (\S+) done in (\d+)s$/.exec(line);
      if (ended) times.push(`${ended[1]} ${ended[2]}s`);
    });
    if (status === 0) return true;
    say(phaseLine(command, 'toolchain', formatDuration(Date.now() - started), `FAILED in step ${step}; the end of ${relative(toolchainLog)}:`));
    const lines = fs.readFileSync(toolchainLog, 'utf8').trimEnd().split('\n');
    say(lines.filter((line) => line.startsWith('[toolchain]')).slice(-30).join('\n'));
    return false;
  };
  const toolchainBeat = heartbeat(() => `toolchain: step ${step} (${formatDuration(Date.now() - started)}; log: ${relative(toolchainLog)})`);
  let settings;
  try {
    if (!process.env.MODULUS_DOCKER_HOST && !(await setup(['engine']))) return 1;
    settings = detectSettings(command);
    settings.choices.forEach((choice) => say(`[${command}] ${choice}`));
    if (!(await setup([...(settings.buildRootImage ? ['root-image'] : []), 'terraform', 'providers']))) return 1;
  } finally {
    toolchainBeat.stop();
  }
  say(phaseLine(command, 'toolchain', formatDuration(Date.now() - started), times.join(', ')));

  // 2. cdktf, through the wrapper that fails when Terraform is killed.
  const log = path.join(OUT, `${command}.log`);
  fs.writeFileSync(log, '');
  const args = command === 'deploy' ? ['deploy', 'images', 'apps'] : ['destroy', 'apps', 'images'];
  say(`[${command}] cdktf ${args.join(' ')} (full output: ${relative(log)})`);
  const tracker = new PhaseTracker(command);
  const cdktfStarted = Date.now();
  const cdktfBeat = heartbeat(() => `${tracker.active() || 'synth and plan'} (${formatDuration(Date.now() - cdktfStarted)}; log: ${relative(log)})`);
  const status = await runLogged(
    'bash',
    [path.join(TOOLCHAIN, 'cdktf.sh'), ...args, '--auto-approve', '--no-color'],
    { ...process.env, ...settings.env, CI: process.env.CI || '1' },
    log,
    (line) => tracker.line(line, Date.now()).forEach(say),
  ).finally(() => cdktfBeat.stop());
  tracker.finish().forEach(say);
  const output = fs.readFileSync(log, 'utf8');
  const took = formatDuration(Date.now() - started);

  if (status !== 0) {
    say(`[${command}] FAILED after ${took}: cdktf ${command} exited ${status}`);
    const errors = errorBlocks(output);
    const wrapper = output.split('\n').filter((line) => line.startsWith('cdktf.sh: '));
    if (errors.length === 0 && wrapper.length === 0) say(output.trimEnd().split('\n').slice(-25).join('\n'));
    for (const error of errors) say(error.split('\n').slice(-60).join('\n'));
    wrapper.forEach(say);
    say(`[${command}] full output: ${relative(log)}`);
    return 1;
  }
  if (tracker.nothingChanged) {
    say(`[${command}] no changes: the images and the apps are as ${command === 'deploy' ? 'deployed (nothing built, replaced or restarted)' : 'destroyed (nothing to remove)'}`);
  }

  const apps = readApps();
  if (command === 'destroy') {
    const names = new Set(apps.flatMap(({ app }) => [`modulus-app-${app}`, `modulus-build-${app}`]));
    const dockerEnv = { ...process.env, ...(process.env.MODULUS_DOCKER_HOST ? { DOCKER_HOST: process.env.MODULUS_DOCKER_HOST } : {}) };
    const listed = spawnSync('docker', ['ps', '-a', '--format', '{{.Names}}'], { env: dockerEnv, encoding: 'utf8' });
    const left = listed.stdout.split('\n').filter((name) => names.has(name));
    const volumeRoot = process.env.MODULUS_VOLUME_ROOT || DEFAULT_VOLUME_ROOT;
    const kept = apps.filter(({ app, provider }) => !provider && fs.existsSync(path.join(volumeRoot, app, 'volume.img'))).map(({ app }) => path.join(volumeRoot, app));
    if (kept.length > 0) say(`[${command}] volumes kept (their removal policy is retain; MODULUS_VOLUME_REMOVAL=destroy on deploy and destroy removes them): ${kept.join(', ')}`);
    if (listed.status !== 0 || left.length > 0) {
      say(`[${command}] FAILED after ${took}: ${listed.status !== 0 ? `docker ps: ${listed.stderr.trim()}` : `containers left: ${left.join(', ')}`}`);
      return 1;
    }
    say(`[${command}] done in ${took}: no container of the ${apps.length} samples left`);
    return 0;
  }

  const rows = await Promise.all(
    apps.map(async (sample) => {
      if (sample.provider) return { sample: sample.app, url: `port ${sample.port} on ${sample.provider}`, status: 'on another host: not probed from here', ok: true };
      const { ok, status: answer } = await sampleStatus(sample, process.env);
      return { sample: sample.app, url: `http://127.0.0.1:${sample.port}/`, status: answer, ok };
    }),
  );
  const failed = rows.filter((row) => !row.ok);
  say(`[${command}] ${failed.length === 0 ? 'done' : 'FAILED'} in ${formatDuration(Date.now() - started)}${failed.length ? `: ${failed.map((row) => row.sample).join(', ')} not answering` : ''}`);
  say('');
  say(summaryTable(rows));
  return failed.length === 0 ? 0 : 1;
}

if (require.main === module) {
  // TERM (a cancelled job) goes on to the running command, which stops Terraform; INT from the terminal reaches it
  // directly (same process group). Either way the outcome is reported when it exits.
  process.on('SIGTERM', () => child?.kill('SIGTERM'));
  process.on('SIGINT', () => undefined);
  main(process.argv.slice(2)).then(
    (status) => process.exit(status),
    (error) => {
      console.error(`[deploy] ${(error as Error).stack ?? error}`);
      process.exit(1);
    },
  );
}
