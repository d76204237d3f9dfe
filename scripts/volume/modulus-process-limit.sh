#!/usr/bin/env bash
# modulus-process-limit.sh: the kernel's limit on the number of processes and threads of one Modulus app.
#
# Each app's containers run under their own parent cgroup, `/modulus/<app>` (the containers'
# cgroup_parent; Docker's cgroupfs driver), whose pids.max the kernel enforces for all of them together: a
# fork or thread creation past it fails with EAGAIN inside that app only, so one app cannot exhaust the
# host's PIDs and stop the others from forking. Works with cgroup v1 (the pids hierarchy) and v2 (the
# unified hierarchy, with the pids controller enabled down to the app's cgroup).
#
# Called by the RunContainer construct's null_resource provisioners (lib/run-container.ts), and at boot by
# `modulus-volume.sh boot` (cgroups do not survive a reboot). Runs as root on the Docker host; values come
# through the environment only.
#
# Usage: modulus-process-limit.sh COMMAND
#   apply    create the app's cgroup if needed, set pids.max to MODULUS_PIDS_MAX and record it for boot
#   remove   forget the limit and remove the app's cgroup (it must be empty: run after the containers)
#   boot     apply every recorded limit again
#   restore  apply the recorded limit of MODULUS_APP again, if there is one (after a reboot the boot unit missed)
#   status   print key=value lines: app, pids_max (as recorded), cgroup (its pids.max path), enforced
#
# Environment:
#   MODULUS_APP          app name (required for apply, remove, status)
#   MODULUS_PIDS_MAX     apply: the limit, a whole number from MIN_PIDS_MAX to MAX_PIDS_MAX (limits.env)
#   MODULUS_CGROUP_FS    where the cgroup file system is mounted (default /sys/fs/cgroup)
#   MODULUS_REGISTRY     folder of the records read at boot (default /etc/modulus)
#
# Exit status: 0 ok, 1 failure, 2 usage or invalid input.
set -euo pipefail

readonly CGROUP_FS="${MODULUS_CGROUP_FS:-/sys/fs/cgroup}"
readonly RECORDS="${MODULUS_REGISTRY:-/etc/modulus}/process-limits"
readonly PARENT=modulus

readonly PROGRAM=modulus-process-limit
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "$(dirname "${BASH_SOURCE[0]}")/messages.sh"
# MIN_PIDS_MAX and MAX_PIDS_MAX, shared with the RunContainer construct.
# shellcheck source-path=SCRIPTDIR source=limits.env
source "$(dirname "${BASH_SOURCE[0]}")/limits.env"
readonly MIN_PIDS_MAX MAX_PIDS_MAX
# APP_NAME_PATTERN, shared with the constructs.
# shellcheck source-path=SCRIPTDIR source=rules.env
source "$(dirname "${BASH_SOURCE[0]}")/rules.env"

validate_app() {
  APP="${MODULUS_APP:-}"
  [[ "${APP}" =~ ${APP_NAME_PATTERN} ]] ||
    fail 2 "invalid MODULUS_APP '${APP}': use a lowercase letter, then letters, digits or '-', ending in a letter or digit, at most 40 characters"
}

unified() { [[ -f "${CGROUP_FS}/cgroup.controllers" ]]; }

# The folder of the app's cgroup in the hierarchy that has the pids controller.
pids_dir() {
  if unified; then
    printf '%s/%s/%s' "${CGROUP_FS}" "${PARENT}" "$1"
  else
    printf '%s/pids/%s/%s' "${CGROUP_FS}" "${PARENT}" "$1"
  fi
}

# cgroup v2: a controller is usable in a cgroup only when its parent enables it for its children.
enable_pids_controller() {
  local dir
  for dir in "${CGROUP_FS}" "${CGROUP_FS}/${PARENT}"; do
    if ! grep -qw pids "${dir}/cgroup.subtree_control"; then
      printf '+pids' >"${dir}/cgroup.subtree_control" || fail 1 "cannot enable the pids controller in ${dir}"
    fi
  done
}

