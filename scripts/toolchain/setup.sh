#!/usr/bin/env bash
# One entry for the offline deploy toolchain. Idempotent and cached: a second run takes seconds.
#   scripts/toolchain/setup.sh            all steps
#   scripts/toolchain/setup.sh STEP...    only some: engine root-image terraform providers
# Then: source scripts/toolchain/env.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

steps=("$@")
if ((${#steps[@]} == 0)); then
  steps=(engine root-image terraform providers)
fi

start=$SECONDS
for step in "${steps[@]}"; do
  case "$step" in
    engine | root-image | terraform | providers) ;;
    *) tc_fail "setup" "unknown step '$step' (engine, root-image, terraform, providers)" "" ;;
  esac
  t0=$SECONDS
  tc_log "step: $step"
  "$here/$step.sh"
  tc_log "step: $step done in $((SECONDS - t0))s"
done
tc_log "ready in $((SECONDS - start))s (cache: $TC_CACHE); now: source $here/env.sh"
