#!/usr/bin/env bash
# `npx cdktf` with the offline toolchain: sources env.sh and adds --skip-provider-lock to the commands that
# initialise Terraform (deploy, destroy, diff). Without the flag cdktf runs `terraform providers lock`,
# which asks the public registry rather than the CLI config's mirror, and fails offline.
#   scripts/toolchain/cdktf.sh deploy images --auto-approve
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=env.sh
source "$here/env.sh"

args=("$@")
case "${1:-}" in
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
exec npx cdktf "${args[@]}"
