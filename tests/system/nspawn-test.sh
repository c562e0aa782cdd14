#!/bin/bash
# End-to-end system test: the .deb in a booted Debian 12 container (systemd-nspawn -b).
#
# Usage: tests/system/nspawn-test.sh [PKG.deb [PKG.rpm]]
#   default packages: those in build/pkg/packages.txt (built by
#   packaging/build-packages.sh when missing). Needs root, debootstrap and
#   systemd-container. The Debian root is cached in $CHATD_CI_CACHE
#   (default /var/cache/chatd-ci), keyed by suite and package list, so only the
#   first run downloads; each run boots a throw-away overlay of it.
# Checks: dpkg -i enables and starts the sockets; two clients chat and see each
# other's join/chat/leave; chatctl who lists them; systemctl status shows the
# STATUS= line; reinstall (upgrade path), restart and watchdog (SIGSTOP) bring
# chatd back; dpkg -r stops it; dpkg -P leaves no file behind. Then the .rpm's
# scriptlets, with Debian's rpm in the same container: rpm -i enables and
# starts the sockets, a client chats, rpm -U replaces the running chatd, rpm -e
# stops them and leaves no file.
# Issue 12's operator checks: every path a man page names exists; no build path
# in the binaries and no sink location in the journal; chatctl's groups (a
# chatd member runs who and is refused kick, a chatd-admin member may kick, an
# outsider is refused, and chatd sees their real uids); control-socket use
# never drops a chat user; chatd --check-config names file:line; a bad config
# fails systemctl reload and keeps chatd running; a restart with a bad config
# exits 78, is not retried and leaves the port open; chatctl on a stopped chatd
# exits 69 and starts nothing; no "can still be activated" warning from dpkg;
# purge leaves no /run/chatd.
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$(date +%s)
phase_t=$t0

SUITE=bookworm
CACHE=${CHATD_CI_CACHE:-/var/cache/chatd-ci}
# Boot essentials, python3 for the test clients, and chatd's run-time libraries
# (its Depends, by real package name: dpkg -i installs nothing else), and rpm
# to run the .rpm's scriptlets under a real systemd. procps: /bin/kill, for
# chatd.service's ExecReload= (a Depends of the package).
ROOT_PACKAGES="dbus libc6 libfmt9 libgcc-s1 libhiredis0.14 libicu72 libsodium23 libspdlog1.10 libssl3 libstdc++6 libsystemd0 procps python3 rpm systemd systemd-sysv"
BOOT_TIMEOUT=90
STEP_TIMEOUT=30

passed=0
log() {
	printf '[%4ds] %s\n' "$(($(date +%s) - t0))" "$*"
	case $1 in ok:*) passed=$((passed + 1)) ;; esac
}
die() {
	log "FAIL: $*"
	exit 1
}
phase() {
	local now
	now=$(date +%s)
	log "$1 ($((now - phase_t)) s)"
	passed=$((passed + 1))
	phase_t=$now
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, mount, systemd-nspawn)"
for tool in debootstrap systemd-nspawn nsenter flock dpkg-deb; do
	command -v "$tool" >/dev/null ||
		die "$tool is missing (apt-get install debootstrap systemd-container util-linux dpkg)"
done

# CHATD_NSPAWN_PREPARE_ONLY=1: only make the cached Debian root (CI starts this early,
# in the background, so debootstrap's downloads overlap the builds).
prepare_only=${CHATD_NSPAWN_PREPARE_ONLY:-0}
deb=${1:-}
rpm=${2:-}
if [ "$prepare_only" != 1 ]; then
	if [ -z "$deb" ]; then
		[ -s build/pkg/packages.txt ] || ./packaging/build-packages.sh >/dev/null
		deb=$(grep '\.deb$' build/pkg/packages.txt | head -1)
		rpm=$(grep '\.rpm$' build/pkg/packages.txt | head -1 || true)
	fi
	[ -f "$deb" ] || die "no package: $deb"
	deb=$(realpath "$deb")
	log "packages: $deb ${rpm:-(no .rpm)}"
fi

