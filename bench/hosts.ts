import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startTestbed, Testbed } from '../harness/testbed';
import { cdktf, Checkout, mainCheckout, teardown } from './support/deployment';
import { creationSeconds } from '../harness/cdktf-output';
import { failed, formatMs, verdict } from './support/measure';

const NAME = 'two hosts';
const GOAL_RATIO = 1.3;
const LANGUAGES = ['node', 'static', 'php'];

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** CPU time the whole machine has spent busy so far, in seconds (/proc/stat: all but idle and iowait; USER_HZ 100). */
function machineCpuSeconds(): number {
  const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

/**
 * Deploys images and apps from empty state in `checkout`, then tears it down; returns the deploy's time, the CPU
 * time the machine spent meanwhile (host B's engine included: it runs on the same cores) and the output.
 */
function deployOnce(checkout: Checkout): { ms: number; cpuSeconds: number; output: string } {
  try {
    const cpuBefore = machineCpuSeconds();
    const deploy = cdktf(checkout, ['deploy', 'images', 'apps', '--auto-approve']);
    return { ms: deploy.ms, cpuSeconds: machineCpuSeconds() - cpuBefore, output: deploy.stdout };
  } finally {
    teardown(checkout, ['apps', 'images']);
  }
}

/**
 * The same three apps (node, static, php) deployed from empty state on one host, then across two: node on engine
 * A, static and php on host B (a second engine reached over SSH), built on A (`buildHost`), the run images pushed
 * to a registry and pulled by digest. Images are built on A in every deploy (from Docker's layer cache, warm for
 * all). Two hosts are deployed twice: cold (a new registry and a new host B: the first deploy of a host) and warm
 * (the same registry and B after the first deploy was destroyed, B keeping what it pulled with
 * ImageRemovalPolicy.RETAIN, as A keeps its layer cache: a platform's steady state). Goal: two hosts ≤ 1.3× one host.
 */
export async function twoHostsAgainstOne(): Promise<void> {
  console.log(`\n# ${NAME} (bench/hosts.ts)`);
  let bed: Testbed | undefined;
  try {
    bed = await startTestbed();
    const { registry, hostB } = bed;
    const one = deployOnce(mainCheckout('one-host', 'modulus-bench-one/', { MODULUS_LANGUAGES: LANGUAGES.join(','), MODULUS_FIRST_PORT: '18380' }));
    console.log(`  one host (A): ${formatMs(one.ms)}, ${cpu(one)}; Ready steps: ${readyWaits(one.output)}`);

    const platform = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-bench-platform-')), 'platform.json');
    fs.writeFileSync(
      platform,
      JSON.stringify({
        registry: { address: registry.address, username: registry.username, protocol: 'http' },
        hosts: [
          { hostName: 'a', engine: 'unix:///var/run/docker.sock', languages: ['node'] },
          {
            hostName: 'b',
            engine: hostB.dockerHost,
            sshOptions: hostB.sshOpts,
            provisioning: { user: hostB.sshUser, address: hostB.sshHost, port: hostB.sshPort, hostKeys: hostB.hostPublicKeys },
            volumes: { root: '/var/lib/modulus-bench/volumes' },
            imageRemovalPolicy: 'retain',
            // A builds B's apps (as its own): B pulls run images only.
            buildHost: 'a',
            languages: ['static', 'php'],
          },
        ],
      }),
    );
    const twoHosts = () =>
      deployOnce(
        mainCheckout('two-hosts', 'modulus-bench-two/', {
          MODULUS_PLATFORM: platform,
          MODULUS_FIRST_PORT: '18390',
          TF_VAR_registry_password: registry.password,
          TF_VAR_ssh_private_key_b: fs.readFileSync(hostB.privateKeyPath, 'utf8'),
        }),
      );
    const cold = twoHosts();
    report('cold: a new registry and host B', cold);
    const warm = twoHosts();
    report('warm: the same registry and B, which kept the images it pulled', warm);
    fs.rmSync(path.dirname(platform), { recursive: true, force: true });
    verdict(NAME, 'deploy across two hosts / on one host (same apps, empty state), host B and the registry cold', cold.ms / one.ms, { max: GOAL_RATIO }, '×');
    verdict(NAME, 'deploy across two hosts / on one host (same apps, empty state), host B and the registry warm', warm.ms / one.ms, { max: GOAL_RATIO }, '×');
  } catch (error) {
    failed(NAME, error);
  } finally {
    await bed?.stop();
  }
}

/** The deploy's CPU time and the least time `os.cpus()` cores need for it. */
function cpu(deploy: { cpuSeconds: number }): string {
  const cores = os.cpus().length;
  return `${deploy.cpuSeconds.toFixed(1)} CPU-s (at least ${(deploy.cpuSeconds / cores).toFixed(1)} s on ${cores} cores)`;
}

function report(what: string, deploy: { ms: number; cpuSeconds: number; output: string }): void {
  const { ms, output } = deploy;
  const pushes = creationSeconds(output, /^docker_registry_image\./);
  const pullsA = creationSeconds(output, /^docker_image\.a_Pulls_/);
  const pullsB = creationSeconds(output, /^docker_image\.b_Pulls_/);
  console.log(`  two hosts, ${what} (node on A; static, php on B): ${formatMs(ms)}, ${cpu(deploy)}`);
  console.log(`    pushes: ${pushes.length}, ${sum(pushes)} s summed (longest ${Math.max(0, ...pushes)} s); they run in parallel where the tree allows`);
  console.log(`    pulls on A: ${pullsA.length}, ${sum(pullsA)} s summed; pulls on B: ${pullsB.length}, ${sum(pullsB)} s summed (longest ${Math.max(0, ...pullsB)} s)`);
  console.log(`    run containers' Ready steps, waits until the app answered: ${readyWaits(output)}`);
}

/** `app (waited N s)` for each Ready step that printed its wait (scripts/volume/ready.sh). */
function readyWaits(output: string): string {
  const waits = [...output.matchAll(/app '([a-z0-9-]+)' answers in its run container \S+ \(waited ([\d.]+) s\)/g)];
  return waits.length === 0 ? 'none printed' : waits.map(([, app, seconds]) => `${app} ${seconds} s`).join(', ');
}
