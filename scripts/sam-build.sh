#!/usr/bin/env bash
# `sam build` for the whole application: every function as an arm64 release
# binary, all built by one cargo-lambda invocation from the Makefile (zig links for
# aarch64; no Docker). Installs what is missing first. Extra arguments go to
# `sam build`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_cargo_lambda
if ! command -v sam >/dev/null; then
  log "installing aws-sam-cli (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "aws-sam-cli>=1.120,<2"
  hash -r
fi
if ! rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$'; then
  log "adding the aarch64-unknown-linux-gnu Rust target"
  rustup target add aarch64-unknown-linux-gnu
fi

command -v make >/dev/null || { echo "make is required (BuildMethod: makefile)" >&2; exit 1; }
export SAM_CLI_TELEMETRY=0
start=$(date +%s)
sam build "$@"
log "sam build took $(( $(date +%s) - start )) s"
python3 "$ROOT/scripts/sizes.py"
