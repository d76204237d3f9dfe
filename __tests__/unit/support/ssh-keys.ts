import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from './temp';

/** A public key of each type, `TYPE BASE64`, made by ssh-keygen. */
export function publicKeys(): Record<'ed25519' | 'ecdsa' | 'ecdsa384' | 'rsa', string> {
  const dir = tempDir('modulus-host-keys-');
  const made: Record<string, string> = {};
  for (const [name, args] of Object.entries({ ed25519: ['-t', 'ed25519'], ecdsa: ['-t', 'ecdsa', '-b', '256'], ecdsa384: ['-t', 'ecdsa', '-b', '384'], rsa: ['-t', 'rsa', '-b', '2048'] })) {
    const file = path.join(dir, name);
    execFileSync('ssh-keygen', ['-q', ...args, '-N', '', '-C', '', '-f', file], { stdio: 'ignore' });
    made[name] = fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  }
  return made as Record<'ed25519' | 'ecdsa' | 'ecdsa384' | 'rsa', string>;
}
