#!/usr/bin/env bash
# modulus-volume.sh: create, grow, configure and remove the size-limited volume of one Modulus app.
#
# Called by the AppVolume construct's terraform_data provisioners (lib/app-volume.ts), and usable by hand.
# Runs as root on the Docker host. Everything is passed through the environment, never on the command line,
# so that values (and the supervisor.conf, which may hold secrets) never show up in Terraform's
# "Executing: ..." line or in `ps`.
#
# Usage: modulus-volume.sh COMMAND
#   create         make the volume if it is missing (keeps existing data), mount it, lay out /mnt,
#                  and grow it to MODULUS_SIZE_MIB when it is smaller. Idempotent: also the way to
#                  re-mount after a host reboot.
#   resize         grow the volume in place to MODULUS_SIZE_MIB (online). Refuses to shrink.
#   set-policy     record MODULUS_REMOVAL_POLICY (retain|destroy), read later by `destroy`.
#   write-config   render supervisor.conf from MODULUS_ENV_* / MODULUS_SECRET_* and write it to
#                  <mount>/supervisor.conf (0600, mop), never printing a value.
#   render-config  print that supervisor.conf on stdout (for tests and debugging: it prints secrets).
#   prepare-build  empty input/ and output/, copy the folder MODULUS_SOURCE into input/.
#   publish        replace app/ with the build's output/ (renames, no copy), leave an empty output/, and
#                  restart the app in its running container (through supervisord's socket in the
#                  volume); when the new build does not start, put the previous one back and fail.
#   destroy        with the recorded policy `destroy`: unmount and delete the volume; with `retain`
#                  (the default, also when no policy was recorded): change nothing.
#   status         print key=value lines: backend, exists, mounted, size_mib, policy, mount.
#   mount          mount an existing volume that is not mounted (after a reboot) and renew its layout;
#                  never creates or resizes.
#   boot           mount every volume this host's create registered, then re-apply the process limits
#                  (modulus-process-limit.sh boot): what the boot unit runs before the Docker engine starts.
#   probe          Terraform's external data source protocol: read {"app", "backend", "root",
#                  "lvm_volume_group", "lvm_thin_pool"} as JSON on stdin, print {"exists", "mounted"}.
#                  Read-only.
#
# Reboots: create registers the volume in $MODULUS_REGISTRY/volumes/<app>.env and installs the boot unit
# (/etc/systemd/system/modulus-volumes.service, wanted by and ordered before docker.service, running a copy
# of these scripts from /usr/local/lib/modulus), so volumes and process limits come back before the engine
# starts any container, without Terraform. destroy with the policy `destroy` unregisters the volume, and
# removes the unit with the last one.
#
# Environment:
#   MODULUS_APP              app name (required): [a-z], then [a-z0-9-], ending in [a-z0-9], at most 40
#   MODULUS_BACKEND          loopfile (default) | lvm-thin
#   MODULUS_ROOT             host folder of the volume (default /var/lib/modulus/volumes/$MODULUS_APP):
#                              loopfile: $MODULUS_ROOT/volume.img (sparse file holding an ext4 file system)
#                              both:     $MODULUS_ROOT/mnt (mount point; this is what containers mount)
#                                        $MODULUS_ROOT/removal-policy, $MODULUS_ROOT/.lock
#   MODULUS_SIZE_MIB         size in MiB (default 2048) for create/resize, within the limits in limits.env
#   MODULUS_LVM_VG           lvm-thin: volume group (required for lvm-thin)
#   MODULUS_LVM_POOL         lvm-thin: thin pool in that group (required for lvm-thin)
#   MODULUS_REMOVAL_POLICY   set-policy: retain | destroy
#   MODULUS_ENV_NAMES        write-config: space-separated names of the app's environment variables; the
#                            value of NAME is in MODULUS_ENV_NAME
#   MODULUS_SECRET_NAMES     the same for secret values, in MODULUS_SECRET_NAME (Terraform passes these as
#                            sensitive values, which also silences this script's output)
#   MODULUS_SOURCE           prepare-build: folder to copy into input/
#   MODULUS_REGISTRY         folder of the boot records (default /etc/modulus; one per host: the boot unit
#                            reads the one the last create used)
#   MODULUS_DRY_RUN=1        print the commands that would change the system, one per line, shell-quoted,
#                            instead of running them; nothing is read from or written to the host.
#   MODULUS_DRY_RUN_SIZE_MIB dry run only: pretend the volume exists, is mounted and has this size
#                            (unset or 0: pretend it does not exist)
#   MODULUS_REMOVAL_POLICY   dry run of destroy only: pretend this policy was recorded
#   MODULUS_DRY_RUN_LOOP_DEVICE  dry run only: loop device to print for a loopfile volume (default /dev/loop0)
#
# Exit status: 0 ok, 1 failure, 2 usage or invalid input, 3 refused (shrink; or destroy of a busy mount).
set -euo pipefail

