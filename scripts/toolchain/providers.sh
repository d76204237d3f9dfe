#!/usr/bin/env bash
# Step 4: Terraform providers built from source with Go, laid out as a filesystem mirror (unpacked
# layout) and a Terraform CLI config whose provider_installation uses only that mirror.
#
# Which providers: one per line of $MODULUS_PROVIDER_SPECS (a file) or the defaults below:
#   NAMESPACE TYPE VERSION SOURCE_MODULE SOURCE_VERSION
# VERSION is the version Terraform sees; SOURCE_MODULE@SOURCE_VERSION is what the Go module proxy
# serves. When the source's go.mod declares another module path (kreuzwerker/docker declares
# github.com/terraform-providers/terraform-provider-docker), a small wrapper module requires that
# path and replaces it with the source, then `go build`s the provider's main package.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEP="providers"

# The Go module proxy reachable here serves neither kreuzwerker/docker v3.6.2 nor hashicorp/null v3.2.4
# (see "Provider versions" in the top-level README.md). It serves kreuzwerker/docker at one master commit, taken after the
# v4.6.0 release (2026-09-01); it is labelled with Go's pseudo-version convention for "a commit after
# 4.6.0", so it can never be mistaken for a release. Point MODULUS_PROVIDER_SPECS at your own list to
# build other versions from a proxy that has them.
default_specs() {
  cat <<'EOF'
kreuzwerker docker 4.6.1-0.20260916201441-96d331c98ff4 github.com/kreuzwerker/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4
EOF
}

specs() {
  if [[ -n "${MODULUS_PROVIDER_SPECS:-}" ]]; then
    cat "$MODULUS_PROVIDER_SPECS"
  else
    default_specs
  fi
}

tc_have go || tc_fail "$STEP" "go version (Go >= 1.21 is needed on PATH)" ""
platform="$(go env GOOS)_$(go env GOARCH)"

build_one() {
  local ns="$1" type="$2" version="$3" module="$4" source_version="$5"
  local step="provider $ns/$type $version"
  local dest_dir="$TC_MIRROR/registry.terraform.io/$ns/$type/$version/$platform"
  local dest="$dest_dir/terraform-provider-${type}_v$version"
  local stamp="$dest_dir/.source"
  local source="$module@$source_version"

  if [[ -x "$dest" && -f "$stamp" && "$(cat "$stamp")" == "$source" ]]; then
    tc_log "$step: cached at $dest"
    return 0
  fi

  local work="$TC_CACHE/providers/build/$ns-$type-$version"
  local logname="provider-$ns-$type"
  rm -rf "$work"
  mkdir -p "$work"

  tc_log "$step: fetching $source"
  local gomod
  gomod="$(cd "$work" && go mod download -json "$source" 2>>"$TC_LOGS/$logname.log" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')" || true
  [[ -n "$gomod" && -f "$gomod" ]] || tc_fail "$step" "go mod download -json $source" "$TC_LOGS/$logname.log"
  local declared
  declared="$(awk '$1 == "module" { gsub(/"/, "", $2); print $2; exit }' "$gomod")"
  [[ -n "$declared" ]] || tc_fail "$step" "read module path from $gomod" ""

  # The wrapper takes the source's go directive: from go 1.17 on the module graph is pruned, so only
  # modules that the provider's packages import are needed (not every tool its go.mod lists).
  local go_version
  go_version="$(awk '$1 == "go" { print $2; exit }' "$gomod")"

  # Wrapper module: require the declared path, replace it by the source when the paths differ.
  {
    printf 'module modulus.local/toolchain/%s-%s\n\ngo %s\n\n' "$ns" "$type" "${go_version:-1.21}"
    if [[ "$declared" == "$module" ]]; then
      printf 'require %s %s\n' "$module" "$source_version"
    else
      printf 'require %s v0.0.0-00010101000000-000000000000\n\n' "$declared"
      printf 'replace %s => %s %s\n' "$declared" "$module" "$source_version"
    fi
  } >"$work/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$declared" >"$work/tools.go"

  tc_log "$step: go build $declared (log: $TC_LOGS/$logname.log; takes minutes on a cold cache)"
  (
    cd "$work"
    tc_run "$step" "$logname" go mod tidy
    tc_run "$step" "$logname" env CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=$version" -o "$work/terraform-provider-$type" "$declared"
  )

  mkdir -p "$dest_dir"
  mv -f "$work/terraform-provider-$type" "$dest"
  printf '%s\n' "$source" >"$stamp"
  tc_log "$step: installed $dest"
}

mkdir -p "$TC_LOGS" "$TC_MIRROR"
while read -r ns type version module source_version rest; do
  [[ -z "${ns:-}" || "$ns" == \#* ]] && continue
  [[ -n "${source_version:-}" && -z "${rest:-}" ]] || tc_fail "$STEP" "parse spec line: $ns $type $version $module ${source_version:-} ${rest:-}" ""
  build_one "$ns" "$type" "$version" "$module" "$source_version"
done < <(specs)

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
