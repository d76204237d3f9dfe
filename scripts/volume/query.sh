# shellcheck shell=bash
# Sourced by modulus-volume.sh (probe), remote-probe.sh and host-keys.sh: reading Terraform's external data
# source query.

# What an SSH address, port and the pinned host keys ("TYPE BASE64" lines) may be, in the SSH steps' queries.
# shellcheck disable=SC2034 # used by the scripts that source this file
readonly SSH_ADDRESS_PATTERN='^[A-Za-z0-9][A-Za-z0-9.:-]*$' SSH_PORT_PATTERN='^[1-9][0-9]{0,4}$'
# shellcheck disable=SC2034
readonly HOST_KEY_LINES_PATTERN=$'^([a-z0-9-]+ [A-Za-z0-9+/=]+(\n|$))+$'

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
