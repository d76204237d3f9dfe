import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Probe, probesSince, startProbing } from '../harness/probe';
import { startTestbed, Testbed } from '../harness/testbed';
import { cdktf, mainCheckout, teardown } from './support/deployment';
import { creationSeconds } from '../harness/cdktf-output';
import { failed, formatMs, median, verdict } from './support/measure';

const NAME = 'replicas';
const RELEASES = Number(process.env.BENCH_REPLICA_RELEASES ?? 5);
const FIRST_PORT = 18480;
const PORT_OFFSET = 1000;
const ROUTERS = { a: 18410, b: 18420 };
const DOMAIN = 'replicas.bench.test';
const FROZEN_MS = 15_000;

/** Seconds of the "Creation complete after ..." line of the one resource whose address matches `address`. */
function secondsOf(output: string, address: RegExp): number {
  const found = creationSeconds(output, address);
  if (found.length !== 1) throw new Error(`expected one "Creation complete" line for ${address}, found ${found.length}`);
  return found[0];
}

const notOk = (probes: Probe[]) => probes.filter((probe) => probe.status !== 200);

/**
 * The node sample as two instances, on engine A (which builds) and on host B (a second engine over SSH), behind a
 * router on each, through the product's main.ts. Measures: failed requests through both routers (one every 100 ms)
 * across RELEASES rolling releases (goal: none); host B frozen (docker pause of its instance and of B) under that load: failed
 * requests through A's router from clients that wait 5 s (goal: none), and those slowed by the retry; and how long a release takes to reach
 * B once A serves it (what is left of B's receive, which uploads and stages it beside A's publish, then B's publish)
 * against A (its publish) in the same deploy (goal ≤ 1.3×).
 */
export async function replicaBenchmarks(): Promise<void> {
  console.log(`\n# ${NAME} (bench/replicas.ts)`);
  let bed: Testbed | undefined;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-bench-replicas-'));
  try {
    bed = await startTestbed();
    const { registry, hostB } = bed;
    const platform = path.join(work, 'platform.json');
    fs.writeFileSync(
      platform,
      JSON.stringify({
        registry: { address: registry.address, username: registry.username, protocol: 'http' },
        hosts: [
          // Each instance under its own host's volume root (one root for both would be a path on B that B refuses).
          { hostName: 'a', engine: 'unix:///var/run/docker.sock', appAddress: '127.0.0.1', volumes: { root: path.join(work, 'volumes-a') }, languages: ['node'], router: { httpPort: ROUTERS.a } },
          {
            hostName: 'b',
            engine: hostB.dockerHost,
            sshOptions: hostB.sshOpts,
            provisioning: { user: hostB.sshUser, address: hostB.sshHost, port: hostB.sshPort, hostKeys: hostB.hostPublicKeys },
            volumes: { root: '/var/lib/modulus-bench/volumes' },
            languages: ['node'],
            router: { httpPort: ROUTERS.b },
            replicaPortOffset: PORT_OFFSET,
          },
        ],
      }),
    );
    const checkout = mainCheckout('replicas', 'modulus-bench-replicas/', {
      MODULUS_PLATFORM: platform,
      MODULUS_FIRST_PORT: String(FIRST_PORT),
      MODULUS_ROUTER_DOMAIN: DOMAIN,
      TF_VAR_registry_password: registry.password,
      TF_VAR_ssh_private_key_b: fs.readFileSync(hostB.privateKeyPath, 'utf8'),
    });
    try {
      const first = cdktf(checkout, ['deploy', 'images', 'apps', '--auto-approve']);
      console.log(`  first deploy (images, node on A and B, two routers): ${formatMs(first.ms)}`);
      const serverJs = path.join(checkout.dir, 'samples', 'node', 'server.js');
      const original = fs.readFileSync(serverJs, 'utf8');
      const hostName = `sample-node.${DOMAIN}`;
      const probing = [startProbing(ROUTERS.a, 100, hostName), startProbing(ROUTERS.b, 100, hostName)];
      const reach: Array<{ a: number; b: number }> = [];
      let probes: Probe[][] = [];
      try {
        for (let release = 1; release <= RELEASES; release++) {
          fs.writeFileSync(serverJs, original.replace('modulus sample node app', `modulus sample node app (release ${release})`));
          const deploy = cdktf(checkout, ['deploy', 'images', 'apps', '--auto-approve']);
          const a = secondsOf(deploy.stdout, /^null_resource\.sample-node_Build_Publish_/);
          const received = secondsOf(deploy.stdout, /^null_resource\.sample-node_instance-b_Receive_/);
          const published = secondsOf(deploy.stdout, /^null_resource\.sample-node_instance-b_Publish_/);
          // B's receive and A's publish both start once the export is written; B's publish once both are done.
          const b = published + Math.max(0, received - a);
          reach.push({ a, b });
          console.log(
            `  release ${release}: ${formatMs(deploy.ms)}; publish on A ${a} s; receive on B ${received} s (beside A's publish), publish on B ${published} s: ` +
              `B served it ${b} s after A (${received + published} s of B's steps in all)`,
          );
        }
      } finally {
        fs.writeFileSync(serverJs, original);
        probes = await Promise.all(probing.map((probe) => probe.stop()));
      }
      probes.forEach((each, index) => console.log(`  router ${index === 0 ? 'A' : 'B'}: ${each.length} probes every 100 ms across ${RELEASES} rolling releases, ${notOk(each).length} failed`));
      verdict(NAME, `failed requests through both routers across ${RELEASES} rolling releases`, notOk(probes.flat()).length, { equals: 0 });
      const ratios = reach.map(({ a, b }) => b / Math.max(a, 1));
      verdict(NAME, "a release reaching B (after A serves it: what is left of B's receive, then B's publish) / reaching A (A's publish), median of the releases", median(ratios), { max: 1.3 }, '×');

      // Clients that wait up to 5 s: a GET B's frozen instance leaves unanswered goes to A's after 1 s.
      const frozen = startProbing(ROUTERS.a, 100, hostName, 5);
      let frozenProbes: Probe[] = [];
      let frozenAt = 0;
      try {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        frozenAt = Date.now();
        // Host B whole: its instance (in a cgroup of its own, outside B's container), then its engine and sshd.
        hostB.docker(['pause', 'modulus-app-sample-node']);
        execFileSync('docker', ['pause', hostB.container]);
        await new Promise((resolve) => setTimeout(resolve, FROZEN_MS));
      } finally {
        execFileSync('docker', ['unpause', hostB.container]);
        hostB.docker(['unpause', 'modulus-app-sample-node']);
        frozenProbes = await frozen.stop();
      }
      const { during, failed: lost, slow, longestMs, lastSlowSeconds } = probesSince(frozenProbes, frozenAt);
      console.log(
        `  host B frozen for ${FROZEN_MS / 1000} s: ${lost.length} of ${during.length} probes through A's router failed; ` +
          `${slow.length} waited 1 s or more (the longest ${longestMs} ms), the last ${lastSlowSeconds.toFixed(1)} s after the freeze`,
      );
      verdict(NAME, "failed requests through A's router while host B is frozen", lost.length, { equals: 0 });
    } finally {
      teardown(checkout, ['apps', 'images']);
    }
  } catch (error) {
    failed(NAME, error);
  } finally {
    await bed?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
