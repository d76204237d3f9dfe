/**
 * modulus-volume.sh run for real on this machine (loop devices, ext4, mounts) against a host of its own: the
 * boot records, scripts and unit live under `temp`, never in this machine's /etc. Used by the volume contract
 * tests.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { buildImage } from './docker';

export const VOLUME_SCRIPT = path.resolve(__dirname, '../../../scripts/volume/modulus-volume.sh');

export interface ScriptRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** The host-wide files of a test host under `temp`. */
export function hostFiles(temp: string): Record<string, string> {
  return {
    MODULUS_REGISTRY: path.join(temp, 'host', 'etc-modulus'),
    MODULUS_BOOT_DIR: path.join(temp, 'host', 'boot'),
    MODULUS_SYSTEMD_DIR: path.join(temp, 'host', 'systemd'),
  };
}

/** The image the volume's in-volume steps run in (MODULUS_IMAGE): the base image, as in every run image. */
export const volumeStepImage = () => buildImage('base');

/**
 * `modulus-volume.sh <command>` for the volume at `root` (app = its folder name), without this process's MODULUS_*
 * values; MODULUS_IMAGE is the base image unless `env` says otherwise.
 */
export function runVolumeScript(temp: string, command: string, root: string, env: Record<string, string> = {}): ScriptRun {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('MODULUS_') && value !== undefined) clean[key] = value;
  }
  const result = spawnSync('bash', [VOLUME_SCRIPT, command], {
    env: { ...clean, ...hostFiles(temp), MODULUS_APP: path.basename(root), MODULUS_ROOT: root, MODULUS_IMAGE: volumeStepImage(), ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function ok(run: ScriptRun): ScriptRun {
  if (run.status !== 0) throw new Error(`exited ${run.status}:\n${run.stderr}\n${run.stdout}`);
  return run;
}

export const mnt = (root: string) => path.join(root, 'mnt');
export const isMounted = (dir: string) => spawnSync('mountpoint', ['-q', dir]).status === 0;
export const loopDevices = (root: string) =>
  spawnSync('losetup', ['-j', path.join(root, 'volume.img'), '-O', 'NAME', '-n'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);
