#!/usr/bin/env bash
# With MODULUS_STATE=pg: checks that the PostgreSQL server of PG_CONN_STR (else PGHOST/PGPORT, else localhost:5432)
# accepts connections, so that an unreachable state backend fails with a message naming it rather than Terraform's
# bare "dial tcp ...: connection refused". Prints host and port only, never the connection string. Exits 0 without
# checking for other backends, unix sockets and connection strings it cannot parse (Terraform then reports).
#   bash scripts/state-check.sh      (scripts/toolchain/cdktf.sh runs it before deploy, destroy and diff)
set -euo pipefail

[[ "${MODULUS_STATE:-local}" == pg ]] || exit 0
conn="${PG_CONN_STR:-}"
host=""
port=""
url_re='^postgres(ql)?://([^@/?]*@)?([^]:/?,[]*)(:([0-9]+))?([/?].*)?$'
if [[ "$conn" =~ $url_re ]]; then
  host="${BASH_REMATCH[3]}"
  port="${BASH_REMATCH[5]}"
  # libpq lets query parameters override the URL's host and port.
  if [[ "$conn" =~ [?\&]host=([^\&]*) ]]; then host="${BASH_REMATCH[1]}"; fi
  if [[ "$conn" =~ [?\&]port=([0-9]+) ]]; then port="${BASH_REMATCH[1]}"; fi
elif [[ "$conn" == *://* ]]; then
  exit 0
else
  if [[ "$conn" =~ (^|[[:space:]])host=([^[:space:]]+) ]]; then host="${BASH_REMATCH[2]}"; fi
  if [[ "$conn" =~ (^|[[:space:]])port=([0-9]+) ]]; then port="${BASH_REMATCH[2]}"; fi
fi
host="${host:-${PGHOST:-localhost}}"
port="${port:-${PGPORT:-5432}}"
case "$host" in
  /* | %2[Ff]* | *,* | \[*) exit 0 ;; # a unix socket, several hosts or IPv6: left to Terraform
esac
# shellcheck disable=SC2016 # $0 and $1 expand in the inner shell
if ! timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
  echo "modulus: the \"pg\" state backend (PostgreSQL, from PG_CONN_STR) cannot be reached at $host:$port; nothing was planned or changed." >&2
  exit 1
fi
