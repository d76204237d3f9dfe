#!/usr/bin/env bash
# modulus-router.sh: hands the router its routes, and its TLS certificate and key, on the Docker host.
#
# Called by the ModulusRouter construct's null_resource provisioner (lib/router.ts). Writes two base64 lines
# (the routes; the certificate and key, or '-') to the stdin of `docker exec -i <router> modulus-router-apply`
# (images/router), which validates them and reloads HAProxy without dropping a request. The certificate and
# key travel only through this process's environment (a sensitive provisioner environment: Terraform shows
# neither it nor this step's output) and a pipe: never a command line, a file on the host or `docker inspect`.
#
# Usage: modulus-router.sh apply | probe | remove-orphan | hand-over | take-over
#   apply          hand the routes (and TLS) to the router (below)
#   hand-over      before a new router container (Terraform creates it before it destroys the old one): the router
#                  MODULUS_ROUTER_CONTAINER of MODULUS_ROUTER_DOMAIN gives up its name (renamed to <name>-<its id>)
#                  and serves on; the new one takes its listening sockets over when it starts (images/router). Any
#                  other router of the domain an interrupted hand-over left running stops first. A router from
#                  before hand-overs (no socket to hand its listeners over) stops here: the new one binds the ports.
#   take-over      after the new router (MODULUS_ROUTER_ID) has its routes: every other router of the domain on this
#                  engine stops, finishing the requests it holds (HAProxy's soft stop, at most 30 s); then the new
#                  one must answer MODULUS_ROUTER_HEALTH_URL
#   probe          Terraform's external data source protocol: reads {"container", "domain", "state_check",
#                  "docker_host" (optional: a unix:// engine other than the default)} on
#                  stdin and prints {"container", "orphan"}: the id of the router container of that name and domain
#                  on this engine (labelled org.modulus.role=router and org.modulus.domain=<domain>: the platform
#                  made it), and, with state_check "terraform" (the probe runs where Terraform runs), a token naming
#                  it when Terraform's state does not record it: an interrupted apply created it, and its name would
#                  block the next one; else the token of the last removal (recorded), so that a plan after it is
#                  empty. Read-only. Over SSH, remote-probe.sh runs it and checks the state itself.
#   remove-orphan  removes the container MODULUS_HEAL_TOKEN names, if it is still the router container
#                  MODULUS_ROUTER_CONTAINER of MODULUS_ROUTER_DOMAIN, and records the token; nothing for an empty
#                  token
#
# Environment:
#   MODULUS_ROUTER_CONTAINER        the router container's name (required)
#   MODULUS_ROUTER_ROUTES           apply: the routes: HAProxy frontends and backends (required)
#   MODULUS_ROUTER_TLS_CERTIFICATE  apply: PEM certificate and chain (optional; with the key)
#   MODULUS_ROUTER_TLS_KEY          apply: PEM private key (optional; with the certificate)
#   MODULUS_ROUTER_DOMAIN           remove-orphan, hand-over, take-over: the router's domain (its label)
#   MODULUS_ROUTER_ID               take-over: the id of the new router container
#   MODULUS_ROUTER_HEALTH_URL       take-over: the router's health URL, asked from inside the new container
#   MODULUS_HEAL_TOKEN              remove-orphan: the probe's token
#   MODULUS_DOCKER_HOST             the engine the router runs on (default: the docker CLI's own default)
#   MODULUS_ROUTER_RECORD_DIR       where remove-orphan records its token (default /var/lib/modulus/router)
#
# Exit status: 0 applied, 1 failure (the routes in force stay), 2 usage or invalid input.
set -euo pipefail

readonly PROGRAM=modulus-router
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
# shellcheck source-path=SCRIPTDIR source=messages.sh
source "${HERE}/messages.sh"
# shellcheck source-path=SCRIPTDIR source=query.sh
source "${HERE}/query.sh"
# shellcheck source-path=SCRIPTDIR source=orphan.sh
source "${HERE}/orphan.sh"

readonly ROUTER_NAME_PATTERN='^[a-z][a-z0-9-]{0,62}$'
readonly RECORD_DIR="${MODULUS_ROUTER_RECORD_DIR:-/var/lib/modulus/router}"
# Loose: the construct checks the domain; here only characters a JSON string and a label compare take as they are.
readonly DOMAIN_PATTERN='^[a-z0-9]([a-z0-9.-]{0,198}[a-z0-9])?$'
# Where a router keeps the socket it hands its listening sockets over through (images/router/global.cfg).
readonly HANDOVER_SOCKET=/var/lib/modulus-router/handover.sock
# HAProxy's hard-stop-after (global.cfg), and a margin.
readonly SOFT_STOP_SECONDS=35

if [[ -n "${MODULUS_DOCKER_HOST:-}" ]]; then
  export DOCKER_HOST="${MODULUS_DOCKER_HOST}"
fi

