import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { longestOutage, startProbing } from '../harness/probe';
import { benchPort, benchStandbyPort } from './support/app';
import { cdktf, Checkout } from './support/deployment';
import { failed, formatMs, verdict } from './support/measure';

const NAME = 'router';
const DOMAIN = 'bench.modulus.test';
/** Apart from main.ts's default (18000) and the e2e router (18090). */
const ROUTER_PORT = 18190;
const HOST = `bench-node.${DOMAIN}`;
const OVERHEAD_GOAL_MS = 1;
const REDEPLOYS = 5;
/** The node sample's greeting, which each redeploy changes (so that the router's answer shows the release). */
const GREETING = 'modulus sample node app';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** GET / on 127.0.0.1:port on a new connection (with `host` as the Host header): status, body and time in ms. */
function get(port: number, host?: string): Promise<{ status: number; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const request = http.request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000, headers: host ? { Host: `${host}:${port}` } : {} }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, ms: Number(process.hrtime.bigint() - start) / 1e6 }));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer on 127.0.0.1:${port} within 2 s`)));
    request.on('error', reject);
    request.end();
  });
}

async function timedGet(port: number, host?: string): Promise<number> {
  const { status, ms } = await get(port, host);
  if (status !== 200) throw new Error(`GET / on 127.0.0.1:${port}${host ? ` (Host ${host})` : ''} answered ${status}`);
  return ms;
}

/** The q-quantile (nearest rank). */
function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

const describe = (ms: readonly number[]) =>
  `p50 ${percentile(ms, 0.5).toFixed(2)} ms, p99 ${percentile(ms, 0.99).toFixed(2)} ms (min ${Math.min(...ms).toFixed(2)}, max ${Math.max(...ms).toFixed(2)})`;

/** The node sample's serving slot: the one of its two ports that answers (the other is stopped between releases). */
async function servingPort(): Promise<number> {
  const answering = [];
  for (const port of [benchPort('node'), benchStandbyPort('node')]) {
    if ((await get(port).catch(() => undefined))?.status === 200) answering.push(port);
  }
  if (answering.length !== 1) throw new Error(`expected one slot of the node sample to answer, found ${answering.length} (ports ${benchPort('node')}, ${benchStandbyPort('node')})`);
  return answering[0];
}

/**
 * Router overhead: GET / of the node sample through the router against the same app directly, interleaved
 * (alternating which goes first), sequential, a new connection per request, timed in this process.
 */
async function overhead(): Promise<void> {
  const requests = Number(process.env.BENCH_ROUTER_REQUESTS ?? 1000);
  if (!Number.isInteger(requests) || requests < 1) throw new Error(`BENCH_ROUTER_REQUESTS "${process.env.BENCH_ROUTER_REQUESTS}" is not a positive integer`);
  const direct = await servingPort();
  console.log(`  latency: ${requests} requests each, interleaved, new connection each; direct 127.0.0.1:${direct}, via the router http://${HOST}:${ROUTER_PORT}/ (after 50 warm-up each)`);
  const viaDirect: number[] = [];
  const viaRouter: number[] = [];
  for (let i = -50; i < requests; i++) {
    const directFirst = i % 2 === 0;
    const a = directFirst ? await timedGet(direct) : await timedGet(ROUTER_PORT, HOST);
    const b = directFirst ? await timedGet(ROUTER_PORT, HOST) : await timedGet(direct);
    if (i < 0) continue;
    viaDirect.push(directFirst ? a : b);
    viaRouter.push(directFirst ? b : a);
  }
  console.log(`  direct:     ${describe(viaDirect)}`);
  console.log(`  via router: ${describe(viaRouter)}`);
  console.log(`  p99 overhead: ${(percentile(viaRouter, 0.99) - percentile(viaDirect, 0.99)).toFixed(2)} ms`);
  verdict(NAME, `p50 overhead, via router − direct (${percentile(viaRouter, 0.5).toFixed(2)} − ${percentile(viaDirect, 0.5).toFixed(2)} ms, ${requests} requests each)`, percentile(viaRouter, 0.5) - percentile(viaDirect, 0.5), { max: OVERHEAD_GOAL_MS }, ' ms');
}

/** Five redeploys of a changed node sample while the router is probed every 100 ms; each release must then serve. */
async function redeploys(checkout: Checkout): Promise<void> {
  const file = path.join(checkout.dir, 'samples', 'node', 'server.js');
  const original = fs.readFileSync(file, 'utf8');
  if (!original.includes(GREETING)) throw new Error(`${file} has no "${GREETING}" to change`);
  const probing = startProbing(ROUTER_PORT, 100, HOST);
  const windows: { from: number; to: number }[] = [];
  let probes;
  try {
    await sleep(1000);
    for (let i = 1; i <= REDEPLOYS; i++) {
      const greeting = `${GREETING} (bench release ${i}, ${Date.now()})`;
      fs.writeFileSync(file, original.replace(GREETING, greeting));
      const from = Date.now();
      const deploy = cdktf(checkout, ['deploy', 'images', 'apps', '--auto-approve']);
      windows.push({ from, to: Date.now() });
      const served = await get(ROUTER_PORT, HOST);
      console.log(`  redeploy ${i}: cdktf deploy ${formatMs(deploy.ms)}; the router then answers ${served.status}${served.body.includes(greeting) ? ' with the new release' : ''}`);
      if (!served.body.includes(greeting)) throw new Error(`after redeploy ${i} the router answers ${served.status} "${served.body.trim()}", not the new release`);
    }
    await sleep(1000);
  } finally {
    probes = await probing.stop();
    fs.writeFileSync(file, original);
  }
  windows.forEach(({ from, to }, i) => {
    const during = probes.filter((probe) => probe.atMs >= from && probe.atMs <= to);
    console.log(`  redeploy ${i + 1}: ${during.length} probes, ${during.filter((probe) => probe.status !== 200).length} failed`);
  });
  const outage = longestOutage(probes);
  const failedProbes = probes.filter((probe) => probe.status !== 200).length;
  verdict(NAME, `failed probes through the router (every 100 ms, ${probes.length} probes) across ${REDEPLOYS} redeploys of a changed node sample; longest outage ${outage.ms} ms (${outage.failedProbes} in a row)`, failedProbes, { equals: 0 });
}

/**
 * The router in front of the deployed samples (issue 19): its latency overhead, then zero failed requests across
 * five redeploys. It adds the router to the deployment (one deploy); from then on every deploy of this checkout,
 * and the teardown, has it, as in the e2e suite. Runs last on the shared deployment, so the others measure without it.
 * The router container's name (modulus-router) is the engine's one router: not beside an e2e run.
 */
export async function routerBenchmarks(checkout: Checkout): Promise<void> {
  console.log(`\n# ${NAME} (bench/router.ts; http://${HOST}:${ROUTER_PORT}/ resolved to 127.0.0.1)`);
  try {
    Object.assign(checkout.env, { MODULUS_ROUTER_DOMAIN: DOMAIN, MODULUS_ROUTER_HTTP_PORT: String(ROUTER_PORT) });
    const deploy = cdktf(checkout, ['deploy', 'images', 'apps', '--auto-approve']);
    console.log(`  cdktf deploy images apps, adding the router (its image and container, a second slot per app): ${formatMs(deploy.ms)}`);
    await overhead();
    await redeploys(checkout);
  } catch (error) {
    failed(NAME, error);
  }
}
