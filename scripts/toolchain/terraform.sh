#!/usr/bin/env bash
# Step 3: Terraform $MODULUS_TERRAFORM_VERSION (default 1.5.7, MPL) built from source with Go from the
# Go module proxy (GOPROXY is honoured by go itself). Cached at
# <cache>/terraform/<version>/bin/terraform; a cached binary that reports the right version is kept.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEP="terraform $TC_TERRAFORM_VERSION"
bin="$TC_TERRAFORM_BIN"
dir="$(dirname "$bin")"

reports_version() {
  # The whole output first: `| grep -q` would stop reading early, and terraform's SIGPIPE fails the pipeline.
  local version
  [[ -x "$bin" ]] && version="$("$bin" version -json 2>/dev/null)" &&
    grep -q "\"terraform_version\": \"$TC_TERRAFORM_VERSION\"" <<<"$version"
}

if reports_version; then
  tc_log "$STEP: cached at $bin"
  exit 0
fi

tc_have go || tc_fail "$STEP" "go version (Go >= 1.21 is needed on PATH)" ""

tmp="$dir.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
tc_log "$STEP: go install github.com/hashicorp/terraform@v$TC_TERRAFORM_VERSION (log: $TC_LOGS/terraform.log; a few minutes)"
# CGO_ENABLED=0 and no symbol tables (-s -w) as in HashiCorp's release builds (the link is also faster); GOFLAGS
# from the caller would not apply to @version installs.
tc_run "$STEP" terraform env GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-trimpath \
  go install -ldflags "-s -w" "github.com/hashicorp/terraform@v$TC_TERRAFORM_VERSION"
rm -rf "$dir"
mv "$tmp" "$dir"
reports_version || tc_fail "$STEP" "$bin version -json" ""
tc_log "$STEP: built $bin"
