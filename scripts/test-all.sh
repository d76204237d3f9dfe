#!/usr/bin/env bash
# Sets up everything the tests need (Docker engine, root image, Terraform and providers) and runs every check:
# lint (types, shellcheck), unit, contract (images on a real engine) and e2e (real Terraform deploys). Prints a timing summary per phase
# and a closing "N passed, N failed" line. Run as root on a Debian machine: `npm ci && npm run test:all`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
declare -a summary=()
status=0

phase() {
  local name="$1"
  shift
  local start=$SECONDS
  echo "=== [$name] $*"
  if "$@"; then
    summary+=("$(printf '%-10s %5ds  ok' "$name" $((SECONDS - start)))")
  else
    summary+=("$(printf '%-10s %5ds  FAILED' "$name" $((SECONDS - start)))")
    status=1
  fi
}

# shellcheck disable=SC2317 # called through phase
jest_suite() {
  local project="$1"
  npx jest --selectProjects "$project" --runInBand --json --outputFile "$results/$project.json"
}

# shellcheck disable=SC2317 # called through phase
lint() {
  if ! command -v shellcheck >/dev/null; then
    apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null
  fi
  bash scripts/lint.sh
}

phase lint lint
phase unit jest_suite unit
phase toolchain bash scripts/toolchain/setup.sh
if [ "$status" -eq 0 ]; then
  # shellcheck source=scripts/toolchain/env.sh
  source scripts/toolchain/env.sh
  phase contract jest_suite contract
  phase e2e jest_suite e2e
fi

echo "=== timing summary"
printf '%s\n' "${summary[@]}"
node scripts/jest-summary.js "$results"
exit "$status"
