#!/bin/sh
# Installs the Debian 12 packages chatd needs to build and test, if any are missing,
# plus any package names given as arguments.
set -eu
pkgs="$* cmake g++ make ninja-build pkg-config libspdlog-dev libfmt-dev rapidjson-dev libcli11-dev
libgtest-dev libgmock-dev libsystemd-dev libssl-dev openssl libicu-dev libsodium-dev systemd python3 clang-format clang-tidy util-linux mandoc
clang libclang-rt-14-dev libhiredis-dev redis-server"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages; run as root or install them:$missing" >&2
    exit 1
  fi
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
