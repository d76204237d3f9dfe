# shellcheck shell=bash
# modulus-volume.sh, sourced: build staging (prepare-build) and publishing a release with an in-place restart.
#
# A build's output becomes a release, .releases/<id> in the volume, and app is a link to the release that
# serves: publishing renames a new link over it (one rename, so app is the old build or the new one at every
# instant), restarts the app through `docker exec` in its run container (the standard's way of controlling an
# app) and switches back when the new build does not start. Keyed by the release id, publish can be run again
# at any point: a release already staged is not staged again, and one that is linked and serving is left as it is.

cmd_prepare_build() {
  local source="${MODULUS_SOURCE:-}"
  [[ -n "${source}" ]] || fail 2 "MODULUS_SOURCE is required"
  [[ -f "${source}" ]] || fail 2 "MODULUS_SOURCE '${source}' is not a file (the source's tar archive)"
  require_image prepare-build
  local secrets
  secrets=$(render_build_secrets)
  lock
  require_mounted
  in_volume prepare-build <"${source}" || fail 1 "cannot copy the source of app '${APP}' into input/"
  # Always written, so secrets a previous deploy gave are gone when this one gives none.
  printf '%s' "${secrets:+${secrets}$'\n'}" | in_volume write-file .build-secrets || fail 1 "cannot write the build secrets of app '${APP}'"
  log "copied the source of app '${APP}' into input/"
}

