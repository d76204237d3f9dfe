#!/usr/bin/env bash
# modulus-volume.sh: create, grow, configure and remove the size-limited volume of one Modulus app.
#
# Called by the AppVolume and BuildJob constructs' null_resource provisioners (lib/app-volume.ts), and usable by
# hand.
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
#   prepare-build  empty input/ and output/, unpack the tar archive MODULUS_SOURCE into input/, and write
#                  the build secrets (MODULUS_BUILD_SECRET_*) for the build container to read once and the
#                  build's key (MODULUS_BUILD_KEY), by which it reuses a kept release of the same inputs.
#   export-release write release MODULUS_RELEASE (staged, or in output/) as a tar archive to
#                  MODULUS_RELEASE_ARCHIVE on this machine, at most MODULUS_RELEASE_MAX_MIB: one build delivered
#                  to the other instances of a replicated app.
#   receive        unpack MODULUS_RELEASE_ARCHIVE, release MODULUS_RELEASE that another instance of the app built,
#                  and stage it (.releases/<id>) without publishing it.
#   publish        stage the build's output/ as release MODULUS_RELEASE (.releases/<id>) (with
#                  MODULUS_RELEASE_RECEIVED=true: the one `receive` staged), point app at it
#                  in one rename and restart the app in its run container (docker exec), started once it
#                  answers as await-ready asks (with MODULUS_READY_PORTS; else after supervisord's startsecs);
#                  when the new build does not start, point app back at the release before and fail.
#                  Re-runnable at any point.
#   hand-over      before a new run container of an app behind a router (host networking) is created beside the
#                  serving one: the serving one gives up its name MODULUS_RUN_CONTAINER and the new one starts
#                  the idle slot (handover.sh).
#   take-over      after it: once the new container's slot passes its health check, it takes the requests, the
#                  old slot drains and the old container stops.
#   await-ready    after a run container MODULUS_RUN_CONTAINER is created: until its app answers HTTP on one of
#                  MODULUS_READY_PORTS at MODULUS_HEALTH_PATH, asked from inside the container every 0.1 s; fails
#                  with the app's last log lines when supervisord gives it up, or after
#                  MODULUS_READY_TIMEOUT_SECONDS (ready.sh).
#   destroy        remove the app's process limit, then with the recorded policy `destroy`: unmount and
#                  delete the volume; with `retain` (the default, also when no policy was recorded): keep the
#                  volume as it is. Superseded (another MODULUS_RESOURCE_ID recorded by a later create):
#                  change nothing.
#   status         print key=value lines: backend, exists, mounted, size_mib, policy, mount.
#   mount          mount an existing volume that is not mounted (after a reboot), renew its layout (with
#                  MODULUS_IMAGE), restore the app's recorded process limit, remove the run container a
#                  MODULUS_HEAL_TOKEN of the probe names (left outside Terraform's state: orphan.sh), record
#                  MODULUS_HEAL_TOKEN as the volume's health for the probe and (with MODULUS_IMAGE) renew its
#                  boot record and the boot unit's scripts; never creates or resizes.
#   apply-settings mount as `mount` does, then grow the volume to MODULUS_SIZE_MIB (online; refuses to shrink),
#                  record MODULUS_REMOVAL_POLICY and set the app's process limit to MODULUS_PIDS_MAX
#                  (modulus-process-limit.sh apply; without it, restore the recorded one): the AppVolume's
#                  Mount step, so that the volume's settings cost one step, not one each.
#   boot           mount every volume this host's create registered, then re-apply the process limits
#                  (modulus-process-limit.sh boot): what the boot unit runs before the Docker engine starts.
#   probe          Terraform's external data source protocol: read {"app", "backend", "root",
#                  "lvm_volume_group", "lvm_thin_pool", "run_container", "docker_host", "state_check"} as
#                  JSON on stdin, print {"exists", "mounted", "health", "run_container"}: health is the token
#                  the last mount recorded while the volume is mounted and its process limit in force, a new
#                  random "heal-..." on every call otherwise, and "heal-orphan-<id>-..." when (state_check
#                  "terraform") the app's run container <id> is not in the state of the stack Terraform plans
#                  in; run_container is that container's id (for remote-probe.sh to check). Read-only.
#
# Reboots: create registers the volume in $MODULUS_REGISTRY/volumes/<app>.env and installs the boot unit
# ($MODULUS_SYSTEMD_DIR/modulus-volumes.service, wanted by and ordered before docker.service, running a copy
# of these scripts from $MODULUS_BOOT_DIR), so volumes and process limits come back before the engine
# starts any container, without Terraform. destroy with the policy `destroy` unregisters the volume, and
# removes the unit with the last one.
#
# Files: this entry point (input, lock, the commands' order of steps) sources messages.sh (log, fail),
# limits.env (size limits), rules.env (names and paths), device.sh (the block device: loopfile or lvm-thin), container.sh (running
# in-volume.sh as mop in a container that sees only the volume: root never touches a path inside it),
# layout.sh (the folders inside the volume), config.sh (supervisor.conf), staging.sh (prepare-build, publish),
# handover.sh (a run container replaced beside the serving one), ready.sh (a new run container's app answers), query.sh (the probe's query, shared with remote-probe.sh), orphan.sh (a run container outside the state) and boot.sh (boot records, the boot unit, boot, probe).
#
# Environment:
#   MODULUS_APP              app name (required): APP_NAME_PATTERN of rules.env
#   MODULUS_BACKEND          loopfile (default) | lvm-thin
#   MODULUS_ROOT             host folder of the volume (default /var/lib/modulus/volumes/$MODULUS_APP):
#                              loopfile: $MODULUS_ROOT/volume.img (sparse file holding an ext4 file system)
#                              both:     $MODULUS_ROOT/mnt (mount point; this is what containers mount)
#                                        $MODULUS_ROOT/removal-policy, $MODULUS_ROOT/.lock
#   MODULUS_SIZE_MIB         size in MiB (default 2048) for create/resize/apply-settings, within the limits in
#                            limits.env
#   MODULUS_LVM_VG           lvm-thin: volume group (required for lvm-thin)
#   MODULUS_LVM_POOL         lvm-thin: thin pool in that group (required for lvm-thin)
#   MODULUS_REMOVAL_POLICY   set-policy, apply-settings: retain | destroy
#   MODULUS_PIDS_MAX         apply-settings: the app's process limit (as modulus-process-limit.sh apply)
#   MODULUS_ENV_NAMES        write-config: space-separated names of the app's environment variables; the
#                            value of NAME is in MODULUS_ENV_NAME
#   MODULUS_SECRET_NAMES     the same for secret values, in MODULUS_SECRET_NAME (Terraform passes these as
#                            sensitive values, which also silences this script's output)
#   MODULUS_IMAGE            create, mount, apply-settings, write-config, prepare-build, publish: the image
#                            the in-volume steps run in (bash, coreutils, tar; python3 for converting a pre-0.3
#                            app/): the run image;
#                            without it, create and mount leave the layout inside the volume to a later mount
#   MODULUS_DOCKER_HOST      the engine those containers run on (default: the docker CLI's own default)
#   MODULUS_SOURCE           prepare-build: the source as a tar archive, unpacked into input/
#   MODULUS_BUILD_KEY        prepare-build: SHA-256 of the build's inputs (source, image, command,
#                            environment, secrets' hashes), 64 hexadecimal digits
#   MODULUS_BUILD_SECRET_NAMES  prepare-build: names of the build's secret variables, each value in
#                            MODULUS_BUILD_SECRET_<NAME> (sensitive)
#   MODULUS_RELEASE          publish, export-release, receive: the release id (the build container's id)
#   MODULUS_RELEASE_ARCHIVE  export-release, receive: the release's tar archive
#   MODULUS_RELEASE_RECEIVED publish: true when `receive` staged the release (another instance built it)
#   MODULUS_RELEASE_MAX_MIB  export-release: the largest archive accepted
#   MODULUS_RUN_CONTAINER    publish, mount, apply-settings, hand-over, take-over, await-ready: the name of the
#                            app's run container
#   MODULUS_READY_PORTS      await-ready, publish (optional there): the app's port (and its second slot's), asked
#                            with MODULUS_HEALTH_PATH, MODULUS_HEALTH_TIMEOUT_SECONDS (each try) and
#                            MODULUS_READY_TIMEOUT_SECONDS (in all) (ready.sh)
#   MODULUS_SLOT_PORTS       write-config, publish: an app behind a router: the ports of its blue and green slots
#                            ([program:app-blue], [program:app-green]); publish then starts a release in the idle
#                            slot and switches when it passes its health check (staging.sh). With it, publish
#                            needs MODULUS_HEALTH_PATH, MODULUS_HEALTH_STATUS, MODULUS_HEALTH_INTERVAL_MS,
#                            MODULUS_HEALTH_TIMEOUT_MS, MODULUS_START_TIMEOUT_SECONDS, MODULUS_DRAIN_SECONDS,
#                            MODULUS_ROUTER_CONTAINER and MODULUS_ROUTER_BACKEND (the app's backend in the router).
#                            The serving slot is recorded in $MODULUS_ROOT/served-slot. hand-over and
#                            take-over need the same variables.
#   MODULUS_HEAL_TOKEN       mount, apply-settings: the health token to record (the probe's answer the Mount step
#                            was keyed on)
#   MODULUS_RESOURCE_ID      create: the id of the Terraform resource creating the volume, recorded in
#                            $MODULUS_ROOT/resource-id; destroy: when another id is recorded there, the volume
#                            was taken over by a newer resource (a create_before_destroy replacement, e.g. a
#                            rotated SSH key): keep it whatever the policy. Optional (by hand: leave it unset)
#   MODULUS_REGISTRY         folder of the boot records (default /etc/modulus; one per host: the boot unit
#                            reads the one the last create used)
#   MODULUS_BOOT_DIR         where create copies these scripts for the boot unit (default /usr/local/lib/modulus)
#   MODULUS_SYSTEMD_DIR      where create installs the boot unit (default /etc/systemd/system)
#
# Exit status: 0 ok, 1 failure, 2 usage or invalid input, 3 refused (shrink; or destroy of a busy mount).
set -euo pipefail

