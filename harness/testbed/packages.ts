import { spawnSync } from 'child_process';
import { bash, ok } from '../shell';

/** True when dpkg reports the Debian package as installed. */
export function isInstalled(pkg: string): boolean {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim() === 'install ok installed';
}

/**
 * Installs the Debian packages that are missing (as on a fresh CI machine) with apt-get; returns those it installed.
 * Services a package would start are kept from starting (policy-rc.d exit 101): the testbed runs its own.
 */
export function ensurePackages(packages: string[]): string[] {
  const missing = packages.filter((pkg) => !isInstalled(pkg));
  if (missing.length > 0) {
    ok(
      bash(
        [
          // npm run test:all runs two suites at once: one apt-get at a time.
          'exec 9>/var/lock/modulus-apt.lock && flock 9',
          'policy="/usr/sbin/policy-rc.d"; created=0',
          'if [ ! -e "$policy" ]; then printf "#!/bin/sh\\nexit 101\\n" > "$policy"; chmod 0755 "$policy"; created=1; fi',
          'trap \'if [ "$created" = 1 ]; then rm -f "$policy"; fi\' EXIT',
          'apt-get update -qq',
          // shellcheck-style word splitting on purpose: the names are fixed package names, no user input.
          'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null',
        ].join('\n'),
        { env: { PACKAGES: missing.join(' ') } },
      ),
      `apt-get install ${missing.join(' ')}`,
    );
  }
  const still = packages.filter((pkg) => !isInstalled(pkg));
  if (still.length > 0) throw new Error(`apt-get ran, but still not installed: ${still.join(' ')}`);
  return missing;
}
