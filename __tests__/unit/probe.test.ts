import { longestOutage, Probe, probesSince } from '../../harness/probe';

/** The prober's summaries (harness/probe.ts) that the e2e tests and benchmarks assert and print. */
const probe = (atMs: number, status: number, ms = 20): Probe => ({ atMs, status, ms });

test('longestOutage: the longest run without HTTP 200, from its first probe to the next good one', () => {
  const probes = [probe(0, 200), probe(100, 0), probe(200, 502), probe(300, 200), probe(400, 0), probe(500, 200)];
  expect(longestOutage(probes)).toEqual({ failedProbes: 2, ms: 200 });
  expect(longestOutage([probe(0, 200), probe(100, 0), probe(250, 0)])).toEqual({ failedProbes: 2, ms: 150 });
  expect(longestOutage([probe(0, 200)])).toEqual({ failedProbes: 0, ms: 0 });
});

test('probesSince: the probes from a fault on, failed and slow ones, the longest wait and the last slow one', () => {
  const probes = [probe(0, 200, 3000), probe(1000, 200, 20), probe(1100, 200, 1005), probe(1200, 0, 5000), probe(4600, 200, 1500), probe(5000, 200, 30)];
  const summary = probesSince(probes, 1000);
  expect(summary.during.map((each) => each.atMs)).toEqual([1000, 1100, 1200, 4600, 5000]);
  expect(summary.failed.map((each) => each.atMs)).toEqual([1200]);
  expect(summary.slow.map((each) => each.atMs)).toEqual([1100, 1200, 4600]);
  expect(summary.longestMs).toBe(5000);
  expect(summary.lastSlowSeconds).toBe(3.6);
  expect(probesSince(probes, 4700)).toEqual({ during: [probes[5]], failed: [], slow: [], longestMs: 30, lastSlowSeconds: 0 });
  expect(probesSince(probes, 9000).longestMs).toBe(0);
});
