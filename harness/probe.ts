import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** One HTTP probe: when it was sent (ms since the epoch), the status it got (0: no answer) and how long it took. */
export interface Probe {
  atMs: number;
  status: number;
  ms: number;
}

/**
 * The prober: one Node process that sends a GET, waits for the whole answer (at most MAX_TIME_MS), appends
 * "<sent at ms> <status> <seconds>" to LOG (status 0: no answer), waits INTERVAL_MS and sends the next, each on a
 * new connection. Its own process, so that probing goes on while the caller blocks in a synchronous deploy; one
 * process rather than a curl per probe, which cost nearly a third of a core per prober (this one: 4 %).
 */
const PROBE_LOOP = `
const fs = require('fs');
const http = require('http');
const { PORT, HOST_NAME, LOG, INTERVAL_MS, MAX_TIME_MS } = process.env;
function probe() {
  const atMs = Date.now();
  const started = process.hrtime.bigint();
  let status = 0;
  let done = false;
  const finish = (answered) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    fs.appendFileSync(LOG, atMs + ' ' + answered + ' ' + seconds.toFixed(6) + '\\n');
    setTimeout(probe, Number(INTERVAL_MS));
  };
  const request = http.get({ host: '127.0.0.1', port: Number(PORT), path: '/', headers: { host: HOST_NAME + ':' + PORT }, agent: false }, (response) => {
    status = response.statusCode;
    response.on('error', () => finish(status));
    response.on('end', () => finish(status));
    response.resume();
  });
  request.on('error', () => finish(status));
  // As curl --max-time: a status whose body did not arrive in time still counts.
  const timer = setTimeout(() => { finish(status); request.destroy(); }, Number(MAX_TIME_MS));
}
probe();
`;

/**
 * Probes http://127.0.0.1:<port>/ every `intervalMs` (after the previous answer) from a separate process until
 * `stop()`. Each probe waits at most `maxTimeSeconds`. With `hostName`, the request is for
 * http://<hostName>:<port>/ (sent to 127.0.0.1), e.g. through the router.
 */
export function startProbing(port: number, intervalMs = 100, hostName = '127.0.0.1', maxTimeSeconds = 1): { stop: () => Promise<Probe[]> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-probe-'));
  const log = path.join(dir, 'probes');
  fs.writeFileSync(log, '');
  const child = spawn(process.execPath, ['-e', PROBE_LOOP], {
    env: { PORT: String(port), HOST_NAME: hostName, LOG: log, INTERVAL_MS: String(intervalMs), MAX_TIME_MS: String(maxTimeSeconds * 1000) },
    stdio: 'ignore',
  });
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      const probes = fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [atMs, status, seconds] = line.split(' ');
          return { atMs: Number(atMs), status: Number(status) || 0, ms: Math.round(Number(seconds) * 1000) || 0 };
        });
      fs.rmSync(dir, { recursive: true, force: true });
      return probes;
    },
  };
}

/** The longest run of probes without HTTP 200: how many, and from the first failed probe to the next good one. */
export function longestOutage(probes: Probe[]): { failedProbes: number; ms: number } {
  let longest = { failedProbes: 0, ms: 0 };
  let start = -1;
  probes.forEach((probe, index) => {
    if (probe.status !== 200) {
      if (start < 0) start = index;
      return;
    }
    if (start >= 0) {
      const run = { failedProbes: index - start, ms: probe.atMs - probes[start].atMs };
      if (run.ms > longest.ms) longest = run;
      start = -1;
    }
  });
  if (start >= 0) {
    const run = { failedProbes: probes.length - start, ms: probes[probes.length - 1].atMs - probes[start].atMs };
    if (run.ms >= longest.ms) longest = run;
  }
  return longest;
}

/**
 * The probes sent from `sinceMs` on (e.g. a fault): those without HTTP 200, those that waited `slowMs` or more and
 * the longest wait, and the seconds from `sinceMs` to the last slow one (0: none was slow).
 */
export function probesSince(probes: Probe[], sinceMs: number, slowMs = 1000): { during: Probe[]; failed: Probe[]; slow: Probe[]; longestMs: number; lastSlowSeconds: number } {
  const during = probes.filter((probe) => probe.atMs >= sinceMs);
  const slow = during.filter((probe) => probe.ms >= slowMs);
  return {
    during,
    failed: during.filter((probe) => probe.status !== 200),
    slow,
    longestMs: Math.max(0, ...during.map((probe) => probe.ms)),
    lastSlowSeconds: slow.length > 0 ? (slow[slow.length - 1].atMs - sinceMs) / 1000 : 0,
  };
}
