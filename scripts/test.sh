#!/bin/sh
# Installs what is missing, builds with PRESET (default, asan or tsan) and runs every test.
set -eu
cd "$(dirname "$0")/.."
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
ctest --preset "$preset" -j2 --timeout 300