# --- The cached Debian root ------------------------------------------------------
mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
key=$(printf '%s\n' "$SUITE" minbase "$ROOT_PACKAGES" | sha256sum | cut -c1-12)
root="$CACHE/$SUITE-$key"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
timeout 900 flock 9 || die "another run holds $CACHE/.lock"
if [ ! -f "$root/.complete" ]; then
	log "debootstrap $SUITE into $root (first run; cached afterwards)"
	rm -rf "$root.tmp"
	timeout 900 debootstrap --variant=minbase --include="${ROOT_PACKAGES// /,}" \
		"$SUITE" "$root.tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1 || {
		tail -20 "$CACHE/debootstrap.log"
		die "debootstrap failed (log: $CACHE/debootstrap.log)"
	}
	touch "$root.tmp/.complete"
	rm -rf "$root"
	mv "$root.tmp" "$root"
	# Roots for other package lists are stale now (about 300 MB each).
	for old in "$CACHE/$SUITE"-*; do
		[ "$old" = "$root" ] || rm -rf "$old"
	done
fi
flock -u 9
phase "Debian root ready: $root"
if [ "$prepare_only" = 1 ]; then
	exit 0
fi

# --- A throw-away overlay, booted ----------------------------------------------------
work=$(mktemp -d /var/tmp/chatd-nspawn.XXXXXX)
merged="$work/merged"
mkdir -p "$work/upper" "$work/work" "$merged"
nspawn_pid=""
cleanup() {
	local rc=$?
	set +e
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# SIGTERM makes nspawn shut the container down cleanly.
		kill -TERM "$nspawn_pid"
		for _ in $(seq 1 100); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	if [ "$rc" -ne 0 ] && [ -f "$work/nspawn.log" ]; then
		echo "--- last lines of the container console ($work/nspawn.log):"
		tail -30 "$work/nspawn.log"
	fi
	mountpoint -q "$merged" && umount "$merged"
	if [ "$rc" -eq 0 ] || [ -z "${CHATD_KEEP_FAILED:-}" ]; then
		rm -rf "$work"
	else
		echo "kept $work (CHATD_KEEP_FAILED)"
	fi
	log "nspawn-test $([ "$rc" -eq 0 ] && echo PASSED || echo FAILED) in $(($(date +%s) - t0)) s"
	# The summary line CI reads: each phase and "ok:" step is one check.
	echo "nspawn-test: $passed passed, $([ "$rc" -eq 0 ] && echo 0 || echo 1) failed"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount -t overlay overlay -o "lowerdir=$root,upperdir=$work/upper,workdir=$work/work" "$merged"
cp "$deb" "$merged/root/chatd.deb"
[ -z "$rpm" ] || cp "$rpm" "$merged/root/chatd.rpm"
cp tests/system/chat_e2e.py "$merged/root/chat_e2e.py"
cp tests/system/tls_watch.py "$merged/root/tls_watch.py"
# Issue 14: a certificate for the TLS socket, made here (the root has no openssl CLI),
# handed to the hardened unit through LoadCredential= as chatd(8) documents.
install -d -m 0700 "$merged/root/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	-keyout "$merged/root/tls/privkey.pem" -out "$merged/root/tls/fullchain.pem" \
	>"$work/openssl.log" 2>&1 || die "openssl req: $(cat "$work/openssl.log")"

machine="chatd-test-$$"
# --private-network: the container's own loopback, so port 3490 cannot clash
# with anything on the host. --register=no --keep-unit: no host systemd here.
systemd-nspawn -D "$merged" -b --register=no --keep-unit --private-network \
	--machine="$machine" --console=pipe </dev/null >"$work/nspawn.log" 2>&1 &
nspawn_pid=$!

# The container's PID 1: the descendant of nspawn whose pid in its own namespace is 1.
cpid=""
deadline=$(($(date +%s) + BOOT_TIMEOUT))
while [ -z "$cpid" ] && [ "$(date +%s)" -lt "$deadline" ]; do
	kill -0 "$nspawn_pid" 2>/dev/null || die "systemd-nspawn exited during boot"
	for p in $(pgrep -P "$nspawn_pid") $(for c in $(pgrep -P "$nspawn_pid"); do pgrep -P "$c"; done); do
		if awk '/^NSpid:/ { exit !($NF == 1 && NF > 2) }' "/proc/$p/status" 2>/dev/null; then
			cpid=$p
		fi
	done
	[ -n "$cpid" ] || sleep 0.2
done
[ -n "$cpid" ] || die "no container init after ${BOOT_TIMEOUT} s"

# inside CMD...: runs CMD inside the container, bounded.
inside() { timeout "$STEP_TIMEOUT" nsenter -t "$cpid" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
# chatd.service's journal, read whole before any grep: with pipefail, `journalctl |
# grep -q` fails whenever grep stops at an early match and journalctl gets SIGPIPE,
# which made a found line look missing (a CI run waited 15 s for an old match).
chatd_journal() { inside journalctl -u chatd.service --no-pager -o "${1:-cat}"; }
journal_count() { chatd_journal "${2:-cat}" | grep -c -- "$1" || true; }

state=""
while [ "$(date +%s)" -lt "$deadline" ]; do
	state=$(inside systemctl is-system-running 2>/dev/null || true)
	case $state in running | degraded) break ;; esac
	sleep 0.5
done
case $state in running | degraded) ;; *) die "container did not finish booting: '$state'" ;; esac
[ "$state" = running ] || inside systemctl --failed --no-legend --no-pager || true
phase "container booted ($state)"

