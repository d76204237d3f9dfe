# shellcheck shell=bash
# modulus-volume.sh, sourced: boot records, the boot unit, boot and probe.

# write_atomically FILE MODE: stdin to FILE through a temporary file of its own and a rename.
write_atomically() {
  local file=$1 mode=$2 temporary
  temporary=$(mktemp "${file}.XXXXXX")
  cat >"${temporary}"
  chmod "${mode}" -- "${temporary}"
  mv -f -- "${temporary}" "${file}"
}

# The host's boot records, scripts and unit are shared by every volume: Terraform creates and destroys
# volumes in parallel, so their changes are serialised (fd 8; the volume's own lock is fd 9).
lock_host() {
  mkdir -p -- "${REGISTRY}"
  exec 8>"$(dirname "${REGISTRY}")/.lock"
  flock 8
}

boot_unit() {
  cat <<EOF
# Written by modulus-volume.sh: mounts the Modulus app volumes and sets their process limits before the
# Docker engine starts the app containers.
[Unit]
Description=Modulus app volumes and process limits
DefaultDependencies=no
After=local-fs.target lvm2-activation.service lvm2-monitor.service
Before=docker.service containerd.service

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=MODULUS_REGISTRY=${REGISTRY%/volumes}
ExecStart=${BOOT_DIR}/modulus-volume.sh boot

[Install]
WantedBy=docker.service
EOF
}

register_volume() {
  lock_host
  mkdir -p -- "${BOOT_DIR}" "${SYSTEMD_DIR}/docker.service.wants"
  printf 'MODULUS_APP=%s\nMODULUS_BACKEND=%s\nMODULUS_ROOT=%s\nMODULUS_LVM_VG=%s\nMODULUS_LVM_POOL=%s\n' \
    "${APP}" "${BACKEND}" "${ROOT}" "${VG}" "${POOL}" | write_atomically "${REGISTRY}/${APP}.env" 0644
  # The newest scripts serve every volume of the host at boot: copied beside them, then each renamed into place
  # (one install and one mv for all of them: this runs at every create and mount).
  local staging
  staging=$(mktemp -d "${BOOT_DIR}/.new.XXXXXX")
  install -m 0755 -- "${BOOT_FILES[@]/#/${HERE}/}" "${staging}/"
  mv -f -- "${BOOT_FILES[@]/#/${staging}/}" "${BOOT_DIR}/"
  rmdir -- "${staging}"
  boot_unit | write_atomically "${BOOT_UNIT}" 0644
  ln -sfn -- "${BOOT_UNIT}" "${SYSTEMD_DIR}/docker.service.wants/$(basename "${BOOT_UNIT}")"
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    systemctl daemon-reload
  fi
}

unregister_volume() {
  lock_host
  rm -f -- "${REGISTRY}/${APP}.env"
  if [[ -z "$(find "${REGISTRY}" -maxdepth 1 -name '*.env' -print -quit 2>/dev/null)" ]]; then
    rm -f -- "${SYSTEMD_DIR}/docker.service.wants/$(basename "${BOOT_UNIT}")" "${BOOT_UNIT}"
    log "no volume left on this host: removed the boot unit"
  fi
}

# A boot record's value of NAME (records hold NAME=value lines written by register_volume).
record_value() {
  sed -n "s/^$2=//p" "$1" | head -n 1
}

cmd_boot() {
  local record failed=0
  for record in "${REGISTRY}"/*.env; do
    [[ -f "${record}" ]] || continue
    if [[ ! -d "$(record_value "${record}" MODULUS_ROOT)" ]]; then
      log "boot: skipping ${record}: its volume folder $(record_value "${record}" MODULUS_ROOT) is gone"
      continue
    fi
    if ! env MODULUS_APP="$(record_value "${record}" MODULUS_APP)" \
      MODULUS_BACKEND="$(record_value "${record}" MODULUS_BACKEND)" \
      MODULUS_ROOT="$(record_value "${record}" MODULUS_ROOT)" \
      MODULUS_LVM_VG="$(record_value "${record}" MODULUS_LVM_VG)" \
      MODULUS_LVM_POOL="$(record_value "${record}" MODULUS_LVM_POOL)" \
      MODULUS_IMAGE="" MODULUS_HEAL_TOKEN="" \
      bash "${HERE}/modulus-volume.sh" mount; then
      log "boot: could not mount the volume recorded in ${record}"
      failed=1
    fi
  done
  bash "${HERE}/modulus-process-limit.sh" boot || failed=1
  return "${failed}"
}

read_query() {
  local query
  query=$(cat)
  APP=$(query_value "${query}" app)
  # shellcheck disable=SC2034 # read by validate_common (modulus-volume.sh), like the environment it stands for
  MODULUS_ROOT=$(query_value "${query}" root)
  BACKEND=$(query_value "${query}" backend)
  VG=$(query_value "${query}" lvm_volume_group)
  POOL=$(query_value "${query}" lvm_thin_pool)
  RUN_CONTAINER=$(query_value "${query}" run_container)
  [[ -z "${RUN_CONTAINER}" || "${RUN_CONTAINER}" =~ ${CONTAINER_NAME_PATTERN} ]] || fail 2 "invalid run_container '${RUN_CONTAINER}'"
  STATE_CHECK=$(query_value "${query}" state_check)
  local docker_host
  docker_host=$(query_value "${query}" docker_host)
  if [[ -n "${docker_host}" ]]; then
    export DOCKER_HOST="${docker_host}"
  fi
}

health_file() { printf '%s/health-token' "${ROOT}"; }

# After a heal (the Mount step), the token that step was keyed on: while the volume stays healthy, the probe
# answers it, so the next plan has nothing to do. The boot unit records nothing: a reboot it healed keeps the
# token of the last heal.
record_health() {
  local token="${MODULUS_HEAL_TOKEN:-}"
  [[ -n "${token}" ]] || return 0
  [[ "${token}" =~ ^[A-Za-z0-9_.:-]{1,128}$ ]] || fail 2 "invalid MODULUS_HEAL_TOKEN '${token}'"
  printf '%s\n' "${token}" | write_atomically "$(health_file)" 0600
}

# Whether the app's recorded process limit (if any) is what its cgroup enforces.
limit_in_force() {
  local status recorded enforced
  status=$(MODULUS_APP="${APP}" bash "${HERE}/modulus-process-limit.sh" status) || return 1
  recorded=$(sed -n 's/^pids_max=//p' <<<"${status}")
  enforced=$(sed -n 's/^enforced=//p' <<<"${status}")
  [[ "${recorded}" == none || "${recorded}" == "${enforced}" ]]
}

# run_container in the answer: the id of the app's run container (when the query names it), which the side that
# reads Terraform's state checks (state_check "terraform": here; on a remote host, remote-probe.sh).
cmd_probe() {
  local exists=false mounted=false health run_container
  volume_exists && exists=true
  is_mounted && mounted=true
  run_container=$(run_container_id "${RUN_CONTAINER}")
  if [[ "${STATE_CHECK}" == terraform && -n "${run_container}" ]] && state_lacks "${run_container}"; then
    health=$(orphan_token "${run_container}")
  elif [[ "${mounted}" == true ]] && limit_in_force; then
    health=healthy
    if [[ -f "$(health_file)" ]]; then
      health=$(head -n 1 -- "$(health_file)")
    fi
  else
    # New on every plan: however many reboots come in a row, each plan shows the drift until a deploy heals it.
    health="heal-$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
  fi
  printf '{"exists":"%s","mounted":"%s","health":"%s","run_container":"%s"}\n' "${exists}" "${mounted}" "${health}" "${run_container}"
}
