#!/bin/sh
# Gates on man/: `mandoc -Tlint -Wwarning` exits 0 and lexgrog parses NAME, for every page.
# Usage: check_man.sh MAN_DIR
set -eu
man_dir=$1
if ! command -v mandoc >/dev/null 2>&1; then
  echo "mandoc is not installed (apt-get install -y mandoc)" >&2
  exit 1
fi
fail=0
count=0
for page in "$man_dir"/*.[1-8]; do
  count=$((count + 1))
  if ! mandoc -Tlint -Wwarning "$page"; then
    echo "FAIL: mandoc -Tlint -Wwarning $page" >&2
    fail=1
  fi
  if command -v lexgrog >/dev/null 2>&1 && ! lexgrog "$page" >/dev/null; then
    echo "FAIL: lexgrog cannot parse the NAME section of $page" >&2
    fail=1
  fi
done
if [ "$count" -lt 4 ]; then
  echo "FAIL: expected the 4 pages chatd.8 chatctl.8 chat_client.1 chatd.conf.5, found $count" >&2
  fail=1
fi
[ $fail -eq 0 ] && echo "man: $count pages lint-clean (mandoc -Tlint -Wwarning, lexgrog)"
exit $fail