# Every file and directory of the root, but the ones that change by themselves.
snapshot() {
	(cd "$merged" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \
		-o -path ./tmp -o -path ./var/log -o -path ./var/cache -o -path ./var/tmp \
		-o -path ./var/lib/dpkg -o -path ./var/lib/rpm -o -path ./root/.rpmdb -o -path ./var/lib/systemd/random-seed \
		-o -path ./var/lib/systemd/timers -o -path ./var/lib/systemd/catalog \) -prune -o -print) |
		sort
}
snapshot >"$work/before.files"

# --- Install ---------------------------------------------------------------------------
inside dpkg -i /root/chatd.deb >"$work/dpkg-i.log" 2>&1 || {
	cat "$work/dpkg-i.log"
	die "dpkg -i failed"
}
phase "dpkg -i chatd.deb"

units=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed -n 's|.*/systemd/system/||p' | grep . || true)
[ -n "$units" ] || die "the package has no systemd units"
log "units: $(echo "$units" | tr '\n' ' ')"

inside systemctl is-active chatd.socket >/dev/null || {
	inside systemctl status --no-pager chatd.socket || true
	die "chatd.socket is not active after dpkg -i"
}
inside systemctl is-enabled chatd.socket >/dev/null || die "chatd.socket is not enabled after dpkg -i"
if grep -qx chatd-ctl.socket <<<"$units"; then
	inside systemctl is-active chatd-ctl.socket >/dev/null || die "chatd-ctl.socket is not active"
	inside systemctl is-enabled chatd-ctl.socket >/dev/null || die "chatd-ctl.socket is not enabled"
fi
# The TLS socket needs a certificate first: the package must leave it off
# (enabled, it would hand chatd a TLS port without one, and chatd would exit 78).
if grep -qx chatd-tls.socket <<<"$units"; then
	if inside systemctl is-enabled chatd-tls.socket >/dev/null 2>&1; then
		die "dpkg -i enabled chatd-tls.socket, which needs a certificate first"
	fi
fi
log "ok: chatd.socket enabled and active; chatd-tls.socket left off"

port=$(inside systemctl show -P Listen chatd.socket | sed -n 's/.*[:\[]\([0-9][0-9]*\) (Stream)$/\1/p; s/^\([0-9][0-9]*\) (Stream)$/\1/p' | head -1)
[ -n "$port" ] || die "cannot read chatd.socket's TCP port: $(inside systemctl show -P Listen chatd.socket)"
log "chatd.socket listens on port $port"

inside python3 /root/chat_e2e.py chat "$port" || {
	inside journalctl -u chatd --no-pager -n 40 || true
	die "chat scenario"
}
phase "clients chatted; chatctl who; systemctl status"

# --- Issue 14: chatd-tls.socket, and chat_client over TLS to a plain client ----------------
install -d "$merged/etc/systemd/system/chatd.service.d"
printf '[Service]\nLoadCredential=tls-cert:/root/tls/fullchain.pem\nLoadCredential=tls-key:/root/tls/privkey.pem\n' \
	>"$merged/etc/systemd/system/chatd.service.d/tls.conf"
