#!/bin/sh
# Package gates: lintian 0 E/0 W, rpmlint 0 E (but no-signature)/0 W, the rpm's file
# list, mandoc -Tlint on the man pages, the conffile against chatd, shellcheck.
# Usage: packaging/lint.sh [PKG.deb PKG.rpm]  (default: build/pkg/packages.txt,
# built by packaging/build-packages.sh when missing)
set -eu
cd "$(dirname "$0")/.."
failed=""
nfailed=0
ngates=0
failed_gates=""
fail() {
	echo "FAIL: $*" >&2
	failed="$failed
  $*"
	# A gate with several checks counts once.
	case " $failed_gates " in
	*" $ngates "*) ;;
	*)
		failed_gates="$failed_gates $ngates"
		nfailed=$((nfailed + 1))
		;;
	esac
}
gate() { ngates=$((ngates + 1)); }

if [ $# -gt 0 ]; then
	pkgs="$*"
else
	[ -s build/pkg/packages.txt ] || ./packaging/build-packages.sh >/dev/null
	pkgs=$(cat build/pkg/packages.txt)
fi
deb="" rpm=""
for p in $pkgs; do
	case $p in
	*.deb) deb=$p ;;
	*.rpm) rpm=$p ;;
	esac
done
if [ -z "$deb" ] || [ ! -f "$deb" ]; then fail "no .deb to check"; fi
if [ -z "$rpm" ] || [ ! -f "$rpm" ]; then fail "no .rpm to check"; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# count PATTERN FILE: lines that match (0 when none).
count() { grep -c -- "$1" "$2" || true; }

# --- lintian -------------------------------------------------------------------
if [ -f "$deb" ]; then
	gate
	lintian -I --pedantic --show-overrides "$deb" >"$out/lintian" 2>&1 || true
	le=$(count '^E: ' "$out/lintian")
	lw=$(count '^W: ' "$out/lintian")
	li=$(count '^I: ' "$out/lintian")
	lp=$(count '^P: ' "$out/lintian")
	lo=$(count '^O: ' "$out/lintian")
	cat "$out/lintian"
	echo "lintian $(basename "$deb"): $le errors, $lw warnings, $li info, $lp pedantic, $lo overridden"
	if [ "$le" -ne 0 ] || [ "$lw" -ne 0 ]; then fail "lintian: $le errors, $lw warnings"; fi
fi

# --- rpmlint and the rpm's file list --------------------------------------------
if [ -f "$rpm" ]; then
	gate
	rpmlint -c packaging/rpmlint.toml "$rpm" >"$out/rpmlint" 2>&1 || true
	grep -E ': (E|W): ' "$out/rpmlint" || true
	re=$(grep -E ': E: ' "$out/rpmlint" | grep -vc ': E: no-signature' || true)
	rw=$(count ': W: ' "$out/rpmlint")
	rs=$(count ': E: no-signature' "$out/rpmlint")
	echo "rpmlint $(basename "$rpm"): $re errors (+$rs no-signature, expected unsigned), $rw warnings"
	if [ "$re" -ne 0 ] || [ "$rw" -ne 0 ]; then fail "rpmlint: $re errors, $rw warnings"; fi

	# The rpm must carry the deb's files, less the Debian-only ones.
	if [ -f "$deb" ]; then
		gate
		dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print substr($6, 2)}' |
			grep -v -e '^/usr/share/lintian/' -e '/changelog\.Debian\.gz$' | sort >"$out/deb.files"
		rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" 2>/dev/null |
			awk '$1 !~ /^d/ {print $2}' | grep -v '^/usr/lib/\.build-id/' | sort >"$out/rpm.files"
		echo "rpm -qlp $(basename "$rpm"):"
		rpm -qlp "$rpm" 2>/dev/null | grep -v '^/usr/lib/\.build-id' | sed 's/^/  /'
		if diff -u "$out/deb.files" "$out/rpm.files" >"$out/files.diff"; then
			echo "rpm file list: $(wc -l <"$out/rpm.files") files, same as the .deb's"
		else
			cat "$out/files.diff"
			fail "rpm file list differs from the .deb's"
		fi
		rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" 2>/dev/null |
			grep -q '^cn /etc/chatd/chatd.conf$' ||
			fail "rpm: /etc/chatd/chatd.conf is not %config(noreplace)"
		grep -q '/usr/share/lintian\|changelog\.Debian' "$out/rpm.files" &&
			fail "rpm carries Debian-only files"
	fi
