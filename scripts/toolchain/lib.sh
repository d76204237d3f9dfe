#!/usr/bin/env bash
# shellcheck disable=SC2034 # variables used by the scripts that source this file
# Shared helpers for the offline deploy toolchain (sourced by the other scripts, never run directly).
# Everything lands under one cache folder, keyed by version, outside the repository.

# Versions (override through the environment only if you know why).
TC_TERRAFORM_VERSION="${MODULUS_TERRAFORM_VERSION:-1.5.7}"
TC_ROOT_IMAGE_TAG="${MODULUS_ROOT_IMAGE_TAG:-modulus/root:bookworm}"
TC_DEBIAN_SUITE="${MODULUS_DEBIAN_SUITE:-bookworm}"

TC_CACHE="${MODULUS_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modulus-images/toolchain}"
TC_LOGS="$TC_CACHE/logs"
TC_MIRROR="$TC_CACHE/mirror"
TC_TERRAFORM_BIN="$TC_CACHE/terraform/$TC_TERRAFORM_VERSION/bin/terraform"
TC_CLI_CONFIG="$TC_CACHE/terraform.rc"

tc_log() {
  printf '[toolchain] %s\n' "$*" >&2
}

# tc_fail STEP COMMAND LOGFILE: report a failed step with the command and the end of its error output.
tc_fail() {
  local step="$1" cmd="$2" logfile="${3:-}"
  tc_log "FAILED step: $step"
  tc_log "  command: $cmd"
  if [[ -n "$logfile" && -s "$logfile" ]]; then
    tc_log "  error (last lines of $logfile):"
    tail -n 25 "$logfile" | sed 's/^/[toolchain]   | /' >&2
  fi
  exit 1
}

# tc_run STEP LOGNAME CMD...: run CMD with its output appended to $TC_LOGS/LOGNAME.log; on failure
# name the step, the command and its error, then exit.
tc_run() {
  local step="$1" logname="$2"
  shift 2
  mkdir -p "$TC_LOGS"
  local logfile="$TC_LOGS/$logname.log"
  printf '\n$ %s\n' "$*" >>"$logfile"
  if ! "$@" >>"$logfile" 2>&1; then
    tc_fail "$step" "$*" "$logfile"
  fi
}

# tc_require_root STEP: several steps (apt-get, dockerd, debootstrap) need root.
tc_require_root() {
  if [[ "$(id -u)" != 0 ]]; then
    tc_fail "$1" "(needs root: apt-get, dockerd and debootstrap run as root; now uid $(id -u))" ""
  fi
}

tc_have() {
  command -v "$1" >/dev/null 2>&1
}

# tc_apt_install STEP PACKAGE...: install Debian packages (apt-get update first).
tc_apt_install() {
  local step="$1"
  shift
  tc_require_root "$step"
  tc_log "$step: apt-get install $*"
  tc_run "$step" apt env DEBIAN_FRONTEND=noninteractive apt-get update
  tc_run "$step" apt env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}
