#!/usr/bin/env bash
# Runs every test: unit tests, and the storage tests against a private DynamoDB
# Local on a free port, which is stopped afterwards. Extra arguments go to cargo test.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

port="$(free_port)"
mkdir -p "$CARGO_TARGET_DIR"
log "starting DynamoDB Local on port $port"
start_dynamodb "$port" "$CARGO_TARGET_DIR/dynamodb-local-test.log"
trap 'kill "$DYNAMODB_PID" 2>/dev/null || true' EXIT
use_local_aws "$port"

log "cargo test --workspace"
out="$CARGO_TARGET_DIR/test-output.log"
set +e
cargo test --workspace --tests "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$out" \
  | tee "$CARGO_TARGET_DIR/test-summary.txt"
exit "$status"