fi

# --- hardening of the packaged binaries ------------------------------------------------
# PIE, full RELRO (GNU_RELRO + BIND_NOW) and the stack protector, read off the
# ELF files; lintian only reports missing BIND_NOW and FORTIFY at info level.
if [ -f "$deb" ]; then
	gate
	mkdir "$out/deb"
	dpkg-deb -x "$deb" "$out/deb"
	nelf=0
	for f in $(find "$out/deb" -type f -perm -u+x | sort); do
		[ "$(head -c4 "$f" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || continue
		nelf=$((nelf + 1))
		name=${f#"$out/deb"}
		readelf -hW "$f" | grep -q 'Type:[[:space:]]*DYN' || fail "$name is not PIE"
		readelf -lW "$f" | grep -q GNU_RELRO || fail "$name has no RELRO"
		readelf -dW "$f" | grep -q 'FLAGS.*NOW' || fail "$name is not linked with -z now"
		readelf -sW --dyn-syms "$f" | grep -q __stack_chk_fail || fail "$name has no stack protector"
	done
	echo "hardening: $nelf binaries PIE, full RELRO, BIND_NOW, stack protector"
fi

# --- man pages -------------------------------------------------------------------
pages=$(find man -maxdepth 1 -name '*.[1-8]' 2>/dev/null | sort || true)
if [ -n "$pages" ]; then
	gate
	nman=0
	for page in $pages; do
		nman=$((nman + 1))
		if ! mandoc -Tlint -Wwarning "$page"; then
			fail "mandoc -Tlint -Wwarning $page"
		fi
		lexgrog "$page" >/dev/null 2>&1 || fail "lexgrog cannot parse the NAME section of $page"
	done
	echo "mandoc -Tlint -Wwarning: $nman pages checked"
else
	echo "mandoc: no man pages in man/ yet"
fi

# --- paths named by the man pages ---------------------------------------------------
# Every /usr, /etc or /lib path a man page names is in the .deb (the pages once
# pointed to a PROTOCOL.md the package did not ship). /run paths are made at
# run time and are not checked here (the nspawn test does).
if [ -f "$deb" ]; then
	gate
	mkdir -p "$out/paths"
	dpkg-deb -x "$deb" "$out/paths"
	# A path starts at a word boundary (not the /lib of /var/lib/chatd); the files an
	# administrator makes by following a page (the TLS certificate and key, a CA, the
	# TLS drop-in) are in packaging/man-admin-paths, not in the package.
	sed 's/\\-/-/g; s/\\//g' man/*.[158] |
		grep -oE '(^|[^A-Za-z0-9._/-])/(usr|etc|lib)/[A-Za-z0-9._/-]*[A-Za-z0-9_]' | sed 's|^[^/]||' |
		grep -vxF -f packaging/man-admin-paths | sort -u >"$out/man-paths"
	while read -r p; do
		# Units may live in /lib or /usr/lib (the package uses the latter).
		if [ ! -e "$out/paths$p" ] && [ ! -e "$out/paths/usr$p" ]; then
			fail "a man page names $p, which the .deb does not contain"
		fi
	done <"$out/man-paths"
	echo "man page paths: $(wc -l <"$out/man-paths") named, all in the .deb: $(tr '\n' ' ' <"$out/man-paths")"
fi

# --- conffile ----------------------------------------------------------------------
# Every long option of chatd is a documented key, and the file with every key
# uncommented (at its default) is accepted: chatd then stops for lack of a port
# (64), not for a config error (78).
chatd=build/pkg/daemon/chatd
if [ -x "$chatd" ]; then
	gate
	"$chatd" --help | grep -o -- '--[a-z][a-z-]*' | sed 's/^--//' | sort -u |
		grep -vx -e help -e version -e config -e check-config >"$out/options"
	sed -n 's/^#\{0,1\}\([a-z][a-z-]*\) = .*/\1/p' packaging/chatd.conf | sort -u >"$out/keys"
	if ! diff -u "$out/options" "$out/keys" >"$out/keys.diff"; then
		cat "$out/keys.diff"
		fail "packaging/chatd.conf keys differ from chatd's long options (- option, + key)"
	fi
	# port and the TLS keys stay out: their examples name a port to bind and files
	# the administrator provides.
	sed -e 's/^#\([a-z][a-z-]*\) = /\1 = /' -e '/^port = /d' -e '/^tls-[a-z]* = /d' \
		packaging/chatd.conf >"$out/chatd.conf"
	rc=0
	env -u LISTEN_FDS -u LISTEN_PID "$chatd" --config "$out/chatd.conf" >"$out/chatd.out" 2>&1 || rc=$?
	if [ "$rc" -eq 64 ]; then
		echo "conffile: $(wc -l <"$out/keys") keys uncommented: accepted by chatd"
	else
		cat "$out/chatd.out"
		fail "chatd with the uncommented conffile exited $rc (expected 64: no port)"
	fi
else
	echo "conffile: $chatd not built, not checked"
fi

# --- bash completion ----------------------------------------------------------------------
# chatctl's script is generated by the package build from the command registry
# (ctl/CMakeLists.txt); the one checked is the one the packages ship.
chatctl_completion=${CHATD_PKG_BUILD:-build/pkg}/completions/chatctl
if [ -f /usr/share/bash-completion/bash_completion ]; then
	gate
	[ -f "$chatctl_completion" ] || fail "no generated chatctl completion at $chatctl_completion"
	# complete WORD...: what the completion offers for the last (partial) word.
	cat >"$out/complete.bash" <<'EOS'
source /usr/share/bash-completion/bash_completion
source "$CHATCTL_COMPLETION"
source packaging/completions/chat_client
complete_words() {
	local fn=$1; shift
	COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
	"$fn"; echo "${COMPREPLY[*]}"
}
check() {
	local want=$1; shift
	local got; got=$(complete_words "$@")
	[ "$got" = "$want" ] || { echo "completion of '${*:2}': got '$got', want '$want'"; exit 1; }
}
check "who status kick say version list-commands account" _chatctl chatctl ""
check "--json" _chatctl chatctl --js
check "who status kick say version list-commands account" _chatctl chatctl --socket /tmp/x ""
check "kick" _chatctl chatctl -t 2 ki
check "--version" _chat_client chat_client --ver
# Ports from CHAT_CLIENT_PORTS rather than this machine's chatd.socket or config.
CHAT_CLIENT_PORTS="4000 4001" check "4000 4001" _chat_client chat_client pat localhost ""
CHAT_CLIENT_PORTS="4000 5000" check "4000" _chat_client chat_client pat localhost 4
EOS
	if CHATCTL_COMPLETION=$chatctl_completion bash "$out/complete.bash"; then
		echo "bash completion: chatctl and chat_client complete as expected"
	else
		fail "bash completion"
	fi
fi

# --- shell -----------------------------------------------------------------------------
if command -v shellcheck >/dev/null; then
	gate
	if shellcheck -s sh packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm \
		packaging/rpm/post packaging/rpm/preun packaging/rpm/postun packaging/*.sh &&
		shellcheck -s bash -e SC2207 packaging/completions/* "$chatctl_completion" &&
		{ [ ! -d tests/system ] || shellcheck tests/system/*.sh; }; then
		echo "shellcheck: maintainer scripts, completions and test scripts clean"
	else
		fail "shellcheck"
	fi
fi

echo "packaging lint: $((ngates - nfailed)) passed, $nfailed failed"
if [ -n "$failed" ]; then
	echo "packaging lint FAILED:$failed" >&2
	exit 1
fi
