/**
 * The host scripts (scripts/volume) of this package: where they are on this machine, and the asset that ships
 * them with each stack.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AssetType, TerraformAsset, TerraformStack } from 'cdktf';
import { IConstruct } from 'constructs';
import { packageRoot } from '../package-root';

/** scripts/volume of this package (from lib/ with ts-node as from dist/lib/). */
export function volumeScriptDir(): string {
  const dir = path.join(packageRoot(), 'scripts', 'volume');
  if (!fs.existsSync(path.join(dir, 'modulus-volume.sh'))) throw new Error(`modulus-images: ${dir}/modulus-volume.sh not found`);
  return dir;
}

const VOLUME_SCRIPT_ASSET_ID = 'ModulusVolumeScript';

/**
 * The path of one of the host provisioning scripts (scripts/volume/<script>) as Terraform sees it: the folder
 * is copied into the stack's output as one asset per stack, so the synthesized JSON holds only a relative,
 * content-addressed path (`assets/ModulusVolumeScript/<hash>/<script>`), never this machine's absolute path.
 */
export function volumeScriptPath(scope: IConstruct, script: 'modulus-volume.sh' | 'modulus-process-limit.sh' | 'modulus-router.sh' = 'modulus-volume.sh'): string {
  return `${volumeScriptAsset(scope).path}/${script}`;
}

/**
 * Content hash of the scripts folder: in the triggers of the steps whose work a fixed script should redo on
 * existing deployments (supervisor.conf, the mount and layout check, the process limit), never in a volume's
 * identity.
 */
export function volumeScriptHash(scope: IConstruct): string {
  return volumeScriptAsset(scope).assetHash;
}

function volumeScriptAsset(scope: IConstruct): TerraformAsset {
  const stack = TerraformStack.of(scope);
  return (
    (stack.node.tryFindChild(VOLUME_SCRIPT_ASSET_ID) as TerraformAsset | undefined) ??
    new TerraformAsset(stack, VOLUME_SCRIPT_ASSET_ID, { path: volumeScriptDir(), type: AssetType.DIRECTORY })
  );
}
