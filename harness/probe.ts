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
 * Probes http://127.0.0.1:<port>/ every `intervalMs` from a separate process (curl in a shell loop, so that
 * probing goes on while the caller blocks in a synchronous deploy) until `stop()`. Each probe waits at most `maxTimeSeconds`.
 * With `hostName`, the request is for http://<hostName>:<port>/ (resolved to 127.0.0.1), e.g. through the router.
 */
export function startProbing(port: number, intervalMs = 100, hostName = '127.0.0.1', maxTimeSeconds = 1): { stop: () => Promise<Probe[]> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-probe-'));
  const log = path.join(dir, 'probes');
  const loop =
    'while :; do ' +
    'printf "%s %s\\n" "$(date +%s%3N)" "$(curl -s -o /dev/null --noproxy "*" --max-time "$MAX_TIME" -w "%{http_code} %{time_total}" --resolve "$HOST_NAME:$PORT:127.0.0.1" "http://$HOST_NAME:$PORT/" || true)" >>"$LOG"; ' +
    'sleep "$INTERVAL"; done';
  const child = spawn('bash', ['-c', loop], {
    env: { ...process.env, PORT: String(port), HOST_NAME: hostName, LOG: log, INTERVAL: String(intervalMs / 1000), MAX_TIME: String(maxTimeSeconds) },
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
