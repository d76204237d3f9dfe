# shellcheck shell=bash
# modulus-volume.sh, sourced: build staging (prepare-build) and publishing with an in-place restart.

cmd_prepare_build() {
  local source="${MODULUS_SOURCE:-}"
  [[ -n "${source}" ]] || fail 2 "MODULUS_SOURCE is required"
  [[ -d "${source}" ]] || fail 2 "MODULUS_SOURCE '${source}' is not a folder"
  lock
  require_mounted
  local mnt
  mnt=$(mount_dir)
  ensure_real_dir "${mnt}/input" 0750
  ensure_real_dir "${mnt}/output" 0750
  find "${mnt}/input" "${mnt}/output" -mindepth 1 -delete
  cp -R --no-dereference --preserve=mode,timestamps,links -- "${source}/." "${mnt}/input/"
  chown -R -h "${MOP_UID}:${MOP_GID}" -- "${mnt}/input"
  chmod -R o-rwx -- "${mnt}/input"
  log "copied the source of app '${APP}' into input/"
}

# supervisor_call METHOD [STRING_ARG]: one XML-RPC call to the app's supervisord through its control socket
# (inside the volume, so the host reaches it without the container's help). Prints the response; fails when
# supervisord does not answer.
supervisor_call() {
  local method=$1 params=""
  if (($# > 1)); then
    params="<param><value><string>$2</string></value></param><param><value><boolean>1</boolean></value></param>"
  fi
  printf '<?xml version="1.0"?><methodCall><methodName>%s</methodName><params>%s</params></methodCall>' "${method}" "${params}" |
    curl --silent --show-error --max-time 300 --unix-socket "$(mount_dir)/home/supervisor.sock" \
      -H 'Content-Type: text/xml' --data-binary @- http://supervisord/RPC2
}

# The faultString of an XML-RPC response, or nothing when the call succeeded. (supervisord spreads the
# response over several lines.)
supervisor_fault() {
  [[ "$1" == *"<fault>"* ]] || return 0
  local reason
  reason=$(tr -d '\n' <<<"$1" | sed -n 's:.*<name>faultString</name>[[:space:]]*<value><string>\([^<]*\)</string>.*:\1:p')
  printf '%s' "${reason:-an unreadable fault}"
}

# Restart the app in its running container (supervisord's stopProcess + startProcess, which waits until the
# app counts as started). Nothing to do before the run container exists: it starts whatever app/ holds.
# Fails with supervisord's reason when the app does not start.
restart_app() {
  if [[ ! -S "$(mount_dir)/home/supervisor.sock" ]] || ! supervisor_call supervisor.getState >/dev/null 2>&1; then
    log "no supervisord answers for app '${APP}' (its run container is not running yet): nothing to restart"
    return 0
  fi
  local response fault
  response=$(supervisor_call supervisor.stopProcess app) || fail 1 "supervisord of app '${APP}' stopped answering"
  fault=$(supervisor_fault "${response}")
  [[ -z "${fault}" || "${fault}" == NOT_RUNNING* ]] || fail 1 "cannot stop app '${APP}': ${fault}"
  response=$(supervisor_call supervisor.startProcess app) || fail 1 "supervisord of app '${APP}' stopped answering"
  fault=$(supervisor_fault "${response}")
  if [[ -n "${fault}" ]]; then
    log "app '${APP}' did not start: ${fault}"
    return 1
  fi
}

cmd_publish() {
  lock
  require_mounted
  local mnt
  mnt=$(mount_dir)
  ensure_real_dir "${mnt}/output" 0750
  ensure_real_dir "${mnt}/app" 0750
  if [[ -e "${mnt}/app.previous" || -L "${mnt}/app.previous" ]]; then
    rm -rf -- "${mnt}/app.previous"
  fi
  mv -T -- "${mnt}/app" "${mnt}/app.previous"
  mv -T -- "${mnt}/output" "${mnt}/app"
  chmod 0750 -- "${mnt}/app"
  ensure_real_dir "${mnt}/output" 0750
  if ! restart_app; then
    # The old build goes back and serves again; the new one stays in output/ for a look.
    rm -rf -- "${mnt}/output"
    mv -T -- "${mnt}/app" "${mnt}/output"
    mv -T -- "${mnt}/app.previous" "${mnt}/app"
    restart_app || log "the previous build of app '${APP}' did not start again either"
    fail 1 "the new build of app '${APP}' did not start (see above and /mnt/log/app.log); the previous build is back in app/, the new one in output/"
  fi
  rm -rf -- "${mnt}/app.previous"
  log "published the build output of app '${APP}' to app/"
}
