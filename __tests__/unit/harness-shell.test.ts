import { bash, ok } from '../../harness/shell';

/** harness/shell.ts: the scripts the e2e tests run, synchronously (jest's own timeouts cannot stop them). */
test('bash stops a script past its time limit, saying so, and ok fails naming it', () => {
  const started = Date.now();
  const run = bash('echo started; sleep 30; echo finished', { timeoutMs: 500 });
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(run.status).toBeNull();
  expect(run.stdout).toBe('started\n');
  expect(run.stderr).toContain("harness: stopped after 0.5 s (the harness's limit for one script)");
  expect(() => ok(run, 'the slow script')).toThrow(/the slow script exited null[\s\S]*harness: stopped after/);
});

test('bash runs a script within its limit as it is', () => {
  expect(bash('echo "$GREETING"', { env: { GREETING: 'hello' }, timeoutMs: 10_000 })).toEqual({ status: 0, stdout: 'hello\n', stderr: '' });
});
