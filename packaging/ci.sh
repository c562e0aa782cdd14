#!/bin/sh
# CI for the packages: build the .deb and .rpm, lint them, boot them in nspawn.
# Needs root and the packages listed in packaging/README.md.
set -eu
cd "$(dirname "$0")/.."
start=$(date +%s)
./packaging/build-packages.sh
./packaging/lint.sh
./tests/system/nspawn-test.sh
echo "packaging CI passed in $(($(date +%s) - start)) s"
