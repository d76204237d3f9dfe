#!/usr/bin/env bash
# Stand-ins for the commands through which modulus-volume.sh changes or probes the host (LVM, mkfs, mount,
# loop devices, e2fs tools), for __tests__/unit/volume-script.test.ts. The test links each command name to
# this file in a folder it puts first on PATH; the name the file is called by picks the command.
#
# Every call appends its command line to $STUB_LOG (docker: `docker run in-volume ARGS` for the volume steps'
# containers, whose script the stand-in runs as mop (441:444) in the mount point, the bind mount's source). The host's state is simulated in files under
# $STUB_STATE, never on the real host:
#   lv/<vg>/<lv>     a thin LV: its size in bytes
#   fs/<store>       an ext4 file system: its size in bytes; <store> is lv-<vg>-<lv> for an LV and
#                    inode-<n> for a file (the inode survives the script's rename of volume.img.new)
#   loop/<loopN>     an attached loop device: the path of its file
#   mounts/<mnt>     a mount (the mount point with '/' as '_'): the device mounted there
#   files/<store>    the files of an unmounted file system: mount moves them into the mount point and umount
#                    moves them back, so the bare mount point is empty again as after a real umount
set -euo pipefail

readonly COMMAND="${0##*/}"
readonly STATE="${STUB_STATE:?STUB_STATE is required}"
if [[ "${COMMAND}" != docker ]]; then
  printf '%s\n' "${COMMAND}${*:+ $*}" >>"${STUB_LOG:?STUB_LOG is required}"
fi
mkdir -p -- "${STATE}/lv" "${STATE}/fs" "${STATE}/loop" "${STATE}/mounts" "${STATE}/files"

last_arg() { printf '%s' "${@: -1}"; }
mount_record() { printf '%s/mounts/%s' "${STATE}" "${1//\//_}"; }

# The value following OPTION in the remaining arguments.
option_value() {
  local option=$1
  shift
  while (($# > 1)); do
    if [[ "$1" == "${option}" ]]; then
      printf '%s' "$2"
      return
    fi
    shift
  done
  return 1
}

mib_to_bytes() { printf '%s' $((${1%m} * 1048576)); }

# lv_record VG/LV or /dev/VG/LV: the file holding that LV's size.
lv_record() {
  local name=${1#/dev/}
  printf '%s/lv/%s' "${STATE}" "${name}"
}

# move_files FROM TO: every file of the folder FROM (dot files too) into the folder TO.
move_files() {
  mkdir -p -- "$1" "$2"
  find "$1" -mindepth 1 -maxdepth 1 -exec mv -t "$2" -- {} +
}

# The file system store and the size in bytes of a device, a loop device or a plain file.
store_of() {
  case "$1" in
    /dev/loop*) printf 'inode-%s' "$(stat -c %i -- "$(<"${STATE}/loop/${1#/dev/}")")" ;;
    /dev/*/*) printf 'lv-%s' "$(tr / - <<<"${1#/dev/}")" ;;
    *) printf 'inode-%s' "$(stat -c %i -- "$1")" ;;
  esac
}
device_bytes() {
  case "$1" in
    /dev/loop*) stat -c %s -- "$(<"${STATE}/loop/${1#/dev/}")" ;;
    /dev/*/*) cat -- "$(lv_record "$1")" ;;
    *) stat -c %s -- "$1" ;;
  esac
}

