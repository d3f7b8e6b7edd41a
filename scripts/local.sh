#!/usr/bin/env bash
# The whole stack on this machine: DynamoDB Local on :8000 with the table created,
# moto's server on :9200 as EventBridge and SQS with the publisher running on the
# table's stream, and every function under `cargo lambda watch` on :9000
# (http://127.0.0.1:9000/lambda-url/<function>/). Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
WATCH_PORT="${WATCH_PORT:-9000}"
FAKE_APIS_PORT="${FAKE_APIS_PORT:-9100}"
MOTO_PORT="${MOTO_PORT:-9200}"
ensure_cargo_lambda
mkdir -p "$ROOT/.local"
log "starting DynamoDB Local on port $DYNAMODB_PORT"
start_dynamodb "$DYNAMODB_PORT" "$ROOT/.local/dynamodb-local.log"
use_local_aws "$DYNAMODB_PORT"

# Provider APIs are not reachable from here: loopback fakes stand in. CityPay's
# order API answers by token prefix (paid-... CONFIRMED, expired-... EXPIRED,
# others IN_PROGRESS); CCPayment's resend/bill API enforces the documented limits.
log "starting fake provider APIs on ports $FAKE_APIS_PORT (CityPay), $((FAKE_APIS_PORT + 1)) (CCPayment) and $((FAKE_APIS_PORT + 2)) (CCPayment v2)"
cargo build --quiet --package xtask
"$CARGO_TARGET_DIR/debug/xtask" fake-apis "$FAKE_APIS_PORT" &
FAKE_PID=$!
log "starting moto (EventBridge, SQS) on port $MOTO_PORT"
start_moto "$MOTO_PORT" "$ROOT/.local/moto.log"
trap 'kill "$DYNAMODB_PID" "$FAKE_PID" "$MOTO_PID" ${PUBLISHER_PID:-} 2>/dev/null || true' EXIT

# Local settings. The credentials are the documented local ones, never real.
export TABLE_NAME="${TABLE_NAME:-payment-webhooks-local}"
export CCPAYMENT_APP_ID="${CCPAYMENT_APP_ID:-local-ccpayment-app-id}"
export CCPAYMENT_APP_SECRET="${CCPAYMENT_APP_SECRET:-local-ccpayment-app-secret}"
# The committed events/ files carry a fixed 2026-01-01 timestamp: locally the dedupe
# horizon is ten years, so they are accepted as stale (flagged `stale_timestamp`)
# rather than refused; scripts/post.sh signs with the current time.
export EVENT_TTL_DAYS="${EVENT_TTL_DAYS:-3650}"
export CCPAYMENT_V2_APP_ID="${CCPAYMENT_V2_APP_ID:-local-ccpayment-v2-app-id}"
export CCPAYMENT_V2_APP_SECRET="${CCPAYMENT_V2_APP_SECRET:-local-ccpayment-v2-app-secret}"
export CCPAYMENT_V2_API_BASE="${CCPAYMENT_V2_API_BASE:-http://127.0.0.1:$((FAKE_APIS_PORT + 2))}"
export ALCHEMYPAY_PATH_TOKEN="${ALCHEMYPAY_PATH_TOKEN:-local-alchemypay-path-token-0123456789}"
export CITYPAY_PATH_TOKEN="${CITYPAY_PATH_TOKEN:-local-citypay-path-token-0123456789}"
export CITYPAY_API_BASE="${CITYPAY_API_BASE:-http://127.0.0.1:$FAKE_APIS_PORT}"
export CITYPAY_CUSTOMER_ID="${CITYPAY_CUSTOMER_ID:-99}"
export CCPAYMENT_API_BASE="${CCPAYMENT_API_BASE:-http://127.0.0.1:$((FAKE_APIS_PORT + 1))}"
# Locally a window is due as soon as it ends, so a manual or routine resend shows at once.
export CCPAYMENT_RESEND_SETTLE_SECS="${CCPAYMENT_RESEND_SETTLE_SECS:-0}"
export RUST_LOG="${RUST_LOG:-info}"

export EVENT_BUS_NAME="${EVENT_BUS_NAME:-payment-webhooks-local}"

log "creating table $TABLE_NAME"
cargo xtask create-table

# What Lambda's event-source mapping does in AWS: the real publisher on the stream.
log "publishing payment changes to bus $EVENT_BUS_NAME (see them: cargo xtask events)"
"$CARGO_TARGET_DIR/debug/xtask" publisher &
PUBLISHER_PID=$!

log "serving functions on http://127.0.0.1:$WATCH_PORT/lambda-url/<function>/"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$WATCH_PORT"
