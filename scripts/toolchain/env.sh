#!/usr/bin/env bash
# Source me (bash) after scripts/toolchain/setup.sh:  source scripts/toolchain/env.sh
# Puts the toolchain's Terraform first on PATH and points Terraform (and cdktf, which runs it) at the
# provider mirror. Use `cdktf deploy|destroy --skip-provider-lock` (or scripts/toolchain/cdktf.sh):
# cdktf otherwise runs `terraform providers lock`, which asks the public registry, not the mirror.
# Sourcing has no side effects beyond these exports (and the plugin cache folder), and never fails, even
# in a shell with set -euo pipefail.

_modulus_tc_cache="${MODULUS_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modulus-images/toolchain}"
_modulus_tc_version="${MODULUS_TERRAFORM_VERSION:-1.5.7}"

export MODULUS_TOOLCHAIN_CACHE="$_modulus_tc_cache"
export PATH="$_modulus_tc_cache/terraform/$_modulus_tc_version/bin:$PATH"
# cdktf runs this binary by name; an absolute path leaves no doubt about which Terraform it is.
export TERRAFORM_BINARY_NAME="$_modulus_tc_cache/terraform/$_modulus_tc_version/bin/terraform"
export TF_CLI_CONFIG_FILE="$_modulus_tc_cache/terraform.rc"
# Shared by terraform init across stacks (cdktf would otherwise create ~/.terraform.d/plugin-cache).
export TF_PLUGIN_CACHE_DIR="$_modulus_tc_cache/plugin-cache"
mkdir -p "$TF_PLUGIN_CACHE_DIR" 2>/dev/null || true
# Terraform and cdktf both read CHECKPOINT_DISABLE (no telemetry, no version check calls home).
export CHECKPOINT_DISABLE=1
# cdktf: do not look up newer cdktf releases.
export DISABLE_VERSION_CHECK=true
# The providers' SDKs log every request at trace level to Terraform, which parses each line and drops it unless
# TF_LOG (or TF_LOG_PROVIDER) asks for it: 35,000 lines (40 MB) in a plan of 100 apps. Off unless one is set.
if [ -z "${TF_LOG:-}${TF_LOG_PROVIDER:-}${TF_LOG_SDK:-}" ]; then
  export TF_LOG_SDK=off
fi
# Terraform and the providers are Go programs, collecting garbage at Go's default pace (GOGC=100). At 400 a plan
# of 100 apps takes about 30 % less CPU for about twice Terraform's memory (peak RSS 137 MB -> 265 MB; see
# bench/RESULTS.md). Unless set.
export GOGC="${GOGC:-400}"

if [ ! -x "$TERRAFORM_BINARY_NAME" ] || [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
  echo "[toolchain] env.sh: toolchain not set up in $_modulus_tc_cache; run scripts/toolchain/setup.sh" >&2
fi
unset _modulus_tc_cache _modulus_tc_version
