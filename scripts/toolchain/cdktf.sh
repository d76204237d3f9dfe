#!/usr/bin/env bash
# `npx cdktf` with the offline toolchain: sources env.sh and adds --skip-provider-lock to the commands that
# initialise Terraform (deploy, destroy, diff). Without the flag cdktf runs `terraform providers lock`,
# which asks the public registry rather than the CLI config's mirror, and fails offline.
#   scripts/toolchain/cdktf.sh deploy images --auto-approve
# No `umask 077` here: it would also apply to the synth, whose image build contexts in cdktf.out keep the mode
# they are written with (Docker copies it into the images), and to the local-exec steps on the host. The local
# state files are kept 0600 by ModulusStack at synth instead (lib/state-backend.ts), for `npx cdktf` too.
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
