/**
 * Host keys as operators have them (lib/private/host-keys.ts, through DockerHost's provisioning.hostKeys): the
 * output of ssh-keyscan, with real keys made by ssh-keygen.
 */
import { TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { DockerHost } from '../../lib/docker-host';
import { hostKeyLines, parseHostKeys, preferredHostKey } from '../../lib/private/host-keys';
import { errorMessage } from './support/app-runtime';
import { publicKeys } from './support/ssh-keys';

/** A public key of each type, `TYPE BASE64`. */
const KEYS: Record<string, string> = publicKeys();

/** What `ssh-keyscan -p 2222 127.0.0.1` prints for a stock sshd (comments on stderr, kept here as people paste them). */
const KEYSCAN = [
  '# 127.0.0.1:2222 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3',
  `[127.0.0.1]:2222 ${KEYS.rsa}`,
  '# 127.0.0.1:2222 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3',
  `[127.0.0.1]:2222 ${KEYS.ecdsa}`,
  `[127.0.0.1]:2222 ${KEYS.ed25519}`,
  '',
].join('\n');

const scope = () => new TerraformStack(Testing.app(), 'test');
const parse = (text: string) => parseHostKeys(scope(), 'provisioning.hostKeys', text);

describe('host keys', () => {
  it("reads ssh-keyscan's output: one key per type, comments and host names left out", () => {
    expect(hostKeyLines(parse(KEYSCAN))).toBe([KEYS.rsa, KEYS.ecdsa, KEYS.ed25519].join('\n'));
  });

  it('reads bare TYPE BASE64 lines, a known_hosts line with a comment, and Windows line ends', () => {
    expect(hostKeyLines(parse(`${KEYS.ed25519}\r\nb.example.com ${KEYS.ecdsa384} root@b\r\n`))).toBe(`${KEYS.ed25519}\n${KEYS.ecdsa384}`);
  });

  it("pins for Terraform's provisioners the key its SSH client is shown: ECDSA, then RSA, then Ed25519", () => {
    expect(preferredHostKey(parse(KEYSCAN))).toBe(KEYS.ecdsa);
    expect(preferredHostKey(parse(`${KEYS.ed25519}\n${KEYS.rsa}`))).toBe(KEYS.rsa);
    expect(preferredHostKey(parse(KEYS.ed25519))).toBe(KEYS.ed25519);
  });

  const [ed25519Type, ed25519Blob] = KEYS.ed25519.split(' ');
  it.each<[string, string, string]>([
    ['nothing', '# only a comment\n', "invalid provisioning.hostKeys '# only a comment': give the output of `ssh-keyscan -p <port> <address>`"],
    ['a DSA key', `b ssh-dss AAAAB3NzaC1kc3MAAACBAP`, "invalid provisioning.hostKeys line 1 'ssh-dss': OpenSSH no longer accepts DSA host keys"],
    ['an unknown type', 'ssh-foo AAAA', "invalid provisioning.hostKeys line 1 'ssh-foo AAAA': give '[host]:port TYPE BASE64' or 'TYPE BASE64' lines with TYPE one of ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa, ssh-ed25519"],
    ['a blob of another type', `ecdsa-sha2-nistp256 ${ed25519Blob}`, "line 1 'ecdsa-sha2-nistp256 AAAA"],
    ['a cut blob', `${ed25519Type} ${ed25519Blob.slice(0, 12)}`, 'the key is not a well-formed ssh-ed25519 key'],
    ['a type twice', `${KEYS.ed25519}\n${KEYS.ed25519}`, 'line 2 '],
    ['a CA line', `@cert-authority * ${KEYS.ed25519}`, "give plain host keys, not a @cert-authority line"],
  ])('refuses %s, in the one error form', (_, text, message) => {
    expect(errorMessage(() => parse(text))).toContain(message);
    expect(errorMessage(() => parse(text))).toMatch(/^test: invalid provisioning\.hostKeys /);
  });

  it('refuses a token (host keys are public and checked at synth)', () => {
    const stack = scope();
    const token = new TerraformVariable(stack, 'keys', { type: 'string' }).stringValue;
    expect(errorMessage(() => parseHostKeys(stack, 'provisioning.hostKeys', token))).toBe(
      'test: invalid provisioning.hostKeys (a Terraform token): give a literal known at synth time, not a Terraform token',
    );
  });

  it("DockerHost: Terraform's connections pin the ECDSA key, the engine's and the probe's known hosts every key", () => {
    const stack = scope();
    const key = new TerraformVariable(stack, 'key', { type: 'string', sensitive: true });
    const host = new DockerHost(stack, 'Host', {
      hostName: 'b',
      engine: 'ssh://root@127.0.0.1:2222',
      provisioning: { user: 'root', address: '127.0.0.1', port: 2222, privateKey: key.stringValue, hostKeys: KEYSCAN },
    });
    expect(host._access!.hostKeys.map((hostKey) => hostKey.type)).toEqual(['ssh-rsa', 'ecdsa-sha2-nistp256', 'ssh-ed25519']);
    expect(host._access!.engine!.options.slice(0, 2)).toEqual(['-o', expect.stringMatching(/^UserKnownHostsFile=assets\/Host_KnownHosts_/)]);
  });
});
