#!/usr/bin/env bash
# Static checks: TypeScript types across the project and shellcheck over every shell script (found by shebang).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

npx tsc --noEmit -p .

mapfile -t scripts < <(git ls-files -z --cached --others --exclude-standard | xargs -0 grep -lE '^#!(/usr/bin/env bash|/bin/bash|/bin/sh)' --)
shellcheck -x "${scripts[@]}"
echo "lint: types ok, ${#scripts[@]} shell scripts shellcheck-clean"