readonly MOP_UID=441
readonly MOP_GID=444
# MIN_SIZE_MIB and MAX_SIZE_MIB, shared with the AppVolume construct.
# shellcheck source-path=SCRIPTDIR source=limits.env
source "$(dirname "${BASH_SOURCE[0]}")/limits.env"
readonly MIN_SIZE_MIB MAX_SIZE_MIB
# APP_NAME_PATTERN, LVM_NAME_PATTERN, HOST_PATH_PATTERN and ENV_NAME_PATTERN, shared with the constructs.
# shellcheck source-path=SCRIPTDIR source=rules.env
source "$(dirname "${BASH_SOURCE[0]}")/rules.env"
readonly REGISTRY="${MODULUS_REGISTRY:-/etc/modulus}/volumes"
readonly BOOT_DIR="${MODULUS_BOOT_DIR:-/usr/local/lib/modulus}"
readonly SYSTEMD_DIR="${MODULUS_SYSTEMD_DIR:-/etc/systemd/system}"
readonly BOOT_UNIT="${SYSTEMD_DIR}/modulus-volumes.service"
# Every file the boot unit's copy needs: the two scripts and all they source.
readonly BOOT_FILES=(modulus-volume.sh modulus-process-limit.sh messages.sh limits.env rules.env roots.sh forbidden-roots device.sh container.sh in-volume.sh layout.sh config.sh staging.sh handover.sh ready.sh query.sh orphan.sh boot.sh)
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly PROGRAM=modulus-volume
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "${HERE}/messages.sh"
# shellcheck source-path=SCRIPTDIR source=roots.sh
source "${HERE}/roots.sh"
# shellcheck source-path=SCRIPTDIR source=device.sh
source "${HERE}/device.sh"
# shellcheck source-path=SCRIPTDIR source=container.sh
source "${HERE}/container.sh"
# shellcheck source-path=SCRIPTDIR source=layout.sh
source "${HERE}/layout.sh"
# shellcheck source-path=SCRIPTDIR source=config.sh
source "${HERE}/config.sh"
# shellcheck source-path=SCRIPTDIR source=staging.sh
source "${HERE}/staging.sh"
# shellcheck source-path=SCRIPTDIR source=handover.sh
source "${HERE}/handover.sh"
# shellcheck source-path=SCRIPTDIR source=ready.sh
source "${HERE}/ready.sh"
# shellcheck source-path=SCRIPTDIR source=query.sh
source "${HERE}/query.sh"
# shellcheck source-path=SCRIPTDIR source=orphan.sh
source "${HERE}/orphan.sh"
# shellcheck source-path=SCRIPTDIR source=boot.sh
source "${HERE}/boot.sh"

