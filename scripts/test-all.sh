#!/usr/bin/env bash
# Sets up everything the tests need (Docker engine, root image, Terraform and providers) and runs every check:
# lint (types, shellcheck), unit, contract (images on a real engine) and e2e (real Terraform deploys). Prints a
# timing summary per phase (with its minutes from the start), the CPU use minute by minute and a closing
# "N passed, N failed" line. Run as root on a Debian machine:
# `npm ci && npm run test:all`.
#
# After lint, three streams share the machine and its engine, each line prefixed with its name:
#   [toolchain] the engine, root image and standard images (built once, with BuildKit as Terraform builds, so that
#               every later build of them is a cache hit), and beside them Terraform and the providers (Go builds on
#               a fresh machine)
#   [apps]      once the images and Terraform are ready: the quick start alone on the engine, then the e2e files
#               that deploy the samples under their fixed names on this engine, one after another
#   [suites]    unit (it needs no toolchain), then, once the quick start is done, contract and the other e2e files
#               (names, ports and image prefixes of their own)
# A test that needs the engine to itself (a host reboot) first waits for the test files running beside it:
# MODULUS_ENGINE_LOCK, see harness/engine-lock.ts.
#
# CI stops a run at 90 minutes and prints nothing of what was running. Past MODULUS_TEST_DEADLINE_MINUTES (80) this
# prints where each jest run is (harness/current-test-reporter.js), the machine's processes and containers, then
# stops the jest runs (a minute later, anything else below it) and starts no new phase: the summary still prints.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
readonly QUICKSTART=__tests__/e2e/quickstart.test.ts
readonly APP_FILES=(__tests__/e2e/hosts.test.ts __tests__/e2e/deploy.test.ts)
readonly DEADLINE_MINUTES="${MODULUS_TEST_DEADLINE_MINUTES:-80}"
started=$SECONDS
status=0

# Runs a command as one phase: its name, then a line with its time in the summary. Fails when the command fails.
phase() {
  local name="$1"
  shift
  local start=$SECONDS outcome=ok
  if [[ -e "$results/deadline" ]]; then
    echo "=== [$name] not started: past the deadline"
    printf '%-22s %5ds  %-6s\n' "$name" 0 SKIPPED >>"$results/phases"
    return 1
  fi
  echo "=== [$name] $*"
  "$@" || outcome=FAILED
  printf '%-22s %5ds  %-6s  minutes %3d to %3d\n' "$name" $((SECONDS - start)) "$outcome" $(((start - started) / 60)) $(((SECONDS - started) / 60)) >>"$results/phases"
  [[ "$outcome" == ok ]]
}

# jest_run REPORT PROJECT [ARGUMENTS]: the arguments (test path patterns) come before --selectProjects, which
# would take them for more project names.
# shellcheck disable=SC2317 # called through phase
jest_run() {
  local report="$1" project="$2"
  shift 2
  MODULUS_CURRENT_TEST="$results/current-$report" npx jest "$@" --selectProjects "$project" --runInBand --verbose \
    --reporters default --reporters ./harness/current-test-reporter.js --json --outputFile "$results/$report.json"
}

# shellcheck disable=SC2317 # called through phase
lint() {
  if ! command -v shellcheck >/dev/null; then
    apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null
  fi
  bash scripts/lint.sh
}

# announce PART OUTCOME: tells the streams waiting for PART that it is ready (ok) or failed.
# shellcheck disable=SC2317 # called through the streams
announce() {
  echo "$2" >"$results/ready-$1.tmp"
  mv "$results/ready-$1.tmp" "$results/ready-$1"
}

# ready PART COMMAND...: runs the command, then announces PART with its outcome.
# shellcheck disable=SC2317 # called through prefixed
ready() {
  local part="$1" outcome=ok
  shift
  "$@" || outcome=failed
  announce "$part" "$outcome"
  [[ "$outcome" == ok ]]
}

# The engine and root image, then every standard image built once (harness/warm-images.ts): the suites' own builds
# of them are cache hits.
# shellcheck disable=SC2317 # called through ready
engine_and_images() {
  phase "toolchain engine" bash scripts/toolchain/setup.sh engine root-image &&
    phase "warm images" node --require ./scripts/typescript-loader.js harness/warm-images.ts
}

# await_toolchain PART: waits until PART is ready, then puts the toolchain on PATH; fails (saying so) when PART failed.
# shellcheck disable=SC2317 # called through the streams
await_toolchain() {
  until [[ -e "$results/ready-$1" ]]; do sleep 2; done
  if [[ "$(<"$results/ready-$1")" != ok ]]; then
    echo "=== $1 failed: the tests that need it do not run"
    return 1
  fi
  # shellcheck source=scripts/toolchain/env.sh
  source scripts/toolchain/env.sh
}

# The quick start, alone on the engine once the images and Terraform are ready (it deploys, then removes, the images
# under the default names, which the contract suite runs too); then the engine is the streams' ("engine" ready),
# whatever the quick start's outcome.
# shellcheck disable=SC2317 # called through prefixed
quickstart_first() {
  local outcome=0
  if ! await_toolchain images || ! await_toolchain terraform; then
    announce engine failed
    return 1
  fi
  phase "e2e quickstart" jest_run e2e-quickstart e2e "$QUICKSTART" || outcome=1
  announce engine ok
  return "$outcome"
}

