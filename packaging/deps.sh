#!/bin/sh
# Installs the Debian 12 packages that building, linting and system-testing the packages need.
set -eu
pkgs="dpkg-dev fakeroot rpm lintian rpmlint mandoc man-db shellcheck binutils bash-completion
debootstrap systemd-container util-linux"
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