# ---------------------------------------------------------------------------------------------------------
# Input

APP="${MODULUS_APP:-}"
BACKEND="${MODULUS_BACKEND:-loopfile}"
ROOT=""
SIZE_MIB=""
VG="${MODULUS_LVM_VG:-}"
POOL="${MODULUS_LVM_POOL:-}"
IMAGE="${MODULUS_IMAGE:-}"
if [[ -n "${MODULUS_DOCKER_HOST:-}" ]]; then
  export DOCKER_HOST="${MODULUS_DOCKER_HOST}"
fi

validate_common() {
  [[ -n "${APP}" ]] || fail 2 "MODULUS_APP is required"
  [[ "${APP}" =~ ${APP_NAME_PATTERN} ]] ||
    fail 2 "invalid app name '${APP}': use a lowercase letter, then letters, digits or '-', ending in a letter or digit, at most 40 characters"
  ROOT="${MODULUS_ROOT:-/var/lib/modulus/volumes/${APP}}"
  check_root "${ROOT}"
  case "${BACKEND}" in
    loopfile) ;;
    lvm-thin)
      [[ "${VG}" =~ ${LVM_NAME_PATTERN} ]] || fail 2 "lvm-thin needs MODULUS_LVM_VG (a volume group name), got '${VG}'"
      [[ "${POOL}" =~ ${LVM_NAME_PATTERN} ]] || fail 2 "lvm-thin needs MODULUS_LVM_POOL (a thin pool name), got '${POOL}'"
      ;;
    *) fail 2 "unknown MODULUS_BACKEND '${BACKEND}': use loopfile or lvm-thin" ;;
  esac
  resource_id >/dev/null
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
# Lock and checks shared by the commands