# shellcheck disable=SC2317 # called through prefixed
apps_stream() {
  local failed=0 file name
  await_toolchain engine || return 1
  for file in "${APP_FILES[@]}"; do
    name="$(basename "$file" .test.ts)"
    phase "e2e $name" jest_run "e2e-$name" e2e "$file" || failed=1
  done
  return "$failed"
}

# niced COMMAND...: runs it (a function too) at a low CPU priority, in a subshell.
# shellcheck disable=SC2317 # called through phase
niced() {
  (
    renice -n 15 -p "$BASHPID" >/dev/null
    "$@"
  )
}

# shellcheck disable=SC2317 # called through prefixed
suites_stream() {
  local failed=0
  # Niced: the Go builds beside it hold up every e2e test, the unit tests only themselves (contract waits for the
  # quick start anyway).
  phase unit niced jest_run unit unit || failed=1
  await_toolchain engine || return 1
  phase contract jest_run contract contract || failed=1
  phase "e2e others" jest_run e2e-others e2e --testPathIgnorePatterns "$QUICKSTART" "${APP_FILES[@]}" || failed=1
  return "$failed"
}

# The machine's CPU use (user, system and the rest, not idle or iowait) once a minute, appended to
# $results/cpu: the summary shows which minutes of the run left a core idle.
# shellcheck disable=SC2317 # run in the background
sample_cpu() {
  local -a before now
  local total idle field
  read -r -a before </proc/stat
  while sleep 60; do
    read -r -a now </proc/stat
    total=0
    for field in 1 2 3 4 5 6 7 8; do total=$((total + now[field] - before[field])); done
    idle=$((now[4] - before[4] + now[5] - before[5]))
    echo $((100 * (total - idle) / (total > 0 ? total : 1))) >>"$results/cpu"
    before=("${now[@]}")
  done
}

# descendants PID: the processes below PID, deepest first.
# shellcheck disable=SC2317 # called through deadline
descendants() {
  local child
  for child in $(pgrep -P "$1"); do
    descendants "$child"
    echo "$child"
  done
}

# At the deadline: where each jest run is, what runs on the machine; then the jest runs (and what they started) stop,
# and a minute later everything else below this script.
# shellcheck disable=SC2317 # run in the background
deadline() {
  local current pid
  # Its own output elsewhere: killed with this function, it must not hold the run's output open.
  sleep $((DEADLINE_MINUTES * 60)) >/dev/null 2>&1
  touch "$results/deadline"
  echo "=== deadline: ${DEADLINE_MINUTES} minutes passed (MODULUS_TEST_DEADLINE_MINUTES); where each jest run is:"
  for current in "$results"/current-*; do
    [[ -e "$current" ]] && echo "${current##*/current-}: $(<"$current")"
  done
  echo "=== the processes on the machine"
  ps -e --forest -o pid,etimes,args | cut -c1-300 | grep -v ' \[' | head -200
  echo "=== the containers"
  docker ps -a --format '{{.Names}}  {{.Status}}  {{.Command}}' | head -100 || true
  for pid in $(pgrep -f -- "--outputFile $results/"); do
    # shellcheck disable=SC2046 # one pid per word
    kill $(descendants "$pid") "$pid" 2>/dev/null || true
  done
  # Whatever still holds a stream a minute later (a phase that is no jest run, a process holding a stream's output
  # open) stops too, so that the run ends with its summary.
  sleep 60 >/dev/null 2>&1
  for pid in $(descendants "$$"); do
    [[ "$pid" == "$BASHPID" ]] || kill "$pid" 2>/dev/null || true
  done
}

# Runs a stream (in the background, below), each line of its output prefixed with its name.
prefixed() {
  local name="$1"
  shift
  "$@" 2>&1 | sed -u "s/^/[$name] /"
}

sample_cpu &
sampler=$!
deadline &
watchdog=$!
phase lint lint || status=1
export MODULUS_ENGINE_LOCK="$results/engine.lock"
# A registry that stops answering fails the npm call (and its test) within minutes: npm's defaults wait 5 minutes
# for each request and try it three times, while a test blocked in a synchronous call holds jest's own timeouts.
export npm_config_fetch_timeout=60000 npm_config_fetch_retry_maxtimeout=20000
# The engine, root image and images (Debian packages and npm, much of it waiting on the network) beside the Go
# builds (CPU).
prefixed toolchain ready images engine_and_images &
images=$!
prefixed toolchain ready terraform phase "toolchain terraform" bash scripts/toolchain/setup.sh terraform providers &
terraform=$!
prefixed apps quickstart_first &
quickstart=$!
prefixed apps apps_stream &
apps=$!
prefixed suites suites_stream &
suites=$!
wait "$images" || status=1
wait "$terraform" || status=1
wait "$quickstart" || status=1
wait "$apps" || status=1
wait "$suites" || status=1
# shellcheck disable=SC2046 # one pid per word; their sleeps too
kill "$sampler" "$watchdog" $(pgrep -P "$sampler") $(pgrep -P "$watchdog") 2>/dev/null || true

node --require ./scripts/typescript-loader.js harness/warm-images.ts --remove || true
echo "=== timing summary (the streams ran side by side; in all $((SECONDS - started))s)"
cat "$results/phases"
if [[ -s "$results/cpu" ]]; then
  echo "=== CPU busy (% of all cores), minute by minute from the start, ten to a line"
  paste -d' ' - - - - - - - - - - <"$results/cpu" | awk '{ printf "minute %3d: %s\n", (NR - 1) * 10, $0 }'
fi
node scripts/jest-summary.js "$results"
exit "$status"
