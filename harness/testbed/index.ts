/**
 * The multi-host testbed (issue 13): a registry and a second Docker engine ("host B") reached over SSH, all on
 * 127.0.0.0/8. See README.md beside this file.
 *
 *   const bed = await startTestbed();          // in beforeAll (allow ~4 min cold, ~1 min warm)
 *   bed.registry.address                       // 127.0.0.1:<port>, basic auth bed.registry.username/password
 *   bed.hostB.dockerHost, bed.hostB.sshOpts    // provider "docker" { host, ssh_opts }
 *   await bed.stop();                          // in afterAll, also after a failed start
 */
import { buildHostBImage, HostB, startHostB } from './host-b';
import { ensurePackages } from './packages';
import { Registry, startRegistry } from './registry';

export { buildHostBImage, HOST_B_IMAGE, HOST_B_RUN_FLAGS, HostB, ROOT_IMAGE, shellQuote, startHostB } from './host-b';
export { ensurePackages } from './packages';
export { Registry, registryStatus, startRegistry } from './registry';

/** Debian packages the testbed runs on engine A's machine: the registry, htpasswd, and the SSH client. */
export const TESTBED_PACKAGES = ['docker-registry', 'apache2-utils', 'openssh-client'];

export interface Testbed {
  readonly registry: Registry;
  readonly hostB: HostB;
  /** Milliseconds each part took to come up: packages, registry, hostBImage (build), hostB (start). */
  readonly timings: Record<string, number>;
  stop(): Promise<void>;
}

async function timed<T>(timings: Record<string, number>, name: string, step: () => T | Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await step();
  } finally {
    timings[name] = Date.now() - start;
  }
}

/**
 * Brings up the registry and host B. On failure, whatever came up is stopped before the error is thrown, so a
 * caller's afterAll only has to stop what startTestbed returned.
 */
export async function startTestbed(): Promise<Testbed> {
  const timings: Record<string, number> = {};
  let registry: Registry | undefined;
  let hostB: HostB | undefined;
  const stop = async () => {
    hostB?.stop();
    hostB = undefined;
    await registry?.stop();
    registry = undefined;
  };
  try {
    await timed(timings, 'packages', () => ensurePackages(TESTBED_PACKAGES));
    registry = await timed(timings, 'registry', () => startRegistry());
    await timed(timings, 'hostBImage', () => buildHostBImage());
    hostB = await timed(timings, 'hostB', () => startHostB());
  } catch (error) {
    await stop();
    throw error;
  }
  return { registry: registry!, hostB: hostB!, timings, stop };
}