# Take the volume's lock (serialises the provisioners of one volume, which Terraform may run in parallel).
lock() {
  [[ -d "${ROOT}" ]] || fail 1 "volume folder ${ROOT} does not exist (run create first)"
  exec 9>"${ROOT}/.lock"
  flock 9
}

require_mounted() {
  is_mounted || fail 1 "volume of app '${APP}' is not mounted at $(mount_dir) (run create first)"
}

# ---------------------------------------------------------------------------------------------------------
# Commands

cmd_create() {
  validate_size
  install -d -o 0 -g 0 -m 0700 -- "${ROOT}"
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
  record_resource_id
}

# Mounts the existing volume when it is not mounted (after a reboot), under the volume's lock.
mount_existing() {
  lock
  volume_exists || fail 1 "volume of app '${APP}' does not exist in ${ROOT} (create it first)"
  if is_mounted; then
    log "volume of app '${APP}' is mounted at $(mount_dir)"
  else
    if [[ "${BACKEND}" == lvm-thin ]]; then
      lvchange --activate y "${VG}/$(lv_name)"
    fi
    mount_volume
    log "mounted the volume of app '${APP}' at $(mount_dir)"
  fi
}

# The end of a heal: the orphaned run container removed, the health recorded, the boot copy renewed.
record_healed() {
  remove_orphan "${MODULUS_RUN_CONTAINER:-}" "${MODULUS_HEAL_TOKEN:-}"
  record_health
  # The Mount step runs again whenever these scripts change (not at boot, which has no image): the boot unit then
  # runs the new scripts too, even when no volume was created since an upgrade.
  [[ -z "${IMAGE}" ]] || register_volume
}

cmd_mount() {
  mount_existing
  layout
  bash "${HERE}/modulus-process-limit.sh" restore
  record_healed
}

cmd_apply_settings() {
  validate_size
  local policy
  policy=$(valid_policy)
  mount_existing
  layout
  ensure_size
  record_policy "${policy}"
  if [[ -n "${MODULUS_PIDS_MAX:-}" ]]; then
    bash "${HERE}/modulus-process-limit.sh" apply
  else
    bash "${HERE}/modulus-process-limit.sh" restore
  fi
  record_healed
}

cmd_resize() {
  validate_size
  lock
  volume_exists || fail 1 "volume of app '${APP}' does not exist (run create first)"
  require_mounted
  ensure_size
}

valid_policy() {
  local policy="${MODULUS_REMOVAL_POLICY:-}"
  case "${policy}" in
    retain | destroy) printf '%s' "${policy}" ;;
    *) fail 2 "invalid MODULUS_REMOVAL_POLICY '${policy}': use retain or destroy" ;;
  esac
}

record_policy() {
  printf '%s\n' "$1" >"${ROOT}/removal-policy.new"
  mv -f -- "${ROOT}/removal-policy.new" "${ROOT}/removal-policy"
  log "removal policy of app '${APP}': $1"
}

cmd_set_policy() {
  local policy
  policy=$(valid_policy)
  lock
  record_policy "${policy}"
}

