#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), seeded with the sample
# bodies. Installs cargo-fuzz if missing. The stable toolchain is used with
# RUSTC_BOOTSTRAP=1, which enables the sanitizer flags cargo-fuzz needs.
#   scripts/fuzz.sh            # 10 minutes per target
#   scripts/fuzz.sh 60 json_fields
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds="${1:-600}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd "$ROOT/fuzz"
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log "fuzzing $t for $seconds s"
  cargo fuzz run -O "$t" "corpus/$t" \
    ../shared/tests/fixtures/ccpayment ../shared/tests/fixtures/ccpayment-v2 ../shared/tests/fixtures/alchemypay ../shared/tests/fixtures/citypay \
    -- -max_total_time="$seconds" -max_len=8192 2>&1 | grep -E "Done [0-9]+ runs|panicked|SUMMARY|Test unit written" || true
done
