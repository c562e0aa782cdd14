#!/bin/sh
# Installs what is missing, builds, and runs chatd in the foreground on PORT (default 3490).
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake --preset default >/dev/null
# Only the three programs: the test suite (scripts/test.sh) takes several times longer.
cmake --build --preset default -j"$(nproc)" --target chatd chatctl chat_client
port="${1:-3490}"
ctl="${TMPDIR:-/tmp}/chatd-run-$(id -u)/chatd.ctl"
echo "chatd listening on port $port. In another shell, connect a client with:"
echo "  $(pwd)/build/default/client/chat_client YOURNICK 127.0.0.1 $port"
echo "See who is connected:  $(pwd)/build/default/ctl/chatctl --socket $ctl who"
echo "Stop the server with Ctrl-C."
exec ./build/default/daemon/chatd --control-socket="$ctl" "$port"
