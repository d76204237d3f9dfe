#!/usr/bin/env bash
# The Terraform that cdktf runs under scripts/toolchain/cdktf.sh (its TERRAFORM_BINARY_NAME): runs the real binary
# ($MODULUS_TERRAFORM_BINARY) with the same arguments, in the foreground on cdktf's terminal, and appends to
# $MODULUS_TERRAFORM_RECORD one line before it starts and one after it returns:
#   start <id> <subcommand> <working folder>
#   end <id> <exit status>            (128 + N when terraform died of signal N)
# Exits with terraform's status, so cdktf sees 137 for a SIGKILLed terraform where it would otherwise see 0 (cdktf
# 0.21 runs apply and destroy in a pseudo-terminal and reads only the exit code, which is 0 after a signal). A start
# without an end means that this script was stopped before terraform returned. No argument is recorded (a -var may
# hold a secret), only the subcommand.
set -uo pipefail

real="${MODULUS_TERRAFORM_BINARY:?terraform-record.sh: MODULUS_TERRAFORM_BINARY is not set (run scripts/toolchain/cdktf.sh)}"
record="${MODULUS_TERRAFORM_RECORD:?terraform-record.sh: MODULUS_TERRAFORM_RECORD is not set (run scripts/toolchain/cdktf.sh)}"

subcommand=""
for arg in "$@"; do
  if [[ "$arg" != -* ]]; then
    subcommand="$arg"
    break
  fi
done
subcommand="${subcommand:-${1:-}}"
id="$$.${EPOCHREALTIME/[.,]/}"

# Nothing runs unless its start is on record: the wrapper would not know to check it.
if ! printf 'start\t%s\t%s\t%s\n' "$id" "$subcommand" "$PWD" >>"$record"; then
  echo "terraform-record.sh: cannot write $record; terraform $subcommand not started" >&2
  exit 1
fi
"$real" "$@"
status=$?
printf 'end\t%s\t%s\n' "$id" "$status" >>"$record"
exit "$status"
