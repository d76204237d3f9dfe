# shellcheck shell=bash
# Sourced by ssh-step.sh and remote-step.sh: the scripts a remote step may run, and its two arguments.

# check_step_usage PROGRAM_FILE ARGUMENTS...: SCRIPT COMMAND, or fail 2.
check_step_usage() {
  local program_file=$1
  shift
  (($# == 2)) || fail 2 "usage: ${program_file} SCRIPT COMMAND"
  case "$1" in
    modulus-volume.sh | modulus-process-limit.sh | modulus-router.sh) ;;
    *) fail 2 "unknown script '$1': use modulus-volume.sh, modulus-process-limit.sh or modulus-router.sh" ;;
  esac
  [[ "$2" =~ ^[a-z][a-z-]*$ ]] || fail 2 "invalid command '$2'"
}
