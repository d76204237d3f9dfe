#!/usr/bin/env bash
# remote-probe.sh: the `probe` of modulus-volume.sh (a volume) or of modulus-router.sh (a router container) on
# another Docker host, reached over SSH.
#
# Terraform's external data source protocol (lib/private/host-steps.ts, probeProgram and routerProbeProgram): runs
# on the Terraform machine, reads one flat JSON object on stdin and prints what the host's probe prints:
# {"exists", "mounted", "health", "run_container"} for a volume, {"container", "orphan"} for a router. Read-only
# on the host. Terraform's state is here: a run container (or router container) the host names that the state
# lacks turns health (orphan) into a token naming it for removal (orphan.sh).
#
# Query: probe ("router", else a volume's), then app, backend, root, lvm_volume_group, lvm_thin_pool,
# run_container (a volume, as for the local probe) or container, domain (a router), and
#   ssh_host_name            the host's name in messages
#   ssh_user                 the provisioning user
#   ssh_address, ssh_port    where Terraform's provisioners connect
#   ssh_host_keys            the pinned host keys, one "TYPE BASE64" per line
#   ssh_transport            "engine": connect as the host's ssh:// engine does (its options pin the same keys):
#     ssh_engine_address, ssh_engine_port, ssh_options (one per line); no key in the query
#                            "key": connect with the provisioning key (the engine is tcp:// or another user):
#     ssh_private_key          as Terraform has it (sensitive; the state holds it there as in the Volume's
#                              triggers, and as searchable: no encoded copy)
#
# ssh checks the host against the pinned keys only ("engine": the engine's options pin them, see DockerHost).
# "key": the private key (CR removed, last line break added) and the pinned keys go to 0600 files in a 0700
# temporary folder (removed on exit), never on a command line; a key with a passphrase or that is not a key fails
# naming that. Either way ssh runs with BatchMode (it never asks). The host receives these scripts and the volume's
# (or router's) identity as a tar stream on stdin and runs a fixed command: `bash <tmp>/modulus-volume.sh probe`
# or `bash <tmp>/modulus-router.sh probe` (through `sudo -n` when the user is not root).
#
# A host that cannot be reached fails with one line naming it:
#   remote-probe: error: cannot reach Docker host 'NAME' (user@address:port): <ssh's reason>
set -euo pipefail

readonly PROGRAM=remote-probe
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "${HERE}/messages.sh"
# shellcheck source-path=SCRIPTDIR source=query.sh
source "${HERE}/query.sh"
# shellcheck source-path=SCRIPTDIR source=orphan.sh
source "${HERE}/orphan.sh"
# shellcheck source-path=SCRIPTDIR source=ssh-client.sh
source "${HERE}/ssh-client.sh"

# The command the host runs: fixed text, no values. It unpacks the tar stream into a private temporary
# folder and runs the probe on the query inside it.
remote_command() {
  local sudo="" script=$2
  [[ "$1" == root ]] || sudo="sudo -n "
  # shellcheck disable=SC2016 # expanded on the host, not here
  printf '%s' 'set -eu; umask 077; d=$(mktemp -d); trap '\''rm -rf -- "$d"'\'' EXIT; tar -x -C "$d"; '"${sudo}"'bash "$d/'"${script}"'" probe < "$d/query.json"'
}

