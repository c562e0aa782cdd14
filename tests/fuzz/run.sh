#!/bin/sh
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for SECONDS (default 30).
# Crashes are written to build/fuzz/artifacts and fail the run.
set -eu
cd "$(dirname "$0")/../.."
seconds="${1:-30}"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzzers -j"$(nproc)" >/dev/null
out=build/fuzz/artifacts
mkdir -p "$out"
status=0
for target in build/fuzz/tests/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target" | sed 's/^fuzz_//')
  work=$(mktemp -d)
  seeds="tests/fuzz/corpus/$name"
  [ -d "$seeds" ] || seeds=""
  # shellcheck disable=SC2086
  if "$target" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/" \
      "$work" $seeds >"$out/$name.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log")
    cov=$(grep -o 'cov: [0-9]*' "$out/$name.log" | tail -1)
    echo "fuzz $name: ${seconds}s, $runs executions, $cov, crashes: 0"
  else
    echo "fuzz $name: FAILED (see $out/$name.log)"
    tail -30 "$out/$name.log"
    status=1
  fi
  rm -rf "$work"
done
exit $status
