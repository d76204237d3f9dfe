#!/usr/bin/env bash
# host-keys.sh: checks at plan time that Terraform's provisioners will accept a Docker host's SSH host key.
#
# Terraform's external data source protocol (lib/private/host-steps.ts, hostKeyCheck), once per host: reads
#   {"host_name", "user", "address", "port", "host_keys"}   host_keys: the pinned keys, one "TYPE BASE64" per line
# and prints {"type", "fingerprint"} of the key Terraform's SSH client will be shown.
#
# Terraform 1.5's SSH client (golang.org/x/crypto v0.1.0) asks for ECDSA, then RSA, then Ed25519 host keys, and
# checks the one the server shows against its single pinned `host_key`; OpenSSH clients (the probe, the engine)
# take whichever pinned type the server has. So the key of the first of those types the server offers must be
# pinned. ssh-keyscan lists what the server offers: only the types and the comparison with the pins are used,
# nothing is trusted from it. A type missing from the pins, or a key of a pinned type that differs, fails the
# plan naming the host and the type; a host that does not answer fails naming the host.
set -euo pipefail

readonly PROGRAM=host-keys
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "${HERE}/messages.sh"
# shellcheck source-path=SCRIPTDIR source=query.sh
source "${HERE}/query.sh"

read -r -a TERRAFORM_HOST_KEY_ORDER <<<"${HOST_KEY_TYPES}"
readonly TERRAFORM_HOST_KEY_ORDER

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

  # One connection per key type, in Terraform's order, stopping at the first the server has (usually one
  # connection: a stock sshd limits unauthenticated connections, MaxStartups 10:30:100).
  local scan keyscan_type type line offered_key pinned_key
  for keyscan_type in ecdsa rsa ed25519; do
    scan=$(ssh-keyscan -T 10 -t "${keyscan_type}" -p "${port}" -- "${address}" 2>&1 || true)
    # ssh-keyscan writes the server's banner as a comment line once connected.
    grep -q '^# .* SSH-' <<<"${scan}" ||
      fail 1 "cannot reach Docker host ${where}: no SSH banner from ssh-keyscan (connection refused, or timed out after 10 s)"
    for type in "${TERRAFORM_HOST_KEY_ORDER[@]}"; do
      line=$(awk -v type="${type}" '$1 !~ /^#/ && $2 == type { print $2 " " $3; exit }' <<<"${scan}")
      [[ -n "${line}" ]] || continue
      offered_key=${line#* }
      pinned_key=$(awk -v type="${type}" '$1 == type { print $2; exit }' <<<"${keys}")
      if [[ -z "${pinned_key}" ]]; then
        fail 1 "Docker host ${where} offers a ${type} host key ($(fingerprint "${line}")), which Terraform's SSH client takes first, and it is not pinned: add it to provisioning.hostKeys (give all of \`ssh-keyscan -p ${port} ${address}\`)"
      elif [[ "${pinned_key}" != "${offered_key}" ]]; then
        fail 1 "Docker host ${where}: its ${type} host key is not the pinned one (offered $(fingerprint "${line}"), pinned $(fingerprint "${type} ${pinned_key}")): check the host, then pin its keys again"
      fi
      printf '{"type":"%s","fingerprint":"%s"}\n' "${type}" "$(fingerprint "${line}")"
      return 0
    done
  done
  fail 1 "Docker host ${where} offers none of the host key types ${TERRAFORM_HOST_KEY_ORDER[*]}"
}

main "$@"
