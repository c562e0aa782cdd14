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
# Reproducible: a second build elsewhere must give the same packages. It is a
# whole second release build; .ci/run sets CHATD_CI_NO_REPRO=1 to stay within
# CI's 30 minutes, and a release runs it (packaging/README.md).
if [ "${CHATD_CI_NO_REPRO:-0}" != 1 ]; then
	./packaging/repro-check.sh
else
	echo "repro-check: skipped (CHATD_CI_NO_REPRO=1); run packaging/repro-check.sh before a release"
fi
./tests/system/nspawn-test.sh
echo "packaging CI passed in $(($(date +%s) - start)) s"
