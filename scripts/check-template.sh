#!/usr/bin/env bash
# cfn-lint and `sam validate --lint` on template.yaml; both work offline.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if ! command -v cfn-lint >/dev/null; then
  log "installing cfn-lint (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "cfn-lint>=1.20,<2"
  hash -r
fi
if ! command -v sam >/dev/null; then
  log "installing aws-sam-cli (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "aws-sam-cli>=1.120,<2"
  hash -r
fi
export SAM_CLI_TELEMETRY=0
cfn-lint template.yaml
# sam reads a region even for offline validation; no credentials are used.
AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
  sam validate --lint --template-file template.yaml
