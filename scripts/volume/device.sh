# shellcheck shell=bash
# modulus-volume.sh, sourced: the block device of a volume (loopfile or lvm-thin): probes, create, mount, grow,
# delete.

volume_exists() {
  case "${BACKEND}" in
    loopfile) [[ -f "$(image_file)" ]] ;;
    lvm-thin) lvs "${VG}/$(lv_name)" >/dev/null 2>&1 ;;
  esac
}

# Current size in MiB (rounded down).
current_size_mib() {
  local bytes
  case "${BACKEND}" in
    loopfile) bytes=$(stat -c %s -- "$(image_file)") ;;
    lvm-thin) bytes=$(lvs --noheadings --nosuffix --units b -o lv_size "${VG}/$(lv_name)" | tr -d '[:space:]') ;;
  esac
  printf '%s' $((bytes / 1048576))
}

is_mounted() {
  mountpoint -q -- "$(mount_dir)"
}

# The block device the mount point is mounted from.
mounted_device() {
  findmnt -n -o SOURCE --mountpoint "$(mount_dir)"
}

make_volume() {
  case "${BACKEND}" in
    loopfile)
      local img tmp
      img=$(image_file)
      tmp="${img}.new"
      # Built under a temporary name and renamed, so an interrupted create never leaves a half-made image
      # that a later create would mistake for an existing volume.
      rm -f -- "${tmp}"
      truncate -s "${SIZE_MIB}M" -- "${tmp}"
      chmod 0600 -- "${tmp}"
      mkfs.ext4 -q -m 0 -E "root_owner=${MOP_UID}:${MOP_GID}" -- "${tmp}"
      mv -- "${tmp}" "${img}"
      ;;
    lvm-thin)
      lvcreate --yes --virtualsize "${SIZE_MIB}m" --thin "${VG}/${POOL}" --name "$(lv_name)"
      mkfs.ext4 -q -m 0 -E "root_owner=${MOP_UID}:${MOP_GID}" -- "$(lv_device)"
      ;;
  esac
}

mount_volume() {
  local mnt
  mnt=$(mount_dir)
  # While nothing is mounted the mount point is root's and closed (0000): a container started against an
  # unmounted volume (e.g. after a reboot) fails instead of writing to the host's disk without a limit.
  install -d -o 0 -g 0 -m 0000 -- "${mnt}"
  case "${BACKEND}" in
    loopfile) mount -o loop,nodev,nosuid -- "$(image_file)" "${mnt}" ;;
    lvm-thin) mount -o nodev,nosuid -- "$(lv_device)" "${mnt}" ;;
  esac
}

# Size of the ext4 file system in MiB (from its superblock).
fs_size_mib() {
  local device=$1 superblock blocks='' block_size=''
  superblock=$(dumpe2fs -h -- "${device}" 2>/dev/null)$'\n' || true
  [[ "${superblock}" =~ (^|$'\n')'Block count:'[[:space:]]*([0-9]+)$'\n' ]] && blocks=${BASH_REMATCH[2]}
  [[ "${superblock}" =~ (^|$'\n')'Block size:'[[:space:]]*([0-9]+)$'\n' ]] && block_size=${BASH_REMATCH[2]}
  [[ "${blocks}" =~ ^[0-9]+$ && "${block_size}" =~ ^[0-9]+$ ]] || fail 1 "cannot read the file system size of ${device}"
  printf '%s' $((blocks * block_size / 1048576))
}

# True while the volume's block device is still in use after our mount point was unmounted, i.e. the file
# system is still mounted elsewhere (typically inside a running container's mount namespace).
still_in_use() {
  case "${BACKEND}" in
    loopfile) [[ -n "$(losetup -j "$(image_file)" -O NAME -n 2>/dev/null)" ]] ;;
    lvm-thin) [[ "$(lvs --noheadings -o lv_attr "${VG}/$(lv_name)" | tr -d '[:space:]' | cut -c6)" == "o" ]] ;;
  esac
}

# is_free: the opposite of still_in_use.
is_free() { ! still_in_use; }

