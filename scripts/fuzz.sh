#!/usr/bin/env bash
# Coverage-guided fuzzing of every target in fuzz/ for a bounded time, on the stable
# toolchain: libFuzzer (from the libfuzzer-sys crate, built by cargo with the C++
# compiler) and the same instrumentation `cargo fuzz` asks rustc for, minus the address
# sanitizer (the crate has no unsafe code, and ASan would need nightly flags).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Defaults: 30 seconds, every target. Each target starts from its seeds in
# fuzz/seeds/<target>/ and from what earlier runs here found (fuzz/corpus/, not kept in
# git). Exits non-zero if any target crashed; the input is then in
# fuzz/artifacts/<target>/. To keep it as a regression, copy it into
# fuzz/regressions/<target>/: `cargo test --test fuzz_regressions` replays it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(sip_datagram sip_stream switchboard sdp rtp digest wav config)
fi

# libFuzzer is C++; Debian's build-essential has the compiler.
if ! command -v c++ >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends g++
fi

# The flags `cargo fuzz build -s none` passes. `--target` keeps them off build scripts
# and proc-macros, which run on the host and must not need libFuzzer's symbols.
host="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# The main lock file's versions, plus the pinned libFuzzer crates (see fuzz/Cargo.toml).
cp ../Cargo.lock Cargo.lock
start=$(date +%s)
cargo build --release --target "$host" --bins
echo "fuzz: built in $(( $(date +%s) - start ))s"

failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  # Seeds are read, never written: new finds go to corpus/ only.
  log="artifacts/$t/last-run.log"
  if "$CARGO_TARGET_DIR/$host/release/$t" "corpus/$t" "seeds/$t" \
      -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t: ${runs:-?} inputs in ${seconds}s, no crash"
  else
    echo "fuzz: $t CRASHED; input in fuzz/artifacts/$t/" >&2
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -n 20 >&2 || true
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashed: ${failed[*]}" >&2
  exit 1
fi
