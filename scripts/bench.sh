#!/usr/bin/env bash
# The benchmark (prints numbers; not a test): builds the release binaries for this
# machine, starts a private DynamoDB Local, and runs bench/ against it: latency of
# a full delivery vs. a bare conditional PutItem, DynamoDB requests and capacity
# per delivery, CPU per delivery, events out (publisher CPU, PutEvents per change,
# arrival-to-event delay, with moto as EventBridge and SQS), what the operator's
# list of the unresolved costs per reconciler run, cold start of every
# function binary. Then the
# release arm64 bootstrap sizes from `sam build` (skip with BENCH_SIZES=0).
# Extra arguments go to the benchmark: --deliveries N (2000), --cold-runs N (20),
# --events N (2000), --events-delayed N (500), --open-records N (5000).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

log "building release binaries for this machine"
cargo build --release --quiet -p bench -p ccpayment-webhook -p ccpayment-v2-webhook -p alchemypay-webhook \
  -p citypay-webhook -p reconciler

port="$(free_port)"
mkdir -p "$CARGO_TARGET_DIR"
log "starting DynamoDB Local on port $port"
start_dynamodb "$port" "$CARGO_TARGET_DIR/dynamodb-local-bench.log"
use_local_aws "$port"
moto_port="$(free_port)"
log "starting moto (EventBridge, SQS) on port $moto_port"
start_moto "$moto_port" "$CARGO_TARGET_DIR/moto-bench.log"
trap 'kill "$DYNAMODB_PID" "$MOTO_PID" 2>/dev/null || true' EXIT

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "DynamoDB Local: $(basename "$DYNAMODB_LOCAL_DIR") on $(java -version 2>&1 | head -1)"
"$CARGO_TARGET_DIR/release/bench" --functions "$CARGO_TARGET_DIR/release" "$@"

if [ "${BENCH_SIZES:-1}" != 0 ]; then
  echo
  log "release arm64 bootstrap sizes (sam build)"
  "$ROOT/scripts/sam-build.sh" >/dev/null 2>"$CARGO_TARGET_DIR/sam-build-bench.log" \
    || { cat "$CARGO_TARGET_DIR/sam-build-bench.log" >&2; exit 1; }
  python3 "$ROOT/scripts/sizes.py"
fi
