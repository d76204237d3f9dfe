#!/usr/bin/env bash
# Step 1: a Docker engine. Installs Debian's docker.io when dockerd is missing, starts
# `dockerd --bridge=none --iptables=false` in the background when `docker info` does not answer,
# and waits (bounded) until it does. An engine that already answers is left alone.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEP="docker engine"
DOCKERD_LOG="${MODULUS_DOCKERD_LOG:-/var/log/modulus/dockerd.log}"
WAIT_SECONDS="${MODULUS_DOCKERD_WAIT:-60}"
# Extra dockerd flags, split on spaces (e.g. a second engine for testing: -H unix:///… --data-root …).
read -r -a extra_args <<<"${MODULUS_DOCKERD_EXTRA_ARGS:-}"

if docker info >/dev/null 2>&1; then
  tc_log "$STEP: engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')), nothing to do"
  exit 0
fi

if ! tc_have dockerd || ! tc_have docker; then
  tc_apt_install "$STEP" docker.io
fi

tc_require_root "$STEP"
mkdir -p "$(dirname "$DOCKERD_LOG")"
tc_log "$STEP: starting dockerd --bridge=none --iptables=false ${extra_args[*]} (log: $DOCKERD_LOG)"
# setsid + nohup: the daemon outlives this script and the shell that ran it.
setsid nohup dockerd --bridge=none --iptables=false "${extra_args[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null &
dockerd_pid=$!

for ((i = 0; i < WAIT_SECONDS; i++)); do
  if docker info >/dev/null 2>&1; then
    tc_log "$STEP: engine answers after ${i}s (dockerd pid $dockerd_pid)"
    exit 0
  fi
  if ! kill -0 "$dockerd_pid" 2>/dev/null; then
    tc_fail "$STEP" "dockerd --bridge=none --iptables=false ${extra_args[*]} (exited early)" "$DOCKERD_LOG"
  fi
  sleep 1
done
tc_fail "$STEP" "docker info (no answer after ${WAIT_SECONDS}s)" "$DOCKERD_LOG"