# NAME=<base64 of the value> lines of MODULUS_BUILD_SECRET_<NAME> for each NAME of MODULUS_BUILD_SECRET_NAMES,
# read by the build container before `build` starts (and deleted by it).
render_build_secrets() {
  local names=() name var
  read -r -a names <<<"${MODULUS_BUILD_SECRET_NAMES:-}"
  for name in "${names[@]}"; do
    [[ "${name}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || fail 2 "invalid build secret name '${name}'"
    var="MODULUS_BUILD_SECRET_${name}"
    [[ -n "${!var+set}" ]] || fail 2 "${var} is not set"
    printf '%s=%s\n' "${name}" "$(printf '%s' "${!var}" | base64 -w 0)"
  done
}

# supervisor_call METHOD [NAME [WAIT]]: one XML-RPC call to supervisord in the app's run container, through its
# control socket as the container sees it. Prints the response; fails when supervisord does not answer.
supervisor_call() {
  local method=$1 params=""
  if (($# > 1)); then
    params="<param><value><string>$2</string></value></param>"
  fi
  if (($# > 2)); then
    params+="<param><value><boolean>$3</boolean></value></param>"
  fi
  printf '<?xml version="1.0"?><methodCall><methodName>%s</methodName><params>%s</params></methodCall>' "${method}" "${params}" |
    docker exec -i -- "${RUN_CONTAINER}" curl --silent --show-error --max-time 300 --unix-socket /mnt/home/supervisor.sock \
      -H 'Content-Type: text/xml' --data-binary @- http://supervisord/RPC2
}

# The faultString of an XML-RPC response (printable characters only, at most 200: the app's supervisord wrote
# it), or nothing when the call succeeded.
supervisor_fault() {
  [[ "$1" == *"<fault>"* ]] || return 0
  local reason
  reason=$(tr -d '\n' <<<"$1" | sed -n 's:.*<name>faultString</name>[[:space:]]*<value><string>\([^<]*\)</string>.*:\1:p' | tr -cd '[:print:]' | cut -c1-200)
  printf '%s' "${reason:-an unreadable fault}"
}

# running, absent, or Docker's other states (exited, restarting, ...). Fails when the engine cannot tell.
container_state() {
  local answer
  if answer=$(docker inspect --type container -f '{{.State.Status}}' -- "${RUN_CONTAINER}" 2>&1); then
    printf '%s' "${answer}"
  elif [[ "${answer}" == *"No such"* ]]; then
    printf 'absent'
  else
    fail 1 "cannot inspect the run container ${RUN_CONTAINER} of app '${APP}': ${answer}"
  fi
}

# wait_for_supervisord TRIES: whether supervisord answers within TRIES half-second attempts.
wait_for_supervisord() {
  local attempt
  for ((attempt = 0; attempt < $1; attempt++)); do
    supervisor_call supervisor.getState >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

app_running() {
  local response
  response=$(supervisor_call supervisor.getProcessInfo app 2>/dev/null) || return 1
  [[ "$(tr -d '\n[:space:]' <<<"${response}")" == *"<name>statename</name><value><string>RUNNING</string>"* ]]
}

# Restart the app in its run container (supervisord's stopProcess + startProcess, which waits until the app
# counts as started); start the container first when it is not running, restart it when its supervisord does
# not answer. Nothing to do before the run
# container exists: it starts whatever app links to. Returns non-zero with the reason in FAILURE when the app
# did not start or supervisord did not answer.
restart_app() {
  local state response fault tries=4
  FAILURE=""
  state=$(container_state)
  case "${state}" in
    absent)
      log "app '${APP}' has no run container yet (${RUN_CONTAINER}): it will start with this release"
      return 0
      ;;
    running) ;;
    *)
      # A container just started needs supervisord's start-up first.
      tries=60
      log "the run container ${RUN_CONTAINER} of app '${APP}' is ${state}: starting it"
      if ! docker start -- "${RUN_CONTAINER}" >/dev/null; then
        FAILURE="cannot start the run container ${RUN_CONTAINER} of app '${APP}'"
        return 1
      fi
      ;;
  esac
  if ! wait_for_supervisord "${tries}"; then
    # The app can remove or replace the socket (it owns /mnt/home): a restarted supervisord makes it again.
    local restarted=false
    if [[ "${state}" == running ]]; then
      log "supervisord of app '${APP}' does not answer in its run container ${RUN_CONTAINER}: restarting the container"
      docker restart --time 10 -- "${RUN_CONTAINER}" >/dev/null && restarted=true
    fi
    if [[ "${restarted}" != true ]] || ! wait_for_supervisord 60; then
      FAILURE="supervisord of app '${APP}' does not answer in its run container ${RUN_CONTAINER} (was /mnt/home/supervisor.sock moved?)"
      return 1
    fi
  fi
  if ! response=$(supervisor_call supervisor.stopProcess app 1); then
    FAILURE="supervisord of app '${APP}' stopped answering"
    return 1
  fi
  fault=$(supervisor_fault "${response}")
  if [[ -n "${fault}" && "${fault}" != NOT_RUNNING* ]]; then
    FAILURE="cannot stop app '${APP}': ${fault}"
    return 1
  fi
  if ! response=$(supervisor_call supervisor.startProcess app 1); then
    FAILURE="supervisord of app '${APP}' stopped answering"
    return 1
  fi
  fault=$(supervisor_fault "${response}")
  if [[ -n "${fault}" ]]; then
    FAILURE="the new build of app '${APP}' did not start: ${fault} (see /mnt/log/app.log)"
    return 1
  fi
  RESTARTED=1
}

# remove_leftover_builds RELEASE: deletes the app's stopped build containers other than RELEASE's. Only containers
# this platform made (labelled org.modulus.app=<app> and org.modulus.role=build) and only stopped ones: what a
# deploy killed during its build left behind (Terraform replaces its own build container before making a new one,
# so at publish time no other build container of the app is in the state). Never fails the publish.
remove_leftover_builds() {
  local release=$1 ids id
  ids=$(docker ps -a --no-trunc --filter "label=org.modulus.app=${APP}" --filter label=org.modulus.role=build \
    --filter status=exited --filter status=created --filter status=dead --format '{{.ID}}' 2>/dev/null) || return 0
  for id in ${ids}; do
    [[ "${id}" == "${release}" ]] && continue
    if docker rm -- "${id}" >/dev/null 2>&1; then
      log "removed build container ${id:0:12} of app '${APP}', left behind by an interrupted deploy"
    fi
  done
}

served_file() { printf '%s/served-release' "${ROOT}"; }

served_release() {
  [[ -f "$(served_file)" ]] && head -n 1 -- "$(served_file)"
  return 0
}

cmd_publish() {
  local release="${MODULUS_RELEASE:-}"
  RUN_CONTAINER="${MODULUS_RUN_CONTAINER:-}"
  [[ "${release}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] ||
    fail 2 "invalid MODULUS_RELEASE '${release}': letters, digits, '_', '.' and '-', at most 128"
  [[ "${RUN_CONTAINER}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] ||
    fail 2 "invalid MODULUS_RUN_CONTAINER '${RUN_CONTAINER}': the name of the app's run container"
  require_image publish
  lock
  require_mounted
  in_volume stage "${release}" </dev/null || fail 1 "cannot stage the build of app '${APP}' as release ${release}"
  local previous rollback
  previous=$(in_volume switch "${release}" </dev/null) || fail 1 "cannot point app/ of app '${APP}' at release ${release}"
  rollback=${previous}
  if [[ "${previous}" == "${release}" ]]; then
    if [[ "$(served_release)" == "${release}" ]] && [[ "$(container_state)" == running ]] && app_running; then
      log "release ${release} of app '${APP}' is published and running: nothing to do"
      remove_leftover_builds "${release}"
      return 0
    fi
    # An earlier run switched but did not see the app start: the release that served before is the way back.
    rollback=$(served_release)
  fi
  RESTARTED=0
  if ! restart_app; then
    local reason=${FAILURE}
    if [[ -n "${rollback}" && "${rollback}" != "${release}" ]] && in_volume switch "${rollback}" </dev/null >/dev/null; then
      restart_app || log "the previous build of app '${APP}' did not start again either: ${FAILURE}"
      fail 1 "${reason}; app/ is back on release ${rollback}, the new one stays in .releases/${release}"
    fi
    fail 1 "${reason}; there is no earlier release to go back to"
  fi
  if ((RESTARTED)); then
    printf '%s\n' "${release}" | write_atomically "$(served_file)" 0600
  fi
  # shellcheck disable=SC2086 # no rollback release: nothing to keep besides this one
  in_volume prune "${release}" ${rollback} </dev/null || log "could not delete the older releases of app '${APP}'"
  remove_leftover_builds "${release}"
  log "published release ${release} of app '${APP}'"
}
