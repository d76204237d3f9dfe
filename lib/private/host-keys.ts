/**
 * A Docker host's SSH host keys as operators have them: the lines `ssh-keyscan -p <port> <address>` prints.
 *
 * Each SSH client the project runs checks the host against these keys: the remote steps, the mount probe and the
 * engine's `ssh://` connection (OpenSSH with a known hosts file of every key, which negotiates a type it knows).
 */
import { IConstruct } from 'constructs';
import { hostPattern, hostRule } from './host-rules';
import { invalid, requireLiteral } from './validation';

export interface HostKey {
  /** e.g. 'ssh-ed25519' */
  readonly type: string;
  /** The key blob, base64. */
  readonly base64: string;
}

/**
 * The host key types every client here can check (HOST_KEY_TYPES of scripts/volume/rules.env), in order of
 * preference for the one key a destroy-time step keeps (preferredHostKey).
 */
export function hostKeyTypes(): readonly string[] {
  return hostRule('HOST_KEY_TYPES').split(' ');
}

const KEYSCAN_EXAMPLE = "the output of `ssh-keyscan -p <port> <address>`, e.g. '[b.example.com]:22 ssh-ed25519 AAAAC3Nza...'";

/**
 * Parses `ssh-keyscan` output (`host type base64` lines, `# ...` comments ignored) or bare `type base64` lines.
 * Refuses anything a client here cannot check, in the one error form.
 */
export function parseHostKeys(scope: IConstruct, field: string, text: string): HostKey[] {
  requireLiteral(scope, field, text);
  if (typeof text !== 'string') throw invalid(scope, field, text, `give ${KEYSCAN_EXAMPLE}`);
  const keys: HostKey[] = [];
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  lines.forEach((line, index) => {
    if (line === '' || line.startsWith('#')) return;
    const where = `${field} line ${index + 1}`;
    const words = line.split(/\s+/);
    if (words[0].startsWith('@')) throw invalid(scope, where, line, `give plain host keys, not a ${words[0]} line`);
    // `type base64 [comment]`, or `host type base64 [comment]` as ssh-keyscan and known_hosts write it.
    const [type, base64] = isKeyType(words[0]) ? words : words.slice(1);
    if (type === 'ssh-dss') throw invalid(scope, where, type, `OpenSSH no longer accepts DSA host keys: give the host's ${hostKeyTypes().join(', ')} keys`);
    if (!hostKeyTypes().includes(type ?? '')) {
      throw invalid(scope, where, line, `give '[host]:port TYPE BASE64' or 'TYPE BASE64' lines with TYPE one of ${hostKeyTypes().join(', ')} (${KEYSCAN_EXAMPLE})`);
    }
    if (!base64 || blobType(base64) !== type) throw invalid(scope, where, line, `the key is not a well-formed ${type} key: copy the line again from ${KEYSCAN_EXAMPLE}`);
    if (keys.some((key) => key.type === type)) throw invalid(scope, where, line, `give one key per type: ${type} is there twice`);
    keys.push({ type, base64 });
  });
  if (keys.length === 0) throw invalid(scope, field, text.trim(), `give ${KEYSCAN_EXAMPLE}`);
  return keys;
}

/**
 * The one pinned key a remote destroy-time step keeps in its resource's triggers: the first of the pinned types
 * (the key Terraform's own SSH client was shown when it ran these steps, kept so that no resource is replaced).
 */
export function preferredHostKey(keys: readonly HostKey[]): string {
  const key = [...keys].sort((a, b) => typeRank(a.type) - typeRank(b.type))[0];
  return `${key.type} ${key.base64}`;
}

/** `TYPE BASE64` lines, one per key. */
export function hostKeyLines(keys: readonly HostKey[]): string {
  return keys.map((key) => `${key.type} ${key.base64}`).join('\n');
}

function typeRank(type: string): number {
  return hostKeyTypes().indexOf(type);
}

function isKeyType(word: string): boolean {
  return /^(ssh|ecdsa|sk)-/.test(word);
}

/** The type a public key blob names in its first field (a uint32 length and that many bytes). */
function blobType(base64: string): string | undefined {
  if (!hostPattern('HOST_KEY_BASE64_PATTERN').test(base64) || base64.length % 4 !== 0) return undefined;
  const blob = Buffer.from(base64, 'base64');
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  return length > 0 && length <= 64 && blob.length > 4 + length ? blob.subarray(4, 4 + length).toString('latin1') : undefined;
}
