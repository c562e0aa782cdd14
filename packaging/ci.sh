#!/bin/sh
# CI for the packages: build the .deb and .rpm, lint them, boot them in nspawn.
# Needs root; installs what it needs (packaging/deps.sh) besides scripts/deps.sh's.
set -eu
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/deps.sh
./packaging/deps.sh
./packaging/build-packages.sh
./packaging/lint.sh
# Reproducible: a second build elsewhere must give the same packages.
./packaging/repro-check.sh
./tests/system/nspawn-test.sh
echo "packaging CI passed in $(($(date +%s) - start)) s"
