# shellcheck shell=bash
# modulus-volume.sh, sourced: await-ready, the deploy's wait for a new run container's app to answer.
#
# Docker 20.10 runs a container's first health probe only after its interval (15 s by default), so a deploy that
# waited for Docker's "healthy" waited that long for every new run container. This step asks the app itself from
# inside its container, every READY_INTERVAL: any HTTP answer on one of MODULUS_READY_PORTS (either slot of an app
# behind a router) at MODULUS_HEALTH_PATH counts, as in the container's own health check. It fails with the app's
# last log lines once supervisord gave the app up (FATAL), or after MODULUS_READY_TIMEOUT_SECONDS.
#
# The probe runs as the app's user in the app's container, where the app can stop or slow it: every call into the
# container is bounded by `timeout` here, and only its exit status counts.

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

cmd_await_ready() {
  read_run_container
  local path=${MODULUS_HEALTH_PATH:-/} timeout=${MODULUS_READY_TIMEOUT_SECONDS:-} max=${MODULUS_HEALTH_TIMEOUT_SECONDS:-} ports=() port urls=()
  [[ "${path}" =~ ${HEALTH_PATH_PATTERN} && ${#path} -le 200 ]] ||
    fail 2 "invalid MODULUS_HEALTH_PATH '${path}': give a URL path of at most 200 characters"
  [[ "${timeout}" =~ ^[1-9][0-9]{0,3}$ ]] || fail 2 "invalid MODULUS_READY_TIMEOUT_SECONDS '${timeout}': give a whole number of seconds"
  [[ "${max}" =~ ^[1-9][0-9]{0,3}$ ]] || fail 2 "invalid MODULUS_HEALTH_TIMEOUT_SECONDS '${max}': give a whole number of seconds"
  read -r -a ports <<<"${MODULUS_READY_PORTS:-}"
  ((${#ports[@]} > 0)) || fail 2 "MODULUS_READY_PORTS is required: the app's port (and its second slot's)"
  for port in "${ports[@]}"; do
    if ! [[ "${port}" =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then
      fail 2 "invalid port '${port}' in MODULUS_READY_PORTS"
    fi
    urls+=("http://127.0.0.1:${port}${path}")
  done
  require_image await-ready
  local started=${EPOCHREALTIME} deadline=$((SECONDS + timeout)) bound states
  # Short calls to supervisord: one that hangs (the app stopped it) must not hold the deploy.
  # shellcheck disable=SC2034 # read by supervisor_call (staging.sh), which this function calls
  local SUPERVISOR_CALL_SECONDS=5
  while ((SECONDS < deadline)); do
    # One call tries READY_TRIES times, each try taking at most `max` per URL; never far past the deadline.
    bound=$((READY_TRIES * (1 + max * ${#urls[@]}) + 5))
    ((bound <= deadline - SECONDS + 5)) || bound=$((deadline - SECONDS + 5))
    if timeout --kill-after=5 "${bound}" docker exec -- "${RUN_CONTAINER}" bash -c "${READY_PROBE}" ready \
      "${READY_INTERVAL}" "${READY_TRIES}" "${max}" "${urls[@]}" >/dev/null 2>&1; then
      log "app '${APP}' answers in its run container ${RUN_CONTAINER} (waited $(elapsed_since "${started}") s)"
      return 0
    fi
    states=$(supervisor_call supervisor.getAllProcessInfo 2>/dev/null | tr -d '\n[:space:]') || states=""
    if [[ "${states}" == *"<name>statename</name><value><string>FATAL</string>"* ]]; then
      fail 1 "$(with_log_tail "app '${APP}' did not start in its run container ${RUN_CONTAINER}: supervisord gave it up (FATAL) before it answered on ${urls[*]}")"
    fi
    # Not running (yet, or between crashes): the probe failed at once.
    sleep "${READY_INTERVAL}"
  done
  fail 1 "$(with_log_tail "app '${APP}' did not answer on ${urls[*]} within ${timeout} s of its run container ${RUN_CONTAINER}'s start")"
}

# elapsed_since EPOCHREALTIME: the seconds since then, to the tenth.
elapsed_since() { awk -v from="$1" -v to="${EPOCHREALTIME}" 'BEGIN { printf "%.1f", to - from }'; }
