#!/bin/sh
# Reproducibility gate: builds the packages twice from the same sources, in two
# different directories (a copy of the tree elsewhere, its own build dir), and
# requires byte-identical .deb and .rpm files; on a difference it shows what
# differs inside (file list, then each file's bytes).
# Usage: packaging/repro-check.sh [FIRST.deb]  (default: build/pkg's, built if missing)
set -eu
cd "$(dirname "$0")/.."
[ -s build/pkg/packages.txt ] || ./packaging/build-packages.sh >/dev/null
deb1=$(grep '\.deb$' build/pkg/packages.txt | head -1)
rpm1=$(grep '\.rpm$' build/pkg/packages.txt | head -1)
work=$(mktemp -d /tmp/chatd-repro.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

# The same sources (tracked files as they are in the work tree) at another path.
# The first build's timestamp (build-packages.sh records it), so both stamp alike.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && [ -s build/pkg/source-date-epoch ]; then
	SOURCE_DATE_EPOCH=$(cat build/pkg/source-date-epoch)
fi
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export SOURCE_DATE_EPOCH
mkdir -p "$work/elsewhere/src"
git ls-files -z | xargs -0 cp --parents -t "$work/elsewhere/src"
CHATD_PKG_BUILD="$work/elsewhere/build" "$work/elsewhere/src/packaging/build-packages.sh" >/dev/null
deb2=$(grep '\.deb$' "$work/elsewhere/build/packages.txt" | head -1)
rpm2=$(grep '\.rpm$' "$work/elsewhere/build/packages.txt" | head -1)

fail=0
if cmp -s "$deb1" "$deb2"; then
	echo "reproducible: $(basename "$deb1") byte-identical from $(dirname "$deb1") and $work/elsewhere/build"
else
	fail=1
	echo "FAIL: the two .deb files differ:" >&2
	mkdir -p "$work/x1" "$work/x2"
	dpkg-deb -R "$deb1" "$work/x1"
	dpkg-deb -R "$deb2" "$work/x2"
	dpkg-deb -c "$deb1" >"$work/list1"
	dpkg-deb -c "$deb2" >"$work/list2"
	diff -u "$work/list1" "$work/list2" >&2 || true
	diff -r "$work/x1" "$work/x2" >&2 || true
fi
# The .rpm: its payload's files (rpm's header carries a build host and time,
# which rpmbuild sets from the environment; compare what gets installed).
if [ -n "$rpm1" ] && [ -n "$rpm2" ]; then
	mkdir -p "$work/r1" "$work/r2"
	(cd "$work/r1" && rpm2cpio "$rpm1" | cpio -idm --quiet)
	(cd "$work/r2" && rpm2cpio "$rpm2" | cpio -idm --quiet)
	if diff -r "$work/r1" "$work/r2" >&2; then
		echo "reproducible: $(basename "$rpm1") installs identical files from both builds"
	else
		fail=1
		echo "FAIL: the two .rpm payloads differ" >&2
	fi
fi
exit $fail
