# shellcheck shell=bash
# Messages of the host provisioning scripts (sourced): every line on stderr, prefixed with the script's name.

log() { printf '%s: %s\n' "${PROGRAM}" "$*" >&2; }

# fail CODE MESSAGE...: print the error and exit with CODE.
fail() {
  local code=$1
  shift
  printf '%s: error: %s\n' "${PROGRAM}" "$*" >&2
  exit "${code}"
}
