#!/usr/bin/env bash
# in-volume.sh: the work inside an app's volume. Never run on the host: container.sh passes this text to
# `bash -c` in a throw-away container that runs as mop (441:444) like the app, with a read-only root file
# system, no capabilities, no network and the volume as its only writable mount (/mnt). The app owns every
# file here and may have replaced any of them with a link; inside this container a link can only lead to the
# container's own read-only files or back into this volume, so nothing here needs to distrust a path.
#
# Usage (inside the container): in-volume COMMAND [ARG...]
#   layout                 the standard folders, supervisor.conf placeholder and the marker the run image checks
#   prepare-build BYTES    empty input/ and output/, unpack the tar archive on stdin (BYTES long) into input/
#   export RELEASE         a tar archive of the release on stdout: .releases/RELEASE once staged, else output/
#   receive RELEASE BYTES  a release built elsewhere (the tar archive on stdin) into output/, emptied first, then
#                          staged as RELEASE; when RELEASE is staged already, stdin is read and nothing changes
#   write-file NAME BYTES  stdin to NAME (supervisor.conf, .build-secrets or .build-key), 0600, replaced atomically
# Commands that read stdin read the BYTES the host counted, and end with them (see input).
#   stage RELEASE          move output/ to .releases/RELEASE (unless it is there already), new empty output/;
#                          the build's key (.output-key) to .releases/RELEASE.key
#   switch RELEASE         point app at .releases/RELEASE in one rename; prints the release app pointed at before
#   current                prints the release app points at ('' when app is not a release link)
#   prune RELEASE...       delete every release (and its key) but these
#   autostart SLOT         supervisor.conf: the slot's program (app-blue or app-green) starts with the container,
#                          the other one does not
#   log-tail LINES         the last LINES lines of log/app.log, printable characters only, each cut at 300
# Exit status: 0 ok, 1 failure, 2 usage.
set -euo pipefail
umask 027
cd /mnt

readonly LAYOUT=(home:0700 tmp:0700 log:0750 notifications:0750 input:0750 output:0750 .releases:0750)

die() {
  printf 'in-volume: error: %s\n' "$*" >&2
  exit 1
}

# A folder of the layout: anything else in its place (a file, a link) goes first.
real_dir() {
  local dir=$1 mode=$2
  if [[ -L "${dir}" || (-e "${dir}" && ! -d "${dir}") ]]; then
    rm -f -- "${dir}"
  fi
  mkdir -p -- "${dir}"
  chmod "${mode}" -- "${dir}"
}

valid_release() {
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid release '$1'"
}

cmd_layout() {
  local entry
  for entry in "${LAYOUT[@]}"; do
    real_dir "${entry%%:*}" "${entry##*:}"
  done
  # app/ is a link to the published release, or a folder until the first publish (and in volumes of releases
  # before 0.3, which the first publish converts).
  if [[ ! -L app ]]; then
    real_dir app 0750
  fi
  if [[ -L supervisor.conf || ! -f supervisor.conf ]]; then
    rm -rf -- supervisor.conf
    : >supervisor.conf
    chmod 0600 supervisor.conf
  fi
  # The run image starts the app only when this file is there: it exists on the mounted file system alone,
  # never in the bare mount point.
  if [[ -L .modulus-volume || ! -f .modulus-volume ]]; then
    rm -rf -- .modulus-volume
    : >.modulus-volume
  fi
}

# input BYTES: the first BYTES bytes of stdin, which the host sends and counts. The command ends once it has them,
# not waiting for the end of its input: docker run -i does not always pass that on (moby/moby#29421).
input() {
  [[ "$1" =~ ^[0-9]{1,15}$ ]] || die "invalid input size '$1'"
  head -c "$1"
}

cmd_prepare_build() {
  local bytes=$1
  rm -rf -- input output
  mkdir -m 0750 input output
  # Modes from the archive, less the umask (nothing for others); owner mop, whatever the archive says.
  input "${bytes}" | tar -x --no-same-owner --no-same-permissions -C input -f -
}

# staged RELEASE: whether .releases/RELEASE is a staged release (a folder, not a link).
staged() {
  [[ -d ".releases/$1" && ! -L ".releases/$1" ]]
}

cmd_export() {
  local release=$1
  valid_release "${release}"
  local folder=".releases/${release}"
  staged "${release}" || folder=output
  [[ -d "${folder}" && ! -L "${folder}" ]] || die "release ${release} is neither staged nor in output/"
  tar -c -C "${folder}" -f - .
}

