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
ROOT_PACKAGES="dbus libc6 libfmt9 libgcc-s1 libicu72 libspdlog1.10 libstdc++6 libsystemd0 procps python3 rpm systemd systemd-sysv"
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
if echo "$units" | grep -qx chatd-ctl.socket; then
	inside systemctl is-active chatd-ctl.socket >/dev/null || die "chatd-ctl.socket is not active"
	inside systemctl is-enabled chatd-ctl.socket >/dev/null || die "chatd-ctl.socket is not enabled"
fi
log "ok: $(echo "$units" | grep '\.socket$' | tr '\n' ' ')enabled and active"

port=$(inside systemctl show -P Listen chatd.socket | sed -n 's/.*[:\[]\([0-9][0-9]*\) (Stream)$/\1/p; s/^\([0-9][0-9]*\) (Stream)$/\1/p' | head -1)
[ -n "$port" ] || die "cannot read chatd.socket's TCP port: $(inside systemctl show -P Listen chatd.socket)"
log "chatd.socket listens on port $port"

inside python3 /root/chat_e2e.py chat "$port" || {
	inside journalctl -u chatd --no-pager -n 40 || true
	die "chat scenario"
}
phase "clients chatted; chatctl who; systemctl status"

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
	inside systemctl reload chatd.service || {
		inside journalctl -u chatd.service --no-pager -n 20 || true
		die "systemctl reload chatd failed"
	}
	deadline=$(($(date +%s) + 15))
	until inside journalctl -u chatd.service --no-pager -o cat | grep -q "event=reloaded"; do
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
	snapshot >"$work/after-rpm.files"
	if ! diff -u "$work/before.files" "$work/after-rpm.files" >"$work/files-rpm.diff"; then
		cat "$work/files-rpm.diff"
		die "rpm -e left files behind (or removed some)"
	fi
	phase "rpm -e: %preun stopped and disabled the units, no file left behind"
fi

log "all checks passed"
