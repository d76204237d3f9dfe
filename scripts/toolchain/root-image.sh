#!/usr/bin/env bash
# Step 2: the root image every Dockerfile starts FROM (no registry here, so nothing is pulled).
# debootstrap --variant=minbase bookworm from the machine's Debian mirror into a temporary folder,
# write apt sources (suite, -updates, -security) so Dockerfiles can apt-get install, then
# `docker import` it as $MODULUS_ROOT_IMAGE_TAG (default modulus/root:bookworm).
# The machine's CA bundle ($MODULUS_EXTRA_CA_CERTS, default /etc/ssl/certs/ca-certificates.crt; "none" to skip)
# goes into /usr/local/share/ca-certificates/, so images that install ca-certificates trust what this machine
# trusts (e.g. a TLS-inspecting proxy in front of the npm registry). Skipped when the tag exists with the same
# trust store, recorded in the label org.modulus.root.trust.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

STEP="root image"
tag="$TC_ROOT_IMAGE_TAG"
suite="$TC_DEBIAN_SUITE"

extra_ca="${MODULUS_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
trust=none
if [[ "$extra_ca" != none ]]; then
  [[ -f "$extra_ca" ]] || tc_fail "$STEP" "test -f $extra_ca" "MODULUS_EXTRA_CA_CERTS: no such file (use none to skip)"
  trust="$(sha256sum "$extra_ca" | cut -d' ' -f1)"
fi
if [[ "$(docker image inspect --format '{{index .Config.Labels "org.modulus.root.trust"}}' "$tag" 2>/dev/null)" == "$trust" ]]; then
  tc_log "$STEP: $tag exists, nothing to do"
  exit 0
fi

tc_require_root "$STEP"
if ! tc_have debootstrap; then
  tc_apt_install "$STEP" debootstrap
fi

mirror="$("$here/debian-mirror.sh" "$suite")" || tc_fail "$STEP" "$here/debian-mirror.sh $suite" ""
security="$("$here/debian-mirror.sh" "$suite-security" 2>/dev/null || true)"
has_updates=""
if "$here/debian-mirror.sh" "$suite-updates" >/dev/null 2>&1; then
  has_updates=1
fi

work="$(mktemp -d "${TMPDIR:-/var/tmp}/modulus-rootfs.XXXXXX")"
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT
rootfs="$work/rootfs"

tc_log "$STEP: debootstrap --variant=minbase $suite (from the machine's Debian mirror; takes a few minutes)"
tc_run "$STEP" root-image debootstrap --variant=minbase "$suite" "$rootfs" "$mirror"

{
  printf 'deb %s %s main\n' "$mirror" "$suite"
  if [[ -n "$has_updates" ]]; then
    printf 'deb %s %s-updates main\n' "$mirror" "$suite"
  fi
  if [[ -n "$security" ]]; then
    printf 'deb %s %s-security main\n' "$security" "$suite"
  fi
} >"$rootfs/etc/apt/sources.list"
if [[ "$extra_ca" != none ]]; then
  install -D -m 0644 "$extra_ca" "$rootfs/usr/local/share/ca-certificates/modulus-host-trust.crt"
fi
# Keep the image small: package lists and downloaded .debs are fetched again by `apt-get update`.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/bootstrap.log

tc_log "$STEP: docker import as $tag"
# shellcheck disable=SC2016 # expanded by the inner bash
tc_run "$STEP" root-image bash -c 'tar --numeric-owner -C "$1" -c . | docker import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8" \
  --change "CMD [\"/bin/bash\"]" \
  --change "LABEL org.modulus.root.trust=$4" \
  --message "debootstrap --variant=minbase $2" - "$3"' _ "$rootfs" "$suite" "$tag" "$trust"
tc_log "$STEP: $tag imported ($(docker image inspect --format '{{.Size}}' "$tag") bytes)"