cmd_receive() {
  local release=$1 bytes=$2
  valid_release "${release}"
  if staged "${release}"; then
    input "${bytes}" >/dev/null
    return 0
  fi
  rm -rf -- output
  mkdir -m 0750 output
  input "${bytes}" | tar -x --no-same-owner --no-same-permissions -C output -f -
  cmd_stage "${release}"
}

cmd_write_file() {
  local name=$1 bytes=$2
  case "${name}" in
    supervisor.conf | .build-secrets | .build-key) ;;
    *) die "write-file: unknown file '${name}'" ;;
  esac
  local temporary=".${name#.}.new"
  rm -rf -- "${temporary}"
  (
    umask 077
    input "${bytes}" >"${temporary}"
  )
  [[ "$(stat -c %s -- "${temporary}")" == "${bytes}" ]] || die "write-file: ${name}: the input ended before its ${bytes} bytes"
  mv -f -T -- "${temporary}" "${name}"
}

cmd_stage() {
  local release=$1
  valid_release "${release}"
  real_dir .releases 0750
  if staged "${release}"; then
    return 0
  fi
  [[ -d output && ! -L output ]] || die "no build output to publish (output/ is missing)"
  mv -T -- output ".releases/${release}"
  mkdir -m 0750 output
  # The key of the build's inputs (written by the build), by which a later build of the same inputs reuses it.
  if [[ -f .output-key && ! -L .output-key ]]; then
    mv -f -T -- .output-key ".releases/${release}.key"
  fi
}

cmd_current() {
  local target=""
  if [[ -L app ]]; then
    target=$(readlink app)
  fi
  if [[ "${target}" == .releases/* ]]; then
    printf '%s\n' "${target#.releases/}"
  else
    printf '\n'
  fi
}

# app/ of a release before 0.3 is a folder: it becomes a release of its own, exchanged for the link in one
# renameat2(RENAME_EXCHANGE), so that app is the old build or the new one at every instant.
exchange() {
  python3 - "$1" "$2" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
if libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), RENAME_EXCHANGE) != 0:
    sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
EOF
}

cmd_switch() {
  local release=$1 previous
  valid_release "${release}"
  staged "${release}" || die "release ${release} is not staged"
  previous=$(cmd_current)
  rm -rf -- app.next
  ln -s -- ".releases/${release}" app.next
  if [[ -d app && ! -L app ]]; then
    exchange app.next app
    previous="before-${release}"
    rm -rf -- ".releases/${previous}"
    mv -T -- app.next ".releases/${previous}"
  else
    mv -f -T -- app.next app
  fi
  printf '%s\n' "${previous}"
}

cmd_prune() {
  local keep=" $* " entry name
  for entry in .releases/*; do
    [[ -e "${entry}" || -L "${entry}" ]] || continue
    name=${entry#.releases/}
    [[ "${keep}" == *" ${name%.key} "* ]] || rm -rf -- "${entry}"
  done
}

cmd_autostart() {
  local slot=$1
  [[ "${slot}" == blue || "${slot}" == green ]] || die "invalid slot '${slot}'"
  [[ -f supervisor.conf && ! -L supervisor.conf ]] || die 'supervisor.conf is missing'
  rm -rf -- .supervisor.conf.new
  (
    umask 077
    awk -v program="[program:app-${slot}]" '
      /^\[/ { section = $0 }
      section ~ /^\[program:app-(blue|green)\]$/ && /^autostart=/ { print "autostart=" (section == program ? "true" : "false"); next }
      { print }' supervisor.conf >.supervisor.conf.new
  )
  mv -f -T -- .supervisor.conf.new supervisor.conf
}

cmd_log_tail() {
  local lines=$1
  [[ "${lines}" =~ ^[1-9][0-9]{0,2}$ ]] || die "invalid line count '${lines}'"
  [[ -f log/app.log ]] || return 0
  tail -n "${lines}" -- log/app.log | tr -cd '[:print:]\t\n' | cut -c1-300
}

main() {
  local command=${1:-}
  shift || true
  case "${command}" in
    layout) cmd_layout ;;
    prepare-build) cmd_prepare_build "${1:-}" ;;
    export) cmd_export "${1:-}" ;;
    receive) cmd_receive "${1:-}" "${2:-}" ;;
    write-file) cmd_write_file "${1:-}" "${2:-}" ;;
    stage) cmd_stage "${1:-}" ;;
    switch) cmd_switch "${1:-}" ;;
    current) cmd_current ;;
    prune) cmd_prune "$@" ;;
    autostart) cmd_autostart "${1:-}" ;;
    log-tail) cmd_log_tail "${1:-}" ;;
    *)
      printf 'in-volume: error: unknown command %s\n' "${command}" >&2
      exit 2
      ;;
  esac
}

main "$@"