inside systemctl daemon-reload
# systemd refuses to start a socket whose service is running: chatd stops first.
inside systemctl stop chatd.service
inside systemctl enable --now chatd-tls.socket >"$work/tls-enable.log" 2>&1 || {
	inside systemctl status --no-pager chatd-tls.socket || true
	die "cannot enable chatd-tls.socket: $(cat "$work/tls-enable.log")"
}
inside systemctl start chatd.service || die "chatd did not start with the TLS socket"
tls_port=$(inside systemctl show -P Listen chatd-tls.socket | sed -n 's/.*[:\[]\([0-9][0-9]*\) (Stream)$/\1/p; s/^\([0-9][0-9]*\) (Stream)$/\1/p' | head -1)
[ -n "$tls_port" ] || die "cannot read chatd-tls.socket's port"
inside python3 /root/tls_watch.py "$port" tlswatcher tlsuser "hello over tls" >"$work/tls_watch.out" 2>&1 &
watch_pid=$!
for _ in $(seq 50); do grep -q joined "$work/tls_watch.out" && break; sleep 0.1; done
inside sh -c "printf 'hello over tls\n' | chat_client --tls --ca-file /root/tls/fullchain.pem tlsuser 127.0.0.1 $tls_port" \
	>"$work/tls_client.out" 2>&1 || die "chat_client --tls failed: $(cat "$work/tls_client.out")"
wait "$watch_pid" || {
	inside journalctl -u chatd --no-pager -n 30 || true
	die "the plain client did not receive the TLS client's line: $(cat "$work/tls_watch.out" "$work/tls_client.out")"
}
status_out=$(inside chatctl status)
grep -q "TLS cert: *expires" <<<"$status_out" || die "chatctl status shows no TLS certificate"
inside systemctl disable --now chatd-tls.socket >/dev/null 2>&1
rm -rf "$merged/etc/systemd/system/chatd.service.d"
inside systemctl daemon-reload
inside systemctl restart chatd.service
phase "TLS: chatd-tls.socket on port $tls_port, chat_client --tls chatted with a plain client, chatctl shows the certificate"

# --- Issue 12: what an operator meets on the first day ----------------------------------
# Every path a man page names exists in the installed system (/run/chatd/chatd.ctl
# while chatd runs, which it does after the chat above).
# A path starts at a word boundary (not the /lib of /var/lib/chatd); files the
# administrator makes by following a page are listed in packaging/man-admin-paths.
man_paths=$(inside sh -c 'zcat /usr/share/man/man*/chat*.gz' | sed 's/\\-/-/g; s/\\//g' |
	grep -oE '(^|[^A-Za-z0-9._/-])/(usr|etc|lib|run)/[A-Za-z0-9._/-]*[A-Za-z0-9_]' | sed 's|^[^/]||' |
	grep -vxF -f packaging/man-admin-paths | sort -u)
[ -n "$man_paths" ] || die "no paths found in the man pages"
for p in $man_paths; do
	inside test -e "$p" || die "a man page names $p, which does not exist once installed"
done
phase "man pages: all $(echo "$man_paths" | wc -l) paths they name exist"

# No build path in the installed binaries; no journal entry carries the sink's
# own code location.
for b in /usr/sbin/chatd /usr/bin/chatctl /usr/bin/chat_client; do
	[ -f "$merged$b" ] || continue
	if grep -a -q -F -e "$PWD" -e "/build/pkg" "$merged$b"; then
		die "$b contains a build path ($PWD or /build/pkg)"
	fi
done
inside journalctl -u chatd.service -o json --no-pager >"$work/journal.json" 2>/dev/null || true
[ -s "$work/journal.json" ] || die "no journal entries for chatd"
if grep -q -e 'sink_it_' -e 'journal_sink\.cpp' "$work/journal.json"; then
	die "journal entries carry the sink's CODE_FILE/CODE_FUNC"
fi
phase "no build path in the binaries, no sink location in $(wc -l <"$work/journal.json") journal entries"

# chatctl's access model: chatd members read, chatd-admin members administer.
inside useradd -M -G chatd reader
inside useradd -M -G chatd-admin boss
inside useradd -M outsider
as_user() {
	local user=$1
	shift
	inside runuser -u "$user" -- "$@"
}
as_user reader chatctl who >"$work/reader-who" 2>&1 || {
	cat "$work/reader-who"
	die "a member of chatd cannot run chatctl who"
}
rc=0
as_user reader chatctl kick nobody >"$work/reader-kick" 2>&1 || rc=$?
[ "$rc" = 77 ] || {
	cat "$work/reader-kick"
	die "a member of chatd ran chatctl kick: exit $rc (want 77)"
}
rc=0
as_user boss chatctl kick nobody >"$work/boss-kick" 2>&1 || rc=$?
if ! { [ "$rc" = 1 ] && grep -q no-such-nick "$work/boss-kick"; }; then
	cat "$work/boss-kick"
	die "a member of chatd-admin: chatctl kick nobody exited $rc (want 1, no-such-nick)"
