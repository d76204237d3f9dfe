/**
 * scripts/volume/ssh-step.sh, the Terraform-machine side of a remote step, run for real with a stub `ssh` on PATH
 * that records its arguments and runs the host's command here (bash -c, stdin passed on): the tar stream,
 * remote-step.sh and the staging folder are the real ones. The wrapped command is a copy of the scripts whose
 * modulus-volume.sh reports what it got. (The real SSH connection to another host: e2e/remote-steps.test.ts.)
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from './support/temp';

const SCRIPTS = path.resolve(__dirname, '../../scripts/volume');
const SECRET = 'sec "ret" 100% \\ $HOME\n\n';

function setUp(reporter: string) {
  const dir = tempDir('ssh-step-');
  const scripts = path.join(dir, 'scripts');
  fs.cpSync(SCRIPTS, scripts, { recursive: true });
  fs.writeFileSync(path.join(scripts, 'modulus-volume.sh'), `#!/usr/bin/env bash\nset -euo pipefail\n${reporter}\n`);
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  // The stub: its arguments, one per line, then the host's command (the last argument) run here.
  fs.writeFileSync(path.join(bin, 'ssh'), `#!/usr/bin/env bash\nprintf '%s\\n' "$@" >>"${dir}/ssh-args"\n[[ -z "\${SSH_STUB_EXIT:-}" ]] || exit "$SSH_STUB_EXIT"\nexec bash -c "\${@: -1}"\n`, { mode: 0o755 });
  const upload = path.join(dir, 'source.tar');
  fs.writeFileSync(upload, 'archive bytes\n');
  return { dir, scripts, bin, upload, args: () => fs.readFileSync(path.join(dir, 'ssh-args'), 'utf8') };
}

function run(bed: ReturnType<typeof setUp>, env: Record<string, string>, command = 'status') {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MODULUS_') && !key.startsWith('STEP_')));
  return spawnSync('bash', [path.join(bed.scripts, 'ssh-step.sh'), 'modulus-volume.sh', command], {
    env: {
      ...clean,
      PATH: `${bed.bin}:${process.env.PATH}`,
      STEP_SSH_HOST_NAME: 'web-2',
      STEP_SSH_USER: 'root',
      STEP_SSH_ADDRESS: '127.0.0.1',
      STEP_SSH_PORT: '2222',
      STEP_SSH_CONNECT_TIMEOUT: '7',
      STEP_SSH_HOST_KEYS: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO',
      STEP_SSH_TRANSPORT: 'engine',
      STEP_SSH_OPTIONS: '-F\n/dev/null',
      ...env,
    },
    encoding: 'utf8',
  });
}

describe('ssh-step.sh', () => {
  it('sends exactly the STEP_VARIABLES (any bytes) and the uploads over one connection; no value is on its command line; the staging folder goes', () => {
    const bed = setUp('printf "%s|%s|" "$1" "$MODULUS_APP"; printf "%s" "$MODULUS_SECRET_PW" | od -An -c -w99 | tr -s " "; cat "$MODULUS_SOURCE"; echo "other=${MODULUS_OTHER:-unset}"; test -e "$(dirname "$0")/../step.env" && echo env-file-left || echo env-file-gone');
    const result = run(bed, {
      MODULUS_APP: 'shop',
      MODULUS_SECRET_PW: SECRET,
      MODULUS_SOURCE: bed.upload,
      MODULUS_OTHER: 'from the operator shell',
      STEP_VARIABLES: 'MODULUS_APP MODULUS_SECRET_PW MODULUS_SOURCE',
      STEP_UPLOADS: 'MODULUS_SOURCE',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('status|shop| s e c " r e t " 1 0 0 % \\ $ H O M E \\n \\n\narchive bytes\nother=unset\nenv-file-gone\n');

    const args = bed.args();
    expect(args.split('\n').slice(0, 2)).toEqual(['-F', '/dev/null']);
    expect(args).toContain('ConnectTimeout=7');
    expect(args).toContain('BatchMode=yes');
    expect(args).toContain('root@127.0.0.1');
    expect(args).not.toContain('sec "ret"');
    expect(args).not.toContain('shop');
    const staging = /\/tmp\/modulus-step-[0-9a-f]{16}/.exec(args)![0];
    expect(args).toContain(`bash ${staging}/scripts/remote-step.sh modulus-volume.sh status`);
    expect(fs.existsSync(staging)).toBe(false);
  });

  it("passes the step's exit status on; a host it cannot reach (ssh's 255) fails naming the host", () => {
    const bed = setUp('echo "step failed" >&2; exit 3');
    const failed = run(bed, { MODULUS_APP: 'shop', STEP_VARIABLES: 'MODULUS_APP', STEP_UPLOADS: '' });
    expect([failed.status, failed.stderr]).toEqual([3, 'step failed\n']);
    const unreachable = run(bed, { MODULUS_APP: 'shop', STEP_VARIABLES: 'MODULUS_APP', STEP_UPLOADS: '', SSH_STUB_EXIT: '255' });
    expect(unreachable.status).toBe(255);
    expect(unreachable.stderr.trim()).toBe("ssh-step: error: cannot reach Docker host 'web-2' (root@127.0.0.1:2222), or the connection broke (ssh exit 255)");
  });

  it('runs remote-step.sh through sudo -n when the SSH user is not root', () => {
    const bed = setUp('exit 0');
    // The stub cannot sudo: only the command it was given matters here.
    run(bed, { MODULUS_APP: 'shop', STEP_VARIABLES: 'MODULUS_APP', STEP_UPLOADS: '', STEP_SSH_USER: 'deploy' });
    expect(bed.args()).toMatch(/sudo -n bash \/tmp\/modulus-step-[0-9a-f]{16}\/scripts\/remote-step\.sh modulus-volume\.sh status/);
  });

  it('refuses bad input before connecting: a name that is not MODULUS_*, a variable that is not set, a missing upload, a key with a passphrase', () => {
    const bed = setUp('exit 0');
    const refused = (env: Record<string, string>) => {
      const result = run(bed, { STEP_UPLOADS: '', ...env });
      expect(fs.existsSync(path.join(bed.dir, 'ssh-args'))).toBe(false);
      return [result.status, result.stderr.trim()];
    };
    expect(refused({ STEP_VARIABLES: 'BASH_ENV', BASH_ENV: '/dev/null' })).toEqual([2, "ssh-step: error: STEP_VARIABLES: 'BASH_ENV' is not a MODULUS_* name"]);
    expect(refused({ STEP_VARIABLES: 'MODULUS_APP' })).toEqual([2, 'ssh-step: error: STEP_VARIABLES names MODULUS_APP, which is not set']);
    expect(refused({ STEP_VARIABLES: 'MODULUS_SOURCE', MODULUS_SOURCE: '/nonexistent.tar', STEP_UPLOADS: 'MODULUS_SOURCE' })).toEqual([
      2,
      'ssh-step: error: MODULUS_SOURCE: the file to upload (/nonexistent.tar) does not exist',
    ]);
    const keyFile = path.join(bed.dir, 'locked');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', keyFile]);
    const [status, message] = refused({ STEP_VARIABLES: '', STEP_SSH_TRANSPORT: 'key', STEP_SSH_PRIVATE_KEY: fs.readFileSync(keyFile, 'utf8') });
    expect(status).toBe(2);
    expect(message).toBe("ssh-step: error: Docker host 'web-2' (root@127.0.0.1:2222): provisioning.privateKey is protected by a passphrase, which a deploy cannot ask for: give a key without one");
  });
});
