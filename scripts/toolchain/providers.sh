#!/usr/bin/env bash
# Step 4: the Terraform providers the cdktf bindings were generated from, built with Go from their upstream
# release-tag source archives and laid out as a filesystem mirror (unpacked layout), plus a Terraform CLI config
# whose provider_installation uses only that mirror:
#   kreuzwerker/docker 3.6.2   (@cdktf/provider-docker 12.0.3)
#   hashicorp/null 3.2.4       (@cdktf/provider-null 11.0.1)
#   hashicorp/external 2.3.5   (@cdktf/provider-external 11.0.1)
#
# The archives (`git archive --prefix=terraform-provider-<type>-<version>/ v<version>`, gzipped) and their
# SHA256SUMS are looked up in $MODULUS_PROVIDER_SOURCES, by default shared/provider-sources beside the checkout
# (../shared/provider-sources from the project root). Each archive is checked against SHA256SUMS before it is
# unpacked; the checksum is the cache key, so a second run with the same archives takes seconds. Go fetches the
# providers' dependencies through its module proxy (GOPROXY is honoured by go itself).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

STEP="providers"
SOURCES="${MODULUS_PROVIDER_SOURCES:-$(cd "$here/../../.." && pwd)/shared/provider-sources}"

# NAMESPACE TYPE VERSION: the archive is terraform-provider-TYPE-VERSION.tar.gz.
PROVIDERS=(
  "kreuzwerker docker 3.6.2"
  "hashicorp null 3.2.4"
  "hashicorp external 2.3.5"
)

tc_have go || tc_fail "$STEP" "go version (Go >= 1.23 is needed on PATH)" ""
platform="$(go env GOOS)_$(go env GOARCH)"
sources_hint="MODULUS_PROVIDER_SOURCES=$SOURCES must hold the release-tag archives and their SHA256SUMS (see \"Provider versions\" in README.md for how to make them)"

[[ -d "$SOURCES" ]] || tc_fail "$STEP" "ls $SOURCES (no such folder; $sources_hint)" ""
[[ -f "$SOURCES/SHA256SUMS" ]] || tc_fail "$STEP" "read $SOURCES/SHA256SUMS (missing; $sources_hint)" ""

# verified_checksum ARCHIVE: the archive's SHA-256, after checking it against SHA256SUMS.
verified_checksum() {
  local archive="$1" path="$SOURCES/$1" expected actual
  [[ -f "$path" ]] || tc_fail "$STEP" "read $path (archive missing; $sources_hint)" ""
  expected="$(awk -v file="$archive" '$2 == file || $2 == "*" file { print $1; exit }' "$SOURCES/SHA256SUMS")"
  [[ -n "$expected" ]] || tc_fail "$STEP" "find $archive in $SOURCES/SHA256SUMS (not listed; add its sha256sum line)" ""
  actual="$(sha256sum "$path" | awk '{ print $1 }')"
  if [[ "$actual" != "$expected" ]]; then
    tc_fail "$STEP" "sha256sum $path: $actual, but SHA256SUMS says $expected (a damaged or substituted archive: fetch it again from the release tag)" ""
  fi
  printf '%s\n' "$actual"
}

build_one() {
  local ns="$1" type="$2" version="$3"
  local step="provider $ns/$type $version"
  local archive="terraform-provider-$type-$version.tar.gz"
  local checksum
  checksum="$(verified_checksum "$archive")"
  local dest_dir="$TC_MIRROR/registry.terraform.io/$ns/$type/$version/$platform"
  local dest="$dest_dir/terraform-provider-${type}_v$version"
  # Outside the package folder: Terraform hashes every file in it for .terraform.lock.hcl.
  local stamp="$TC_CACHE/providers/$ns-$type-$version.source-sha256"

  if [[ -x "$dest" && -f "$stamp" && "$(cat "$stamp")" == "$checksum" ]]; then
    tc_log "$step: cached at $dest (archive sha256 $checksum)"
    return 0
  fi

  local work="$TC_CACHE/providers/build/$ns-$type-$version"
  local logname="provider-$ns-$type"
  rm -rf "$work"
  mkdir -p "$work"
  tar -xzf "$SOURCES/$archive" -C "$work" --strip-components=1 ||
    tc_fail "$step" "tar -xzf $SOURCES/$archive" ""
  [[ -f "$work/go.mod" ]] || tc_fail "$step" "read $work/go.mod (the archive is not a Go module)" ""

  tc_log "$step: go build from $archive (log: $TC_LOGS/$logname.log; minutes on a cold Go cache)"
  (
    cd "$work"
    # CGO_ENABLED=0 and -trimpath as in the upstream release builds; main.version is what docker reports.
    tc_run "$step" "$logname" env CGO_ENABLED=0 go build -mod=mod -trimpath \
      -ldflags "-s -w -X main.version=$version" -o "$work/terraform-provider-$type" .
  )

  rm -rf "$dest_dir"
  mkdir -p "$dest_dir"
  mv -f "$work/terraform-provider-$type" "$dest"
  printf '%s\n' "$checksum" >"$stamp"
  rm -rf "$work"
  tc_log "$step: installed $dest"
}

mkdir -p "$TC_LOGS" "$TC_MIRROR"
for provider in "${PROVIDERS[@]}"; do
  read -r ns type version <<<"$provider"
  build_one "$ns" "$type" "$version"
done

# CLI config: providers come from the mirror only (no direct, no registry).
cat >"$TC_CLI_CONFIG.tmp" <<EOF
# Written by scripts/toolchain/providers.sh: providers are installed only from the local mirror.
provider_installation {
  filesystem_mirror {
    path    = "$TC_MIRROR"
    include = ["registry.terraform.io/*/*"]
  }
}
disable_checkpoint = true
EOF
mv -f "$TC_CLI_CONFIG.tmp" "$TC_CLI_CONFIG"
tc_log "$STEP: CLI config $TC_CLI_CONFIG (filesystem_mirror $TC_MIRROR only)"