case "${COMMAND}" in
  lvcreate)
    record="$(lv_record "$(option_value --thin "$@" | cut -d/ -f1)/$(option_value --name "$@")")"
    mkdir -p -- "$(dirname "${record}")"
    mib_to_bytes "$(option_value --virtualsize "$@")" >"${record}"
    ;;
  lvextend) mib_to_bytes "$(option_value --size "$@")" >"$(lv_record "$(last_arg "$@")")" ;;
  lvremove) rm -- "$(lv_record "$(last_arg "$@")")" ;;
  lvchange) ;;
  lvs)
    record="$(lv_record "$(last_arg "$@")")"
    [[ -f "${record}" ]] || { echo "Failed to find logical volume \"$(last_arg "$@")\"" >&2 && exit 5; }
    case " $* " in
      *" lv_size "*) printf '  %s\n' "$(<"${record}")" ;;
      *" lv_attr "*) printf '  Vwi-a-tz--\n' ;;
    esac
    ;;
  mkfs.ext4 | resize2fs) device_bytes "$(last_arg "$@")" >"${STATE}/fs/$(store_of "$(last_arg "$@")")" ;;
  e2fsck) ;;
  dumpe2fs)
    bytes=$(<"${STATE}/fs/$(store_of "$(last_arg "$@")")")
    printf 'Block count:              %s\nBlock size:               4096\n' $((bytes / 4096))
    ;;
  mount)
    device=${*: -2:1}
    if [[ "$(option_value -o "$@")" == *loop* ]]; then
      realpath -- "${device}" >"${STATE}/loop/loop7"
      device=/dev/loop7
    fi
    move_files "${STATE}/files/$(store_of "${device}")" "$(last_arg "$@")"
    printf '%s' "${device}" >"$(mount_record "$(last_arg "$@")")"
    ;;
  umount)
    record="$(mount_record "$(last_arg "$@")")"
    [[ -f "${record}" ]] || { echo "umount: $(last_arg "$@"): not mounted" >&2 && exit 32; }
    move_files "$(last_arg "$@")" "${STATE}/files/$(store_of "$(<"${record}")")"
    # mount -o loop sets autoclear: unmounting detaches the loop device (with STUB_AUTOCLEAR_LATE, only once
    # something asks to detach it, which then fails: the kernel came first).
    if [[ -n "${STUB_AUTOCLEAR_LATE:-}" ]]; then
      touch -- "${STATE}/loop/$(basename "$(<"${record}")").clearing"
    else
      rm -f -- "${STATE}/loop/$(basename "$(<"${record}")")"
    fi
    rm -f -- "${record}"
    ;;
  mountpoint) [[ -f "$(mount_record "$(last_arg "$@")")" ]] ;;
  findmnt)
    record="$(mount_record "$(last_arg "$@")")"
    [[ -f "${record}" ]] || exit 1
    printf '%s\n' "$(<"${record}")"
    ;;
  losetup)
    case "$1" in
      --set-capacity) ;;
      -d)
        if [[ -f "${STATE}/loop/${2#/dev/}.clearing" ]]; then
          rm -f -- "${STATE}/loop/${2#/dev/}" "${STATE}/loop/${2#/dev/}.clearing"
          echo "losetup: $2: detach failed: No such device or address" >&2
          exit 1
        fi
        rm -- "${STATE}/loop/${2#/dev/}"
        ;;
      -j)
        for loop in "${STATE}"/loop/*; do
          if [[ -f "${loop}" && "${loop}" != *.clearing && "$(<"${loop}")" == "$(realpath -- "$2")" ]]; then
            printf '/dev/%s\n' "${loop##*/}"
          fi
        done
        ;;
    esac
    ;;
  terraform)
    # `terraform state pull`: the file $STUB_TERRAFORM_STATE names; no state to read without it.
    [[ "$*" == "state pull" && -n "${STUB_TERRAFORM_STATE:-}" ]] || exit 1
    cat -- "${STUB_TERRAFORM_STATE}"
    ;;
  docker)
    case "${1:-}" in
      run)
        shift
        source="" script=""
        while (($# > 0)); do
          case "$1" in
            --mount)
              source=${2#type=bind,source=}
              source=${source%,target=/mnt}
              shift 2
              ;;
            -c)
              script=$2
              shift 3
              break
              ;;
            *) shift ;;
          esac
        done
        printf 'docker run in-volume %s\n' "$*" >>"${STUB_LOG:?STUB_LOG is required}"
        # The container's /mnt is the bind mount's source: the working folder, entered before dropping to mop.
        cd -- "${source}"
        exec setpriv --reuid 441 --regid 444 --clear-groups bash -c "${script/$'\n'cd \/mnt$'\n'/$'\n'}" in-volume "$@"
        ;;
      inspect)
        # $STUB_RUN_CONTAINER "NAME ID APP ROLE": that container (by name or id) answers its id and labels.
        read -r name id app role <<<"${STUB_RUN_CONTAINER:-}"
        if [[ -n "${name:-}" && ("${*: -1}" == "${name}" || "${*: -1}" == "${id}") ]]; then
          printf '%s %s %s\n' "${id}" "${app}" "${role}"
          exit 0
        fi
        echo "Error: No such object: ${*: -1}" >&2
        exit 1
        ;;
      ps)
        # The stopped build containers of app $STUB_APP: the ids in $STUB_BUILD_CONTAINERS, only for that query.
        if [[ " $* " == *" --filter label=org.modulus.app=${STUB_APP:-} --filter label=org.modulus.role=build --filter status=exited --filter status=created --filter status=dead "* ]]; then
          tr ' ' '\n' <<<"${STUB_BUILD_CONTAINERS:-}"
        fi
        ;;
      rm)
        printf 'docker %s\n' "$*" >>"${STUB_LOG:?STUB_LOG is required}"
        ;;
      *)
        echo "host-commands.sh: no stand-in for docker $1" >&2
        exit 127
        ;;
    esac
    ;;
  *)
    echo "host-commands.sh: no stand-in for ${COMMAND}" >&2
    exit 127
    ;;
esac
