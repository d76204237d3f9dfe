#!/usr/bin/env bash
# What `cdktf deploy|destroy STACK... --auto-approve` does, without the cdktf CLI, for the e2e tests about what the
# stacks do rather than about the CLI. The CLI costs about 5.6 s of CPU per call (its bundle, its terminal UI, four
# `terraform version` calls), a third of a deploy that changes nothing, and deploy.test and hosts.test deploy about
# 50 times. Run in the project's folder (this checkout's, or a copy of an older release):
#   harness/deploy-stacks.sh deploy images apps
#   harness/deploy-stacks.sh destroy apps images
# 1. The synth: cdktf.json's app into cdktf.out, with the environment the CLI gives it (CDKTF_OUTDIR and the rest),
#    but for CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS: with no CLI here to report them, an error annotation fails
#    the synth.
# 2. Stack by stack in the order given, as the CLI runs Terraform: `terraform init`, then `terraform apply` (or
#    `destroy`) `-auto-approve`, each line of their output prefixed with the stack's name, as cdktf prints it.
# Stops at the first step that fails, with its exit status. The CLI keeps tests of its own: the quick start,
# terraform-exit, state-files, consumer, cli-synth, and deploy.test's interrupted deploys (scripts/toolchain/cdktf.sh).
set -euo pipefail

usage='usage: harness/deploy-stacks.sh deploy|destroy STACK...'
case "${1:-}" in
  deploy) action=apply ;;
  destroy) action=destroy ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
shift
if (($# == 0)); then
  echo "$usage" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/toolchain/env.sh
source "$here/../scripts/toolchain/env.sh"

app="$(node -p 'require("./cdktf.json").app')"
CDKTF_OUTDIR=cdktf.out CDKTF_CONTEXT_JSON='{"cdktfRelativeModules":[]}' SYNTH_HCL_OUTPUT=false NODE_ENV=production \
  bash -c "$app"

for stack in "$@"; do
  dir="cdktf.out/stacks/$stack"
  if [[ ! -f "$dir/cdk.tf.json" ]]; then
    echo "deploy-stacks.sh: the synth made no stack '$stack' (it made: $(find cdktf.out/stacks -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null))" >&2
    exit 1
  fi
  (
    cd "$dir"
    terraform init -input=false -no-color
    terraform "$action" -auto-approve -input=false -no-color
  ) 2>&1 | sed -u "s/^/$stack  /"
done
