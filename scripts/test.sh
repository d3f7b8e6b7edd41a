#!/usr/bin/env bash
# Runs every test: unit tests, and the storage tests against a private DynamoDB
# Local (which also serves its stream) and moto's server as EventBridge and SQS, on
# free ports, stopped afterwards. Extra arguments go to cargo test.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

port="$(free_port)"
mkdir -p "$CARGO_TARGET_DIR"
log "starting DynamoDB Local on port $port"
start_dynamodb "$port" "$CARGO_TARGET_DIR/dynamodb-local-test.log"
use_local_aws "$port"
moto_port="$(free_port)"
log "starting moto (EventBridge, SQS) on port $moto_port"
start_moto "$moto_port" "$CARGO_TARGET_DIR/moto-test.log"
trap 'kill "$DYNAMODB_PID" "$MOTO_PID" 2>/dev/null || true' EXIT

# Every AWS call a function's code makes is recorded here (testkit::calls), then
# held against the function's IAM policy in template.yaml by the last test.
export AWS_CALLS_DIR="$CARGO_TARGET_DIR/aws-calls"
rm -rf "$AWS_CALLS_DIR" && mkdir -p "$AWS_CALLS_DIR"
# Every lookup and list answer and every event the tests produce is kept here
# (testkit::contracts), then held against docs/contracts/ at the end.
export CONTRACT_SAMPLES_DIR="$CARGO_TARGET_DIR/contract-samples"
rm -rf "$CONTRACT_SAMPLES_DIR" && mkdir -p "$CONTRACT_SAMPLES_DIR"

log "tests of the whole workspace"
out="$CARGO_TARGET_DIR/test-output.log"
set +e
# cargo test's own build, then the binaries two at a time (scripts/run_tests.py).
python3 scripts/run_tests.py "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
# Only a whole run records every call a policy grants.
if [ "$status" = 0 ] && [ "$#" = 0 ]; then
  log "IAM policies against the recorded calls"
  # --workspace: the feature set the binaries were built with, so nothing rebuilds.
  cargo test --workspace --test it -- --ignored --nocapture \
    every_recorded_call_is_granted_and_every_grant_is_used 2>&1 | tee -a "$out"
  status=${PIPESTATUS[0]}
  if [ "$status" = 0 ]; then
    log "contracts (OpenAPI, JSON Schema) against every answer and event of the run"
    "$MOTO_VENV/bin/python" scripts/check_contracts.py "$CONTRACT_SAMPLES_DIR" 2>&1 | tee -a "$out"
    status=${PIPESTATUS[0]}
  fi
else
  # A partial run: the documents are still checked, the samples are too few.
  "$MOTO_VENV/bin/python" scripts/check_contracts.py 2>&1 | tee -a "$out"
fi
set -e
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$out" \
  | tee "$CARGO_TARGET_DIR/test-summary.txt"
exit "$status"
