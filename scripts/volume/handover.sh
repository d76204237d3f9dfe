# shellcheck shell=bash
# modulus-volume.sh, sourced: a run container replaced beside the serving one (an app behind a router, host
# networking). Terraform creates the new container before it destroys the old one (create_before_destroy):
#
#   hand-over   before the new container: the serving container gives up its name (renamed to
#               <name>-<its id>, still serving) and supervisor.conf makes the new one start the idle slot;
#               $MODULUS_ROOT/handover-slot records that slot.
#   take-over   after it: once the new container's slot passes its health check, the router sends it requests,
#               the old slot drains and every other running run container of the app stops; the recorded slot
#               becomes the served one. Terraform then removes the old container.
#
# Killed at any point, the next deploy goes on from there: the old container serves until a take-over has seen
# the new one healthy, and an interrupted hand-over's leftovers (a container that serves nothing) are stopped by
# the next hand-over. Only containers labelled as this app's run containers are renamed or stopped.

handover_file() { printf '%s/handover-slot' "${ROOT}"; }

# The slot the next run container starts: the recorded hand-over's, else the served one.
starting_slot() {
  local slot=""
  if [[ -r "$(handover_file)" ]]; then
    slot=$(head -n 1 -- "$(handover_file)")
  fi
  case "${slot}" in
    blue | green) printf '%s' "${slot}" ;;
    *) served_slot ;;
  esac
}

# The ids of this app's running run containers (the serving one, and any an interrupted hand-over left).
running_run_containers() {
  docker ps --no-trunc --filter "label=org.modulus.app=${APP}" --filter label=org.modulus.role=run --format '{{.ID}}' ||
    fail 1 "cannot list the run containers of app '${APP}'"
}

# serves ID SLOT: whether a process of container ID holds the slot's port (as root on the host sees it).
serves() {
  local RUN_CONTAINER=$1
  own_listener "$2"
}

read_handover_settings() {
  read_run_container
  [[ -n "${MODULUS_SLOT_PORTS:-}" ]] || fail 2 "MODULUS_SLOT_PORTS is required: a hand-over is between the two slots of an app behind a router"
  read_release_settings
}

# stop_run_container ID WHY: stops the app's run container ID, saying why.
stop_run_container() {
  docker stop --time 10 -- "$1" >/dev/null || fail 1 "cannot stop run container ${1:0:12} of app '${APP}'"
  log "stopped run container ${1:0:12} of app '${APP}': $2"
}

cmd_hand_over() {
  read_handover_settings
  require_image hand-over
  lock
  require_mounted
  local served next ids id serving=""
  served=$(served_slot)
  next=$(other_slot "${served}")
  ids=$(running_run_containers)
  for id in ${ids}; do
    if [[ -z "${serving}" ]] && serves "${id}" "${served}"; then
      serving=${id}
    else
      stop_run_container "${id}" 'it served neither slot (left by an interrupted replacement)'
    fi
  done
  if [[ -n "${serving}" ]]; then
    printf '%s\n' "${next}" | write_atomically "$(handover_file)" 0600
    in_volume autostart "${next}" </dev/null || fail 1 "cannot make the ${next} slot the one the new run container of app '${APP}' starts"
    log "the new run container of app '${APP}' starts its ${next} slot beside the ${served} slot, which serves until it takes over"
  else
    rm -f -- "$(handover_file)"
    in_volume autostart "${served}" </dev/null || fail 1 "cannot make the ${served} slot the one the new run container of app '${APP}' starts"
    log "no run container of app '${APP}' serves: the new one starts its ${served} slot"
  fi
  id=$(run_container_id "${RUN_CONTAINER}")
  if [[ -n "${id}" ]]; then
    docker rename -- "${id}" "${RUN_CONTAINER}-${id:0:12}" || fail 1 "cannot rename the run container ${RUN_CONTAINER} of app '${APP}'"
    log "renamed the run container ${RUN_CONTAINER} (${id:0:12}) of app '${APP}' to ${RUN_CONTAINER}-${id:0:12}: Terraform removes it once the new one took over"
  elif docker inspect --type container -- "${RUN_CONTAINER}" >/dev/null 2>&1; then
    fail 1 "a container named ${RUN_CONTAINER} that is not a run container of app '${APP}' holds its name: remove or rename it"
  fi
}

cmd_take_over() {
  read_handover_settings
  require_image take-over
  lock
  require_mounted
  if [[ ! -r "$(handover_file)" ]]; then
    # The idle slot takes no request until a release starts there: publish, which is not ordered after the
    # routes, may have found no backend to tell.
    local idle answer
    idle=$(other_slot "$(served_slot)")
    answer=$(router set "${ROUTER_BACKEND}" "${idle}" drain) || log "could not keep the ${idle} slot of app '${APP}' idle in the router: ${answer}"
    log "the run container ${RUN_CONTAINER} of app '${APP}' took over from no other: nothing to hand over"
    return 0
  fi
  local next served ids id own
  next=$(starting_slot)
  served=$(other_slot "${next}")
  own=$(run_container_id "${RUN_CONTAINER}")
  [[ -n "${own}" ]] || fail 1 "the run container ${RUN_CONTAINER} of app '${APP}' is not on this host's engine"
  if ! await_slot "${next}" "new run container"; then
    router set "${ROUTER_BACKEND}" "${next}" drain >/dev/null || true
    fail 1 "$(with_log_tail "${FAILURE}")
the ${served} slot of the previous run container goes on serving"
  fi
  take_requests "${next}" || fail 1 "${FAILURE}"
  log "the new run container of app '${APP}' passed its health check in the ${next} slot and takes requests; draining the ${served} slot"
  drain "${served}"
  ids=$(running_run_containers)
  for id in ${ids}; do
    [[ "${id}" == "${own}" ]] || stop_run_container "${id}" "the run container ${RUN_CONTAINER} took over from it"
  done
  printf '%s\n' "${next}" | write_atomically "$(served_slot_file)" 0600
  rm -f -- "$(handover_file)"
  log "the run container ${RUN_CONTAINER} of app '${APP}' serves in its ${next} slot"
}
