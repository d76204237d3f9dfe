import * as fs from 'fs';
import { invalidSetting } from '../lib/errors';
import { AppsStackHost } from './apps-stack';
import { RegistrySettings } from './registry-settings';

/**
 * The file MODULUS_PLATFORM names: the registry and the Docker hosts of a multi-host deployment, as JSON.
 *
 *   {
 *     "registry": { "address": "registry.example.com", "username": "ci" },
 *     "hosts": [
 *       { "hostName": "a", "engine": "unix:///var/run/docker.sock", "languages": ["node"] },
 *       { "hostName": "b", "engine": "ssh://deploy@b.example.com",
 *         "sshOptions": ["-i", "/ci/keys/b", "-o", "UserKnownHostsFile=/ci/known_hosts"],
 *         "provisioning": { "user": "deploy", "address": "b.example.com", "hostKeys": "[b.example.com]:22 ssh-ed25519 AAAA...\n[b.example.com]:22 ecdsa-sha2-nistp256 AAAA..." },
 *         "volumes": { "root": "/var/lib/modulus/volumes" }, "imageRemovalPolicy": "retain",
 *         "router": { "httpPort": 18000 }, "buildHost": "a",
 *         "languages": ["static", "php"] }
 *     ]
 *   }
 *
 * A host's `router` puts a router there in front of its apps when MODULUS_ROUTER_DOMAIN is set (its address and
 * ports; the domain, TLS and maintenance are the stack's); its `buildHost` names the host (of this machine's engine)
 * that builds its apps. Secrets are not in it: the registry password comes from TF_VAR_registry_password and each host's SSH key
 * from TF_VAR_ssh_private_key_<hostName>. The constructs validate every field (DockerHost, ImageRegistry).
 */
export interface PlatformFile {
  readonly registry?: RegistrySettings;
  readonly hosts?: AppsStackHost[];
}

export function readPlatformFile(file: string): PlatformFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw invalidSetting('MODULUS_PLATFORM', file, `give a readable JSON file (${(error as Error).message})`);
  }
  const platform = parsed as PlatformFile;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidSetting('MODULUS_PLATFORM', file, 'give a JSON object with "registry" and "hosts"');
  }
  if (platform.hosts !== undefined && (!Array.isArray(platform.hosts) || platform.hosts.some((host) => !Array.isArray(host?.languages)))) {
    throw invalidSetting('MODULUS_PLATFORM', file, 'give "hosts" as a list, each host with its "languages" (a list)');
  }
  return platform;
}
