# shellcheck shell=bash
# modulus-volume.sh, sourced: check_root, the checks of the volume root (MODULUS_ROOT) before any step works
# in it as root. Needs fail (messages.sh). The folders no root may be, lie inside or hold are listed in
# forbidden-roots, next to this file, which the constructs read too (validateVolumeRoot).

# HOST_PATH_PATTERN, shared with the constructs (validateHostPath).
# shellcheck source-path=SCRIPTDIR source=rules.env
source "$(dirname "${BASH_SOURCE[0]}")/rules.env"

# The help text of every refusal: what a volume root may be.
readonly ROOT_ALLOWED="use a folder of its own such as /var/lib/modulus/volumes"

# check_root ROOT: fail (exit 2) unless ROOT is an absolute path of safe characters without '.', '..' or empty
# components; is not a folder of forbidden-roots, inside one (other than '/') or above one; and no existing
# folder on its way from / (ROOT included) could be swapped by an app or another user: each must be a real
# folder (not a symbolic link), owned by root (or by the user running this), and not writable by group or
# others unless sticky (like /tmp); ROOT itself not writable by them at all. Nor may the first missing
# folder's parent be writable by group or others, sticky or not: they could create that folder first.
check_root() {
  local root=$1
  local LC_ALL=C
  local bad="invalid MODULUS_ROOT '${root}'"
  if [[ ! "${root}" =~ ${HOST_PATH_PATTERN} || "${root}" == *//* ]]; then
    fail 2 "${bad}: use an absolute path of letters, digits, '.', '_', '-' and '/', without '.' or '..' components, empty components or a trailing '/'"
  fi
  case "${root}/" in
    */./* | */../*)
      fail 2 "${bad}: use an absolute path of letters, digits, '.', '_', '-' and '/', without '.' or '..' components, empty components or a trailing '/'"
      ;;
  esac

  local list line number=0 entry
  local -a entries=()
  list="$(dirname "${BASH_SOURCE[0]}")/forbidden-roots"
  [[ -f "${list}" && -r "${list}" ]] || fail 1 "cannot check MODULUS_ROOT: ${list} is missing"
  while IFS= read -r line || [[ -n "${line}" ]]; do
    number=$((number + 1))
    line=${line%%#*}
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [[ -n "${line}" ]] || continue
    [[ "${line}" == / || "${line}" =~ ^(/[A-Za-z0-9._-]+)+$ ]] || fail 1 "${list}: line ${number}: '${line}' is not an absolute path"
    entries+=("${line}")
  done <"${list}"
  ((${#entries[@]} > 0)) || fail 1 "cannot check MODULUS_ROOT: ${list} lists no folder"
  for entry in "${entries[@]}"; do
    if [[ "${root}" == "${entry}" ]]; then
      fail 2 "${bad}: ${ROOT_ALLOWED}: ${entry} is a system folder (scripts/volume/forbidden-roots)"
    fi
  done
  for entry in "${entries[@]}"; do
    if [[ "${entry}" != / && "${root}" == "${entry}"/* ]]; then
      fail 2 "${bad}: ${ROOT_ALLOWED}: this one is inside the system folder ${entry} (scripts/volume/forbidden-roots)"
    fi
  done
  for entry in "${entries[@]}"; do
    if [[ "${entry}" == "${root}"/* ]]; then
      fail 2 "${bad}: ${ROOT_ALLOWED}: this one holds the system folder ${entry} (scripts/volume/forbidden-roots)"
    fi
  done

  local path=/ parent part info owner mode
  local -a parts=()
  IFS=/ read -r -a parts <<<"${root#/}"
  for part in "" "${parts[@]}"; do
    if [[ -n "${part}" ]]; then
      parent=${path}
      path="${path%/}/${part}"
      if [[ ! -e "${path}" && ! -L "${path}" ]]; then
        if ! mode=$(stat -c '%a' -- "${parent}") || [[ ! "${mode}" =~ ^[0-7]+$ ]]; then
          fail 1 "cannot check MODULUS_ROOT: no mode for ${parent}"
        fi
        if ((8#${mode} & 8#022)); then
          fail 2 "${bad}: ${ROOT_ALLOWED}, which only root can change: ${parent} is writable by group or others, who could create ${path} first"
        fi
        break
      fi
    fi
    if [[ -L "${path}" ]]; then
      fail 2 "${bad}: ${ROOT_ALLOWED}, which only root can change: ${path} is a symbolic link"
    fi
    if ! info=$(stat -c '%u %a' -- "${path}") || [[ ! "${info}" =~ ^([0-9]+)\ ([0-7]+)$ ]]; then
      fail 1 "cannot check MODULUS_ROOT: no owner and mode for ${path}"
    fi
    owner=${BASH_REMATCH[1]}
    mode=${BASH_REMATCH[2]}
    if ((owner != 0 && owner != EUID)); then
      fail 2 "${bad}: ${ROOT_ALLOWED}, which only root can change: ${path} is owned by uid ${owner}, not root"
    fi
    if ((8#${mode} & 8#022)); then
      # A sticky folder on the way (/tmp) is fine; the root itself must not take files of anyone else at all.
      if [[ "${path}" == "${root}" ]]; then
        fail 2 "${bad}: ${ROOT_ALLOWED}, which only root can change: ${path} is writable by group or others"
      elif ! ((8#${mode} & 8#1000)); then
        fail 2 "${bad}: ${ROOT_ALLOWED}, which only root can change: ${path} is writable by group or others without the sticky bit"
      fi
    fi
  done
}
