#!/bin/sh
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for SECONDS (default 30),
# as many at once as there are CPUs. Crashes are written to build/fuzz/artifacts and fail
# the run. With --build-only it stops after the build.
set -eu
cd "$(dirname "$0")/../.."
seconds="${1:-30}"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzzers -j"$(nproc)" >/dev/null
[ "$seconds" = --build-only ] && exit 0
out=build/fuzz/artifacts
mkdir -p "$out"

fuzz_one() { # TARGET NAME: one bounded run; its exit code goes to $out/NAME.rc
  work=$(mktemp -d)
  seeds="tests/fuzz/corpus/$2"
  [ -d "$seeds" ] || seeds=""
  rc=0
  # shellcheck disable=SC2086
  "$1" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/" \
    "$work" $seeds >"$out/$2.log" 2>&1 || rc=$?
  echo "$rc" >"$out/$2.rc"
  rm -rf "$work"
}

running=0
for target in build/fuzz/tests/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target" | sed 's/^fuzz_//')
  rm -f "$out/$name.rc"
  fuzz_one "$target" "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$(nproc)" ]; then
    wait
    running=0
  fi
done
wait

status=0
for target in build/fuzz/tests/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target" | sed 's/^fuzz_//')
  if [ "$(cat "$out/$name.rc" 2>/dev/null || echo missing)" = 0 ]; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log")
    cov=$(grep -o 'cov: [0-9]*' "$out/$name.log" | tail -1)
    echo "fuzz $name: ${seconds}s, $runs executions, $cov, crashes: 0"
  else
    echo "fuzz $name: FAILED (see $out/$name.log)"
    tail -30 "$out/$name.log"
    status=1
  fi
done
exit $status
