# shellcheck shell=bash
# modulus-volume.sh, sourced: the folders and files inside a mounted volume.

# Make sure PATH (inside the mounted volume) is a real directory owned by mop: the app can write to the
# volume, so it could have replaced a layout folder with a symlink pointing anywhere on the host.
ensure_real_dir() {
  local path=$1 mode=$2
  if [[ -L "${path}" || (-e "${path}" && ! -d "${path}") ]]; then
    log "replacing non-directory ${path}"
    rm -f -- "${path}"
  fi
  install -d -o "${MOP_UID}" -g "${MOP_GID}" -m "${mode}" -- "${path}"
}

layout() {
  local mnt dir mode
  mnt=$(mount_dir)
  chown "${MOP_UID}:${MOP_GID}" -- "${mnt}"
  chmod 0750 -- "${mnt}"
  for dir in "${LAYOUT_DIRS[@]}"; do
    mode=0750
    if [[ " ${PRIVATE_DIRS[*]} " == *" ${dir} "* ]]; then
      mode=0700
    fi
    ensure_real_dir "${mnt}/${dir}" "${mode}"
  done
  # An empty supervisor.conf until write-config runs, so the layout is complete right after create.
  if [[ ! -e "${mnt}/supervisor.conf" && ! -L "${mnt}/supervisor.conf" ]]; then
    install -o "${MOP_UID}" -g "${MOP_GID}" -m 0600 /dev/null "${mnt}/supervisor.conf"
  fi
  # The run image's require-volume starts the app only when this file is there: it exists on the mounted
  # file system alone, never in the bare mount point. Made on every create, so existing volumes get it too.
  # install replaces a file or symlink the app may have put in its place, not a directory.
  if [[ -d "${mnt}/.modulus-volume" && ! -L "${mnt}/.modulus-volume" ]]; then
    log "replacing the directory ${mnt}/.modulus-volume"
    rm -rf -- "${mnt}/.modulus-volume"
  fi
  install -o 0 -g 0 -m 0444 /dev/null "${mnt}/.modulus-volume"
}
