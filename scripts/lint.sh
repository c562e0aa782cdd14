#!/bin/sh
# Style gates: clang-format on every source file, clang-tidy on our translation units.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.hpp')
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
test -f build/default/compile_commands.json || cmake --preset default >/dev/null
srcs=$(git ls-files 'protocol/*.cpp' 'common/*.cpp' 'daemon/*.cpp' 'client/*.cpp' 'ctl/*.cpp')
# shellcheck disable=SC2086
run-clang-tidy -quiet -p build/default -j"$(nproc)" $srcs >/tmp/clang-tidy.log 2>&1 || {
  grep -E 'error|warning' /tmp/clang-tidy.log | head -50
  exit 1
}
echo "lint: clang-format and clang-tidy clean"
