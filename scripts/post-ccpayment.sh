#!/usr/bin/env bash
# Signs a CCPayment body with the current time and posts it with curl, as CCPayment
# would: scripts/post-ccpayment.sh shared/tests/fixtures/ccpayment/api-deposit.json [URL]
set -euo pipefail
body_file="$1"
url="${2:-http://127.0.0.1:9000/lambda-url/ccpayment-webhook/}"
app_id="${CCPAYMENT_APP_ID:-local-ccpayment-app-id}"
secret="${CCPAYMENT_APP_SECRET:-local-ccpayment-app-secret}"
ts="$(date +%s)"
# Sign over the exact bytes sent: no trailing newline added or removed by the shell.
sign="$( { printf '%s%s%s' "$app_id" "$secret" "$ts"; cat "$body_file"; } | sha256sum | cut -d' ' -f1)"
curl -sS -i -X POST "$url" \
  -H 'Content-Type: application/json; charset=utf-8' \
  -H "Appid: $app_id" -H "Timestamp: $ts" -H "Sign: $sign" \
  --data-binary "@$body_file"
echo