# The volume's (or router's) identity for the host's probe (no ssh_* field), and the scripts it runs, into
# folder $2.
write_bundle() {
  local query=$1 bundle=$2
  mkdir -- "${bundle}"
  if [[ "$(query_value "${query}" probe)" == router ]]; then
    printf '{"container":"%s","domain":"%s"}\n' "$(query_value "${query}" container)" "$(query_value "${query}" domain)" >"${bundle}/query.json"
  else
    printf '{"app":"%s","backend":"%s","root":"%s","lvm_volume_group":"%s","lvm_thin_pool":"%s","run_container":"%s"}\n' \
      "$(query_value "${query}" app)" "$(query_value "${query}" backend)" "$(query_value "${query}" root)" \
      "$(query_value "${query}" lvm_volume_group)" "$(query_value "${query}" lvm_thin_pool)" \
      "$(query_value "${query}" run_container)" >"${bundle}/query.json"
  fi
  cp -- "${HERE}"/*.sh "${HERE}/limits.env" "${HERE}/rules.env" "${HERE}/forbidden-roots" "${bundle}/"
}

# probe_once: one connection that sends the bundle and runs the probe (main's locals).
probe_once() {
  tar -C "${dir}/bundle" -c . |
    ssh "${SSH_OPTIONS[@]}" "${SSH_BASE_OPTIONS[@]}" -p "${ssh_port}" -o ConnectTimeout=10 \
      -- "${user}@${ssh_address}" "$(remote_command "${user}" "${script}")" 2>"${dir}/stderr"
}

main() {
  local query
  query=$(cat)
  local name user address port transport keys
  name=$(query_value "${query}" ssh_host_name)
  user=$(query_value "${query}" ssh_user)
  address=$(query_value "${query}" ssh_address)
  port=$(query_value "${query}" ssh_port)
  transport=$(query_value "${query}" ssh_transport)
  [[ -n "${name}" ]] || fail 2 "the query has no ssh_host_name"
  local where="'${name}' (${user}@${address}:${port})"
  [[ "${user}" =~ ${SSH_USER_PATTERN} ]] || fail 2 "Docker host ${where}: invalid ssh_user"
  [[ "${address}" =~ ${SSH_ADDRESS_PATTERN} ]] || fail 2 "Docker host ${where}: invalid ssh_address"
  valid_port "${port}" || fail 2 "Docker host ${where}: invalid ssh_port"
  keys=$(query_text "${query}" ssh_host_keys) || fail 2 "Docker host ${where}: invalid ssh_host_keys"
  valid_host_key_lines "${keys}" || fail 2 "Docker host ${where}: ssh_host_keys is not 'TYPE BASE64' lines"

  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/modulus-probe.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf -- '${dir}'" EXIT
  chmod 0700 -- "${dir}"

  local ssh_address=${address} ssh_port=${port}
  PINNED_HOST_KEYS=${keys}
  ENGINE_SSH_OPTIONS=()
  PRIVATE_KEY_TEXT=""
  case "${transport}" in
    engine)
      ssh_address=$(query_value "${query}" ssh_engine_address)
      ssh_port=$(query_value "${query}" ssh_engine_port)
      [[ "${ssh_address}" =~ ${SSH_ADDRESS_PATTERN} ]] || fail 2 "Docker host ${where}: invalid ssh_engine_address"
      valid_port "${ssh_port}" || fail 2 "Docker host ${where}: invalid ssh_engine_port"
      where="'${name}' (${user}@${ssh_address}:${ssh_port})"
      local text
      text=$(query_text "${query}" ssh_options) || fail 2 "Docker host ${where}: ssh_options holds an escape other than \\n, \\r or \\t"
      [[ -z "${text}" ]] || mapfile -t ENGINE_SSH_OPTIONS <<<"${text}"
      ;;
    key)
      PRIVATE_KEY_TEXT=$(query_text "${query}" ssh_private_key) ||
        fail 2 "Docker host ${where}: ssh_private_key holds an escape other than \\n, \\r or \\t: not a private key"
      ;;
  esac
  ssh_client_options "${dir}" "${where}" "${transport}"
  write_bundle "${query}" "${dir}/bundle"

  # What the host's probe names (a container id) and the field a container outside the state turns into a token.
  local answer status=0 kind=volume script=modulus-volume.sh id_field=run_container token_field=health
  if [[ "$(query_value "${query}" probe)" == router ]]; then
    kind=router script=modulus-router.sh id_field=container token_field=orphan
  fi
  answer=$(retrying_drops "${dir}/stderr" "${where}" probe_once) || status=$?
  if ((status == 255)); then
    fail 1 "cannot reach Docker host ${where}: $(tr '\n' ' ' <"${dir}/stderr" | sed 's/[[:space:]]*$//')"
  elif ((status != 0)); then
    fail 1 "the ${kind} probe failed on Docker host ${where} (exit ${status}): $(tr '\n' ' ' <"${dir}/stderr" | sed 's/[[:space:]]*$//')"
  fi
  # The host names a container; whether Terraform's state knows it is for this side to say.
  local container
  container=$(query_value "${answer}" "${id_field}")
  if [[ "${container}" =~ ^[0-9a-f]{64}$ ]] && state_lacks "${container}"; then
    answer=$(sed -E "s/\"${token_field}\":\"[^\"]*\"/\"${token_field}\":\"$(orphan_token "${container}")\"/" <<<"${answer}")
  fi
  printf '%s\n' "${answer}"
}

main "$@"
