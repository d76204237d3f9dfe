/**
 * Where app volumes are stored: the choices both an app's volume (app-volume.ts) and a Docker host's defaults
 * (docker-host.ts) take, in a module of their own so that neither imports the other for them.
 */

/** Where an app volume's blocks live. */
export enum VolumeBackend {
  /** A sparse file holding an ext4 file system, mounted through a loop device (development, CI). */
  LOOPFILE = 'loopfile',
  /** A thin logical volume in an LVM thin pool (production, as the original platform did). */
  LVM_THIN = 'lvm-thin',
}

/** Location of `lvm-thin` volumes. */
export interface LvmThinPool {
  /** Volume group holding the thin pool. */
  readonly volumeGroup: string;
  /** Thin pool (an LVM thin-pool logical volume) in that group. */
  readonly thinPool: string;
}

/** Default host folder of all app volumes. */
export const DEFAULT_VOLUME_HOST_ROOT = '/var/lib/modulus/volumes';
