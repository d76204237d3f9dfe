#!/usr/bin/env bash
# With MODULUS_STATE=pg: checks that the PostgreSQL server of PG_CONN_STR (else PGHOST/PGPORT, else localhost:5432)
# accepts connections, so that an unreachable state backend fails with a message naming it rather than Terraform's
# bare "dial tcp ...: connection refused". Prints host and port only, never the connection string or any part of
# its password. Exits 0 without checking for other backends, unix sockets, several hosts, IPv6 and connection
# strings it cannot parse unambiguously (Terraform then reports).
#   bash scripts/state-check.sh      (scripts/toolchain/cdktf.sh runs it before deploy, destroy and diff)
#
# Parsed as Terraform's pg backend (lib/pq) does: a URL with Go's net/url (the query starts at the first '?',
# the host at the LAST '@' before the first '/'; query parameters host= and port= override it); otherwise
# keyword=value pairs, values unquoted (a backslash escapes the next character) or in single quotes.
set -euo pipefail

[[ "${MODULUS_STATE:-local}" == pg ]] || exit 0
conn="${PG_CONN_STR:-}"
host=""
port=""

# The value of parameter $1 in the URL query $2 (the first one, as url.Values.Get), or nothing.
query_param() {
  local name=$1 pair
  local -a pairs=()
  IFS='&' read -r -a pairs <<<"$2"
  for pair in "${pairs[@]}"; do
    if [[ "$pair" == "$name="* ]]; then
      printf '%s' "${pair#"$name="}"
      return
    fi
  done
}

if [[ "$conn" == postgres://* || "$conn" == postgresql://* ]]; then
  rest="${conn#*://}"
  query=""
  if [[ "$rest" == *\?* ]]; then
    query="${rest#*\?}"
    rest="${rest%%\?*}"
  fi
  authority="${rest%%/*}"
  path="${rest#"$authority"}"
  # The user information runs to the last '@' of the authority (a password may hold '@'). An '@' after the
  # authority, or a '#', means a password with an unescaped '/', '?' or '#': the host cannot be told apart
  # from the password, so leave it to Terraform rather than risk printing part of the password.
  hostport="${authority##*@}"
  [[ "$path" != *@* && "$query" != *@* && "$conn" != *#* ]] || exit 0
  if [[ "$hostport" =~ ^([^:]*)(:([0-9]*))?$ ]]; then
    host="${BASH_REMATCH[1]}"
    port="${BASH_REMATCH[3]}"
  else
    exit 0
  fi
  # lib/pq lets query parameters override the URL's host and port.
  value="$(query_param host "$query")"
  host="${value:-$host}"
  value="$(query_param port "$query")"
  port="${value:-$port}"
elif [[ "$conn" == *://* ]]; then
  exit 0
else
  # keyword=value pairs: read one pair at a time, so that no part of a value (the password's) is taken for a
  # keyword, e.g. password='x host=y'.
  s="$conn"
  while :; do
    s="${s#"${s%%[![:space:]]*}"}"
    [[ -n "$s" ]] || break
    [[ "$s" =~ ^([^=[:space:]]+)[[:space:]]*=[[:space:]]*(.*)$ ]] || exit 0
    key="${BASH_REMATCH[1]}"
    s="${BASH_REMATCH[2]}"
    value=""
    if [[ "$s" == \'* ]]; then
      s="${s:1}"
      while :; do
        [[ -n "$s" ]] || exit 0 # no closing quote
        c="${s:0:1}"
        s="${s:1}"
        if [[ "$c" == \\ ]]; then
          [[ -n "$s" ]] || exit 0
          value+="${s:0:1}"
          s="${s:1}"
        elif [[ "$c" == \' ]]; then
          break
        else
          value+="$c"
        fi
      done
    else
      while [[ -n "$s" ]]; do
        c="${s:0:1}"
        [[ "$c" != [[:space:]] ]] || break
        s="${s:1}"
        if [[ "$c" == \\ ]]; then
          [[ -n "$s" ]] || exit 0
          value+="${s:0:1}"
          s="${s:1}"
        else
          value+="$c"
        fi
      done
    fi
    case "$key" in
      host) host="$value" ;;
      port) port="$value" ;;
    esac
  done
fi
host="${host:-${PGHOST:-localhost}}"
port="${port:-${PGPORT:-5432}}"
case "$host" in
  /* | %2[Ff]* | *,* | \[*) exit 0 ;; # a unix socket, several hosts or IPv6: left to Terraform
esac
# Only a host name or IPv4 address and a port number are ever printed; anything else is left to Terraform.
[[ "$host" =~ ^[A-Za-z0-9._-]+$ && "$port" =~ ^[0-9]{1,5}$ ]] || exit 0
# shellcheck disable=SC2016 # $0 and $1 expand in the inner shell
if ! timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
  echo "modulus: the \"pg\" state backend (PostgreSQL, from PG_CONN_STR) cannot be reached at $host:$port; nothing was planned or changed." >&2
  exit 1
fi
