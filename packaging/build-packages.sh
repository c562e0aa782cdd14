#!/bin/sh
# Builds the .deb and .rpm: a hardened Release build in build/pkg, then CPack.
# Prints the package paths, one a line; build/pkg/packages.txt lists them too.
# CHATD_PKG_BUILD=DIR builds in DIR instead of build/pkg (packaging/repro-check.sh
# builds twice, in different directories, and compares).
# Reproducible: SOURCE_DATE_EPOCH (default: the last commit's time) stamps every
# file in the packages, and -ffile-prefix-map keeps build paths out of binaries.
set -eu
cd "$(dirname "$0")/.."
build=${CHATD_PKG_BUILD:-build/pkg}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 1764118800)
fi
export SOURCE_DATE_EPOCH
mkdir -p "$build"
echo "$SOURCE_DATE_EPOCH" >"$build/source-date-epoch"
jobs="${JOBS:-2}"
mkdir -p "$build"

for tool in cmake cpack dpkg-shlibdeps rpmbuild fakeroot; do
	command -v "$tool" >/dev/null || {
		echo "build-packages: $tool is missing (apt-get install cmake dpkg-dev rpm fakeroot)" >&2
		exit 1
	}
done

# -O2 as dpkg-buildflags has it: CMake's Release -O3 trips GCC 12's false
# -Wrestrict on std::string concatenation (GCC bug 105651) under -Werror.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
	-DCMAKE_INSTALL_PREFIX=/usr \
	-DCHAT_BUILD_TESTS=OFF -DCHAT_HARDENING=ON -DCHAT_WERROR=ON >"$build/configure.log" 2>&1 || {
	cat "$build/configure.log" >&2
	exit 1
}
cmake --build "$build" -j"$jobs" >"$build/build.log" 2>&1 || {
	tail -50 "$build/build.log" >&2
	exit 1
}

rm -f "$build"/*.deb "$build"/*.rpm
for gen in DEB RPM; do
	# fakeroot: files in the packages belong to root whoever builds them.
	(cd "$build" && fakeroot cpack -G "$gen") >"$build/cpack-$gen.log" 2>&1 || {
		tail -50 "$build/cpack-$gen.log" >&2
		exit 1
	}
done

absbuild=$(cd "$build" && pwd)
for f in "$absbuild"/*.deb "$absbuild"/*.rpm; do
	echo "$f"
done | tee "$build/packages.txt"
