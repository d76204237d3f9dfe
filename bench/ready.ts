import { performance } from 'perf_hooks';
import { runContainerName } from '../lib/run-container';
import { Language } from '../lib/standard-images';
import { benchPort } from './support/app';
import { describeSamples, failed, formatMs, httpStatus, median, must, run, runCount, start, timeToHttp200, verdict } from './support/measure';

const NAME = 'app ready time';
/** Issue 20: supervisord's start-up, the start script and the container start together within half a second. */
const GOAL_S = 0.5;

/** Starts something with `launch` and times it to the first HTTP 200 on `port`. */
async function timeStart(port: number, launch: () => Promise<number | null>): Promise<number> {
  if ((await httpStatus(port, 300)) !== undefined) throw new Error(`something already answers on 127.0.0.1:${port}`);
  const since = performance.now();
  const launched = launch();
  const ms = await timeToHttp200(port, since);
  const status = await launched;
  if (status !== 0) throw new Error(`the start command exited ${status}`);
  return ms;
}

async function waitDown(port: number): Promise<void> {
  for (let i = 0; i < 200 && (await httpStatus(port, 300)) !== undefined; i++) await new Promise((r) => setTimeout(r, 50));
  if ((await httpStatus(port, 300)) !== undefined) throw new Error(`127.0.0.1:${port} still answers`);
}

/** The process that serves the app: supervisord's `app`, followed down while it has exactly one child (start → sh → node). */
function appProcess(container: string): { argv: string[]; cwd: string; env: string[] } {
  const script = [
    'p=$(supervisorctl pid app)',
    'while set -- $(cat /proc/$p/task/$p/children 2>/dev/null) && [ $# -eq 1 ]; do p=$1; done',
    'readlink /proc/$p/cwd; tr "\\0" "\\n" < /proc/$p/cmdline; echo --env--; tr "\\0" "\\n" < /proc/$p/environ',
  ].join('; ');
  const [head, env] = must('docker', ['exec', container, 'bash', '-c', script]).stdout.split('--env--\n');
  const [cwd, ...argv] = head.split('\n').filter(Boolean);
  return { cwd, argv, env: env.split('\n').filter((line) => line && !line.startsWith('SUPERVISOR_')) };
}

/**
 * Container start to first HTTP 200, beyond the app's own start (goal ≤ 0.5 s), for each deployed sample:
 * - deployed: `docker start` of the stopped run container (init → supervisord → start script → app) to 200;
 * - app alone: the very command supervisord ends up running (same argv, folder and environment, another port),
 *   exec'd into the running container: the app's own start, no container start, no supervisord, no start script;
 * - direct container: `docker start` of a container of the same image, user, volume (read-only), memory limit and
 *   security options whose command is that same argv (no supervisord, no start script).
 * - start script: the image's /opt/modulus/bin/start exec'd the same way (start script + app, no supervisord).
 * The goal is judged on deployed − app alone (everything the platform adds, container start included); the
 * differences between the others split it into container start, start script and supervisord.
 */
export async function appReadyTime(languages: Language[]): Promise<void> {
  const runs = runCount(5);
  for (const language of languages) {
    const container = runContainerName(`bench-${language}`);
    const port = benchPort(language);
    const directPort = port + 20;
    const direct = `modulus-bench-direct-${language}`;
    console.log(`\n# ${NAME}: ${language} sample (${container}, port ${port}; ${runs} timed runs after 1 warm-up each)`);
    try {
      if ((await httpStatus(port)) !== 200) throw new Error(`${container} does not answer 200 on 127.0.0.1:${port}`);
      const app = appProcess(container);
      const swap = (value: string) => value.split(String(port)).join(String(directPort));
      const argv = app.argv.map(swap);
      const env = app.env.map(swap);
      const inspect = JSON.parse(must('docker', ['inspect', container]).stdout)[0];
      const mount = inspect.Mounts.find((m: { Destination: string }) => m.Destination === '/mnt');
      console.log(`  app command: ${argv.join(' ')} (in ${app.cwd}, PORT=${directPort})`);

      const envArgs = env.flatMap((e) => ['-e', e]);
      // Exec'd in the running container in a session of its own, so that the whole tree (sh → node) is killed.
      const execSamples = async (command: string[]): Promise<number[]> => {
        const samples: number[] = [];
        for (let i = -1; i < runs; i++) {
          const exec = ['exec', '-d', '-w', app.cwd, ...envArgs, container, 'setsid', 'bash', '-c', 'echo $$ > /mnt/tmp/bench-direct.pid; exec "$@"', 'app', ...command];
          const ms = await timeStart(directPort, () => start('docker', exec));
          must('docker', ['exec', container, 'bash', '-c', 'kill -TERM -- "-$(cat /mnt/tmp/bench-direct.pid)"; rm -f /mnt/tmp/bench-direct.pid']);
          await waitDown(directPort);
          if (i >= 0) samples.push(ms);
        }
        return samples;
      };
      const alone = await execSamples(argv);
      console.log(`  app alone (exec'd in the running container) → 200: ${describeSamples(alone)}`);
      const script = await execSamples(['/opt/modulus/bin/start']);
      console.log(`  start script, then the app (exec'd in the running container, no supervisord) → 200: ${describeSamples(script)}`);

      const deployed: number[] = [];
      const plain: number[] = [];
      try {
        for (let i = -1; i < runs; i++) {
          must('docker', ['stop', '-t', '10', container]);
          await waitDown(port);
          const ms = await timeStart(port, () => start('docker', ['start', container]));
          if (i >= 0) deployed.push(ms);
        }
        console.log(`  deployed run container, docker start → 200: ${describeSamples(deployed)}`);

        must('docker', ['stop', '-t', '10', container]);
        run('docker', ['rm', '-f', direct]);
        must('docker', [
          'create', '--name', direct, '--network', 'host', '--user', inspect.Config.User, '--read-only', '--cap-drop', 'ALL',
          '--security-opt', 'no-new-privileges:true', '--init', '--memory', String(inspect.HostConfig.Memory),
          '--memory-swap', String(inspect.HostConfig.MemorySwap), '-v', `${mount.Source}:/mnt:ro`, '-w', app.cwd, ...envArgs,
          inspect.Image, ...argv,
        ]);
        for (let i = -1; i < runs; i++) {
          const ms = await timeStart(directPort, () => start('docker', ['start', direct]));
          must('docker', ['stop', '-t', '10', direct]);
          await waitDown(directPort);
          if (i >= 0) plain.push(ms);
        }
        console.log(`  direct container (same image and command, no supervisord), docker start → 200: ${describeSamples(plain)}`);
      } finally {
        run('docker', ['rm', '-f', direct]);
        run('docker', ['start', container]);
      }

      verdict(NAME, `${language}: deployed − app alone (${formatMs(median(deployed))} − ${formatMs(median(alone))}, medians of ${runs})`, (median(deployed) - median(alone)) / 1000, { max: GOAL_S }, ' s');
      console.log(
        `  ${language}, where the time goes (medians): container start ${formatMs(median(plain) - median(alone))}, ` +
          `start script ${formatMs(median(script) - median(alone))}, supervisord and the rest ${formatMs(median(deployed) - median(plain) - (median(script) - median(alone)))}, ` +
          `app ${formatMs(median(alone))}`,
      );
      await timeToHttp200(port, performance.now(), 120_000); // the deployed app is back
    } catch (error) {
      failed(`${NAME} (${language})`, error);
    }
  }
}
