# shellcheck shell=bash
# Sourced by remote-probe.sh, ssh-step.sh and host-keys.sh (on the Terraform machine): the options of an OpenSSH
# client that trusts only a Docker host's pinned keys and never asks (BatchMode), and its retries.
#
# ssh_client_options DIR WHERE TRANSPORT
#   writes DIR/known_hosts from PINNED_HOST_KEYS ("TYPE BASE64" lines) and sets SSH_OPTIONS:
#   TRANSPORT "engine": ENGINE_SSH_OPTIONS (the host's ssh:// engine options, which pin the same keys) as they are;
#   TRANSPORT "key": PRIVATE_KEY_TEXT (CR removed, last line break added) into DIR/key (0600), checked: a key with
#   a passphrase or a text that is no key fails naming that; no agent, no ssh_config, the pinned keys only.
# DIR must be a private (0700) folder the caller removes.

# shellcheck disable=SC2034 # for the scripts that source this file
SSH_BASE_OPTIONS=(-T -o BatchMode=yes -o LogLevel=ERROR)

# A stock sshd closes new connections before its banner while more than MaxStartups (10 by default) are not yet
# logged in, and a plan or deploy opens that many at once (Terraform runs ten steps and probes side by side). Such
# a connection ran nothing on the host, so it is tried again: SSH_ATTEMPTS in all, after 1, 2 and 4 s.
readonly SSH_ATTEMPTS=4

# again_after_drop ATTEMPT WHERE: when attempts are left after ATTEMPT, says that the host dropped it and waits
# 2^(ATTEMPT-1) s and up to 0.9 s more (connections dropped together do not come back together); else fails.
again_after_drop() {
  local attempt=$1 where=$2
  ((attempt < SSH_ATTEMPTS)) || return 1
  log "Docker host ${where} closed the connection before its SSH banner (sshd's MaxStartups?): attempt ${attempt} of ${SSH_ATTEMPTS}, again in $((1 << (attempt - 1))) s"
  sleep "$((1 << (attempt - 1))).$((RANDOM % 10))"
}

# retrying_drops STDERR_FILE WHERE COMMAND...: runs COMMAND (one ssh connection, its stderr into STDERR_FILE) again
# while it fails because the host closed the connection before its banner, up to SSH_ATTEMPTS times in all;
# returns its last status.
retrying_drops() {
  local stderr=$1 where=$2 attempt=1 status
  shift 2
  while true; do
    status=0
    "$@" || status=$?
    if ((status != 255)) || ! grep -q '^kex_exchange_identification: ' -- "${stderr}" || ! again_after_drop "${attempt}" "${where}"; then
      return "${status}"
    fi
    attempt=$((attempt + 1))
  done
}

ssh_client_options() {
  local dir=$1 where=$2 transport=$3
  SSH_OPTIONS=()
  case "${transport}" in
    engine)
      # The provider's ssh_opts first, so they win, as on the engine's own connection.
      SSH_OPTIONS=("${ENGINE_SSH_OPTIONS[@]}")
      ;;
    key)
      [[ -n "${PRIVATE_KEY_TEXT}" ]] || fail 2 "Docker host ${where}: no private key was given"
      (
        umask 077
        printf '%s\n' "${PINNED_HOST_KEYS}" | sed 's/^/* /' >"${dir}/known_hosts"
        # As people paste keys: Windows line ends and a missing last line break are what OpenSSH refuses.
        local key=${PRIVATE_KEY_TEXT//$'\r'/}
        printf '%s\n' "${key%$'\n'}" >"${dir}/key"
      )
      local problem
      # An empty passphrase: a key that has one fails here instead of as "cannot reach".
      if ! problem=$(ssh-keygen -y -P '' -f "${dir}/key" 2>&1 >/dev/null); then
        case "${problem}" in
          *passphrase*) fail 2 "Docker host ${where}: provisioning.privateKey is protected by a passphrase, which a deploy cannot ask for: give a key without one" ;;
          *) fail 2 "Docker host ${where}: provisioning.privateKey is not a private key OpenSSH can read (${problem##*: }): give the whole text of the key file" ;;
        esac
      fi
      SSH_OPTIONS=(-F /dev/null -i "${dir}/key" -o StrictHostKeyChecking=yes -o UserKnownHostsFile="${dir}/known_hosts"
        -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o IdentityAgent=none)
      ;;
    *) fail 2 "Docker host ${where}: ssh transport '${transport}' is neither 'engine' nor 'key'" ;;
  esac
}
