# shellcheck shell=bash
# Helpers for build hooks: `source /opt/modulus/lib/build.sh` from a hook in /opt/modulus/build.d.
# The hook gets INPUT/OUTPUT (and INPUT_DIR/OUTPUT_DIR) from /opt/modulus/bin/build, already resolved to
# absolute paths of existing folders. Hooks log to stdout and fail with a non-zero exit.

# Every message of the build goes to stdout, prefixed with the hook that wrote it.
log() { printf '[%s] %s\n' "${MODULUS_LOG_TAG:-${0##*/}}" "$*"; }
warn() { log "warning: $*"; }
die() {
  log "ERROR: $*"
  exit 1
}

: "${INPUT:?INPUT is not set; hooks run from /opt/modulus/bin/build}"
: "${OUTPUT:?OUTPUT is not set; hooks run from /opt/modulus/bin/build}"

# Copies the whole input folder (dotfiles and symlinks included, symlinks not followed) to the output.
# A no-op when input and output are the same folder.
copy_source() {
  local from=${1:-${INPUT}} to=${2:-${OUTPUT}}
  if [[ "$(cd "${from}" && pwd -P)" == "$(cd "${to}" && pwd -P)" ]]; then
    log "input and output are the same folder; nothing to copy"
    return 0
  fi
  log "copying ${from} to ${to}"
  cp -R --no-dereference --preserve=mode,timestamps,links -- "${from}/." "${to}/"
}

# Prints the shallowest file called $1 under folder $2 (default OUTPUT), skipping node_modules and .git;
# ties at the same depth are broken by path order. Prints nothing when there is none.
shallowest_file() {
  local name=$1 root=${2:-${OUTPUT}}
  find "${root}" \( -name node_modules -o -name .git \) -prune -o -type f -name "${name}" \
    -printf '%d\t%p\n' 2>/dev/null | sort -t "$(printf '\t')" -k1,1n -k2,2 | sed -n '1s/^[0-9]*\t//p'
}

# True when the environment variable named $1 is "true" (also 1/yes, any case).
env_true() {
  local value=${!1:-}
  [[ "${value,,}" =~ ^(true|1|yes)$ ]]
}

# Runs a command up to $1 times, logging each failed try; returns the last status.
retry() {
  local tries=$1 attempt=1 status=0
  shift
  while true; do
    status=0
    "$@" || status=$?
    ((status == 0)) && return 0
    if ((attempt >= tries)); then
      log "'$*' failed ${attempt} times (status ${status})"
      return "${status}"
    fi
    log "'$*' failed (status ${status}); try $((attempt + 1)) of ${tries} in 2s"
    attempt=$((attempt + 1))
    sleep 2
  done
}
