# shellcheck shell=bash
# modulus-volume.sh, sourced: everything inside a volume belongs to its app, which may have replaced any folder
# or file with a link by the time root looks at it. So root never touches a path inside the volume: the work
# runs as mop in a throw-away container (in-volume.sh) whose only mount is the volume, bound from its mount
# point (<root>/mnt, in the root-owned <root>: no part of that path is the app's). There a link resolves inside
# the container: to its read-only root file system or back into the same volume.

require_image() {
  [[ -n "${IMAGE}" ]] ||
    fail 2 "MODULUS_IMAGE is required by $1: an image with bash, coreutils and tar to run the volume's steps in (the app's run image)"
}

# in_volume COMMAND [ARG...]: in-volume.sh COMMAND in the app's volume; stdin and stdout pass through.
in_volume() {
  require_image "$1"
  docker run --rm -i --network none --user "${MOP_UID}:${MOP_GID}" --read-only --cap-drop ALL \
    --security-opt no-new-privileges --memory 256m --memory-swap 256m --pids-limit 64 --log-driver none \
    --label "org.modulus.app=${APP}" --label org.modulus.role=volume-step \
    --mount "type=bind,source=$(mount_dir),target=/mnt" --workdir /mnt --entrypoint /bin/bash \
    "${IMAGE}" -c "$(<"${HERE}/in-volume.sh")" in-volume "$@"
}

# in_volume_fed FILE COMMAND [ARG...]: in_volume COMMAND with FILE on its stdin and FILE's size in bytes as its
# last argument, so that the command reads exactly that much and ends without waiting for the end of its input:
# docker run -i does not always pass that on, and the step would then wait for ever (moby/moby#29421).
in_volume_fed() {
  local file=$1 size
  shift
  size=$(stat -c %s -- "${file}")
  in_volume "$@" "${size}" <"${file}"
}

# in_volume_text TEXT COMMAND [ARG...]: in_volume_fed with TEXT (its bytes, not a file).
in_volume_text() {
  local text=$1 LC_ALL=C
  shift
  printf '%s' "${text}" | in_volume "$@" "${#text}"
}