# within_5s COMMAND...: whether COMMAND succeeds within five tries, a second apart. A volume step's container
# that just exited can hold the mount for a moment, and the loop device can stay attached for a moment after the
# last unmount (the kernel's teardown, or the mount namespace of a container that just went away).
within_5s() {
  local attempt
  for ((attempt = 1; attempt <= 5; attempt++)); do
    "$@" && return 0
    ((attempt == 5)) || sleep 1
  done
  return 1
}

# Offline resize, for kernels that refuse online resizing (EXT4_IOC_RESIZE_FS needs CAP_SYS_RESOURCE, which
# some container sandboxes drop): unmount, check, resize, mount again. Only when nothing else has the file
# system mounted: resizing a file system that is live elsewhere would corrupt it.
offline_resize() {
  local mnt target device
  mnt=$(mount_dir)
  device=$(mounted_device)
  within_5s umount -- "${mnt}" 2>/dev/null ||
    fail 3 "cannot unmount ${mnt} for an offline resize (in use); stop the app and run resize again. No data was changed."
  case "${BACKEND}" in
    loopfile) target=$(image_file) ;;
    lvm-thin) target=$(lv_device) ;;
  esac
  if ! within_5s is_free; then
    # Mount the very device that is still live (never a second loop device over the same file).
    mount -o nodev,nosuid -- "${device}" "${mnt}"
    fail 3 "the file system of app '${APP}' is still mounted elsewhere (a running container?); stop it and run resize again. No data was changed; the backing store is already ${SIZE_MIB} MiB and the file system will grow on the next resize."
  fi
  local rc=0
  e2fsck -f -p -- "${target}" || rc=$?
  if ((rc > 1)); then
    mount_volume
    fail 1 "e2fsck of ${target} exited ${rc}; file system left at its old size"
  fi
  resize2fs -- "${target}"
  mount_volume
}

extend_backing() {
  case "${BACKEND}" in
    loopfile)
      truncate -s "${SIZE_MIB}M" -- "$(image_file)"
      losetup --set-capacity "$(mounted_device)"
      ;;
    lvm-thin)
      lvextend --size "${SIZE_MIB}m" "${VG}/$(lv_name)"
      ;;
  esac
}

grow_file_system() {
  local device
  device=$(mounted_device)
  if resize2fs -- "${device}"; then
    return 0
  fi
  log "online resize refused by the kernel; resizing offline"
  offline_resize
}

# Grow to SIZE_MIB if smaller; refuse (before changing anything) if larger.
ensure_size() {
  local current fs
  current=$(current_size_mib)
  if ((SIZE_MIB < current)); then
    fail 3 "refusing to shrink the volume of app '${APP}' from ${current} MiB to ${SIZE_MIB} MiB: volumes only grow (shrinking an ext4 file system needs it offline and risks the data). Nothing was changed; set the size back to at least ${current} MiB."
  fi
  if ((SIZE_MIB > current)); then
    log "growing the volume of app '${APP}' from ${current} MiB to ${SIZE_MIB} MiB in place"
    extend_backing
  fi
  # Comparing the file system (not only the backing store) with the target also completes a grow that
  # was interrupted after the backing store had been extended.
  fs=$(fs_size_mib "$(mounted_device)")
  if ((fs < SIZE_MIB)); then
    grow_file_system
  elif ((SIZE_MIB == current)); then
    log "volume of app '${APP}' is already ${current} MiB"
  fi
}

# Delete the unmounted volume's block device and what backs it.
delete_volume() {
  case "${BACKEND}" in
    loopfile)
      local img device
      img=$(image_file)
      # mount -o loop sets autoclear, so unmounting detaches the loop device; detach leftovers anyway. The kernel
      # may clear one between the listing and the detach: gone is what this wants.
      while read -r device; do
        [[ -n "${device}" ]] || continue
        if ! losetup -d "${device}" 2>/dev/null && losetup -j "${img}" -O NAME -n 2>/dev/null | grep -qxF -- "${device}"; then
          fail 1 "cannot detach ${device} from the volume of app '${APP}'"
        fi
      done < <(losetup -j "${img}" -O NAME -n 2>/dev/null || true)
      rm -f -- "${img}" "${img}.new"
      ;;
    lvm-thin)
      if volume_exists; then
        lvremove --yes "${VG}/$(lv_name)"
      fi
      ;;
  esac
}
