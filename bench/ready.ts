import { performance } from 'perf_hooks';
import { runContainerName } from '../lib/run-container';
import { benchPort } from './support/app';
import { describeSamples, failed, formatMs, httpStatus, median, must, run, runCount, start, timeToHttp200, verdict } from './support/measure';

const NAME = 'app ready time';
const GOAL_MS = 2000;
const APP = 'bench-node';
const DIRECT = 'modulus-bench-direct-node';

/** Starts a container (or exec) with `launch` and times it to the first HTTP 200 on `port`. */
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
}

/**
 * Container start to first HTTP 200 of the node sample, beyond the app's own start (goal ≤ 2 s):
 * - deployed: `docker start` of the stopped run container (init → supervisord → start script → node) to 200;
 * - direct container: `docker start` of a container of the same image, user, mount, limits and security options
 *   whose command is the same node running server.js (no supervisord, no start script);
 * - app alone: `node server.js` exec'd into the running deployed container (no container start at all).
 * The goal is judged on deployed − app alone (everything the platform adds, container start included);
 * deployed − direct container (supervisord and the start script only) is printed as well.
 */
export async function appReadyTime(): Promise<void> {
  const runs = runCount(5);
  const container = runContainerName(APP);
  const port = benchPort('node');
  const directPort = port + 20;
  console.log(`\n# ${NAME} (${container}, port ${port})`);
  try {
    if ((await httpStatus(port)) !== 200) throw new Error(`${container} does not answer 200 on 127.0.0.1:${port}; is the apps stack deployed?`);
    // What supervisord runs: the app's working folder and node binary (npm start → node server.js).
    const pid = must('docker', ['exec', container, 'supervisorctl', 'pid', 'app']).stdout.trim();
    const [cwd, exe] = must('docker', ['exec', container, 'bash', '-c', `readlink /proc/${pid}/cwd; readlink /proc/${pid}/exe`]).stdout.trim().split('\n');
    const inspect = JSON.parse(must('docker', ['inspect', container]).stdout)[0];
    const image: string = inspect.Image;
    const mount = inspect.Mounts.find((m: { Destination: string }) => m.Destination === '/mnt');
    console.log(`  app: ${exe} server.js in ${cwd}; image ${image.slice(7, 19)}; volume ${mount.Source}`);

    const exec = ['exec', '-d', '-w', cwd, '-e', `PORT=${directPort}`, container, 'bash', '-c', `echo $$ > /mnt/tmp/bench-direct.pid; exec "${exe}" server.js`];
    const alone = [];
    for (let i = -1; i < runs; i++) {
      const ms = await timeStart(directPort, () => start('docker', exec));
      must('docker', ['exec', container, 'bash', '-c', 'kill "$(cat /mnt/tmp/bench-direct.pid)"; rm -f /mnt/tmp/bench-direct.pid']);
      await waitDown(directPort);
      if (i >= 0) alone.push(ms);
    }
    console.log(`  app alone (node server.js exec'd in the running container): ${describeSamples(alone)}`);

    const deployed = [];
    const direct = [];
    try {
      for (let i = -1; i < runs; i++) {
        must('docker', ['stop', '-t', '10', container]);
        await waitDown(port);
        const ms = await timeStart(port, () => start('docker', ['start', container]));
        if (i >= 0) deployed.push(ms);
      }
      console.log(`  deployed run container (docker start → 200): ${describeSamples(deployed)}`);

      must('docker', ['stop', '-t', '10', container]);
      run('docker', ['rm', '-f', DIRECT]);
      must('docker', [
        'create', '--name', DIRECT, '--network', 'host', '--user', inspect.Config.User || '441:444', '--read-only', '--cap-drop', 'ALL',
        '--security-opt', 'no-new-privileges:true', '--init', '--memory', String(inspect.HostConfig.Memory), '--memory-swap', String(inspect.HostConfig.MemorySwap),
        '-v', `${mount.Source}:/mnt:ro`, '-w', cwd, '-e', `PORT=${directPort}`, image, exe, 'server.js',
      ]);
      for (let i = -1; i < runs; i++) {
        const ms = await timeStart(directPort, () => start('docker', ['start', DIRECT]));
        must('docker', ['stop', '-t', '10', DIRECT]);
        await waitDown(directPort);
        if (i >= 0) direct.push(ms);
      }
      console.log(`  direct container (same image, node server.js, docker start → 200): ${describeSamples(direct)}`);
    } finally {
      run('docker', ['rm', '-f', DIRECT]);
      run('docker', ['start', container]);
    }

    const overhead = median(deployed) - median(alone);
    const supervision = median(deployed) - median(direct);
    verdict(NAME, `deployed − app alone (${formatMs(median(deployed))} − ${formatMs(median(alone))}, medians of ${runs})`, overhead / 1000, { max: GOAL_MS / 1000 }, ' s');
    verdict(NAME, `deployed − direct container (${formatMs(median(deployed))} − ${formatMs(median(direct))}, medians of ${runs})`, supervision / 1000, { max: GOAL_MS / 1000 }, ' s', 'supervisord + start script only');
    await timeToHttp200(port, performance.now(), 60_000); // the deployed app is back
  } catch (error) {
    failed(NAME, error);
  }
}
