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
cargo test --workspace --all-targets "$@"