readonly MOP_UID=441
readonly MOP_GID=444
readonly LAYOUT_DIRS=(app home log notifications tmp input output)
readonly PRIVATE_DIRS=(home tmp)
# MIN_SIZE_MIB and MAX_SIZE_MIB, shared with the AppVolume construct.
# shellcheck source-path=SCRIPTDIR source=limits.env
source "$(dirname "${BASH_SOURCE[0]}")/limits.env"
readonly MIN_SIZE_MIB MAX_SIZE_MIB
readonly REGISTRY="${MODULUS_REGISTRY:-/etc/modulus}/volumes"
readonly BOOT_DIR=/usr/local/lib/modulus
readonly BOOT_UNIT=/etc/systemd/system/modulus-volumes.service
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly PROGRAM=modulus-volume
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "${HERE}/messages.sh"

dry_run() { [[ "${MODULUS_DRY_RUN:-0}" == "1" ]]; }

# Run a command that changes the system, or print it (shell-quoted) in dry-run mode.
run() {
  if dry_run; then
    local quoted=()
    local arg
    for arg in "$@"; do
      if [[ "${arg}" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
        quoted+=("${arg}")
      else
        quoted+=("$(printf '%q' "${arg}")")
      fi
    done
    printf '%s\n' "${quoted[*]}"
  else
    "$@"
  fi
}

# ---------------------------------------------------------------------------------------------------------
# Input

APP="${MODULUS_APP:-}"
BACKEND="${MODULUS_BACKEND:-loopfile}"
ROOT=""
SIZE_MIB=""
VG="${MODULUS_LVM_VG:-}"
POOL="${MODULUS_LVM_POOL:-}"

validate_common() {
  [[ -n "${APP}" ]] || fail 2 "MODULUS_APP is required"
  [[ "${APP}" =~ ^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$ ]] ||
    fail 2 "invalid app name '${APP}': use a lowercase letter, then letters, digits or '-', ending in a letter or digit, at most 40 characters"
  ROOT="${MODULUS_ROOT:-/var/lib/modulus/volumes/${APP}}"
  [[ "${ROOT}" =~ ^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$ ]] ||
    fail 2 "invalid MODULUS_ROOT '${ROOT}': an absolute path of letters, digits, '.', '_', '-' and '/', not ending in '/'"
  case "/${ROOT}/" in
    */../* | */./*) fail 2 "invalid MODULUS_ROOT '${ROOT}': no '.' or '..' components" ;;
  esac
  [[ "${ROOT}" != "/" ]] || fail 2 "MODULUS_ROOT may not be /"
  case "${BACKEND}" in
    loopfile) ;;
    lvm-thin)
      [[ "${VG}" =~ ^[A-Za-z0-9_.+-]+$ ]] || fail 2 "lvm-thin needs MODULUS_LVM_VG (a volume group name), got '${VG}'"
      [[ "${POOL}" =~ ^[A-Za-z0-9_.+-]+$ ]] || fail 2 "lvm-thin needs MODULUS_LVM_POOL (a thin pool name), got '${POOL}'"
      ;;
    *) fail 2 "unknown MODULUS_BACKEND '${BACKEND}': use loopfile or lvm-thin" ;;
  esac
}

validate_size() {
  SIZE_MIB="${MODULUS_SIZE_MIB:-2048}"
  [[ "${SIZE_MIB}" =~ ^[1-9][0-9]{0,8}$ ]] || fail 2 "invalid MODULUS_SIZE_MIB '${SIZE_MIB}': a whole number of MiB"
  ((SIZE_MIB >= MIN_SIZE_MIB)) || fail 2 "MODULUS_SIZE_MIB ${SIZE_MIB} is below the minimum of ${MIN_SIZE_MIB} MiB"
  ((SIZE_MIB <= MAX_SIZE_MIB)) || fail 2 "MODULUS_SIZE_MIB ${SIZE_MIB} is above the maximum of ${MAX_SIZE_MIB} MiB"
}

image_file() { printf '%s/volume.img' "${ROOT}"; }
mount_dir() { printf '%s/mnt' "${ROOT}"; }
lv_name() { printf 'modulus-%s' "${APP}"; }
lv_device() { printf '/dev/%s/%s' "${VG}" "$(lv_name)"; }

# ---------------------------------------------------------------------------------------------------------
# Probes (never printed in dry-run mode: they change nothing)

DRY_CREATED=""
dry_size() {
  if [[ -n "${DRY_CREATED}" ]]; then
    printf '%s' "${SIZE_MIB}"
  else
    printf '%s' "${MODULUS_DRY_RUN_SIZE_MIB:-0}"
  fi
}

volume_exists() {
  if dry_run; then
    ((${MODULUS_DRY_RUN_SIZE_MIB:-0} > 0))
    return
  fi
  case "${BACKEND}" in
    loopfile) [[ -f "$(image_file)" ]] ;;
    lvm-thin) lvs "${VG}/$(lv_name)" >/dev/null 2>&1 ;;
  esac
}

# Current size in MiB (rounded down).
current_size_mib() {
  if dry_run; then
    dry_size
    return
  fi
  local bytes
  case "${BACKEND}" in
    loopfile) bytes=$(stat -c %s -- "$(image_file)") ;;
    lvm-thin) bytes=$(lvs --noheadings --nosuffix --units b -o lv_size "${VG}/$(lv_name)" | tr -d '[:space:]') ;;
  esac
  printf '%s' $((bytes / 1048576))
}

is_mounted() {
  if dry_run; then
    ((${MODULUS_DRY_RUN_SIZE_MIB:-0} > 0))
    return
  fi
  mountpoint -q -- "$(mount_dir)"
}

# The block device the mount point is mounted from.
mounted_device() {
  if dry_run; then
    case "${BACKEND}" in
      loopfile) printf '%s' "${MODULUS_DRY_RUN_LOOP_DEVICE:-/dev/loop0}" ;;
      lvm-thin) lv_device ;;
    esac
    return
  fi
  findmnt -n -o SOURCE --mountpoint "$(mount_dir)"
}

# Take the volume's lock (serialises the provisioners of one volume, which Terraform may run in parallel).
lock() {
  dry_run && return 0
  [[ -d "${ROOT}" ]] || fail 1 "volume folder ${ROOT} does not exist (run create first)"
  exec 9>"${ROOT}/.lock"
  flock 9
}

require_mounted() {
  is_mounted || fail 1 "volume of app '${APP}' is not mounted at $(mount_dir) (run create first)"
}

# Make sure PATH (inside the mounted volume) is a real directory owned by mop: the app can write to the
# volume, so it could have replaced a layout folder with a symlink pointing anywhere on the host.
ensure_real_dir() {
  local path=$1 mode=$2
  if ! dry_run && [[ -L "${path}" || (-e "${path}" && ! -d "${path}") ]]; then
    log "replacing non-directory ${path}"
    rm -f -- "${path}"
  fi
  run install -d -o "${MOP_UID}" -g "${MOP_GID}" -m "${mode}" -- "${path}"
}

config_missing() {
  if dry_run; then
    ((${MODULUS_DRY_RUN_SIZE_MIB:-0} == 0))
    return
  fi
  [[ ! -e "$1" && ! -L "$1" ]]
}

layout() {
  local mnt dir mode
  mnt=$(mount_dir)
  run chown "${MOP_UID}:${MOP_GID}" -- "${mnt}"
  run chmod 0750 -- "${mnt}"
  for dir in "${LAYOUT_DIRS[@]}"; do
    mode=0750
    if [[ " ${PRIVATE_DIRS[*]} " == *" ${dir} "* ]]; then
      mode=0700
    fi
    ensure_real_dir "${mnt}/${dir}" "${mode}"
  done
  # An empty supervisor.conf until write-config runs, so the layout is complete right after create.
  if config_missing "${mnt}/supervisor.conf"; then
    run install -o "${MOP_UID}" -g "${MOP_GID}" -m 0600 /dev/null "${mnt}/supervisor.conf"
  fi
  # The run image's require-volume starts the app only when this file is there: it exists on the mounted
  # file system alone, never in the bare mount point. Made on every create, so existing volumes get it too.
  # install replaces a file or symlink the app may have put in its place, not a directory.
  if ! dry_run && [[ -d "${mnt}/.modulus-volume" && ! -L "${mnt}/.modulus-volume" ]]; then
    log "replacing the directory ${mnt}/.modulus-volume"
    rm -rf -- "${mnt}/.modulus-volume"
  fi
  run install -o 0 -g 0 -m 0444 /dev/null "${mnt}/.modulus-volume"
}

# ---------------------------------------------------------------------------------------------------------
# Backends

make_volume() {
  DRY_CREATED=1
  case "${BACKEND}" in
    loopfile)
      local img tmp
      img=$(image_file)
      tmp="${img}.new"
      # Built under a temporary name and renamed, so an interrupted create never leaves a half-made image
      # that a later create would mistake for an existing volume.
      run rm -f -- "${tmp}"
      run truncate -s "${SIZE_MIB}M" -- "${tmp}"
      run chmod 0600 -- "${tmp}"
      run mkfs.ext4 -q -m 0 -E "root_owner=${MOP_UID}:${MOP_GID}" -- "${tmp}"
      run mv -- "${tmp}" "${img}"
      ;;
    lvm-thin)
      run lvcreate --yes --virtualsize "${SIZE_MIB}m" --thin "${VG}/${POOL}" --name "$(lv_name)"
      run mkfs.ext4 -q -m 0 -E "root_owner=${MOP_UID}:${MOP_GID}" -- "$(lv_device)"
      ;;
  esac
}

mount_volume() {
  local mnt
  mnt=$(mount_dir)
  # While nothing is mounted the mount point is root's and closed (0000): a container started against an
  # unmounted volume (e.g. after a reboot) fails instead of writing to the host's disk without a limit.
  run install -d -o 0 -g 0 -m 0000 -- "${mnt}"
  case "${BACKEND}" in
    loopfile) run mount -o loop,nodev,nosuid -- "$(image_file)" "${mnt}" ;;
    lvm-thin) run mount -o nodev,nosuid -- "$(lv_device)" "${mnt}" ;;
  esac
}

# Size of the ext4 file system in MiB (from its superblock).
fs_size_mib() {
  if dry_run; then
    dry_size
    return
  fi
  local device=$1 blocks block_size
  blocks=$(dumpe2fs -h -- "${device}" 2>/dev/null | sed -n 's/^Block count:[[:space:]]*//p')
  block_size=$(dumpe2fs -h -- "${device}" 2>/dev/null | sed -n 's/^Block size:[[:space:]]*//p')
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

# Offline resize, for kernels that refuse online resizing (EXT4_IOC_RESIZE_FS needs CAP_SYS_RESOURCE, which
# some container sandboxes drop): unmount, check, resize, mount again. Only when nothing else has the file
# system mounted: resizing a file system that is live elsewhere would corrupt it.
offline_resize() {
  local mnt target device
  mnt=$(mount_dir)
  device=$(mounted_device)
  umount -- "${mnt}" ||
    fail 3 "cannot unmount ${mnt} for an offline resize (in use); stop the app and run resize again. No data was changed."
  case "${BACKEND}" in
    loopfile) target=$(image_file) ;;
    lvm-thin) target=$(lv_device) ;;
  esac
  if still_in_use; then
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
      run truncate -s "${SIZE_MIB}M" -- "$(image_file)"
      run losetup --set-capacity "$(mounted_device)"
      ;;
    lvm-thin)
      run lvextend --size "${SIZE_MIB}m" "${VG}/$(lv_name)"
      ;;
  esac
}

