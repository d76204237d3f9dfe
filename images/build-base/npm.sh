# shellcheck shell=bash
# npm settings for build hooks that run npm (build-node, build-static): `source /opt/modulus/lib/npm.sh`
# after /opt/modulus/lib/build.sh.
#
# Registry login from the environment, written to a private npm userconfig (mode 0600, under TMPDIR and
# deleted when the hook ends; the values are never printed):
#   NPM_REGISTRY                 registry URL (default: the npm configuration in effect)
#   NPM_TOKEN                    an auth token for that registry, or
#   NPM_USER + NPM_PASSWORD      basic auth for that registry (the originals' names), and NPM_EMAIL
#   NPM_SCOPE                    optional @scope whose packages come from NPM_REGISTRY (else all do)
# An existing ~/.npmrc (or NPM_CONFIG_USERCONFIG) is kept: the private userconfig starts as its copy.
# Everything else is npm's normal configuration (project .npmrc, NPM_CONFIG_* variables).

# Prints the registry URL as npm's "nerf dart" key prefix: //host[:port]/path/
nerf_dart() {
  local url=$1
  url=${url#*://}
  url=${url%%\?*}
  [[ "${url}" == */ ]] || url="${url}/"
  printf '//%s' "${url}"
}

# npm_private_config DIR: writes DIR/npmrc (mode 0600) and points NPM_CONFIG_USERCONFIG at it. The caller
# makes DIR (mode 0700, under TMPDIR) and removes it when the build ends.
npm_private_config() {
  local npmrc="$1/npmrc" user_config=${NPM_CONFIG_USERCONFIG:-${npm_config_userconfig:-${HOME}/.npmrc}}
  local registry
  (
    umask 077
    : >"${npmrc}"
    if [[ -f "${user_config}" ]]; then
      cat "${user_config}" >>"${npmrc}"
      printf '\n' >>"${npmrc}"
    fi
  )
  unset NPM_CONFIG_USERCONFIG npm_config_userconfig
  export NPM_CONFIG_USERCONFIG="${npmrc}"
  # Caches and logs stay out of the output and the image: HOME is the build volume.
  export npm_config_cache="${npm_config_cache:-${HOME}/.npm}"
  export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

  if [[ -n "${NPM_REGISTRY:-}" ]]; then
    registry=${NPM_REGISTRY}
    if [[ -n "${NPM_SCOPE:-}" ]]; then
      printf '%s:registry=%s\n' "@${NPM_SCOPE#@}" "${registry}" >>"${npmrc}"
      log "packages of @${NPM_SCOPE#@} come from ${registry}"
    else
      printf 'registry=%s\n' "${registry}" >>"${npmrc}"
      log "registry: ${registry}"
    fi
  else
    registry=$(npm config get registry)
  fi

  local key
  key=$(nerf_dart "${registry}")
  if [[ -n "${NPM_TOKEN:-}" ]]; then
    printf '%s:_authToken=%s\n' "${key}" "${NPM_TOKEN}" >>"${npmrc}"
    log "registry login: token for ${registry}"
  elif [[ -n "${NPM_USER:-}" || -n "${NPM_PASSWORD:-}" ]]; then
    [[ -n "${NPM_USER:-}" && -n "${NPM_PASSWORD:-}" ]] || die "NPM_USER and NPM_PASSWORD must be set together"
    printf '%s:username=%s\n' "${key}" "${NPM_USER}" >>"${npmrc}"
    printf '%s:_password=%s\n' "${key}" "$(printf '%s' "${NPM_PASSWORD}" | base64 -w 0)" >>"${npmrc}"
    log "registry login: user ${NPM_USER} for ${registry}"
  fi
  if [[ -n "${NPM_EMAIL:-}" ]]; then
    # Registry-scoped only: npm >= 9 rejects a global `email`.
    printf '%s:email=%s\n' "${key}" "${NPM_EMAIL}" >>"${npmrc}"
  fi
  # The secrets live in the private userconfig only; install scripts of dependencies do not get them
  # through the environment (unless a user config of the app refers to them as ${NPM_...}).
  # shellcheck disable=SC2016 # a literal ${NPM_ in the file, not an expansion
  if ! grep -qF '${NPM_' "${npmrc}"; then
    unset NPM_TOKEN NPM_PASSWORD
  fi
}
