# shellcheck shell=bash
# modulus-volume.sh, sourced: the folders and files inside a mounted volume.

# The volume's top folder is its mount point, whose path is root's: root may set its owner and mode. Everything
# below it is laid out as mop, inside the volume only (in-volume.sh layout), when an image to do that in is given:
# at boot the engine is not up yet (and no app runs), and the Volume step leaves it to the Mount step, so that
# reading the volume's state never waits for an image (which a lost host's engine could not give).
layout() {
  local mnt
  mnt=$(mount_dir)
  chown "${MOP_UID}:${MOP_GID}" -- "${mnt}"
  chmod 0750 -- "${mnt}"
  if [[ -z "${IMAGE}" ]]; then
    log "the layout inside the volume of app '${APP}' is left to the next mount with MODULUS_IMAGE"
    return 0
  fi
  in_volume layout </dev/null || fail 1 "cannot lay out the volume of app '${APP}'"
}
