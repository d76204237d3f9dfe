#!/usr/bin/env bash
# remote-step.sh: runs one host step that Terraform brought over SSH (lib/private/host-steps.ts).
#
# Usage: bash <staging>/scripts/remote-step.sh SCRIPT COMMAND
#   SCRIPT   modulus-volume.sh | modulus-process-limit.sh | modulus-router.sh (a file next to this one)
#   COMMAND  that script's command (e.g. create, write-config, apply)
#
# <staging> (/tmp/modulus-step-<resource id>, 0700, made by the step's first remote-exec) holds scripts/ (this
# folder, uploaded by a `file` provisioner), upload-<n>/ (folders the step needs, e.g. an app's source) and
# step.env, whose lines are MODULUS_<NAME>=<base64 of the value> (Terraform's base64encode, so any bytes survive). This
# wrapper reads step.env and deletes it at once, exports the values, runs SCRIPT COMMAND (it is itself run as
# root: directly, or through `sudo -n` when the SSH user is not root) and removes the staging folder, whatever
# the outcome. Only paths and the command name are on any command line; values never are.
#
# Exit status: the script's, or 2 for bad usage or a malformed step.env.
set -euo pipefail

readonly PROGRAM=remote-step
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "${HERE}/messages.sh"
# shellcheck source-path=SCRIPTDIR source=step-usage.sh
source "${HERE}/step-usage.sh"

main() {
  local script="${1:-}" command="${2:-}"
  check_step_usage remote-step.sh "$@"
  local staging
  staging="$(dirname "${HERE}")"
  [[ "$(basename "${staging}")" == modulus-step-* ]] || fail 2 "${HERE} is not in a staging folder (modulus-step-*)"
  # The staging folder goes whatever happens next (its env file first, as soon as it is read).
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf -- '${staging}'" EXIT
  local env_file="${staging}/step.env"
  [[ -f "${env_file}" && ! -L "${env_file}" ]] || fail 2 "${env_file} is missing"
  local lines
  lines=$(<"${env_file}")
  rm -f -- "${env_file}"

  # Only the step's own values: none that reached this shell otherwise (e.g. an ssh SendEnv).
  local inherited
  for inherited in "${!MODULUS_@}"; do unset "${inherited}"; done
  local line name encoded value
  while IFS= read -r line; do
    [[ -n "${line}" ]] || continue
    name="${line%%=*}"
    encoded="${line#*=}"
    # Only the scripts' own variables: never PATH, LD_PRELOAD or the like in a root process.
    [[ "${line}" == *=* && "${name}" =~ ^MODULUS_[A-Za-z0-9_]+$ ]] || fail 2 "step.env: a line is not MODULUS_<NAME>=<base64>"
    [[ "${encoded}" =~ ^[A-Za-z0-9+/]*=*$ ]] || fail 2 "step.env: the value of ${name} is not base64"
    # The trailing 'x' keeps trailing line breaks of the value (command substitution would drop them).
    value="$(printf '%s' "${encoded}" | base64 -d && printf x)" || fail 2 "step.env: the value of ${name} is not base64"
    export "${name}=${value%x}"
  done <<<"${lines}"

  local status=0
  bash "${HERE}/${script}" "${command}" || status=$?
  return "${status}"
}

main "$@"
