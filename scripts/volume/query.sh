# shellcheck shell=bash
# Sourced by modulus-volume.sh (probe), remote-probe.sh and host-keys.sh: reading Terraform's external data
# source query.

# What an SSH user, address, port and the pinned host keys may be in the SSH steps' queries: the rules of the
# constructs (DockerHost), shared through rules.env.
# shellcheck source-path=SCRIPTDIR source=rules.env
source "$(dirname "${BASH_SOURCE[0]}")/rules.env"

valid_port() { [[ "$1" =~ ${PORT_PATTERN} ]] && (($1 <= 65535)); }

# The pinned host keys: one or more "TYPE BASE64" lines, TYPE one of HOST_KEY_TYPES.
valid_host_key_lines() {
  local line type blob
  local -a types=()
  read -r -a types <<<"${HOST_KEY_TYPES}"
  [[ -n "$1" ]] || return 1
  while IFS= read -r line; do
    [[ "${line}" =~ ^([^ ]+)\ ([^ ]+)$ ]] || return 1
    type=${BASH_REMATCH[1]}
    blob=${BASH_REMATCH[2]}
    [[ " ${types[*]} " == *" ${type} "* && "${blob}" =~ ${HOST_KEY_BASE64_PATTERN} ]] || return 1
  done <<<"$1"
}

# The string value of KEY in a flat JSON object without escapes in the values it reads.
query_value() {
  local pattern="\"$2\"[[:space:]]*:[[:space:]]*\"([^\"\\\\]*)\""
  if [[ "$1" =~ ${pattern} ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}

# The string value of KEY with JSON's escapes \n \r \t \" \\ \/ decoded (Terraform writes a PEM key's line
# breaks as \n); fails on any other escape. Character by character: a key is a few kilobytes.
query_text() {
  local pattern="\"$2\"[[:space:]]*:[[:space:]]*\"((\\\\.|[^\"\\\\])*)\""
  [[ "$1" =~ ${pattern} ]] || return 0
  local raw=${BASH_REMATCH[1]} text=""
  while [[ -n "${raw}" ]]; do
    if [[ "${raw:0:1}" == "\\" ]]; then
      case "${raw:1:1}" in
        n) text+=$'\n' ;;
        r) text+=$'\r' ;;
        t) text+=$'\t' ;;
        '"' | "\\" | /) text+=${raw:1:1} ;;
        *) return 1 ;;
      esac
      raw=${raw:2}
    else
      text+=${raw:0:1}
      raw=${raw:1}
    fi
  done
  printf '%s' "${text}"
}
