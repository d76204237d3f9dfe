/**
 * What `npm run deploy` and `npm run destroy` ask the Docker engine before deploying (scripts/deploy.ts):
 *
 * - network: the engine's default `bridge` network (`docker network inspect bridge`) → `bridge` (each app
 *   published on 127.0.0.1:<port>); none (dockerd --bridge=none, as scripts/toolchain/engine.sh starts it) → `host`.
 * - root image: `debian:bookworm-slim` when the engine has it; else the toolchain's offline image
 *   (`modulus/root:bookworm`, MODULUS_ROOT_IMAGE_TAG) when it has that; else `debian:bookworm-slim` when
 *   `docker pull` gets it; else the offline image, which the toolchain's root-image step then builds.
 *   `npm run destroy` never pulls or builds: it only needs the name the deploy used.
 *
 * An explicit MODULUS_NETWORK_MODE or MODULUS_ROOT_IMAGE wins and is not checked. The docker CLI is run from the
 * caller's PATH, against MODULUS_DOCKER_HOST when that is set.
 */
import { spawnSync } from 'child_process';
import { DEFAULT_ROOT_IMAGE } from '../lib/image-hierarchy';
import { NetworkMode } from '../lib/network-mode';

/** The tag scripts/toolchain/root-image.sh imports, unless MODULUS_ROOT_IMAGE_TAG names another. */
export const OFFLINE_ROOT_IMAGE = 'modulus/root:bookworm';

/** How long a `docker pull` of the root image may take before the offline image is built instead. */
export const PULL_TIMEOUT_MS = 300_000;

export type DeployCommand = 'deploy' | 'destroy';

export interface DetectedSettings {
  /** The settings main.ts reads, to pass to cdktf (MODULUS_NETWORK_MODE, MODULUS_ROOT_IMAGE). */
  readonly env: { MODULUS_NETWORK_MODE: string; MODULUS_ROOT_IMAGE: string };
  /** One line per choice, saying what was chosen and why. */
  readonly choices: string[];
  /** Whether the toolchain's root-image step must run (the offline image is the root image). */
  readonly buildRootImage: boolean;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

/** The first line of a failed docker command's error, for a choice's reason. */
function firstLine(run: Run): string {
  const text = (run.error ? run.error.message : run.stderr || run.stdout).trim();
  return text.split('\n')[0] || `exit status ${run.status}`;
}

/**
 * Asks the engine what it offers and chooses the network mode and the root image. `env` is the caller's
 * environment (PATH finds `docker`; MODULUS_* settings win).
 */
export function detectSettings(command: DeployCommand, env: NodeJS.ProcessEnv = process.env): DetectedSettings {
  const dockerEnv: NodeJS.ProcessEnv = { ...env };
  if (env.MODULUS_DOCKER_HOST) dockerEnv.DOCKER_HOST = env.MODULUS_DOCKER_HOST;
  const docker = (args: string[], timeout?: number): Run => {
    const result = spawnSync('docker', args, { env: dockerEnv, encoding: 'utf8', timeout, maxBuffer: 16 << 20 });
    return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
  };
  const choices: string[] = [];

  let networkMode: string;
  if (env.MODULUS_NETWORK_MODE) {
    networkMode = env.MODULUS_NETWORK_MODE;
    choices.push(`network: ${networkMode} (set by MODULUS_NETWORK_MODE)`);
  } else {
    const bridge = docker(['network', 'inspect', '--format', '{{.Name}}', 'bridge']);
    if (bridge.status === 0) {
      networkMode = NetworkMode.BRIDGE;
      choices.push("network: bridge (the engine has a default bridge network: each app is published on 127.0.0.1:<port>; MODULUS_NETWORK_MODE=host overrides)");
    } else {
      networkMode = NetworkMode.HOST;
      choices.push(
        `network: host (the engine has no default bridge network: ${firstLine(bridge)}; the apps bind 127.0.0.1:<port> on the host; MODULUS_NETWORK_MODE=bridge overrides)`,
      );
    }
  }

  const offline = env.MODULUS_ROOT_IMAGE_TAG || OFFLINE_ROOT_IMAGE;
  const has = (image: string) => docker(['image', 'inspect', '--format', '{{.Id}}', image]).status === 0;
  let rootImage: string;
  let buildRootImage = false;
  if (env.MODULUS_ROOT_IMAGE) {
    rootImage = env.MODULUS_ROOT_IMAGE;
    buildRootImage = command === 'deploy' && rootImage === offline;
    choices.push(`root image: ${rootImage} (set by MODULUS_ROOT_IMAGE)`);
  } else if (has(DEFAULT_ROOT_IMAGE)) {
    rootImage = DEFAULT_ROOT_IMAGE;
    choices.push(`root image: ${rootImage} (on the engine; MODULUS_ROOT_IMAGE overrides)`);
  } else if (has(offline)) {
    rootImage = offline;
    buildRootImage = command === 'deploy';
    choices.push(`root image: ${rootImage} (the toolchain's offline image, on the engine; ${DEFAULT_ROOT_IMAGE} is not; MODULUS_ROOT_IMAGE overrides)`);
  } else if (command === 'destroy') {
    rootImage = offline;
    choices.push(`root image: ${rootImage} (neither it nor ${DEFAULT_ROOT_IMAGE} is on the engine; a destroy needs neither)`);
  } else {
    const pull = docker(['pull', '--quiet', DEFAULT_ROOT_IMAGE], PULL_TIMEOUT_MS);
    if (pull.status === 0) {
      rootImage = DEFAULT_ROOT_IMAGE;
      choices.push(`root image: ${rootImage} (pulled; MODULUS_ROOT_IMAGE overrides)`);
    } else {
      rootImage = offline;
      buildRootImage = true;
      choices.push(
        `root image: ${rootImage} (the toolchain builds it offline with debootstrap: ${DEFAULT_ROOT_IMAGE} is not on the engine and docker pull failed: ${firstLine(pull)}; MODULUS_ROOT_IMAGE overrides)`,
      );
    }
  }
  return { env: { MODULUS_NETWORK_MODE: networkMode, MODULUS_ROOT_IMAGE: rootImage }, choices, buildRootImage };
}
