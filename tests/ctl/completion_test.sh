#!/bin/bash
# chatctl's generated bash completion: it is exactly what `chatctl --bash-completion` prints
# (the file packages ship cannot drift from the binary), it completes the global options,
# the registry's commands and, for kick, the nicks a (fake) daemon lists, and shellcheck
# finds nothing in it. Usage: completion_test.sh GENERATED-SCRIPT CHATCTL
set -eu
script=$1
chatctl=$2
if [ ! -f /usr/share/bash-completion/bash_completion ]; then
	echo "bash-completion is not installed" >&2
	exit 77
fi
if ! cmp <("$chatctl" --bash-completion) "$script"; then
	echo "FAIL: $script differs from chatctl --bash-completion" >&2
	exit 1
fi
commands=$("$chatctl" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NF && !/:$/ {print $1}' |
	paste -sd' ')
[ -n "$commands" ] || {
	echo "FAIL: no commands in chatctl --help" >&2
	exit 1
}
# shellcheck disable=SC2016 # expanded by the inner bash
SCRIPT=$script COMMANDS=$commands bash -c '
set -eu
source /usr/share/bash-completion/bash_completion
source "$SCRIPT"
# The daemon, faked: chatctl --json who answers two users, one with a quote in the nick.
chatctl() {
	echo "{\"type\":\"who\",\"result\":\"ok\",\"message\":\"\",\"users\":[{\"nick\":\"pat\"},{\"nick\":\"patricia\"}]}"
}
complete_words() {
	local fn=$1; shift
	COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
	"$fn"; echo "${COMPREPLY[*]}"
}
check() {
	local want=$1; shift
	local got; got=$(complete_words "$@")
	[ "$got" = "$want" ] || { echo "FAIL: completion of \"${*:2}\": got \"$got\", want \"$want\""; exit 1; }
}
check "$COMMANDS" _chatctl chatctl ""
check "--json" _chatctl chatctl --js
check "--socket --timeout --json --version --help" _chatctl chatctl --
check "$COMMANDS" _chatctl chatctl --socket /tmp/x ""
check "kick" _chatctl chatctl -t 2 ki
check "list-commands" _chatctl chatctl li
check "pat patricia" _chatctl chatctl kick ""
check "patricia" _chatctl chatctl --socket /tmp/x kick patr
check "" _chatctl chatctl kick pat ""
check "" _chatctl chatctl say ""
check "" _chatctl chatctl who ""
echo "completion: $COMMANDS; nicks for kick"
'
if command -v shellcheck >/dev/null; then
	shellcheck -s bash -e SC2207 "$script"
fi
