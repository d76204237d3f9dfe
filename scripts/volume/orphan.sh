# shellcheck shell=bash
# Sourced by modulus-volume.sh (probe, mount), modulus-router.sh (probe, remove-orphan) and remote-probe.sh: the
# app's run container (or the router container) left outside Terraform's state by an interrupted apply. Its fixed name would make the next apply fail to create the container
# ("Conflict. The container name ... is already in use"): the probe reports it as drift (a health token naming it),
# and the Mount step the next apply runs before the container removes exactly that container.

# Docker's container names: what a run container's name may be in a query or the environment.
readonly CONTAINER_NAME_PATTERN='^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$'
# The health token of a heal that removes the orphan run container with that id.
readonly ORPHAN_TOKEN_PATTERN='^heal-orphan-([0-9a-f]{64})-[0-9a-f]+$'

# run_container_id NAME: the id of the container NAME on this host's engine if it is this app's run container (its
# labels say so: the platform made it), else nothing (also when the engine does not answer).
run_container_id() {
  local found
  [[ -n "$1" ]] || return 0
  found=$(docker inspect --type container -f '{{.Id}} {{index .Config.Labels "org.modulus.app"}} {{index .Config.Labels "org.modulus.role"}}' -- "$1" 2>/dev/null) || return 0
  [[ "${found}" =~ ^([0-9a-f]{64})\ ${APP}\ run$ ]] || return 0
  printf '%s' "${BASH_REMATCH[1]}"
}

# state_lacks ID: whether Terraform's state surely does not record container ID. The state is that of the stack
# Terraform runs in (the external data source's working folder), read as the running plan reads it; a state that
# cannot be read knows everything (nothing is ever called an orphan on a guess).
state_lacks() {
  local state
  state=$(terraform state pull 2>/dev/null) || return 1
  [[ "${state}" == *'"resources"'* ]] || return 1
  [[ "${state}" != *"\"$1\""* ]]
}

# orphan_token: a new health token naming container ID for removal (new on every plan, as every heal token is).
orphan_token() {
  printf 'heal-orphan-%s-%s' "$1" "$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
}

# remove_orphan NAME TOKEN: when TOKEN names a container (a probe found it outside the state), removes it if it is
# still this app's run container under NAME. Nothing else: not another container that took the name since, not
# one the platform did not make.
remove_orphan() {
  local name=$1 id
  [[ "$2" =~ ${ORPHAN_TOKEN_PATTERN} ]] || return 0
  id=${BASH_REMATCH[1]}
  [[ "${name}" =~ ${CONTAINER_NAME_PATTERN} ]] || fail 2 "invalid MODULUS_RUN_CONTAINER '${name}'"
  remove_orphan_container "run container" "${name}" "${id}" "$(run_container_id "${name}")"
}

# remove_orphan_container KIND NAME ID CURRENT: removes the container ID (a KIND, e.g. "run container", named
# NAME) if CURRENT, the id the platform's own lookup finds under NAME now, is still ID; says which it was.
remove_orphan_container() {
  local kind=$1 name=$2 id=$3 current=$4
  if [[ "${current}" != "${id}" ]]; then
    log "the ${kind} ${name} left outside Terraform's state (${id:0:12}) is gone already"
    return 0
  fi
  docker rm --force -- "${id}" >/dev/null
  log "removed the ${kind} ${name} (${id:0:12}) that an interrupted deploy left outside Terraform's state"
}