fi
rc=0
as_user outsider chatctl status >"$work/outsider" 2>&1 || rc=$?
[ "$rc" = 77 ] || {
	cat "$work/outsider"
	die "a user in neither group: chatctl status exited $rc (want 77)"
}
# What the kernel reports to chatd for the callers: their real uids, not 65534.
reader_uid=$(inside id -u reader)
[ "$(journal_count "command=who uid=$reader_uid ")" -gt 0 ] || {
	inside journalctl -u chatd.service -o cat --no-pager | grep 'event=control' | tail -5
	die "chatd did not log reader's uid $reader_uid for chatctl who"
}
# The test's users go again (useradd's backup files too, if it made them), so that
# the purge check below sees only what the package leaves.
for u in reader boss outsider; do inside userdel "$u"; done
for f in ./etc/subuid- ./etc/subgid- ./etc/passwd- ./etc/group- ./etc/shadow- ./etc/gshadow-; do
	grep -qxF "$f" "$work/before.files" || inside rm -f "/${f#./}"
done
phase "access: chatd member runs who (uid $reader_uid seen), kick refused 77; chatd-admin kicks; outsider refused 77"

inside python3 /root/chat_e2e.py control "$port" || {
	inside journalctl -u chatd --no-pager -n 30 || true
	die "control-socket operations"
}
phase "control socket: 20 commands, 16 tricklers, root still served, reload; no user dropped"

rc=0
inside chatctl bogus >"$work/bogus" 2>&1 || rc=$?
if ! { [ "$rc" = 64 ] && grep -q "unknown command 'bogus'" "$work/bogus"; }; then
	cat "$work/bogus"
	die "chatctl bogus: exit $rc, does not name the command"
fi

# The config check mode and a reload with a bad file.
conf=/etc/chatd/chatd.conf
inside cp "$conf" /root/chatd.conf.good
inside sh -c "echo 'history = lots' >>$conf"
bad_line=$(inside grep -c '' "$conf")
rc=0
inside chatd --check-config >"$work/check" 2>&1 || rc=$?
if ! { [ "$rc" = 78 ] && grep -q "^chatd: $conf:$bad_line: bad value for 'history': 'lots' is not a number" "$work/check"; }; then
	cat "$work/check"
	die "chatd --check-config on a bad file: exit $rc, want 78 naming $conf:$bad_line"
fi
inside chatd --check-config --config /root/chatd.conf.good >/dev/null || die "chatd --check-config --config FILE on the good file failed"
pid_before=$(inside systemctl show -P MainPID chatd.service)
if inside systemctl reload chatd.service >"$work/reload-bad" 2>&1; then
	die "systemctl reload succeeded with a bad config"
fi
inside systemctl is-active chatd.service >/dev/null || die "a failed reload stopped chatd"
[ "$(inside systemctl show -P MainPID chatd.service)" = "$pid_before" ] || die "a failed reload replaced chatd"
[ "$(journal_count "$conf:$bad_line: bad value for 'history': 'lots' is not a number")" -gt 0 ] ||
	die "the journal does not say why the reload failed"
# SIGHUP straight to chatd (no ExecReload= check): logged, one line, clear wording.
inside systemctl kill -s HUP --kill-who=main chatd.service
deadline=$(($(date +%s) + 10))
until [ "$(journal_count 'event=reload-failed' json)" -gt 0 ]; do
	[ "$(date +%s)" -lt "$deadline" ] || die "no event=reload-failed after SIGHUP with a bad config"
	sleep 0.2
done
failed_line=$(inside journalctl -u chatd.service -o json --no-pager | grep 'event=reload-failed' | tail -1)
case $failed_line in
*"not a number"*) ;;
*) die "reload-failed does not say 'not a number': $failed_line" ;;
esac
case $failed_line in
*'\\n'*) die "reload-failed MESSAGE carries a literal \\n: $failed_line" ;;
esac
inside python3 /root/chat_e2e.py ping "$port" || die "no chat after the failed reloads"
phase "check mode: 78 naming $conf:$bad_line; systemctl reload failed, chatd kept (pid $pid_before)"

# A restart with a bad config: exit 78, not retried, and the port stays open.
inside sh -c "cp /root/chatd.conf.good $conf && echo 'foo = 1' >>$conf"
restarts_before=$(inside systemctl show -P NRestarts chatd.service)
if inside systemctl restart chatd.service >/dev/null 2>&1; then
	die "systemctl restart succeeded with a bad config"
