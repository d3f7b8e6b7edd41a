#!/usr/bin/env bash
# cfn-lint, `sam validate --lint`, checkov and parliament on template.yaml; all
# work offline.
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

# Security scanners, pinned in their own virtualenv, offline. A finding fails the
# run unless the resource's Metadata skips it with its reason (checkov) or
# scripts/audit_policies.py lists it with its reason (parliament).
SCAN_VENV="$CARGO_TARGET_DIR/tools/scanners-checkov-3.3.30-parliament-1.6.4"
if [ ! -x "$SCAN_VENV/bin/checkov" ] || [ ! -x "$SCAN_VENV/bin/parliament" ]; then
  log "installing checkov and parliament (PyPI) into $SCAN_VENV"
  python3 -m venv "$SCAN_VENV"
  "$SCAN_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "checkov==3.3.30" "parliament==1.6.4"
fi
log "checkov"
"$SCAN_VENV/bin/checkov" -f template.yaml --framework cloudformation --compact --quiet \
  --skip-download >"$CARGO_TARGET_DIR/checkov.txt" 2>&1 || {
  cat "$CARGO_TARGET_DIR/checkov.txt"; exit 1; }
# One line: passed, failed, skipped (each skip with its reason in the template).
grep -m1 'Passed checks' "$CARGO_TARGET_DIR/checkov.txt" || {
  cat "$CARGO_TARGET_DIR/checkov.txt"; exit 1; }
log "parliament"
shopt -s nullglob
"$SCAN_VENV/bin/python" scripts/audit_policies.py template.yaml docs/operator-permissions/*.json
