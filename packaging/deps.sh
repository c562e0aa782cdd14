#!/bin/sh
# Installs the Debian 12 packages that building, linting and system-testing the packages need.
set -eu
exec "$(dirname "$0")/../scripts/deps.sh" dpkg-dev fakeroot rpm lintian rpmlint mandoc man-db \
	shellcheck binutils bash-completion debootstrap systemd-container util-linux