fi
for _ in 1 2 3 4 5 6 7 8; do
	inside python3 /root/chat_e2e.py refused "$port" >/dev/null || {
		inside systemctl status --no-pager chatd.socket chatd.service || true
		die "a connection with a bad config was refused or served"
	}
done
sleep 2
[ "$(inside systemctl show -P ExecMainStatus chatd.service)" = 78 ] ||
	die "chatd did not exit 78 on a bad config: $(inside systemctl show -P ExecMainStatus chatd.service)"
[ "$(inside systemctl show -P NRestarts chatd.service)" = "$restarts_before" ] ||
	die "exit 78 was retried (NRestarts $restarts_before -> $(inside systemctl show -P NRestarts chatd.service))"
inside systemctl is-active chatd.socket >/dev/null || {
	inside systemctl status --no-pager chatd.socket || true
	die "chatd.socket is not listening after chatd failed on a bad config"
}
inside mv /root/chatd.conf.good "$conf"
inside python3 /root/chat_e2e.py ping "$port" || die "no chat once the config is fixed"
phase "bad config: exit 78, not retried, 9 start attempts, chatd.socket still listening; fixed, served"

# Six stop/starts in a few seconds: no start limit that would fail chatd.socket.
for _ in 1 2 3 4 5 6; do
	inside systemctl restart chatd.service || die "systemctl restart chatd failed in a quick series"
done
inside systemctl is-active chatd.socket >/dev/null || die "chatd.socket is not active after six quick restarts"
inside python3 /root/chat_e2e.py ping "$port" || die "no chat after six quick restarts"
phase "six quick restarts: chatd.socket still listening, clients served"

# chatctl on a stopped chatd: 69, and it starts nothing.
inside systemctl stop chatd.service
rc=0
inside chatctl status >"$work/stopped" 2>&1 || rc=$?
[ "$rc" = 69 ] || {
	cat "$work/stopped"
	die "chatctl status on a stopped chatd exited $rc (want 69)"
}
sleep 1
st=$(inside systemctl is-active chatd.service || true)
[ "$st" = inactive ] || die "chatctl status started chatd ($st)"
inside test ! -e /run/chatd || die "/run/chatd stays while chatd is stopped"
inside python3 /root/chat_e2e.py ping "$port" || die "no chat after chatd was stopped"
phase "chatctl on a stopped chatd: exit 69, chatd stays stopped; the next client starts it"

# --- Reinstall: postinst's upgrade path ----------------------------------------------------
# CHATD_REINSTALLS=N repeats it (a stress knob for the maintainer scripts).
for round in $(seq 1 "${CHATD_REINSTALLS:-1}"); do
	pid_before=$(inside systemctl show -P MainPID chatd.service)
	inside dpkg -i /root/chatd.deb >"$work/dpkg-i2.log" 2>&1 || {
		cat "$work/dpkg-i2.log"
		die "dpkg -i over the installed package failed (round $round)"
	}
	# Once (in ~30 runs, on a loaded machine) chatd.socket was not active right
	# after dpkg returned: say so with the state, and allow it 10 s to settle.
	st=$(inside systemctl is-active chatd.socket || true)
	if [ "$st" != active ]; then
		log "note: chatd.socket is '$st' right after reinstall (round $round)"
		cat "$work/dpkg-i2.log"
		inside systemctl status --no-pager chatd.socket chatd-ctl.socket chatd.service || true
		inside journalctl --no-pager -n 30 || true
		# Who else holds the port (state 06 = TIME_WAIT, 0A = LISTEN; see proc(5)).
		inside sh -c "grep -h ':$(printf '%04X' "$port") ' /proc/net/tcp /proc/net/tcp6" || true
		deadline=$(($(date +%s) + 10))
		until inside systemctl is-active chatd.socket >/dev/null; do
			[ "$(date +%s)" -lt "$deadline" ] || die "chatd.socket not active after reinstall (round $round)"
			sleep 0.2
		done
	fi
	if grep -q "can still be activated" "$work/dpkg-i2.log"; then
		cat "$work/dpkg-i2.log"
		die "dpkg -i over the installed package printed systemd's 'can still be activated' warning"
	fi
	inside python3 /root/chat_e2e.py ping "$port" || die "no chat after reinstall (round $round)"
	pid_after=$(inside systemctl show -P MainPID chatd.service)
	[ "$pid_after" != "$pid_before" ] || die "reinstall kept the old chatd running (pid $pid_before)"