grow_file_system() {
  local device
  device=$(mounted_device)
  if run resize2fs -- "${device}"; then
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

# ---------------------------------------------------------------------------------------------------------
# Boot records and the boot unit

# write_atomically FILE MODE: stdin to FILE through a temporary file and a rename.
write_atomically() {
  local file=$1 mode=$2
  cat >"${file}.new"
  chmod "${mode}" -- "${file}.new"
  mv -f -- "${file}.new" "${file}"
}

boot_unit() {
  cat <<EOF
# Written by modulus-volume.sh: mounts the Modulus app volumes and sets their process limits before the
# Docker engine starts the app containers.
[Unit]
Description=Modulus app volumes and process limits
DefaultDependencies=no
After=local-fs.target lvm2-activation.service lvm2-monitor.service
Before=docker.service containerd.service

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=MODULUS_REGISTRY=${REGISTRY%/volumes}
ExecStart=${BOOT_DIR}/modulus-volume.sh boot

[Install]
WantedBy=docker.service
EOF
}

register_volume() {
  if dry_run; then
    printf '# register %q for boot in %q\n' "${APP}" "${REGISTRY}/${APP}.env"
    return 0
  fi
  mkdir -p -- "${REGISTRY}" "${BOOT_DIR}" "$(dirname "${BOOT_UNIT}")/docker.service.wants"
  printf 'MODULUS_APP=%s\nMODULUS_BACKEND=%s\nMODULUS_ROOT=%s\nMODULUS_LVM_VG=%s\nMODULUS_LVM_POOL=%s\n' \
    "${APP}" "${BACKEND}" "${ROOT}" "${VG}" "${POOL}" | write_atomically "${REGISTRY}/${APP}.env" 0644
  # The newest scripts serve every volume of the host at boot.
  local script
  for script in modulus-volume.sh modulus-process-limit.sh messages.sh limits.env; do
    write_atomically "${BOOT_DIR}/${script}" 0755 <"${HERE}/${script}"
  done
  boot_unit | write_atomically "${BOOT_UNIT}" 0644
  ln -sfn -- "${BOOT_UNIT}" "$(dirname "${BOOT_UNIT}")/docker.service.wants/$(basename "${BOOT_UNIT}")"
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    systemctl daemon-reload
  fi
}

unregister_volume() {
  run rm -f -- "${REGISTRY}/${APP}.env"
  dry_run && return 0
  if [[ -z "$(find "${REGISTRY}" -maxdepth 1 -name '*.env' -print -quit 2>/dev/null)" ]]; then
    rm -f -- "$(dirname "${BOOT_UNIT}")/docker.service.wants/$(basename "${BOOT_UNIT}")" "${BOOT_UNIT}"
    log "no volume left on this host: removed the boot unit"
  fi
}

# ---------------------------------------------------------------------------------------------------------
# Commands

cmd_create() {
  validate_size
  run install -d -o 0 -g 0 -m 0700 -- "${ROOT}"
  lock
  if volume_exists; then
    log "volume of app '${APP}' exists; keeping its data"
  else
    log "creating a ${SIZE_MIB} MiB ${BACKEND} volume for app '${APP}'"
    make_volume
  fi
  if ! is_mounted; then
    mount_volume
  fi
  layout
  ensure_size
  register_volume
}

cmd_mount() {
  lock
  volume_exists || fail 1 "volume of app '${APP}' does not exist in ${ROOT} (create it first)"
  if is_mounted; then
    log "volume of app '${APP}' is mounted at $(mount_dir)"
  else
    if [[ "${BACKEND}" == lvm-thin ]]; then
      run lvchange --activate y "${VG}/$(lv_name)"
    fi
    mount_volume
    log "mounted the volume of app '${APP}' at $(mount_dir)"
  fi
  layout
}

# A boot record's value of NAME (records hold NAME=value lines written by register_volume).
record_value() {
  sed -n "s/^$2=//p" "$1" | head -n 1
}

cmd_boot() {
  local record failed=0
  for record in "${REGISTRY}"/*.env; do
    [[ -f "${record}" ]] || continue
    if ! env MODULUS_APP="$(record_value "${record}" MODULUS_APP)" \
      MODULUS_BACKEND="$(record_value "${record}" MODULUS_BACKEND)" \
      MODULUS_ROOT="$(record_value "${record}" MODULUS_ROOT)" \
      MODULUS_LVM_VG="$(record_value "${record}" MODULUS_LVM_VG)" \
      MODULUS_LVM_POOL="$(record_value "${record}" MODULUS_LVM_POOL)" \
      bash "${HERE}/modulus-volume.sh" mount; then
      log "boot: could not mount the volume recorded in ${record}"
      failed=1
    fi
  done
  bash "${HERE}/modulus-process-limit.sh" boot || failed=1
  return "${failed}"
}

# The string value of KEY in a flat JSON object (Terraform's external data source query).
query_value() {
  local pattern="\"$2\"[[:space:]]*:[[:space:]]*\"([^\"\\\\]*)\""
  if [[ "$1" =~ ${pattern} ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}

read_query() {
  local query
  query=$(cat)
  APP=$(query_value "${query}" app)
  MODULUS_ROOT=$(query_value "${query}" root)
  BACKEND=$(query_value "${query}" backend)
  VG=$(query_value "${query}" lvm_volume_group)
  POOL=$(query_value "${query}" lvm_thin_pool)
}

cmd_probe() {
  local exists=false mounted=false
  volume_exists && exists=true
  is_mounted && mounted=true
  printf '{"exists":"%s","mounted":"%s"}\n' "${exists}" "${mounted}"
}

cmd_resize() {
  validate_size
  lock
  volume_exists || fail 1 "volume of app '${APP}' does not exist (run create first)"
  require_mounted
  ensure_size
}

cmd_set_policy() {
  local policy="${MODULUS_REMOVAL_POLICY:-}"
  case "${policy}" in
    retain | destroy) ;;
    *) fail 2 "invalid MODULUS_REMOVAL_POLICY '${policy}': use retain or destroy" ;;
  esac
  lock
  if dry_run; then
    printf '# write %q to %q\n' "${policy}" "${ROOT}/removal-policy"
    return 0
  fi
  printf '%s\n' "${policy}" >"${ROOT}/removal-policy.new"
  mv -f -- "${ROOT}/removal-policy.new" "${ROOT}/removal-policy"
  log "removal policy of app '${APP}': ${policy}"
}

recorded_policy() {
  local policy=retain
  if ! dry_run && [[ -f "${ROOT}/removal-policy" ]]; then
    policy=$(<"${ROOT}/removal-policy")
  elif dry_run && [[ -n "${MODULUS_REMOVAL_POLICY:-}" ]]; then
    policy=${MODULUS_REMOVAL_POLICY}
  fi
  case "${policy}" in
    retain | destroy) printf '%s' "${policy}" ;;
    *) printf 'retain' ;;
  esac
}

# ---------------------------------------------------------------------------------------------------------
# supervisor.conf: [program:app] and Navi's [eventlistener:navi] as images/run-base/README.md specifies.
#
# Supervisor 4 reads `environment=` with %-expansion first (so % is written %%), then a non-POSIX shlex
# split: no backslash escapes at all, a quoted value ends at the next quote of its kind, and quote characters
# are stripped from both ends of each value; before that, its ini parser cuts a line at whitespace followed
# by ';' or '#' (inline comment) and joins indented lines, and it replaces the text '%(here)s' anywhere. So each value is written in double quotes (single
# quotes when it contains a double quote), and values it cannot read back unchanged are refused.

value_problem() {
  local value=$1
  if [[ "${value}" == *$'\n'* || "${value}" == *$'\r'* ]]; then
    printf 'contains a line break'
  elif [[ "${value}" =~ [[:space:]][\;#] ]]; then
    printf "contains whitespace followed by ';' or '#' (supervisor would cut it there as a comment)"
  elif [[ "${value}" == *'%(here)s'* ]]; then
    printf "contains '%%(here)s' (supervisor substitutes it even when escaped)"
  elif [[ "${value}" == *\"* && "${value}" == *\'* ]]; then
    printf 'contains both single and double quotes'
  elif [[ "${value}" =~ ^[\"\'] || "${value}" =~ [\"\']$ ]]; then
    printf 'starts or ends with a quote character (supervisor strips those)'
  fi
}

quote_value() {
  local value=$1 escaped
  escaped=${value//%/%%}
  if [[ "${value}" == *\"* ]]; then
    printf "'%s'" "${escaped}"
  else
    printf '"%s"' "${escaped}"
  fi
}

render_config() {
  local -A kinds=()
  local names=() name var value problem pairs=() environment=""
  read -r -a names <<<"${MODULUS_ENV_NAMES:-}"
  for name in "${names[@]}"; do
    kinds[${name}]=ENV
  done
  read -r -a names <<<"${MODULUS_SECRET_NAMES:-}"
  for name in "${names[@]}"; do
    [[ -z "${kinds[${name}]+set}" ]] || fail 2 "environment variable ${name} is given both as a plain and as a secret value"
    kinds[${name}]=SECRET
  done
  if ((${#kinds[@]} > 0)); then
    mapfile -t names < <(printf '%s\n' "${!kinds[@]}" | LC_ALL=C sort)
  else
    names=()
  fi
  for name in "${names[@]}"; do
    [[ "${name}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || fail 2 "invalid environment variable name '${name}'"
    var="MODULUS_${kinds[${name}]}_${name}"
    [[ -n "${!var+set}" ]] || fail 2 "${var} is not set"
    value=${!var}
    problem=$(value_problem "${value}")
    # Never print the value itself: it may be a secret.
    [[ -z "${problem}" ]] || fail 2 "the value of environment variable ${name} ${problem}"
    pairs+=("${name}=$(quote_value "${value}")")
  done
  if ((${#pairs[@]} > 0)); then
    environment=$(IFS=,; printf 'environment=%s' "${pairs[*]}")
  fi
  printf '%s\n' \
    "; /mnt/supervisor.conf for app '${APP}', generated by modulus-images (AppVolume) on every deploy." \
    "; Included by the run image's /etc/supervisor/supervisord.conf; edits here are overwritten." \
    "" \
    "[program:app]" \
    "command=start"
  if [[ -n "${environment}" ]]; then
    printf '%s\n' "${environment}"
  fi
  printf '%s\n' \
    "stdout_logfile=/mnt/log/app.log" \
    "stdout_logfile_maxbytes=10MB" \
    "stdout_logfile_backups=5" \
    "redirect_stderr=true" \
    "autostart=true" \
    "autorestart=true" \
    "startsecs=10" \
    "startretries=5" \
    "stopasgroup=true" \
    "killasgroup=true" \
    "" \
    "[eventlistener:navi]" \
    "command=navi --output /mnt/notifications" \
    "events=PROCESS_STATE" \
    "buffer_size=100" \
    "autostart=true" \
    "autorestart=true" \
    "stdout_logfile=NONE" \
    "stderr_logfile=/mnt/log/navi.log" \
    "stderr_logfile_maxbytes=1MB" \
    "stderr_logfile_backups=2"
}

cmd_render_config() {
  render_config
}

cmd_write_config() {
  local conf mnt tmp
  # Rendered (and validated) before anything is touched.
  conf=$(render_config)
  lock
  require_mounted
  mnt=$(mount_dir)
  if dry_run; then
    printf '# write supervisor.conf (%d bytes) to %s, owner %s:%s, mode 0600\n' \
      "$((${#conf} + 1))" "${mnt}/supervisor.conf" "${MOP_UID}" "${MOP_GID}"
    return 0
  fi
  tmp=$(mktemp -- "${mnt}/.supervisor.conf.XXXXXX")
  chmod 0600 -- "${tmp}"
  printf '%s\n' "${conf}" >"${tmp}"
  chown "${MOP_UID}:${MOP_GID}" -- "${tmp}"
  mv -f -- "${tmp}" "${mnt}/supervisor.conf"
  log "wrote supervisor.conf for app '${APP}'"
}

cmd_prepare_build() {
  local source="${MODULUS_SOURCE:-}"
  [[ -n "${source}" ]] || fail 2 "MODULUS_SOURCE is required"
  dry_run || [[ -d "${source}" ]] || fail 2 "MODULUS_SOURCE '${source}' is not a folder"
  lock
  require_mounted
  local mnt
  mnt=$(mount_dir)
  ensure_real_dir "${mnt}/input" 0750
  ensure_real_dir "${mnt}/output" 0750
  run find "${mnt}/input" "${mnt}/output" -mindepth 1 -delete
  run cp -R --no-dereference --preserve=mode,timestamps,links -- "${source}/." "${mnt}/input/"
  run chown -R -h "${MOP_UID}:${MOP_GID}" -- "${mnt}/input"
  run chmod -R o-rwx -- "${mnt}/input"
  log "copied the source of app '${APP}' into input/"
}

# supervisor_call METHOD [STRING_ARG]: one XML-RPC call to the app's supervisord through its control socket
# (inside the volume, so the host reaches it without the container's help). Prints the response; fails when
# supervisord does not answer.
supervisor_call() {
  local method=$1 params=""
  if (($# > 1)); then
    params="<param><value><string>$2</string></value></param><param><value><boolean>1</boolean></value></param>"
  fi
  printf '<?xml version="1.0"?><methodCall><methodName>%s</methodName><params>%s</params></methodCall>' "${method}" "${params}" |
    curl --silent --show-error --max-time 300 --unix-socket "$(mount_dir)/home/supervisor.sock" \
      -H 'Content-Type: text/xml' --data-binary @- http://supervisord/RPC2
}

# The faultString of an XML-RPC response, or nothing when the call succeeded.
supervisor_fault() {
  [[ "$1" == *"<fault>"* ]] || return 0
  sed -n 's:.*<name>faultString</name><value><string>\([^<]*\)</string>.*:\1:p' <<<"$1"
}

# Restart the app in its running container (supervisord's stopProcess + startProcess, which waits until the
# app counts as started). Nothing to do before the run container exists: it starts whatever app/ holds.
# Fails with supervisord's reason when the app does not start.
restart_app() {
  if dry_run; then
    printf '# restart program app through %q\n' "$(mount_dir)/home/supervisor.sock"
    return 0
  fi
  if [[ ! -S "$(mount_dir)/home/supervisor.sock" ]] || ! supervisor_call supervisor.getState >/dev/null 2>&1; then
    log "no supervisord answers for app '${APP}' (its run container is not running yet): nothing to restart"
    return 0
  fi
  local response fault
  response=$(supervisor_call supervisor.stopProcess app) || fail 1 "supervisord of app '${APP}' stopped answering"
  fault=$(supervisor_fault "${response}")
  [[ -z "${fault}" || "${fault}" == NOT_RUNNING* ]] || fail 1 "cannot stop app '${APP}': ${fault}"
  response=$(supervisor_call supervisor.startProcess app) || fail 1 "supervisord of app '${APP}' stopped answering"
  fault=$(supervisor_fault "${response}")
  if [[ -n "${fault}" ]]; then
    log "app '${APP}' did not start: ${fault}"
    return 1
  fi
}

cmd_publish() {
  lock
  require_mounted
  local mnt
  mnt=$(mount_dir)
  ensure_real_dir "${mnt}/output" 0750
  ensure_real_dir "${mnt}/app" 0750
  if ! dry_run && [[ -e "${mnt}/app.previous" || -L "${mnt}/app.previous" ]]; then
    rm -rf -- "${mnt}/app.previous"
  fi
  run mv -T -- "${mnt}/app" "${mnt}/app.previous"
  run mv -T -- "${mnt}/output" "${mnt}/app"
  run chmod 0750 -- "${mnt}/app"
  ensure_real_dir "${mnt}/output" 0750
  if ! restart_app; then
    # The old build goes back and serves again; the new one stays in output/ for a look.
    run rm -rf -- "${mnt}/output"
    run mv -T -- "${mnt}/app" "${mnt}/output"
    run mv -T -- "${mnt}/app.previous" "${mnt}/app"
    restart_app || log "the previous build of app '${APP}' did not start again either"
    fail 1 "the new build of app '${APP}' did not start (see above and /mnt/log/app.log); the previous build is back in app/, the new one in output/"
  fi
  run rm -rf -- "${mnt}/app.previous"
  log "published the build output of app '${APP}' to app/"
}

cmd_destroy() {
  local policy
  policy=$(recorded_policy)
  if [[ "${policy}" != "destroy" ]]; then
    log "removal policy is '${policy}': keeping the volume of app '${APP}' (data and mount unchanged)"
    return 0
  fi
  if ! dry_run && [[ ! -d "${ROOT}" ]]; then
    log "volume folder ${ROOT} is already gone"
    return 0
  fi
  lock
  local mnt
  mnt=$(mount_dir)
  if is_mounted; then
    if ! run umount -- "${mnt}"; then
      fail 3 "cannot unmount ${mnt} (still in use?); nothing was deleted"
    fi
  fi
  case "${BACKEND}" in
    loopfile)
      local img device
      img=$(image_file)
      if ! dry_run; then
        # mount -o loop sets autoclear, so unmounting detaches the loop device; detach leftovers anyway.
        while read -r device; do
          [[ -n "${device}" ]] && losetup -d "${device}"
        done < <(losetup -j "${img}" -O NAME -n 2>/dev/null || true)
      fi
      run rm -f -- "${img}" "${img}.new"
      ;;
    lvm-thin)
      if volume_exists; then
        run lvremove --yes "${VG}/$(lv_name)"
      fi
      ;;
  esac
  if dry_run || [[ -d "${mnt}" ]]; then
    run rmdir -- "${mnt}"
  fi
  run rm -f -- "${ROOT}/removal-policy" "${ROOT}/.lock"
  unregister_volume
  if dry_run; then
    run rmdir -- "${ROOT}"
  elif ! rmdir -- "${ROOT}" 2>/dev/null; then
    log "left ${ROOT} in place: it holds files this script did not create"
  fi
  log "removed the volume of app '${APP}'"
}

cmd_status() {
  local exists=false mounted=false size=0
  if volume_exists; then
    exists=true
    size=$(current_size_mib)
  fi
  if is_mounted; then
    mounted=true
  fi
  printf 'app=%s\nbackend=%s\nexists=%s\nmounted=%s\nsize_mib=%s\npolicy=%s\nmount=%s\n' \
    "${APP}" "${BACKEND}" "${exists}" "${mounted}" "${size}" "$(recorded_policy)" "$(mount_dir)"
}

main() {
  local command="${1:-}"
  case "${command}" in
    create | resize | set-policy | write-config | render-config | prepare-build | publish | destroy | status | mount) ;;
    boot)
      cmd_boot
      return
      ;;
    probe) read_query ;;
    -h | --help | help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      return 0
      ;;
    *) fail 2 "unknown command '${command}'; use create, resize, set-policy, write-config, render-config, prepare-build, publish, destroy, status, mount, boot or probe" ;;
  esac
  validate_common
  if ! dry_run && [[ "${command}" != "status" && "${command}" != "render-config" && "${command}" != "probe" && "$(id -u)" != "0" ]]; then
    fail 1 "${command} must run as root (mount, mkfs, chown)"
  fi
  case "${command}" in
    create) cmd_create ;;
    resize) cmd_resize ;;
    set-policy) cmd_set_policy ;;
    write-config) cmd_write_config ;;
    render-config) cmd_render_config ;;
    prepare-build) cmd_prepare_build ;;
    publish) cmd_publish ;;
    destroy) cmd_destroy ;;
    status) cmd_status ;;
    mount) cmd_mount ;;
    probe) cmd_probe ;;
  esac
}

main "$@"
