import * as fs from 'fs';
import * as path from 'path';
import { longestOutage, startProbing } from '../harness/probe';
import { benchPort } from './support/app';
import { cdktf, Checkout } from './support/deployment';
import { failed, formatMs, verdict } from './support/measure';

const NAME = 'deploy downtime';
const GOAL_MS = 2000;

/**
 * A one-line source change of the node sample deployed while the app is probed every 100 ms: the longest run of
 * failed probes is the downtime the deploy cost (goal: no more than the app's own ready time, about 2 s). The
 * build runs while the old app serves; the publish step restarts the app in place.
 */
export async function sourceChangeDowntime(checkout: Checkout): Promise<void> {
  console.log(`\n# ${NAME} (bench/downtime.ts)`);
  try {
    const port = benchPort('node');
    fs.appendFileSync(path.join(checkout.dir, 'samples', 'node', 'server.js'), `\n// bench: source change ${Date.now()}\n`);
    const probing = startProbing(port);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const deploy = cdktf(checkout, ['deploy', 'images', 'apps', '--auto-approve']);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const probes = await probing.stop();
    const outage = longestOutage(probes);
    console.log(`  cdktf deploy of the change: ${formatMs(deploy.ms)}; ${probes.length} probes, ${probes.filter((p) => p.status !== 200).length} failed`);
    verdict(NAME, `longest outage of the node sample during that deploy (${outage.failedProbes} failed probes in a row)`, outage.ms, { max: GOAL_MS }, ' ms');
  } catch (error) {
    failed(NAME, error);
  }
}