done
phase "reinstall: sockets kept, chatd replaced (pid $pid_before -> $pid_after)"

# --- Restart --------------------------------------------------------------------------------
pid_before=$pid_after
inside systemctl restart chatd.service || die "systemctl restart chatd failed"
inside systemctl is-active chatd.service >/dev/null || die "chatd.service not active after restart"
pid_after=$(inside systemctl show -P MainPID chatd.service)
if [ "$pid_after" = "$pid_before" ] || [ "$pid_after" = 0 ]; then
	die "restart: MainPID $pid_before -> $pid_after"
fi
inside python3 /root/chat_e2e.py ping "$port" || die "no chat after restart"
phase "systemctl restart chatd: new pid $pid_after, clients served"

# --- Reload (SIGHUP: chatd re-reads its config and stays up) ----------------------------------
if [ -n "$(inside systemctl show -P ExecReload chatd.service)" ]; then
	pid_before=$pid_after
	reloads_before=$(journal_count "event=reloaded")
	inside systemctl reload chatd.service || {
		inside journalctl -u chatd.service --no-pager -n 20 || true
		die "systemctl reload chatd failed"
	}
	deadline=$(($(date +%s) + 15))
	until [ "$(journal_count "event=reloaded")" -gt "$reloads_before" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || die "chatd logged no event=reloaded after systemctl reload"
		sleep 0.2
	done
	pid_after=$(inside systemctl show -P MainPID chatd.service)
	[ "$pid_after" = "$pid_before" ] || die "reload replaced chatd (pid $pid_before -> $pid_after)"
	inside python3 /root/chat_e2e.py ping "$port" || die "no chat after reload"
	phase "systemctl reload chatd: same pid, config re-read, clients served"
fi

# --- Watchdog ----------------------------------------------------------------------------------
wd_usec=$(inside systemctl show -P WatchdogUSec chatd.service)
case $wd_usec in
0 | "" | infinity) log "skip: chatd.service has no WatchdogSec=" ;;
*)
	wd_s=$(inside systemd-analyze timespan "$wd_usec" 2>/dev/null | sed -n 's/.*μs: *\([0-9]*\)/\1/p')
	wd_s=$(((${wd_s:-30000000} + 999999) / 1000000))
	restarts_before=$(inside systemctl show -P NRestarts chatd.service)
	pid_before=$(inside systemctl show -P MainPID chatd.service)
	inside sh -c "kill -STOP $pid_before"
	log "SIGSTOP to chatd (pid $pid_before); WatchdogSec=${wd_s}s"
	deadline=$(($(date +%s) + wd_s + 30))
	pid_after=$pid_before
	restarts_after=$restarts_before
	while [ "$(date +%s)" -lt "$deadline" ]; do
		restarts_after=$(inside systemctl show -P NRestarts chatd.service)
		pid_after=$(inside systemctl show -P MainPID chatd.service)
		[ "$restarts_after" -gt "$restarts_before" ] && [ "$pid_after" != 0 ] &&
			[ "$pid_after" != "$pid_before" ] && break
		sleep 0.5
	done
	[ "$restarts_after" -gt "$restarts_before" ] || {
		inside systemctl status --no-pager chatd.service || true
		die "watchdog did not restart chatd within $((wd_s + 30)) s"
	}
	inside journalctl -u chatd.service --no-pager -o cat >"$work/journal" 2>&1 || true
	grep -q "Watchdog timeout\|result 'watchdog'" "$work/journal" || {
		tail -20 "$work/journal"
		die "journal has no watchdog timeout for chatd"
	}
	# The new chatd is "activating" until it sends READY=1.
	deadline=$(($(date +%s) + 15))
	until inside systemctl is-active chatd.service >/dev/null; do
		[ "$(date +%s)" -lt "$deadline" ] || die "chatd.service not active after the watchdog restart"
		sleep 0.2
	done
	inside python3 /root/chat_e2e.py ping "$port" || die "no chat after the watchdog restart"
	phase "watchdog: SIGSTOP -> 'Watchdog timeout', NRestarts $restarts_before -> $restarts_after, new pid $pid_after"
	;;
esac

# --- Remove and purge --------------------------------------------------------------------------
inside dpkg -r chatd >"$work/dpkg-r.log" 2>&1 || {
	cat "$work/dpkg-r.log"
	die "dpkg -r failed"
}
for u in $units; do
	st=$(inside systemctl is-active "$u" || true)
	case $st in inactive | failed | unknown) ;; *) die "$u is '$st' after dpkg -r" ;; esac
