# shellcheck shell=bash
# modulus-volume.sh, sourced: build staging (prepare-build) and publishing a release with an in-place restart.
#
# A build's output becomes a release, .releases/<id> in the volume, and app is a link to the release that
# serves: publishing renames a new link over it (one rename, so app is the old build or the new one at every
# instant), restarts the app through `docker exec` in its run container (the standard's way of controlling an
# app) and switches back when the new build does not start. Keyed by the release id, publish can be run again
# at any point: a release already staged is not staged again, and one that is linked and serving is left as it is.
# An app behind a router (MODULUS_SLOT_PORTS) has two slots instead, blue and green: a release starts in the idle
# one beside the serving one and takes requests only once it passes its health check (publish_to_slot).

cmd_prepare_build() {
  local source="${MODULUS_SOURCE:-}" key="${MODULUS_BUILD_KEY:-}"
  [[ -n "${source}" ]] || fail 2 "MODULUS_SOURCE is required"
  [[ -f "${source}" ]] || fail 2 "MODULUS_SOURCE '${source}' is not a file (the source's tar archive)"
  [[ "${key}" =~ ^[0-9a-f]{64}$ ]] || fail 2 "invalid MODULUS_BUILD_KEY: the SHA-256 of the build's inputs, 64 hexadecimal digits"
  require_image prepare-build
  local secrets
  secrets=$(render_build_secrets)
  lock
  require_mounted
  in_volume_fed "${source}" prepare-build || fail 1 "cannot copy the source of app '${APP}' into input/"
  # Always written, so secrets a previous deploy gave are gone when this one gives none.
  in_volume_text "${secrets:+${secrets}$'\n'}" write-file .build-secrets || fail 1 "cannot write the build secrets of app '${APP}'"
  # The build reuses a release kept in the volume under this key instead of building it again.
  in_volume_text "${key}"$'\n' write-file .build-key || fail 1 "cannot write the build key of app '${APP}'"
  log "copied the source of app '${APP}' into input/"
}

