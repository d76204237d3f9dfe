/**
 * scripts/volume/remote-step.sh, the host-side wrapper of remote steps, run for real on a staging folder laid out
 * as the remote step's provisioners leave it (scripts/, step.env): it decodes the values, deletes the env file
 * before the script runs, exports only MODULUS_* names, and removes the staging folder whatever the outcome.
 * The wrapped command is `modulus-volume.sh status`, which needs no root and prints the values it got.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from './support/temp';

const SCRIPTS = path.resolve(__dirname, '../../scripts/volume');

function stage(env: string): string {
  const staging = path.join(tempDir('remote-step-'), 'modulus-step-123');
  fs.mkdirSync(staging, { mode: 0o700 });
  fs.cpSync(SCRIPTS, path.join(staging, 'scripts'), { recursive: true });
  fs.writeFileSync(path.join(staging, 'step.env'), env);
  return staging;
}

const b64 = (value: string) => Buffer.from(value).toString('base64');

function run(staging: string, ...args: string[]) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MODULUS_')));
  return spawnSync('bash', [path.join(staging, 'scripts', 'remote-step.sh'), ...args], { env: clean, encoding: 'utf8' });
}

describe('remote-step.sh', () => {
  it('decodes the values (any bytes, trailing line breaks included), deletes step.env before the script runs, and removes the staging folder', () => {
    const staging = stage(`MODULUS_APP=${b64('shop')}\nMODULUS_ROOT=${b64('/srv/volumes/shop')}\nMODULUS_SOURCE=${b64('a "b" \\ $HOME\n\n')}\n`);
    // The wrapped script reports what it sees: its env and whether step.env still exists.
    fs.writeFileSync(
      path.join(staging, 'scripts', 'modulus-volume.sh'),
      '#!/usr/bin/env bash\nset -euo pipefail\nprintf "%s|" "$1" "$MODULUS_APP" "$MODULUS_ROOT"; printf "%s" "$MODULUS_SOURCE" | od -An -c | tr -s " "; test -e "$(dirname "$0")/../step.env" && echo env-file-left || echo env-file-gone\n',
    );
    const result = run(staging, 'modulus-volume.sh', 'status');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('status|shop|/srv/volumes/shop| a " b " \\ $ H O M E \\n \\n\nenv-file-gone\n');
    expect(fs.existsSync(staging)).toBe(false);
  });

  it('passes the script\'s exit status on, and still removes the staging folder', () => {
    const staging = stage(`MODULUS_APP=${b64('Not An App')}\n`);
    const result = run(staging, 'modulus-volume.sh', 'status');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("modulus-volume: error: invalid app name 'Not An App'");
    expect(fs.existsSync(staging)).toBe(false);
  });

  it('refuses a variable that is not MODULUS_* (a root process must not take PATH or LD_PRELOAD), an unknown script or a missing env file', () => {
    let staging = stage(`MODULUS_APP=${b64('shop')}\nLD_PRELOAD=${b64('/tmp/evil.so')}\n`);
    let result = run(staging, 'modulus-volume.sh', 'status');
    expect([result.status, result.stderr.trim()]).toEqual([2, 'remote-step: error: step.env: a line is not MODULUS_<NAME>=<base64>']);
    expect(fs.existsSync(staging)).toBe(false);

    staging = stage(`MODULUS_APP=not-base64!\n`);
    result = run(staging, 'modulus-volume.sh', 'status');
    expect([result.status, result.stderr.trim()]).toEqual([2, 'remote-step: error: step.env: the value of MODULUS_APP is not base64']);

    staging = stage(`MODULUS_APP=${b64('shop')}\n`);
    result = run(staging, 'boot.sh', 'status');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown script 'boot.sh'");

    staging = stage('');
    fs.rmSync(path.join(staging, 'step.env'));
    result = run(staging, 'modulus-volume.sh', 'status');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('step.env is missing');
    expect(fs.existsSync(staging)).toBe(false);
  });
});

describe("query.sh: reading the probe's query as Terraform's external data source writes it", () => {
  const QUERY = path.resolve(__dirname, '../../scripts/volume/query.sh');
  const read = (fn: string, json: string, key: string) =>
    spawnSync('bash', ['-c', `source "${QUERY}"; ${fn} "$1" "$2"`, 'query', json, key], { encoding: 'utf8' });
  const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA+/=\n-----END OPENSSH PRIVATE KEY-----\n';

  it.each([
    ['a key with Unix line ends', KEY],
    ['a key with Windows line ends', KEY.replace(/\n/g, '\r\n')],
    ['a key without its last line break', KEY.trimEnd()],
    ['quotes, backslashes, slashes and tabs', 'a"b\\c/d\te'],
  ])('query_text gives back %s byte for byte', (_, value) => {
    const run = read('query_text', JSON.stringify({ app: 'shop', ssh_private_key: value, ssh_port: '22' }), 'ssh_private_key');
    expect([run.status, run.stdout]).toEqual([0, value]);
  });

  it('query_text fails on an escape a private key never holds (\\u)', () => {
    expect(read('query_text', JSON.stringify({ ssh_private_key: 'a\u0001b' }), 'ssh_private_key').status).toBe(1);
  });

  it('query_value reads flat values next to an escaped one', () => {
    expect(read('query_value', JSON.stringify({ ssh_private_key: KEY, ssh_port: '2222' }), 'ssh_port').stdout).toBe('2222');
  });
});