# router_container_id NAME DOMAIN: the id of the container NAME if it is the router of DOMAIN (its labels say so:
# the platform made it), else nothing (also when the engine does not answer).
router_container_id() {
  local found
  found=$(docker inspect --type container -f '{{.Id}} {{index .Config.Labels "org.modulus.role"}} {{index .Config.Labels "org.modulus.domain"}}' -- "$1" 2>/dev/null) || return 0
  [[ "${found}" == *" router $2" && "${found%% *}" =~ ^[0-9a-f]{64}$ ]] || return 0
  printf '%s' "${found%% *}"
}

cmd_probe() {
  local query container domain state_check docker_host id orphan=""
  query=$(cat)
  container=$(query_value "${query}" container)
  domain=$(query_value "${query}" domain)
  state_check=$(query_value "${query}" state_check)
  docker_host=$(query_value "${query}" docker_host)
  if [[ -n "${docker_host}" ]]; then
    [[ "${docker_host}" =~ ^unix:///[^[:space:]]+$ ]] || fail 2 "invalid docker_host '${docker_host}': give the engine's unix:// socket"
    export DOCKER_HOST="${docker_host}"
  fi
  [[ "${container}" =~ ${ROUTER_NAME_PATTERN} ]] || fail 2 "invalid container '${container}': give the router container's name"
  [[ "${domain}" =~ ${DOMAIN_PATTERN} ]] || fail 2 "invalid domain '${domain}': give the router's domain"
  id=$(router_container_id "${container}" "${domain}")
  if [[ "${state_check}" == terraform && -n "${id}" ]] && state_lacks "${id}"; then
    orphan=$(orphan_token "${id}")
  else
    orphan=$(recorded_token "${container}")
  fi
  printf '{"container":"%s","orphan":"%s"}\n' "${id}" "${orphan}"
}

cmd_remove_orphan() {
  read_router_settings
  local token="${MODULUS_HEAL_TOKEN:-}" id current
  [[ -n "${token}" ]] || return 0
  [[ "${token}" =~ ${ORPHAN_TOKEN_PATTERN} ]] || fail 2 "invalid MODULUS_HEAL_TOKEN: give the router probe's token"
  id=${BASH_REMATCH[1]}
  current=$(router_container_id "${CONTAINER}" "${DOMAIN}")
  # It shares the listening sockets of the router that serves: it finishes the requests it took first.
  if [[ "${current}" == "${id}" ]] && running "${id}"; then
    stop_router "${id}" "an interrupted deploy left it outside Terraform's state"
  fi
  remove_orphan_container "router container" "${CONTAINER}" "${id}" "${current}"
  (
    umask 077
    mkdir -p -- "${RECORD_DIR}"
    printf '%s\n' "${token}" >"${RECORD_DIR}/${CONTAINER}.heal-token.new"
  )
  mv -f -T -- "${RECORD_DIR}/${CONTAINER}.heal-token.new" "${RECORD_DIR}/${CONTAINER}.heal-token"
}

# read_router_settings: the router container's name and domain from the environment, checked.
read_router_settings() {
  CONTAINER="${MODULUS_ROUTER_CONTAINER:-}" DOMAIN="${MODULUS_ROUTER_DOMAIN:-}"
  [[ "${CONTAINER}" =~ ${ROUTER_NAME_PATTERN} ]] || fail 2 "invalid MODULUS_ROUTER_CONTAINER '${CONTAINER}': give the router container's name"
  [[ "${DOMAIN}" =~ ${DOMAIN_PATTERN} ]] || fail 2 "invalid MODULUS_ROUTER_DOMAIN '${DOMAIN}': give the router's domain"
}

# running ID: whether container ID runs.
running() { [[ "$(docker inspect -f '{{.State.Running}}' -- "$1")" == true ]]; }

# running_routers: the ids of the running router containers of DOMAIN on this engine (labelled so: the platform made them).
running_routers() {
  docker ps --no-trunc --filter label=org.modulus.role=router --filter "label=org.modulus.domain=${DOMAIN}" --format '{{.ID}}' ||
    fail 1 "cannot list the router containers of ${DOMAIN}"
}

# stop_router ID WHY: stops the router container ID the way HAProxy finishes its requests (SIGUSR1: soft stop), and
# for good (no restart by its policy); SIGTERM after SOFT_STOP_SECONDS.
stop_router() {
  docker update --restart=no -- "$1" >/dev/null || fail 1 "cannot update router container ${1:0:12}"
  docker kill --signal USR1 -- "$1" >/dev/null 2>&1 || true
  if ! timeout "${SOFT_STOP_SECONDS}" docker wait -- "$1" >/dev/null 2>&1; then
    docker stop --time 5 -- "$1" >/dev/null || fail 1 "cannot stop router container ${1:0:12}"
  fi
  log "stopped router container ${1:0:12} of ${DOMAIN}: $2"
}

cmd_hand_over() {
  read_router_settings
  local id other
  id=$(router_container_id "${CONTAINER}" "${DOMAIN}")
  if [[ -z "${id}" ]]; then
    if docker inspect --type container -- "${CONTAINER}" >/dev/null 2>&1; then
      fail 1 "a container named ${CONTAINER} that is not the router of ${DOMAIN} holds its name: remove or rename it"
    fi
    # A renamed router an interrupted hand-over left serves on, until the new one took over.
    log "no router container ${CONTAINER} of ${DOMAIN} here: nothing to hand over"
    return 0
  fi
  for other in $(running_routers); do
    [[ "${other}" == "${id}" ]] || stop_router "${other}" "an interrupted replacement left it, and ${CONTAINER} (${id:0:12}) serves"
  done
  if running "${id}" && ! docker exec -- "${id}" test -S "${HANDOVER_SOCKET}"; then
    stop_router "${id}" "it predates hand-overs (no ${HANDOVER_SOCKET}): the new router binds the ports itself"
  fi
  docker rename -- "${id}" "${CONTAINER}-${id:0:12}" || fail 1 "cannot rename the router container ${CONTAINER} (${id:0:12})"
  log "renamed the router container ${CONTAINER} (${id:0:12}) to ${CONTAINER}-${id:0:12}: it serves until the new one took over, then Terraform removes it"
}

cmd_take_over() {
  read_router_settings
  local id="${MODULUS_ROUTER_ID:-}" url="${MODULUS_ROUTER_HEALTH_URL:-}" other tries
  [[ "${id}" =~ ^[0-9a-f]{64}$ ]] || fail 2 "invalid MODULUS_ROUTER_ID '${id}': give the new router container's id"
  [[ "${url}" =~ ^http://[0-9.]+:[0-9]{1,5}/[[:graph:]]*$ ]] || fail 2 "invalid MODULUS_ROUTER_HEALTH_URL '${url}': give http://<address>:<port>/<path>"
  [[ "$(router_container_id "${CONTAINER}" "${DOMAIN}")" == "${id}" ]] ||
    fail 1 "the router container ${CONTAINER} of ${DOMAIN} is not ${id:0:12}: run the deploy again"
  running "${id}" || fail 1 "the router container ${CONTAINER} (${id:0:12}) does not run: see docker logs ${CONTAINER}"
  for other in $(running_routers); do
    [[ "${other}" == "${id}" ]] || stop_router "${other}" "${CONTAINER} (${id:0:12}) took its listening sockets over"
  done
  # Alone on its ports now: an answer is the new router's.
  for ((tries = 0; tries < 20; tries++)); do
    if docker exec -- "${id}" curl -fsS -o /dev/null --noproxy '*' --max-time 2 "${url}" 2>/dev/null; then
      log "the router container ${CONTAINER} (${id:0:12}) serves ${DOMAIN}"
      return 0
    fi
    sleep 0.5
  done
  fail 1 "the router container ${CONTAINER} (${id:0:12}) does not answer ${url}: see docker logs ${CONTAINER}"
}

# recorded_token NAME: the token of the last removal for the router container NAME, or nothing.
recorded_token() {
  local file="${RECORD_DIR}/$1.heal-token" token=""
  [[ -f "${file}" && ! -L "${file}" ]] && token=$(head -n 1 -- "${file}")
  [[ "${token}" =~ ${ORPHAN_TOKEN_PATTERN} ]] && printf '%s' "${token}"
  return 0
}

cmd_apply() {
  local container="${MODULUS_ROUTER_CONTAINER:-}"
  [[ "${container}" =~ ${ROUTER_NAME_PATTERN} ]] || fail 2 "invalid MODULUS_ROUTER_CONTAINER '${container}': give the router container's name"
  [[ -n "${MODULUS_ROUTER_ROUTES:-}" ]] || fail 2 'MODULUS_ROUTER_ROUTES is empty: give the routes'
  local certificate="${MODULUS_ROUTER_TLS_CERTIFICATE:-}" key="${MODULUS_ROUTER_TLS_KEY:-}" output
  [[ -z "${certificate}" && -z "${key}" || -n "${certificate}" && -n "${key}" ]] ||
    fail 2 'give both MODULUS_ROUTER_TLS_CERTIFICATE and MODULUS_ROUTER_TLS_KEY, or neither'
  if ! output="$(payload "${certificate}" "${key}" | docker exec -i "${container}" modulus-router-apply 2>&1)"; then
    fail 1 "the router ${container} refused the routes: ${output}"
  fi
  log "${output}"
}

# payload CERTIFICATE KEY: printf is a shell builtin: the values reach base64 through a pipe, not an argument list.
payload() {
  printf '%s' "${MODULUS_ROUTER_ROUTES}" | base64 -w0
  printf '\n'
  if [[ -n "$1" ]]; then
    printf '%s\n%s\n' "$1" "$2" | base64 -w0
  else
    printf -- '-'
  fi
  printf '\n'
}

main() {
  (($# == 1)) || fail 2 'usage: modulus-router.sh apply | probe | remove-orphan | hand-over | take-over'
  case "$1" in
    apply) cmd_apply ;;
    probe) cmd_probe ;;
    remove-orphan) cmd_remove_orphan ;;
    hand-over) cmd_hand_over ;;
    take-over) cmd_take_over ;;
    *) fail 2 "unknown command '$1': use apply, probe, remove-orphan, hand-over or take-over" ;;
  esac
}

main "$@"
