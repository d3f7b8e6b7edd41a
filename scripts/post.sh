#!/usr/bin/env bash
# Posts a sample body to a receiver of the local stack with curl, as the provider
# would: CCPayment bodies are signed with the current time; Alchemy Pay and CityPay
# get the path token in the URL.
#   scripts/post.sh ccpayment  shared/tests/fixtures/ccpayment/api-deposit.json
#   scripts/post.sh ccpayment-v2 shared/tests/fixtures/ccpayment-v2/direct-deposit.json
#   scripts/post.sh alchemypay shared/tests/fixtures/alchemypay/success.json
#   scripts/post.sh citypay    shared/tests/fixtures/citypay/order-confirmed-paid.json
set -euo pipefail
provider="$1"
body_file="$2"
base="${BASE_URL:-http://127.0.0.1:${WATCH_PORT:-9000}/lambda-url}"
case "$provider" in
  ccpayment)
    app_id="${CCPAYMENT_APP_ID:-local-ccpayment-app-id}"
    secret="${CCPAYMENT_APP_SECRET:-local-ccpayment-app-secret}"
    ts="$(date +%s)"
    # Signed over the exact bytes sent: the file as it is, trailing newline included.
    sign="$( { printf '%s%s%s' "$app_id" "$secret" "$ts"; cat "$body_file"; } | sha256sum | cut -d' ' -f1)"
    curl -sS -i -X POST "$base/ccpayment-webhook/" \
      -H 'Content-Type: application/json; charset=utf-8' \
      -H "Appid: $app_id" -H "Timestamp: $ts" -H "Sign: $sign" \
      --data-binary "@$body_file"
    ;;
  ccpayment-v2)
    app_id="${CCPAYMENT_V2_APP_ID:-local-ccpayment-v2-app-id}"
    secret="${CCPAYMENT_V2_APP_SECRET:-local-ccpayment-v2-app-secret}"
    ts="$(date +%s)"
    # HMAC-SHA256 keyed with the App Secret over Appid, Timestamp and the exact bytes sent.
    sign="$( { printf '%s%s' "$app_id" "$ts"; cat "$body_file"; } | openssl dgst -sha256 -hmac "$secret" | sed 's/^.*= //')"
    curl -sS -i -X POST "$base/ccpayment-v2-webhook/" \
      -H 'Content-Type: application/json' \
      -H "Appid: $app_id" -H "Timestamp: $ts" -H "Sign: $sign" \
      --data-binary "@$body_file"
    ;;
  alchemypay)
    token="${ALCHEMYPAY_PATH_TOKEN:-local-alchemypay-path-token-0123456789}"
    curl -sS -i -X POST "$base/alchemypay-webhook/$token" \
      -H 'Content-Type: application/json' --data-binary "@$body_file"
    ;;
  citypay)
    token="${CITYPAY_PATH_TOKEN:-local-citypay-path-token-0123456789}"
    curl -sS -i -X POST "$base/citypay-webhook/$token" \
      -H 'Content-Type: application/json' --data-binary "@$body_file"
    ;;
  *)
    echo "usage: scripts/post.sh ccpayment|ccpayment-v2|alchemypay|citypay BODY_FILE" >&2
    exit 2
    ;;
esac
echo
