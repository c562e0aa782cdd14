#!/bin/sh
# Installs what is missing, builds with PRESET (default, asan or tsan) and runs every test.
set -eu
cd "$(dirname "$0")/.."
preset="${1:-default}"
./scripts/deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
ctest --preset "$preset" -j2 --timeout 300
