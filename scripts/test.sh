#!/bin/sh
# Installs what is missing, builds with PRESET (default, asan or tsan) and runs every test.
# With --build-only it stops after the build (CI builds the later presets ahead).
set -eu
cd "$(dirname "$0")/.."
build_only=no
if [ "${1:-}" = --build-only ]; then
  build_only=yes
  shift
fi
preset="${1:-default}"
./scripts/deps.sh
cmake --preset "$preset" >/dev/null
if [ "$preset" = tsan ]; then
  # TSan finds races only where there are threads: chat_client's two, and chatd's
  # password worker. The preset's test filter runs those suites (CMakePresets.json);
  # building only what they need keeps CI within its time.
  cmake --build --preset tsan -j"$(nproc)" --target chatd chat_client chatctl \
    client_unit_tests client_pty_tests client_e2e_tests client_tls_tests interop_tests \
    accounts_tests
else
  cmake --build --preset "$preset" -j"$(nproc)"
fi
[ "$build_only" = yes ] && exit 0
ctest --preset "$preset" -j2 --timeout 300