set_limit() {
  local app=$1 limit=$2 dir
  dir=$(pids_dir "${app}")
  if unified; then
    grep -qw pids "${CGROUP_FS}/cgroup.controllers" || fail 1 "the kernel has no pids controller in ${CGROUP_FS}"
    mkdir -p -- "${CGROUP_FS}/${PARENT}"
    enable_pids_controller
  else
    [[ -d "${CGROUP_FS}/pids" ]] || fail 1 "no cgroup v1 pids hierarchy at ${CGROUP_FS}/pids (and no cgroup v2 at ${CGROUP_FS})"
  fi
  mkdir -p -- "${dir}"
  printf '%s' "${limit}" >"${dir}/pids.max" || fail 1 "cannot write ${dir}/pids.max"
  log "app '${app}': at most ${limit} processes and threads (${dir}/pids.max)"
}

cmd_apply() {
  local limit="${MODULUS_PIDS_MAX:-}"
  if ! [[ "${limit}" =~ ^[1-9][0-9]{0,8}$ ]] || ((limit < MIN_PIDS_MAX || limit > MAX_PIDS_MAX)); then
    fail 2 "invalid MODULUS_PIDS_MAX '${limit}': a whole number from ${MIN_PIDS_MAX} to ${MAX_PIDS_MAX}"
  fi
  set_limit "${APP}" "${limit}"
  mkdir -p -- "${RECORDS}"
  printf '%s\n' "${limit}" >"${RECORDS}/${APP}.new"
  mv -f -- "${RECORDS}/${APP}.new" "${RECORDS}/${APP}"
}

# Removes the app's cgroups and forgets the limit. A cgroup that still holds processes stays, and so does the
# limit's record (boot applies it again): that is a replacement of the limit's step while the app runs (e.g. a new
# release of these scripts, the router's create-before-destroy replacement), whose `apply` came first or follows.
cmd_remove() {
  local dir in_use=0
  # Docker creates the app's cgroup in every v1 hierarchy; remove each and the parent if unused.
  for dir in "${CGROUP_FS}"/*/"${PARENT}/${APP}" "${CGROUP_FS}/${PARENT}/${APP}"; do
    [[ -d "${dir}" ]] || continue
    if ! rmdir -- "${dir}" 2>/dev/null; then
      log "app '${APP}': left ${dir} in place: processes still run in it"
      in_use=1
      continue
    fi
    rmdir -- "$(dirname "${dir}")" 2>/dev/null || true
  done
  if ((in_use)); then
    log "app '${APP}': process limit kept"
    return 0
  fi
  rm -f -- "${RECORDS}/${APP}"
  log "app '${APP}': process limit removed"
}

cmd_boot() {
  local record app limit failed=0
  [[ -d "${RECORDS}" ]] || return 0
  for record in "${RECORDS}"/*; do
    [[ -f "${record}" ]] || continue
    app=$(basename -- "${record}")
    limit=$(<"${record}")
    if ! (MODULUS_APP="${app}" MODULUS_PIDS_MAX="${limit}" "$0" apply); then
      failed=1
    fi
  done
  return "${failed}"
}

cmd_restore() {
  [[ -f "${RECORDS}/${APP}" ]] || return 0
  MODULUS_PIDS_MAX=$(<"${RECORDS}/${APP}") cmd_apply
}

cmd_status() {
  local dir recorded=none enforced=none
  dir=$(pids_dir "${APP}")
  [[ -f "${RECORDS}/${APP}" ]] && recorded=$(<"${RECORDS}/${APP}")
  [[ -f "${dir}/pids.max" ]] && enforced=$(<"${dir}/pids.max")
  printf 'app=%s\npids_max=%s\ncgroup=%s\nenforced=%s\n' "${APP}" "${recorded}" "${dir}/pids.max" "${enforced}"
}

main() {
  local command="${1:-}"
  case "${command}" in
    apply | remove | restore | status) validate_app ;;
    boot) ;;
    *) fail 2 "unknown command '${command}'; use apply, remove, restore, boot or status" ;;
  esac
  if [[ "${command}" != status && "$(id -u)" != 0 ]]; then
    fail 1 "${command} must run as root (it writes to ${CGROUP_FS})"
  fi
  case "${command}" in
    apply) cmd_apply ;;
    remove) cmd_remove ;;
    restore) cmd_restore ;;
    boot) cmd_boot ;;
    status) cmd_status ;;
  esac
}

main "$@"
