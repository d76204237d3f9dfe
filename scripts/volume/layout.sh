# shellcheck shell=bash
# modulus-volume.sh, sourced: the folders and files inside a mounted volume.

# The volume's top folder is its mount point, whose path is root's: root may set its owner and mode. Everything
# below it is laid out as mop, inside the volume only (in-volume.sh layout).
layout() {
  local mnt
  mnt=$(mount_dir)
  chown "${MOP_UID}:${MOP_GID}" -- "${mnt}"
  chmod 0750 -- "${mnt}"
  in_volume layout </dev/null || fail 1 "cannot lay out the volume of app '${APP}'"
}