done
[ -f "$merged/etc/chatd/chatd.conf" ] || die "dpkg -r removed the conffile (only purge should)"
if grep -q "can still be activated" "$work/dpkg-r.log"; then
	cat "$work/dpkg-r.log"
	die "dpkg -r printed systemd's 'can still be activated' warning"
fi
log "ok: dpkg -r stopped $(echo "$units" | tr '\n' ' ')and kept the conffile"

inside dpkg -P chatd >"$work/dpkg-p.log" 2>&1 || {
	cat "$work/dpkg-p.log"
	die "dpkg -P failed"
}
inside systemctl daemon-reload || true
snapshot >"$work/after.files"
if ! diff -u "$work/before.files" "$work/after.files" >"$work/files.diff"; then
	cat "$work/files.diff"
	die "dpkg -P left files behind (or removed some)"
fi
leftover=$(grep -rl chatd "$merged/var/lib/systemd/deb-systemd-helper-enabled" \
	"$merged/var/lib/systemd/deb-systemd-helper-masked" "$merged/etc/systemd" 2>/dev/null || true)
[ -z "$leftover" ] || die "systemd state left after purge: $leftover"
inside dpkg -s chatd >/dev/null 2>&1 && die "dpkg still knows chatd after purge"
inside test ! -e /run/chatd || die "purge left /run/chatd"
phase "dpkg -P: no file left behind"

# --- The .rpm's scriptlets -----------------------------------------------------------------
if [ -n "$rpm" ]; then
	# Debian's rpm wants --force-debian; --nodeps because its database knows
	# none of the Debian packages that provide chatd's libraries.
	inside rpm -i --force-debian --nodeps /root/chatd.rpm >"$work/rpm-i.log" 2>&1 || {
		cat "$work/rpm-i.log"
		die "rpm -i failed"
	}
	for u in chatd.socket $(echo "$units" | grep -x chatd-ctl.socket || true); do
		inside systemctl is-enabled "$u" >/dev/null || die "$u not enabled after rpm -i"
		inside systemctl is-active "$u" >/dev/null || die "$u not active after rpm -i"
	done
	inside python3 /root/chat_e2e.py ping "$port" || die "no chat after rpm -i"
	phase "rpm -i: %post enabled and started the sockets, clients served"
	# The upgrade path (%postun with $1 = 1): the old chatd stops, the sockets restart.
	rpm_pid_before=$(inside systemctl show -P MainPID chatd.service)
	inside rpm -U --replacepkgs --force-debian --nodeps /root/chatd.rpm >"$work/rpm-u.log" 2>&1 || {
		cat "$work/rpm-u.log"
		die "rpm -U failed"
	}
	for u in chatd.socket $(echo "$units" | grep -x chatd-ctl.socket || true); do
		inside systemctl is-active "$u" >/dev/null || {
			cat "$work/rpm-u.log"
			inside systemctl status --no-pager "$u" || true
			die "$u not active after rpm -U"
		}
	done
	inside python3 /root/chat_e2e.py ping "$port" || die "no chat after rpm -U"
	rpm_pid_after=$(inside systemctl show -P MainPID chatd.service)
	[ "$rpm_pid_after" != "$rpm_pid_before" ] || die "rpm -U kept the old chatd running (pid $rpm_pid_before)"
	phase "rpm -U: %postun replaced chatd (pid $rpm_pid_before -> $rpm_pid_after), sockets kept"
	inside rpm -e --force-debian --nodeps chatd >"$work/rpm-e.log" 2>&1 || {
		cat "$work/rpm-e.log"
		die "rpm -e failed"
	}
	for u in $units; do
		st=$(inside systemctl is-active "$u" || true)
		case $st in inactive | failed | unknown) ;; *) die "$u is '$st' after rpm -e" ;; esac
	done
	# rpm has no purge, so erase keeps the state directory (the accounts); nothing
	# else may stay.
	snapshot | grep -Ev '^\./var/lib/(private/)?chatd(/|$)' >"$work/after-rpm.files" || true
	if ! diff -u "$work/before.files" "$work/after-rpm.files" >"$work/files-rpm.diff"; then
		cat "$work/files-rpm.diff"
		die "rpm -e left files behind (or removed some)"
	fi
	phase "rpm -e: %preun stopped and disabled the units, no file left behind but the state directory"
fi

log "all checks passed"
