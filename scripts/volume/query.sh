# shellcheck shell=bash
# Sourced by modulus-volume.sh (probe) and remote-probe.sh: reading Terraform's external data source query.

# The string value of KEY in a flat JSON object without escapes in the values it reads.
query_value() {
  local pattern="\"$2\"[[:space:]]*:[[:space:]]*\"([^\"\\\\]*)\""
  if [[ "$1" =~ ${pattern} ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}
