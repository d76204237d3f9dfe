#!/usr/bin/env bash
# `npx cdktf` with the offline toolchain: sources env.sh and adds --skip-provider-lock to the commands that
# initialise Terraform (deploy, destroy, diff). Without the flag cdktf runs `terraform providers lock`,
# which asks the public registry rather than the CLI config's mirror, and fails offline.
#   scripts/toolchain/cdktf.sh deploy images --auto-approve
# No `umask 077` here: it would also apply to the synth, whose image build contexts in cdktf.out keep the mode
# they are written with (Docker copies it into the images), and to the local-exec steps on the host. The local
# state files are kept 0600 by ModulusStack at synth instead (lib/state-backend.ts), for `npx cdktf` too.
#
# Exit status: cdktf's, except that a Terraform run which did not finish fails the command whatever cdktf returns,
# with one line per stack on stderr, e.g.
#   cdktf.sh: stack 'apps': terraform apply did not finish (killed by SIGKILL)
# cdktf 0.21 runs `terraform apply` and `destroy` in a pseudo-terminal and takes a terraform killed by a signal for
# one that exited 0: it prints the stack's (old) outputs and exits 0. So cdktf runs Terraform through
# terraform-record.sh, which records every run's start and exit status, and this script checks the record after
# cdktf exits: a run that died of a signal or has no exit status, and (when cdktf reports success) a deploy,
# destroy or diff that initialised a stack but never ran its apply, destroy or plan, fail it.
# Signals: TERM and HUP sent to this script are passed on to cdktf, which stops Terraform and exits; INT from the
# terminal reaches cdktf directly (same process group).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=env.sh
source "$here/env.sh"

args=("$@")
command="${1:-}"
case "$command" in
  deploy | destroy | diff)
    # A shared state backend that cannot be reached fails here, naming it (see scripts/state-check.sh).
    bash "$here/../state-check.sh"
    skip=--skip-provider-lock
    for arg in "$@"; do
      if [[ "$arg" == --skip-provider-lock* ]]; then
        skip=""
      fi
    done
    if [[ -n "$skip" ]]; then
      args+=("$skip")
    fi
    ;;
esac

record="$(mktemp "${TMPDIR:-/tmp}/modulus-terraform-runs.XXXXXX")"
trap 'rm -f "$record"' EXIT
export MODULUS_TERRAFORM_BINARY="$TERRAFORM_BINARY_NAME" MODULUS_TERRAFORM_RECORD="$record"
export TERRAFORM_BINARY_NAME="$here/terraform-record.sh"

# The project's own CLI when it is installed here: npx would spend about a second finding it.
cli=(npx cdktf)
if [[ -x node_modules/.bin/cdktf ]]; then
  cli=(node_modules/.bin/cdktf)
fi
# In the background so that a TERM or HUP can be passed on while waiting; stdin stays ours (the terminal, for
# approvals), not the /dev/null bash gives background commands, unless it is closed.
if { true <&0; } 2>/dev/null; then
  "${cli[@]}" "${args[@]}" <&0 &
else
  "${cli[@]}" "${args[@]}" </dev/null &
fi
cdktf=$!
trap 'kill -s TERM "$cdktf" 2>/dev/null || true' TERM
trap 'kill -s HUP "$cdktf" 2>/dev/null || true' HUP
trap ':' INT
status=0
while :; do
  wait "$cdktf" && status=0 || status=$?
  # A trapped signal ends `wait` early; cdktf is still there (running, or a zombie not yet reaped) then.
  kill -0 "$cdktf" 2>/dev/null || break
done
trap - TERM HUP INT

# The run that completes the command for a stack: deploy applies, destroy destroys, diff plans.
case "$command" in
  deploy) final=apply ;;
  destroy) final=destroy ;;
  diff) final=plan ;;
  *) final="" ;;
esac
declare -A subcommand=() folder=() exit_status=() initialised=() ran=()
order=()
while IFS=$'\t' read -r kind id value dir; do
  case "$kind" in
    start)
      subcommand[$id]="$value"
      folder[$id]="$dir"
      order+=("$id")
      ;;
    end) exit_status[$id]="$value" ;;
  esac
done <"$record"

# "stack 'apps'" for a stack's folder (cdktf.out/stacks/<name>), else the folder.
where() {
  if [[ "$(basename "$(dirname "$1")")" == stacks ]]; then
    printf "stack '%s'" "$(basename "$1")"
  else
    printf 'in %s' "$1"
  fi
}

failed=0
for id in "${order[@]}"; do
  sub="${subcommand[$id]}"
  dir="${folder[$id]}"
  [[ "$sub" != init ]] || initialised[$dir]=1
  [[ "$sub" != "$final" ]] || ran[$dir]=1
  if [[ -z "${exit_status[$id]+set}" ]]; then
    echo "cdktf.sh: $(where "$dir"): terraform $sub did not finish (no exit status: it or cdktf was stopped first)" >&2
    failed=1
    continue
  fi
  code="${exit_status[$id]}"
  if [[ "$code" =~ ^[0-9]+$ ]] && ((code > 128 && code <= 128 + 64)); then
    echo "cdktf.sh: $(where "$dir"): terraform $sub did not finish (killed by SIG$(kill -l "$((code - 128))"))" >&2
    failed=1
  elif [[ "$code" != 0 && "$status" -ne 0 ]]; then
    # Only when cdktf failed too: it takes a rejected approval (terraform exits 1) for no failure.
    echo "cdktf.sh: $(where "$dir"): terraform $sub failed (exit status $code)" >&2
  fi
done
if [[ "$status" -eq 0 && -n "$final" ]]; then
  for dir in "${!initialised[@]}"; do
    if [[ -z "${ran[$dir]+set}" ]]; then
      echo "cdktf.sh: $(where "$dir"): terraform $final never ran, although cdktf reported success" >&2
      failed=1
    fi
  done
fi

if [[ "$failed" -eq 1 && "$status" -eq 0 ]]; then
  status=1
fi
exit "$status"