# The Terraform resource that last created (or adopted) the volume: MODULUS_RESOURCE_ID, when given.
resource_id() {
  local id="${MODULUS_RESOURCE_ID:-}"
  [[ -z "${id}" || "${id}" =~ ^[A-Za-z0-9_.:-]{1,128}$ ]] ||
    fail 2 "invalid MODULUS_RESOURCE_ID '${id}': letters, digits, '_', '.', ':' and '-', at most 128"
  printf '%s' "${id}"
}

record_resource_id() {
  local id
  id=$(resource_id)
  [[ -n "${id}" ]] || return 0
  printf '%s\n' "${id}" | write_atomically "${ROOT}/resource-id" 0600
}

recorded_policy() {
  local policy=retain
  if [[ -f "${ROOT}/removal-policy" ]]; then
    policy=$(<"${ROOT}/removal-policy")
  fi
  case "${policy}" in
    retain | destroy) printf '%s' "${policy}" ;;
    *) printf 'retain' ;;
  esac
}

cmd_destroy() {
  local policy id recorded=""
  id=$(resource_id)
  if [[ -n "${id}" && -f "${ROOT}/resource-id" ]]; then
    recorded=$(<"${ROOT}/resource-id")
  fi
  if [[ -n "${recorded}" && "${recorded}" != "${id}" ]]; then
    # A replacement that created its resource first (create_before_destroy, e.g. for a rotated SSH key) took
    # the volume over: this resource's destroy must not remove it, whatever the policy.
    log "the volume of app '${APP}' was taken over by resource ${recorded} (this is ${id}): superseded, keeping it"
    return 0
  fi
  # The app's containers are gone (they depend on this resource), so its process limit goes whatever the policy:
  # the RunContainer's ProcessLimit step has no destroy step of its own (it would need the SSH key in its state).
  MODULUS_APP="${APP}" bash "${HERE}/modulus-process-limit.sh" remove
  policy=$(recorded_policy)
  if [[ "${policy}" != "destroy" ]]; then
    log "removal policy is '${policy}': keeping the volume of app '${APP}' (data and mount unchanged)"
    return 0
  fi
  if [[ ! -d "${ROOT}" ]]; then
    log "volume folder ${ROOT} is already gone"
    return 0
  fi
  lock
  local mnt
  mnt=$(mount_dir)
  if is_mounted; then
    if ! umount -- "${mnt}"; then
      fail 3 "cannot unmount ${mnt} (still in use?); nothing was deleted"
    fi
  fi
  delete_volume
  if [[ -d "${mnt}" ]]; then
    rmdir -- "${mnt}"
  fi
  rm -f -- "${ROOT}/removal-policy" "${ROOT}/resource-id" "${ROOT}/served-release" "${ROOT}/served-slot" "${ROOT}/handover-slot" "${ROOT}/health-token" "${ROOT}/.lock"
  unregister_volume
  if ! rmdir -- "${ROOT}" 2>/dev/null; then
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
    create | resize | set-policy | write-config | render-config | prepare-build | export-release | receive | publish | hand-over | take-over | await-ready | destroy | status | mount | apply-settings) ;;
    boot)
      cmd_boot
      return
      ;;
    probe) read_query ;;
    -h | --help | help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      return 0
      ;;
    *) fail 2 "unknown command '${command}'; use create, resize, set-policy, write-config, render-config, prepare-build, export-release, receive, publish, hand-over, take-over, await-ready, destroy, status, mount, apply-settings, boot or probe" ;;
  esac
  validate_common
  if [[ "${command}" != "status" && "${command}" != "render-config" && "${command}" != "probe" && "$(id -u)" != "0" ]]; then
    fail 1 "${command} must run as root (mount, mkfs, chown)"
  fi
  case "${command}" in
    create) cmd_create ;;
    resize) cmd_resize ;;
    set-policy) cmd_set_policy ;;
    write-config) cmd_write_config ;;
    render-config) cmd_render_config ;;
    prepare-build) cmd_prepare_build ;;
    export-release) cmd_export_release ;;
    receive) cmd_receive_release ;;
    publish) cmd_publish ;;
    hand-over) cmd_hand_over ;;
    take-over) cmd_take_over ;;
    await-ready) cmd_await_ready ;;
    destroy) cmd_destroy ;;
    status) cmd_status ;;
    mount) cmd_mount ;;
    apply-settings) cmd_apply_settings ;;
    probe) cmd_probe ;;
  esac
}

main "$@"
