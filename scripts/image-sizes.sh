#!/usr/bin/env bash
# image-sizes.sh: prints the size of every standard image as a Markdown table for the README.
#
#   scripts/image-sizes.sh [--prefix modulus/] [--tag latest]
#
# "size" is the image's full size as `docker image inspect` reports it (all layers, including the root
# image's); "added" is what the image adds to its parent (its own layers). Images not built are listed as
# such. Needs only the docker CLI.
set -euo pipefail

prefix=${MODULUS_IMAGE_PREFIX:-modulus/}
tag=${MODULUS_IMAGE_TAG:-latest}
root=${MODULUS_ROOT_IMAGE:-modulus/root:bookworm}

while (($# > 0)); do
  case "$1" in
    --prefix) prefix=$2 && shift 2 ;;
    --tag) tag=$2 && shift 2 ;;
    -h | --help)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "image-sizes.sh: unknown argument $1" >&2
      exit 2
      ;;
  esac
done

# name:parent, in tree order (lib/standard-images.ts holds the same tree).
images=(
  base:
  build-base:base build-node:build-base build-java:build-base build-php:build-base build-static:build-base
  run-base:base run-node:run-base run-java:run-base run-php:run-base run-static:run-base
)

size_of() {
  docker image inspect --format '{{.Size}}' "$1" 2>/dev/null || true
}

megabytes() {
  awk -v bytes="$1" 'BEGIN { printf "%.0f MB", bytes / 1000000 }'
}

printf '| image | parent | size | added |\n|---|---|---:|---:|\n'
root_size=$(size_of "${root}")
for entry in "${images[@]}"; do
  name=${entry%%:*}
  parent=${entry#*:}
  ref="${prefix}${name}:${tag}"
  size=$(size_of "${ref}")
  if [[ -z "${size}" ]]; then
    printf '| %s | %s | not built | |\n' "${ref}" "${parent:-${root}}"
    continue
  fi
  if [[ -n "${parent}" ]]; then
    parent_size=$(size_of "${prefix}${parent}:${tag}")
  else
    parent_size=${root_size}
  fi
  added=""
  if [[ -n "${parent_size}" ]]; then
    added=$(megabytes "$((size - parent_size))")
  fi
  printf '| %s | %s | %s | %s |\n' "${ref}" "${parent:-${root}}" "$(megabytes "${size}")" "${added}"
done
