#!/usr/bin/env bash
# ssh-step.sh: runs one host step on another Docker host over one SSH connection (lib/private/host-steps.ts).
#
# Usage (a local-exec on the Terraform machine): bash <scripts>/ssh-step.sh SCRIPT COMMAND
#   SCRIPT   modulus-volume.sh | modulus-process-limit.sh | modulus-router.sh
#   COMMAND  that script's command (e.g. create, write-config, apply)
#
# Environment (the local-exec's; values never on a command line):
#   STEP_VARIABLES          the step's variables, space-separated MODULUS_* names: only these reach the host
#   STEP_UPLOADS            those of them that name a local file to upload: the host gets its path there
#   STEP_SSH_HOST_NAME      the host's name in messages
#   STEP_SSH_USER, STEP_SSH_ADDRESS, STEP_SSH_PORT, STEP_SSH_CONNECT_TIMEOUT (seconds)
#   STEP_SSH_HOST_KEYS      the pinned host keys, one "TYPE BASE64" per line
#   STEP_SSH_TRANSPORT      "engine": connect as the host's ssh:// engine does: STEP_SSH_OPTIONS (one per line)
#                           "key": with STEP_SSH_PRIVATE_KEY (the provisioning key; a sensitive value)
#
# One ssh connection carries a tar stream on stdin: this folder as scripts/, each upload as upload-<n>, and
# step.env (MODULUS_<NAME>=<base64 of the value> lines, written 0600 in a 0700 folder removed on exit). The host
# runs a fixed command holding only paths: it makes the staging folder /tmp/modulus-step-<random> (0700, fails if
# it exists), unpacks the stream into it and runs `[sudo -n ]bash <staging>/scripts/remote-step.sh SCRIPT
# COMMAND`, which reads step.env, deletes it and runs the step as root; the folder goes whatever the outcome.
#
# Exit status: the step's; 255 with one line naming the host when it cannot be reached; 2 for bad input.
set -euo pipefail

readonly PROGRAM=ssh-step
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "${HERE}/messages.sh"
# shellcheck source-path=SCRIPTDIR source=step-usage.sh
source "${HERE}/step-usage.sh"
# shellcheck source-path=SCRIPTDIR source=query.sh
source "${HERE}/query.sh"
# shellcheck source-path=SCRIPTDIR source=ssh-client.sh
source "${HERE}/ssh-client.sh"

readonly STAGING_PARENT=/tmp
readonly STAGING_NAME=modulus-step-

# The command the host runs: fixed text and the staging path, no values. Staging folders of connections that
# broke before their own cleanup, older than an hour, go first.
remote_command() {
  local user=$1 staging=$2 script=$3 command=$4 sudo=""
  [[ "${user}" == root ]] || sudo="sudo -n "
  printf '%s' "set -eu; umask 077; find ${STAGING_PARENT} -maxdepth 1 -name '${STAGING_NAME}*' -mmin +60 -exec rm -rf -- {} +; " \
    "mkdir -m 0700 -- ${staging}; trap 'rm -rf -- ${staging}' EXIT; tar -x --no-same-owner -C ${staging}; " \
    "${sudo}bash ${staging}/scripts/remote-step.sh ${script} ${command}"
}

# send_step: one connection that sends the bundle and runs the step (main's locals). ssh's stderr goes on as it
# comes, and into a file, to tell a connection dropped before the banner.
send_step() {
  {
    tar -c -h -C "${bundle}" . |
      ssh "${SSH_OPTIONS[@]}" "${SSH_BASE_OPTIONS[@]}" -p "${port}" -o ConnectTimeout="${timeout}" \
        -- "${user}@${address}" "$(remote_command "${user}" "${staging}" "${script}" "${command}")" 2>&1 1>&3 3>&- |
      tee -- "${dir}/stderr" >&2
  } 3>&1
}

main() {
  local script="${1:-}" command="${2:-}"
  check_step_usage ssh-step.sh "$@"

  local name=${STEP_SSH_HOST_NAME:-} user=${STEP_SSH_USER:-} address=${STEP_SSH_ADDRESS:-} port=${STEP_SSH_PORT:-}
  local timeout=${STEP_SSH_CONNECT_TIMEOUT:-30} transport=${STEP_SSH_TRANSPORT:-}
  [[ -n "${name}" ]] || fail 2 "STEP_SSH_HOST_NAME is not set"
  local where="'${name}' (${user}@${address}:${port})"
  [[ "${user}" =~ ${SSH_USER_PATTERN} ]] || fail 2 "Docker host ${where}: invalid STEP_SSH_USER"
  [[ "${address}" =~ ${SSH_ADDRESS_PATTERN} ]] || fail 2 "Docker host ${where}: invalid STEP_SSH_ADDRESS"
  valid_port "${port}" || fail 2 "Docker host ${where}: invalid STEP_SSH_PORT"
  [[ "${timeout}" =~ ^[1-9][0-9]{0,3}$ ]] || fail 2 "Docker host ${where}: STEP_SSH_CONNECT_TIMEOUT is not a number of seconds"
  PINNED_HOST_KEYS=${STEP_SSH_HOST_KEYS:-}
  valid_host_key_lines "${PINNED_HOST_KEYS}" || fail 2 "Docker host ${where}: STEP_SSH_HOST_KEYS is not 'TYPE BASE64' lines"
  ENGINE_SSH_OPTIONS=()
  PRIVATE_KEY_TEXT=${STEP_SSH_PRIVATE_KEY:-}
  [[ "${transport}" != engine || -z "${STEP_SSH_OPTIONS:-}" ]] || mapfile -t ENGINE_SSH_OPTIONS <<<"${STEP_SSH_OPTIONS}"

  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/modulus-ssh-step.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf -- '${dir}'" EXIT
  chmod 0700 -- "${dir}"
  ssh_client_options "${dir}" "${where}" "${transport}"

  # The bundle: links to what goes (tar follows them), and the env file.
  local bundle="${dir}/bundle" staging
  staging="${STAGING_PARENT}/${STAGING_NAME}$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  mkdir -- "${bundle}"
  ln -s -- "${HERE}" "${bundle}/scripts"
  local -a variables=() uploads=()
  read -r -a variables <<<"${STEP_VARIABLES:-}"
  read -r -a uploads <<<"${STEP_UPLOADS:-}"
  local variable value index=0
  (
    umask 077
    : >"${bundle}/step.env"
  )
  for variable in "${variables[@]}"; do
    [[ "${variable}" =~ ^MODULUS_[A-Za-z0-9_]+$ ]] || fail 2 "STEP_VARIABLES: '${variable}' is not a MODULUS_* name"
    [[ -v "${variable}" ]] || fail 2 "STEP_VARIABLES names ${variable}, which is not set"
    value=${!variable}
    if [[ " ${uploads[*]} " == *" ${variable} "* ]]; then
      [[ -f "${value}" ]] || fail 2 "${variable}: the file to upload (${value}) does not exist"
      ln -s -- "$(realpath -- "${value}")" "${bundle}/upload-${index}"
      value="${staging}/upload-${index}"
      index=$((index + 1))
    fi
    printf '%s=%s\n' "${variable}" "$(printf '%s' "${value}" | base64 -w 0)" >>"${bundle}/step.env"
  done

  local status=0
  retrying_drops "${dir}/stderr" "${where}" send_step || status=$?
  ((status != 255)) || fail 255 "cannot reach Docker host ${where}, or the connection broke (ssh exit 255)"
  return "${status}"
}

main "$@"
