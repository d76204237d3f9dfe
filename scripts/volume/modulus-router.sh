#!/usr/bin/env bash
# modulus-router.sh: hands the router its routes, and its TLS certificate and key, on the Docker host.
#
# Called by the ModulusRouter construct's null_resource provisioner (lib/router.ts). Writes two base64 lines
# (the routes; the certificate and key, or '-') to the stdin of `docker exec -i <router> modulus-router-apply`
# (images/router), which validates them and reloads HAProxy without dropping a request. The certificate and
# key travel only through this process's environment (a sensitive provisioner environment: Terraform shows
# neither it nor this step's output) and a pipe: never a command line, a file on the host or `docker inspect`.
#
# Usage: modulus-router.sh apply
#
# Environment:
#   MODULUS_ROUTER_CONTAINER        the router container's name (required)
#   MODULUS_ROUTER_ROUTES           the routes: HAProxy frontends and backends (required)
#   MODULUS_ROUTER_TLS_CERTIFICATE  PEM certificate and chain (optional; with the key)
#   MODULUS_ROUTER_TLS_KEY          PEM private key (optional; with the certificate)
#   MODULUS_DOCKER_HOST             the engine the router runs on (default: the docker CLI's own default)
#
# Exit status: 0 applied, 1 failure (the routes in force stay), 2 usage or invalid input.
set -euo pipefail

readonly PROGRAM=modulus-router
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "$(dirname "${BASH_SOURCE[0]}")/messages.sh"

[[ "${1:-}" == apply && $# -eq 1 ]] || fail 2 'usage: modulus-router.sh apply'
container="${MODULUS_ROUTER_CONTAINER:-}"
[[ "${container}" =~ ^[a-z][a-z0-9-]{0,62}$ ]] || fail 2 "invalid MODULUS_ROUTER_CONTAINER '${container}': give the router container's name"
[[ -n "${MODULUS_ROUTER_ROUTES:-}" ]] || fail 2 'MODULUS_ROUTER_ROUTES is empty: give the routes'
certificate="${MODULUS_ROUTER_TLS_CERTIFICATE:-}"
key="${MODULUS_ROUTER_TLS_KEY:-}"
[[ -z "${certificate}" && -z "${key}" || -n "${certificate}" && -n "${key}" ]] ||
  fail 2 'give both MODULUS_ROUTER_TLS_CERTIFICATE and MODULUS_ROUTER_TLS_KEY, or neither'
if [[ -n "${MODULUS_DOCKER_HOST:-}" ]]; then
  export DOCKER_HOST="${MODULUS_DOCKER_HOST}"
fi

# printf is a shell builtin: the values reach base64 through a pipe, not an argument list.
payload() {
  printf '%s' "${MODULUS_ROUTER_ROUTES}" | base64 -w0
  printf '\n'
  if [[ -n "${certificate}" ]]; then
    printf '%s\n%s\n' "${certificate}" "${key}" | base64 -w0
  else
    printf -- '-'
  fi
  printf '\n'
}

if ! output="$(payload | docker exec -i "${container}" modulus-router-apply 2>&1)"; then
  fail 1 "the router ${container} refused the routes: ${output}"
fi
log "${output}"
