# shellcheck shell=bash
# modulus-volume.sh, sourced: the app answers, asked from inside its run container. `await-ready` is the deploy's
# wait for a new run container; publish uses the same wait after it restarts the app in place.
#
# Docker 20.10 runs a container's first health probe only after its interval (15 s by default), and supervisord
# calls an app started only after `startsecs` (10 s): waiting for either kept every deploy waiting that long. These
# ask the app itself every READY_INTERVAL: any HTTP answer on one of MODULUS_READY_PORTS (either slot of an app
# behind a router) at MODULUS_HEALTH_PATH counts, as in the container's own health check.
#
# The probe runs as the app's user in the app's container, where the app can stop or slow it: every call into the
# container is bounded (in_run_container, staging.sh), and only its exit status counts.

readonly READY_INTERVAL=0.1
# Tries of one probe call, then a look at supervisord's state.
readonly READY_TRIES=20
# shellcheck disable=SC2016 # run by the container's bash, with its own arguments
readonly READY_PROBE='interval=$1 tries=$2 max=$3
shift 3
for ((try = 0; try < tries; try++)); do
  for url in "$@"; do
    curl --silent --output /dev/null --noproxy "*" --max-time "${max}" "${url}" && exit 0
  done
  sleep "${interval}"
done
exit 1'

# read_readiness: READY_PORTS, READY_URLS, READY_MAX and READY_TIMEOUT from MODULUS_READY_PORTS, MODULUS_HEALTH_PATH,
# MODULUS_HEALTH_TIMEOUT_SECONDS and MODULUS_READY_TIMEOUT_SECONDS, checked.
read_readiness() {
  local path=${MODULUS_HEALTH_PATH:-/} port
  READY_TIMEOUT=${MODULUS_READY_TIMEOUT_SECONDS:-} READY_MAX=${MODULUS_HEALTH_TIMEOUT_SECONDS:-} READY_URLS=()
  [[ "${path}" =~ ${HEALTH_PATH_PATTERN} && ${#path} -le 200 ]] ||
    fail 2 "invalid MODULUS_HEALTH_PATH '${path}': give a URL path of at most 200 characters"
  [[ "${READY_TIMEOUT}" =~ ^[1-9][0-9]{0,3}$ ]] || fail 2 "invalid MODULUS_READY_TIMEOUT_SECONDS '${READY_TIMEOUT}': give a whole number of seconds"
  [[ "${READY_MAX}" =~ ^[1-9][0-9]{0,3}$ ]] || fail 2 "invalid MODULUS_HEALTH_TIMEOUT_SECONDS '${READY_MAX}': give a whole number of seconds"
  read -r -a READY_PORTS <<<"${MODULUS_READY_PORTS:-}"
  ((${#READY_PORTS[@]} > 0)) || fail 2 "MODULUS_READY_PORTS is required: the app's port (and its second slot's)"
  for port in "${READY_PORTS[@]}"; do
    valid_port "${port}" || fail 2 "invalid port '${port}' in MODULUS_READY_PORTS"
    READY_URLS+=("http://127.0.0.1:${port}${path}")
  done
}

# await_answer GIVE_UP_STATES: until the app answers (read_readiness), within READY_TIMEOUT. Returns non-zero with the
# reason in FAILURE once supervisord's program `app`, `app-blue` or `app-green` is in one of GIVE_UP_STATES (e.g.
# "FATAL"), or at the timeout. Sets READY_WAITED, the seconds it waited.
await_answer() {
  local give_up=" $1 " started=${EPOCHREALTIME} deadline=$((SECONDS + READY_TIMEOUT)) bound states state
  # Short calls to supervisord: one that hangs (the app stopped it) must not hold the deploy.
  # shellcheck disable=SC2034 # read by supervisor_call (staging.sh), which this function calls
  local SUPERVISOR_CALL_SECONDS=5
  while ((SECONDS < deadline)); do
    # One call tries READY_TRIES times, each try taking at most READY_MAX per URL; never far past the deadline.
    bound=$((READY_TRIES * (1 + READY_MAX * ${#READY_URLS[@]}) + 5))
    ((bound <= deadline - SECONDS + 5)) || bound=$((deadline - SECONDS + 5))
    if in_run_container "${bound}" bash -c "${READY_PROBE}" ready \
      "${READY_INTERVAL}" "${READY_TRIES}" "${READY_MAX}" "${READY_URLS[@]}" >/dev/null 2>&1; then
      READY_WAITED=$(elapsed_since "${started}")
      return 0
    fi
    states=$(supervisor_call supervisor.getAllProcessInfo 2>/dev/null | tr -d '\n[:space:]') || states=""
    for state in ${give_up}; do
      if [[ "${states}" == *"<name>statename</name><value><string>${state}</string>"* ]]; then
        FAILURE="supervisord has it ${state} before it answered on ${READY_URLS[*]}"
        return 1
      fi
    done
    # Not running (yet, or between crashes): the probe failed at once.
    sleep "${READY_INTERVAL}"
  done
  FAILURE="it did not answer on ${READY_URLS[*]} within ${READY_TIMEOUT} s"
  return 1
}

cmd_await_ready() {
  read_run_container
  read_readiness
  require_image await-ready
  # A new container's app may crash while it starts (BACKOFF) and come up on supervisord's next try.
  if ! await_answer FATAL; then
    fail 1 "$(with_log_tail "app '${APP}' is not ready in its run container ${RUN_CONTAINER}: ${FAILURE}")"
  fi
  log "app '${APP}' answers in its run container ${RUN_CONTAINER} (waited ${READY_WAITED} s)"
}

# elapsed_since EPOCHREALTIME: the seconds since then, to the tenth.
elapsed_since() { awk -v from="$1" -v to="${EPOCHREALTIME}" 'BEGIN { printf "%.1f", to - from }'; }
