#!/bin/sh
# Builds the .deb and .rpm: a hardened Release build in build/pkg, then CPack.
# Prints the package paths, one a line; build/pkg/packages.txt lists them too.
set -eu
cd "$(dirname "$0")/.."
build=build/pkg
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
	-DCHAT_BUILD_TESTS=OFF -DCHAT_HARDENING=ON >"$build/configure.log" 2>&1 || {
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

for f in "$PWD/$build"/*.deb "$PWD/$build"/*.rpm; do
	echo "$f"
done | tee "$build/packages.txt"
