#!/usr/bin/env bash
# Prints the Debian mirror URI that this machine's apt sources use for a suite.
#   debian-mirror.sh [SUITE]          e.g. bookworm, bookworm-security (default: bookworm)
# Reads /etc/apt/sources.list.d/*.sources (deb822) and then /etc/apt/sources.list (one-line form).
# MODULUS_DEBIAN_MIRROR (for SUITE and SUITE-updates) and MODULUS_DEBIAN_SECURITY_MIRROR
# (for SUITE-security) take precedence. Exits 1 when nothing is configured.
set -euo pipefail

suite="${1:-bookworm}"
apt_dir="${MODULUS_APT_DIR:-/etc/apt}"

case "$suite" in
  *-security)
    if [[ -n "${MODULUS_DEBIAN_SECURITY_MIRROR:-}" ]]; then
      printf '%s\n' "$MODULUS_DEBIAN_SECURITY_MIRROR"
      exit 0
    fi
    ;;
  *)
    if [[ -n "${MODULUS_DEBIAN_MIRROR:-}" ]]; then
      printf '%s\n' "$MODULUS_DEBIAN_MIRROR"
      exit 0
    fi
    ;;
esac

from_deb822() {
  # One stanza per paragraph; print the first URI of the first enabled "deb" stanza listing the suite.
  awk -v want="$suite" '
    function flush() {
      if (types ~ /(^| )deb( |$)/ && enabled != "no" && uri != "") {
        n = split(suites, s, " ")
        for (i = 1; i <= n; i++) if (s[i] == want) { print uri; found = 1; exit }
      }
      types = ""; suites = ""; uri = ""; enabled = ""
    }
    /^[[:space:]]*#/ { next }
    /^[[:space:]]*$/ { flush(); next }
    tolower($1) == "types:"   { $1 = ""; types = $0 " " }
    tolower($1) == "suites:"  { $1 = ""; suites = $0 }
    tolower($1) == "uris:"    { uri = $2 }
    tolower($1) == "enabled:" { enabled = tolower($2) }
    END { if (!found) flush() }
  ' "$@"
}

from_one_line() {
  # deb [options] URI SUITE COMPONENTS...
  sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$@" | awk -v want="$suite" '$1 == "deb" && $3 == want { print $2; exit }'
}

shopt -s nullglob
for f in "$apt_dir"/sources.list.d/*.sources; do
  uri="$(from_deb822 "$f")"
  if [[ -n "$uri" ]]; then
    printf '%s\n' "${uri%/}"
    exit 0
  fi
done
for f in "$apt_dir"/sources.list "$apt_dir"/sources.list.d/*.list; do
  [[ -f "$f" ]] || continue
  uri="$(from_one_line "$f")"
  if [[ -n "$uri" ]]; then
    printf '%s\n' "${uri%/}"
    exit 0
  fi
done
echo "no apt source for suite '$suite' in $apt_dir; set MODULUS_DEBIAN_MIRROR" >&2
exit 1
