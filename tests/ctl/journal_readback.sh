#!/bin/sh
# JournalSink end to end: a private journald (own mount namespace, tmpfs on /run/systemd
# and /run/log) receives the probe's lines; journalctl must show the CHATD_* fields.
# Usage: journal_readback.sh PROBE. Exit 77 (skipped) without root or unshare.
set -eu
probe=$1
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null || [ ! -x /lib/systemd/systemd-journald ]; then
  echo "skipped: needs root, unshare and systemd-journald"
  exit 77
fi
if ! unshare -m --propagation private true 2>/dev/null; then
  echo "skipped: cannot create a mount namespace here"
  exit 77
fi
exec unshare -m --propagation private sh -eu -c '
probe=$1
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
mkdir -p /run/systemd/journal
/lib/systemd/systemd-journald >/dev/null 2>&1 &
journald=$!
trap "kill $journald 2>/dev/null || true" EXIT
i=0
while [ ! -S /run/systemd/journal/socket ]; do
  i=$((i + 1)); [ $i -le 200 ] || { echo "journald did not start" >&2; exit 1; }
  sleep 0.05
done
"$probe"
i=0
out=""
while :; do
  out=$(journalctl -D /run/log/journal -o json --no-pager SYSLOG_IDENTIFIER=chatd 2>/dev/null || true)
  case $out in *probe-error*) break ;; esac
  i=$((i + 1)); [ $i -le 200 ] || { echo "entries did not arrive: $out" >&2; exit 1; }
  sleep 0.05
done
fail=0
for want in "\"CHATD_EVENT\":\"join\"" "\"CHATD_NICK\":\"pat\"" "\"CHATD_PEER\":\"127.0.0.1:5000\"" \
            "\"CHATD_SESSION\":\"7\"" "\"CHATD_REASON\":\"two words\"" "\"PRIORITY\":\"4\"" \
            "\"PRIORITY\":\"3\"" "\"CHATD_EVENT\":\"probe-error\""; do
  case $out in
    *"$want"*) ;;
    *) echo "missing $want" >&2; fail=1 ;;
  esac
done
# CODE_FILE/LINE/FUNC: of the caller (the located line of the probe) or none, never
# those of the sink; and no absolute build path (-ffile-prefix-map).
case $out in
  *journal_sink.cpp* | *sink_it_*) echo "an entry carries the code location of the sink" >&2; fail=1 ;;
esac
case $out in
  *"\"CODE_FILE\":\"tests/ctl/journal_probe.cpp\""*) ;;
  *) echo "the located line has no CODE_FILE=tests/ctl/journal_probe.cpp" >&2; fail=1 ;;
esac
[ $fail -eq 0 ] || { echo "$out" >&2; exit 1; }
echo "journald read back CHATD_EVENT, CHATD_NICK, CHATD_PEER, CHATD_SESSION, CHATD_REASON, PRIORITY, CODE_FILE of the caller"
' sh "$probe"
