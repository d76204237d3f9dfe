#!/usr/bin/env bash
# host-keys.sh: checks at plan time that a Docker host answers with a pinned SSH host key.
#
# Terraform's external data source protocol (lib/private/host-steps.ts, hostKeyCheck), once per host and with no
# secret, evaluated on every plan whatever else changes (the volume probes wait for their volume's changes): reads
#   {"host_name", "user", "address", "port", "host_keys"}   host_keys: the pinned keys, one "TYPE BASE64" per line
# and prints {"type", "fingerprint"} of the first pinned key the host offers.
#
# Every SSH client here is OpenSSH with a known hosts file of the pinned keys: it asks for a type it has pinned,
# and refuses a host whose key of that type differs. So the host must offer at least one pinned key, and no other
# key of a pinned type. ssh-keyscan lists what the host offers: only the comparison with the pins is used, nothing
# is trusted from it. A host that does not answer, that offers no pinned key, or another key of a pinned type,
# fails the plan naming the host (and the type).
set -euo pipefail

readonly PROGRAM=host-keys
readonly SCAN_TYPES=rsa,ecdsa,ed25519,ecdsa-sk,ed25519-sk SCAN_CONNECTIONS=5
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "${HERE}/messages.sh"
# shellcheck source-path=SCRIPTDIR source=query.sh
source "${HERE}/query.sh"
# shellcheck source-path=SCRIPTDIR source=ssh-client.sh
source "${HERE}/ssh-client.sh"

fingerprint() {
  ssh-keygen -l -f - <<<"$1" 2>/dev/null | awk '{ print $2 }'
}

main() {
  local query name user address port keys
  query=$(cat)
  name=$(query_value "${query}" host_name)
  user=$(query_value "${query}" user)
  address=$(query_value "${query}" address)
  port=$(query_value "${query}" port)
  [[ -n "${name}" ]] || fail 2 "the query has no host_name"
  local where="'${name}' (${user}@${address}:${port})"
  [[ "${address}" =~ ${SSH_ADDRESS_PATTERN} ]] || fail 2 "Docker host ${where}: invalid address"
  valid_port "${port}" || fail 2 "Docker host ${where}: invalid port"
  keys=$(query_text "${query}" host_keys) || fail 2 "Docker host ${where}: invalid host_keys"
  valid_host_key_lines "${keys}" || fail 2 "Docker host ${where}: host_keys is not 'TYPE BASE64' lines"

  # ssh-keyscan connects once per key type, all at once, and writes the banner of each connection the host
  # answered. A connection the host dropped (ssh-client.sh) is a type missing from its answer: the scan is made
  # again and the answers add up.
  local scan="" answer banners attempt=1
  while true; do
    answer=$(ssh-keyscan -T 10 -t "${SCAN_TYPES}" -p "${port}" -- "${address}" 2>&1 || true)
    scan+="${answer}"$'\n'
    banners=$(grep -c '^# .* SSH-' <<<"${answer}" || true)
    if ! { ((banners > 0 && banners < SCAN_CONNECTIONS)) || grep -q ': Connection closed by remote host$' <<<"${answer}"; } ||
      ! again_after_drop "${attempt}" "${where}"; then
      break
    fi
    attempt=$((attempt + 1))
  done
  # ssh-keyscan writes the server's banner as a comment line once connected.
  grep -q '^# .* SSH-' <<<"${scan}" ||
    fail 1 "cannot reach Docker host ${where}: no SSH banner from ssh-keyscan (connection refused, or timed out after 10 s)"
  local offered type key offered_key first=""
  offered=$(awk '$1 !~ /^#/ && NF == 3 { print $2 " " $3 }' <<<"${scan}")
  while read -r type key; do
    offered_key=$(awk -v type="${type}" '$1 == type { print $2; exit }' <<<"${offered}")
    [[ -n "${offered_key}" ]] || continue
    if [[ "${offered_key}" != "${key}" ]]; then
      fail 1 "Docker host ${where}: its ${type} host key is not the pinned one (offered $(fingerprint "${type} ${offered_key}"), pinned $(fingerprint "${type} ${key}")): check the host, then pin its keys again"
    fi
    [[ -n "${first}" ]] || first="${type} ${key}"
  done <<<"${keys}"
  [[ -n "${first}" ]] ||
    fail 1 "Docker host ${where} offers none of the pinned host keys (it offers $(awk '{ print $1 }' <<<"${offered}" | sort -u | paste -sd, -)): pin its keys (\`ssh-keyscan -p ${port} ${address}\`)"
  printf '{"type":"%s","fingerprint":"%s"}\n' "${first%% *}" "$(fingerprint "${first}")"
}

main "$@"
