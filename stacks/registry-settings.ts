import { TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';
import { ImageRegistry, RegistryProtocol } from '../lib/image-registry';

/** The registry the images stack pushes to and the run hosts pull from. */
export interface RegistrySettings {
  /** `host[:port]`, e.g. `registry.example.com` or `127.0.0.1:5000`. */
  readonly address: string;
  /**
   * Basic-auth user; its password comes from the sensitive variable `registry_password`
   * (`TF_VAR_registry_password`), in each stack that uses the registry.
   * @default anonymous
   */
  readonly username?: string;
  /** @default RegistryProtocol.HTTPS */
  readonly protocol?: RegistryProtocol;
}

/** The stack's view of the registry: its password is a sensitive variable of that stack. */
export function registryOf(scope: Construct, settings: RegistrySettings): ImageRegistry {
  const password = settings.username
    ? new TerraformVariable(scope, 'registry_password', {
        type: 'string',
        sensitive: true,
        description: `Password of ${settings.username} at the registry ${settings.address} (TF_VAR_registry_password)`,
      }).stringValue
    : undefined;
  return new ImageRegistry(scope, 'Registry', { ...settings, password });
}