# export-release: the release MODULUS_RELEASE of this volume (staged, or still in output/) as a tar archive at
# MODULUS_RELEASE_ARCHIVE on this machine, for another instance of the app (its publish). Written whole or not
# at all; an archive above MODULUS_RELEASE_MAX_MIB (the app's builds write what they like) fails instead.
cmd_export_release() {
  read_release
  local release="${RELEASE}" archive="${MODULUS_RELEASE_ARCHIVE:-}" max_mib="${MODULUS_RELEASE_MAX_MIB:-}"
  [[ -n "${archive}" ]] || fail 2 "MODULUS_RELEASE_ARCHIVE is required: the archive's path on this machine"
  [[ "${max_mib}" =~ ^[1-9][0-9]{0,6}$ ]] || fail 2 "invalid MODULUS_RELEASE_MAX_MIB '${max_mib}': a size in MiB"
  require_image export-release
  lock
  require_mounted
  local folder partial
  folder=$(dirname -- "${archive}")
  mkdir -p -- "${folder}"
  chmod 0700 -- "${folder}"
  partial="${archive}.partial"
  rm -f -- "${partial}"
  local status=0
  (
    umask 077
    in_volume export "${release}" </dev/null | head -c "$((max_mib * 1024 * 1024 + 1))" >"${partial}"
    exit "${PIPESTATUS[0]}"
  ) || status=$?
  # Past the limit head stops reading, and the export fails on its closed pipe: the size is the reason.
  if [[ -f "${partial}" ]] && (($(stat -c %s -- "${partial}") > max_mib * 1024 * 1024)); then
    rm -f -- "${partial}"
    fail 1 "release ${release} of app '${APP}' is larger than ${max_mib} MiB (the volume of the instance that receives it)"
  fi
  if ((status != 0)); then
    rm -f -- "${partial}"
    fail 1 "cannot export release ${release} of app '${APP}'"
  fi
  mv -f -T -- "${partial}" "${archive}"
  log "exported release ${release} of app '${APP}' ($(($(stat -c %s -- "${archive}") / 1024)) KiB)"
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

# in_run_container SECONDS [-i] COMMAND...: `docker exec` of COMMAND in the app's run container, killed after SECONDS.
# What it starts runs as the app's user, whom the app can stop (SIGSTOP): a timer of its own (curl's) never fires.
in_run_container() {
  local seconds=$1 interactive=()
  shift
  if [[ "$1" == -i ]]; then
    interactive=(-i)
    shift
  fi
  timeout --kill-after=5 "${seconds}" docker exec "${interactive[@]}" -- "${RUN_CONTAINER}" "$@"
}

# supervisor_call METHOD [NAME [WAIT]]: one XML-RPC call to supervisord in the app's run container, through its
# control socket as the container sees it (where its image's read-only supervisord.conf puts it: /dev/shm, the
# container's own, since 0.4; /mnt/home before). Prints the response; fails when supervisord does not answer.
# Bounded at SUPERVISOR_CALL_SECONDS (in_run_container).
supervisor_call() {
  local method=$1 params=""
  if (($# > 1)); then
    params="<param><value><string>$2</string></value></param>"
  fi
  if (($# > 2)); then
    params+="<param><value><boolean>$3</boolean></value></param>"
  fi
  # shellcheck disable=SC2016 # expanded by the container's sh
  printf '<?xml version="1.0"?><methodCall><methodName>%s</methodName><params>%s</params></methodCall>' "${method}" "${params}" |
    in_run_container "${SUPERVISOR_CALL_SECONDS:-310}" -i sh -c 'exec curl --silent --show-error --max-time 300 \
      --unix-socket "$(sed -n "s/^file=//p" /etc/supervisor/supervisord.conf)" \
      -H "Content-Type: text/xml" --data-binary @- http://supervisord/RPC2'
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

# program_state NAME: supervisord's state of the program ("RUNNING", "BACKOFF", "FATAL", ...), or nothing when
# supervisord does not answer or has no such program.
program_state() {
  local response
  response=$(supervisor_call supervisor.getProcessInfo "$1" 2>/dev/null) || return 0
  tr -d '\n[:space:]' <<<"${response}" | sed -n 's:.*<name>statename</name><value><string>\([A-Z]*\)</string>.*:\1:p'
}

# app_running SLOTS: whether the app's program (with SLOTS true, that of the serving slot) runs.
app_running() {
  local program=app
  if [[ "$1" == true ]]; then
    program="app-$(served_slot)"
  fi
  [[ "$(program_state "${program}")" == RUNNING ]]
}

# ensure_supervisord: the run container running and its supervisord answering: starts the container when it is
# not running, restarts it when its supervisord does not answer. Sets STATE to the container's state before
# (absent: nothing done, there is no run container yet). Returns non-zero with the reason in FAILURE.
ensure_supervisord() {
  local tries=4
  FAILURE=""
  STATE=$(container_state)
  case "${STATE}" in
    absent) return 0 ;;
    running) ;;
    *)
      # A container just started needs supervisord's start-up first. Between crashes (restarting) Docker waits
      # before each try, doubling up to a minute, and `docker start` does not cut that wait short: a restart does.
      tries=60
      local engine_call=(start)
      if [[ "${STATE}" == restarting ]]; then
        engine_call=(restart --time 10)
        log "the run container ${RUN_CONTAINER} of app '${APP}' is restarting (crashed): restarting it now"
      else
        log "the run container ${RUN_CONTAINER} of app '${APP}' is ${STATE}: starting it"
      fi
      if ! docker "${engine_call[@]}" -- "${RUN_CONTAINER}" >/dev/null; then
        FAILURE="cannot ${engine_call[0]} the run container ${RUN_CONTAINER} of app '${APP}'"
        return 1
      fi
      ;;
  esac
  if ! wait_for_supervisord "${tries}"; then
    # The app can remove or replace the socket (it runs as supervisord's user): a restarted supervisord makes it again.
    local restarted=false
    if [[ "${STATE}" == running ]]; then
      log "supervisord of app '${APP}' does not answer in its run container ${RUN_CONTAINER}: restarting the container"
      docker restart --time 10 -- "${RUN_CONTAINER}" >/dev/null && restarted=true
    fi
    if [[ "${restarted}" != true ]] || ! wait_for_supervisord 60; then
      FAILURE="supervisord of app '${APP}' does not answer in its run container ${RUN_CONTAINER} (was its control socket moved?)"
      return 1
    fi
  fi
}

# knows_program NAME: whether the run container's supervisord has the program. It has not when supervisor.conf
# changed between one program and two slots (a router added or removed): this apply replaces the container after
# the publish step (its config label changes), and the new one starts the release app links to.
knows_program() {
  local response
  response=$(supervisor_call supervisor.getProcessInfo "$1" 2>/dev/null) || return 0
  [[ "$(supervisor_fault "${response}")" != BAD_NAME* ]]
}

# process_call METHOD PROGRAM [WAIT]: supervisord's stopProcess or startProcess; a NOT_RUNNING fault of a stop
# counts as done. Returns non-zero with the reason in FAILURE.
process_call() {
  local response fault
  if ! response=$(supervisor_call "$@"); then
    FAILURE="supervisord of app '${APP}' stopped answering"
    return 1
  fi
  fault=$(supervisor_fault "${response}")
  if [[ -n "${fault}" && ! ("$1" == supervisor.stopProcess && "${fault}" == NOT_RUNNING*) ]]; then
    FAILURE="${fault}"
    return 1
  fi
}

# Restart the app in its run container (supervisord's stopProcess + startProcess). Started means: it answers HTTP
# (MODULUS_READY_PORTS, read_readiness: the run container's health check) on a port its container holds, before
# any exit; without a check, what supervisord calls started (startsecs, 10 s). Nothing to do before the run
# container exists: it starts whatever app links to. Returns non-zero with the reason in FAILURE when the app did
# not start or supervisord did not answer.
restart_app() {
  ensure_supervisord || return 1
  if [[ "${STATE}" == absent ]]; then
    log "app '${APP}' has no run container yet (${RUN_CONTAINER}): it will start with this release"
    return 0
  fi
  if ! knows_program app; then
    log "the run container ${RUN_CONTAINER} of app '${APP}' has the two slots of an app behind a router: it is replaced after this step, and starts this release"
    return 0
  fi
  process_call supervisor.stopProcess app 1 || { FAILURE="cannot stop app '${APP}': ${FAILURE}"; return 1; }
  if ((${#READY_URLS[@]} == 0)); then
    # No HTTP check: started once supervisord calls it so, after startsecs.
    if ! process_call supervisor.startProcess app 1; then
      FAILURE="the new build of app '${APP}' did not start: ${FAILURE} (see /mnt/log/app.log)"
      return 1
    fi
  elif ! process_call supervisor.startProcess app 0 || ! await_answer "BACKOFF FATAL EXITED STOPPED" || ! own_listener_on "${READY_PORTS[0]}" "app '${APP}'"; then
    # Started once it answers, on a port its own container holds; an exit before that is a failed start.
    FAILURE="the new build of app '${APP}' did not start: ${FAILURE} (see /mnt/log/app.log)"
    return 1
  else
    log "the new build of app '${APP}' answers (waited ${READY_WAITED} s)"
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

served_slot_file() { printf '%s/served-slot' "${ROOT}"; }

# blue or green: the slot whose program serves an app behind a router, as publish recorded it on the host (where
# the app cannot write); blue before the first release.
served_slot() {
  local slot=""
  if [[ -r "$(served_slot_file)" ]]; then
    slot=$(head -n 1 -- "$(served_slot_file)")
  fi
  if [[ "${slot}" == green ]]; then printf 'green'; else printf 'blue'; fi
}

other_slot() { if [[ "$1" == blue ]]; then printf 'green'; else printf 'blue'; fi; }

# The release settings of an app behind a router (ModulusApp's `release`), checked before anything is touched.
read_release_settings() {
  read_slot_ports
  HEALTH_PATH=${MODULUS_HEALTH_PATH:-/}
  [[ "${HEALTH_PATH}" =~ ${HEALTH_PATH_PATTERN} && ${#HEALTH_PATH} -le 200 ]] ||
    fail 2 "invalid MODULUS_HEALTH_PATH '${HEALTH_PATH}': give a URL path of at most 200 characters"
  HEALTH_STATUS=${MODULUS_HEALTH_STATUS:-200}
  [[ "${HEALTH_STATUS}" =~ ^[1-5][0-9][0-9]$ ]] || fail 2 "invalid MODULUS_HEALTH_STATUS '${HEALTH_STATUS}': give an HTTP status"
  local name
  for name in MODULUS_HEALTH_INTERVAL_MS MODULUS_HEALTH_TIMEOUT_MS MODULUS_START_TIMEOUT_SECONDS MODULUS_DRAIN_SECONDS; do
    [[ "${!name:-}" =~ ^[0-9]{1,6}$ ]] || fail 2 "invalid ${name} '${!name:-}': give a whole number"
  done
  ROUTER_CONTAINER=${MODULUS_ROUTER_CONTAINER:-}
  ROUTER_BACKEND=${MODULUS_ROUTER_BACKEND:-}
  [[ "${ROUTER_CONTAINER}" =~ ^[a-z][a-z0-9-]{0,62}$ ]] || fail 2 "invalid MODULUS_ROUTER_CONTAINER '${ROUTER_CONTAINER}'"
  [[ "${ROUTER_BACKEND}" =~ ^[a-z][a-z0-9-]{0,62}$ ]] || fail 2 "invalid MODULUS_ROUTER_BACKEND '${ROUTER_BACKEND}'"
}

slot_port() { if [[ "$1" == blue ]]; then printf '%s' "${SLOT_PORTS[0]}"; else printf '%s' "${SLOT_PORTS[1]}"; fi; }

# seconds MILLISECONDS: the same time in seconds, as sleep and curl take it (e.g. 1.500).
seconds() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }

# The HTTP status the slot answers its health check with, from inside the run container ("000": no answer).
slot_health() {
  local code
  code=$(in_run_container "$(((MODULUS_HEALTH_TIMEOUT_MS + 999) / 1000 + 5))" curl --silent --output /dev/null --write-out '%{http_code}' --noproxy '*' \
    --max-time "$(seconds "${MODULUS_HEALTH_TIMEOUT_MS}")" \
    "http://127.0.0.1:$(slot_port "$1")${HEALTH_PATH}" 2>/dev/null) || true
  [[ "${code}" =~ ^[0-9]{3}$ ]] || code=000
  printf '%s' "${code}"
}

# With host networking every app shares the host's ports, and another app could answer on an idle slot's port.
# own_listener SLOT: whether every socket listening on the slot's port belongs to a process of the run container
# (own_listener_on).
own_listener() { own_listener_on "$(slot_port "$1")" "the $1 slot of app '${APP}'"; }

# own_listener_on PORT WHAT: whether every socket listening on PORT (WHAT's, e.g. "app 'shop'") belongs to a process
# of the run container (its pid namespace, which no process of another container can join), as root on the host
# sees it. Returns non-zero with the reason in FAILURE. Apps on a bridge have ports of their own: nothing to check.
own_listener_on() {
  local port=$1 what=$2 mode container_pid own pid namespace pids=()
  read -r mode container_pid < <(docker inspect --type container -f '{{.HostConfig.NetworkMode}} {{.State.Pid}}' -- "${RUN_CONTAINER}") ||
    { FAILURE="cannot inspect the run container ${RUN_CONTAINER}"; return 1; }
  [[ "${mode}" == host ]] || return 0
  own=$(readlink "/proc/${container_pid}/ns/pid") || { FAILURE="cannot read the pid namespace of the run container ${RUN_CONTAINER}"; return 1; }
  mapfile -t pids < <(ss -H -l -t -n -p "sport = :${port}" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  if ((${#pids[@]} == 0)); then
    FAILURE="no process of the run container ${RUN_CONTAINER} listens on port ${port}, ${what}"
    return 1
  fi
  for pid in "${pids[@]}"; do
    namespace=$(readlink "/proc/${pid}/ns/pid" 2>/dev/null) || namespace=gone
    if [[ "${namespace}" != "${own}" ]]; then
      FAILURE="port ${port} of ${what} is held by a process outside its run container (host pid ${pid}): with host networking apps share the host's ports, and another app answered in its place"
      return 1
    fi
  done
}

# router ARGS...: modulus-router-server in the router container (images/router).
router() { docker exec -- "${ROUTER_CONTAINER}" modulus-router-server "$@" 2>&1; }

# How long a release waits for the router to know the app's server.
readonly ROUTER_WAIT_SECONDS=120

# await_router SLOT: until the router answers for the slot's server. Publish is not ordered after the router's
# steps in Terraform's graph (lib/app.ts says why): a router replaced in the same apply is gone, or without its
# routes, for a while.
await_router() {
  local answer deadline=$((SECONDS + ROUTER_WAIT_SECONDS)) said=false
  until answer=$(router show "${ROUTER_BACKEND}" "$1"); do
    if ((SECONDS >= deadline)); then
      FAILURE="the router ${ROUTER_CONTAINER} did not know ${ROUTER_BACKEND}/$1 within ${ROUTER_WAIT_SECONDS} s: ${answer}"
      return 1
    fi
    if [[ "${said}" != true ]]; then
      log "waiting for the router ${ROUTER_CONTAINER} to know ${ROUTER_BACKEND}/$1 (${answer})"
      said=true
    fi
    sleep 0.5
  done
}

# wait_for_router SLOT: until the router counts the slot's server UP (its own health checks, then it takes requests).
wait_for_router() {
  local answer deadline=$((SECONDS + 10 + 3 * (MODULUS_HEALTH_INTERVAL_MS + 999) / 1000))
  while ((SECONDS < deadline)); do
    answer=$(router show "${ROUTER_BACKEND}" "$1") || { FAILURE="the router ${ROUTER_CONTAINER} does not know the server ${ROUTER_BACKEND}/$1: ${answer}"; return 1; }
    [[ "${answer}" == "UP "* ]] && return 0
    sleep 0.2
  done
  FAILURE="the router ${ROUTER_CONTAINER} did not count ${ROUTER_BACKEND}/$1 up (its status: ${answer})"
  return 1
}

# take_requests SLOT: the router may send the slot requests, which it does once its own checks count it up. Only
# after start_slot: until then an idle slot stays drained, whatever answers on its port.
take_requests() {
  local answer
  await_router "$1" || return 1
  answer=$(router set "${ROUTER_BACKEND}" "$1" ready) || { FAILURE="the router ${ROUTER_CONTAINER} refused ${ROUTER_BACKEND}/$1: ${answer}"; return 1; }
  wait_for_router "$1"
}

# drain SLOT: the router sends the slot no new request; waits until it holds none, at most MODULUS_DRAIN_SECONDS.
drain() {
  local answer sessions deadline=$((SECONDS + MODULUS_DRAIN_SECONDS))
  answer=$(router set "${ROUTER_BACKEND}" "$1" drain) || { log "could not drain ${ROUTER_BACKEND}/$1: ${answer}"; return 0; }
  while ((SECONDS < deadline)); do
    answer=$(router show "${ROUTER_BACKEND}" "$1") || break
    sessions=${answer##* }
    [[ "${sessions}" == 0 ]] && return 0
    sleep 0.2
  done
  log "the ${1} slot of app '${APP}' still held requests after ${MODULUS_DRAIN_SECONDS} s of draining: stopping it"
}

# The reason a release failed, with the app's last log lines.
with_log_tail() {
  local tail
  tail=$(in_volume log-tail 20 </dev/null 2>/dev/null | sed 's/^/  | /') || true
  printf '%s; the last lines of /mnt/log/app.log:\n%s' "$1" "${tail:-  | (empty)}"
}

# start_slot SLOT: the release app links to in the slot beside the serving one, until it passes its health check.
start_slot() {
  local slot=$1
  # A slot an interrupted publish started runs an older link target: it starts again.
  process_call supervisor.stopProcess "app-${slot}" 1 || { FAILURE="cannot stop the ${slot} slot of app '${APP}': ${FAILURE}"; return 1; }
  process_call supervisor.startProcess "app-${slot}" 0 || { FAILURE="the ${slot} slot of app '${APP}' did not start: ${FAILURE}"; return 1; }
  await_slot "${slot}" "new release"
}

# await_slot SLOT WHAT: until the slot's program (WHAT, e.g. "new release") passes its health check, on a port its
# own run container holds, within MODULUS_START_TIMEOUT_SECONDS. Returns non-zero with the reason in FAILURE.
await_slot() {
  local slot=$1 what=$2 state code="000" deadline=$((SECONDS + MODULUS_START_TIMEOUT_SECONDS))
  local interval
  interval=$(seconds "${MODULUS_HEALTH_INTERVAL_MS}")
  while ((SECONDS < deadline)); do
    code=$(slot_health "${slot}")
    if [[ "${code}" == "${HEALTH_STATUS}" ]]; then
      own_listener "${slot}"
      return
    fi
    state=$(program_state "app-${slot}")
    if [[ "${state}" == FATAL || "${state}" == EXITED ]]; then
      FAILURE="the ${what} of app '${APP}' exited in the ${slot} slot (supervisord: ${state}) before it passed its health check"
      return 1
    fi
    sleep "${interval}"
  done
  FAILURE="the ${what} of app '${APP}' did not pass its health check within ${MODULUS_START_TIMEOUT_SECONDS} s (GET ${HEALTH_PATH} on port $(slot_port "${slot}") answered ${code}, expected ${HEALTH_STATUS})"
  return 1
}

# publish_to_slot RELEASE ROLLBACK: the release starts in the idle slot beside the serving one; once its health
# check passes and the router counts it up, the serving slot drains and stops. A release that fails its check
# never takes a request: it stops, app links to ROLLBACK again and the serving slot goes on serving.
publish_to_slot() {
  local release=$1 rollback=$2 served next
  ensure_supervisord || return 1
  served=$(served_slot)
  next=$(other_slot "${served}")
  if [[ "${STATE}" == absent ]] || ! knows_program "app-${served}"; then
    if [[ "${STATE}" == absent ]]; then
      log "app '${APP}' has no run container yet (${RUN_CONTAINER}): its ${served} slot will start with this release"
    else
      log "the run container ${RUN_CONTAINER} of app '${APP}' predates its two slots: it is replaced after this step, and its ${served} slot starts this release"
    fi
    # The router sends the idle slot nothing, whatever answers on its port, until a release starts there.
    local answer
    answer=$(router set "${ROUTER_BACKEND}" "${next}" drain) || log "could not keep the ${next} slot of app '${APP}' idle in the router: ${answer}"
    return 0
  fi
  log "starting release ${release} of app '${APP}' in its ${next} slot, beside the ${served} slot"
  if ! start_slot "${next}"; then
    local reason=${FAILURE}
    process_call supervisor.stopProcess "app-${next}" 1 || log "could not stop the ${next} slot of app '${APP}': ${FAILURE}"
    router set "${ROUTER_BACKEND}" "${next}" drain >/dev/null || true
    FAILURE=$(with_log_tail "${reason}")
    return 1
  fi
  if ! take_requests "${next}"; then
    local reason=${FAILURE}
    process_call supervisor.stopProcess "app-${next}" 1 || true
    router set "${ROUTER_BACKEND}" "${next}" drain >/dev/null || true
    FAILURE=${reason}
    return 1
  fi
  log "release ${release} of app '${APP}' passed its health check in the ${next} slot and takes requests; draining the ${served} slot"
  drain "${served}"
  process_call supervisor.stopProcess "app-${served}" 1 || log "could not stop the ${served} slot of app '${APP}': ${FAILURE}"
  printf '%s\n' "${next}" | write_atomically "$(served_slot_file)" 0600
  in_volume autostart "${next}" </dev/null || log "could not make the ${next} slot the one supervisord starts with the container"
  RESTARTED=1
}

served_file() { printf '%s/served-release' "${ROOT}"; }

served_release() {
  [[ -f "$(served_file)" ]] && head -n 1 -- "$(served_file)"
  return 0
}

# RUN_CONTAINER: the app's run container's name, from MODULUS_RUN_CONTAINER (CONTAINER_NAME_PATTERN: orphan.sh).
read_run_container() {
  RUN_CONTAINER="${MODULUS_RUN_CONTAINER:-}"
  [[ "${RUN_CONTAINER}" =~ ${CONTAINER_NAME_PATTERN} ]] ||
    fail 2 "invalid MODULUS_RUN_CONTAINER '${RUN_CONTAINER}': the name of the app's run container"
}

# RELEASE: the release id (the build container's id), from MODULUS_RELEASE.
read_release() {
  RELEASE="${MODULUS_RELEASE:-}"
  [[ "${RELEASE}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] ||
    fail 2 "invalid MODULUS_RELEASE '${RELEASE}': letters, digits, '_', '.' and '-', at most 128"
}

# Stages release MODULUS_RELEASE, which another instance built, from its tar archive MODULUS_RELEASE_ARCHIVE, without
# publishing it: beside that instance's publish, so that this one's publish, which a rolling release starts only
# after it, just switches.
cmd_receive_release() {
  read_release
  local release="${RELEASE}" archive="${MODULUS_RELEASE_ARCHIVE:-}"
  [[ -f "${archive}" ]] || fail 2 "MODULUS_RELEASE_ARCHIVE '${archive}' is not a file (the release's tar archive from the instance that built it)"
  require_image receive
  lock
  require_mounted
  in_volume_fed "${archive}" receive "${release}" || fail 1 "cannot unpack release ${release} of app '${APP}' (built by another instance)"
  log "received release ${release} of app '${APP}' (staged; its publish serves it)"
}

cmd_publish() {
  read_release
  local release="${RELEASE}"
  read_run_container
  local slots=false
  READY_URLS=()
  if [[ -n "${MODULUS_SLOT_PORTS:-}" ]]; then
    read_release_settings
    slots=true
  elif [[ -n "${MODULUS_READY_PORTS:-}" ]]; then
    read_readiness
  fi
  local received="${MODULUS_RELEASE_RECEIVED:-false}"
  [[ "${received}" == true || "${received}" == false ]] || fail 2 "invalid MODULUS_RELEASE_RECEIVED '${received}': true or false"
  require_image publish
  lock
  require_mounted
  # A release another instance built was staged by `receive`; output/ here holds no build of it.
  if [[ "${received}" == false ]]; then
    in_volume stage "${release}" </dev/null || fail 1 "cannot stage the build of app '${APP}' as release ${release}"
  fi
  local previous rollback
  previous=$(in_volume switch "${release}" </dev/null) || fail 1 "cannot point app/ of app '${APP}' at release ${release}"
  rollback=${previous}
  if [[ "${previous}" == "${release}" ]]; then
    if [[ "$(served_release)" == "${release}" ]] && [[ "$(container_state)" == running ]] && app_running "${slots}"; then
      log "release ${release} of app '${APP}' is published and running: nothing to do"
      remove_leftover_builds "${release}"
      return 0
    fi
    # An earlier run switched but did not see the app start: the release that served before is the way back.
    rollback=$(served_release)
  fi
  RESTARTED=0
  if [[ "${slots}" == true ]]; then
    if ! publish_to_slot "${release}" "${rollback}"; then
      local reason=${FAILURE}
      if [[ -n "${rollback}" && "${rollback}" != "${release}" ]] && in_volume switch "${rollback}" </dev/null >/dev/null; then
        fail 1 "${reason}
app/ is back on release ${rollback}, which goes on serving; the new one stays in .releases/${release}"
      fi
      fail 1 "${reason}"
    fi
  elif ! restart_app; then
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
