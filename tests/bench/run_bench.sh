#!/usr/bin/env bash
# Runs the chat-bench matrix against chatd (select and epoll), the Python baseline and
# floor-server (the protocol-minimal fan-out: the floor chatd is measured against).
#
# Usage: tests/bench/run_bench.sh [--quick | --smoke] [--nice N] BUILD_DIR
#   BUILD_DIR   a configured and built tree (e.g. build/default): it builds nothing
#   --quick     small matrix, under a minute
#   --smoke     one tiny row per server, for ctest: fails unless every delivery arrived
#   --chatd P   measure this chatd binary instead of BUILD_DIR/daemon/chatd (a variant)
#   --sizes "N ..."  client counts instead of the profile's
#   --servers "S ..."  which of chatd-select chatd-epoll baseline floor to run (default all)
#   --nice N    run servers and bench in their own session whose autogroup has nice N
#               (negative needs root), to be heard over other work on a shared machine;
#               reported in the header line
# Prints one key=value line per run (chat-bench's line, with the server's start line
# for context on stderr) and stops every process it started. Each server is started
# fresh for each client count, on a port nobody else can take: chatd gets a listening
# socket made here (LISTEN_FDS, as systemd does), the baseline binds port 0 itself.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
orig_args=("$@")
profile=full
nice_level=0
build=""
chatd_override=""
sizes_override=""
servers="chatd-select chatd-epoll baseline floor"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) profile=quick ;;
    --smoke) profile=smoke ;;
    --nice) nice_level="$2"; shift ;;
    --chatd) chatd_override="$2"; shift ;;
    --sizes) sizes_override="$2"; shift ;;
    --servers) servers="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "run_bench.sh: unknown option $1" >&2; exit 64 ;;
    *) build="$1" ;;
  esac
  shift
done
if [[ -z "$build" ]]; then
  echo "usage: run_bench.sh [--quick|--smoke] [--chatd PATH] [--sizes \"N ...\"] [--nice N] BUILD_DIR" >&2
  exit 64
fi
if [[ "$nice_level" != 0 && -z "${CHAT_BENCH_SESSION:-}" ]]; then
  # With sched_autogroup (the kernel default) nice only ranks processes within one
  # session; a session of our own with a niced autogroup ranks the bench against the rest.
  export CHAT_BENCH_SESSION=1
  exec setsid --wait "$0" "${orig_args[@]}"
fi
if [[ "$nice_level" != 0 ]]; then
  if [[ -w /proc/self/autogroup ]]; then
    echo "$nice_level" >/proc/self/autogroup
  else
    renice -n "$nice_level" -p $$ >/dev/null
  fi
fi
chatd="${chatd_override:-$build/daemon/chatd}"
bench="$build/tests/bench/chat-bench"
floor="$build/tests/bench/floor-server"
baseline="$here/baseline_server.py"
for f in "$chatd" "$bench" "$floor"; do
  [[ -x "$f" ]] || { echo "run_bench.sh: $f is missing; build first" >&2; exit 66; }
done

case "$profile" in
  full)  sizes="10 100 1000 10000"; budget=600; flood_chatd=10000000; flood_base=1000000
         steady_s=10; drain_s=10 ;;
  quick) sizes="10 100 1000"; budget=60; flood_chatd=500000; flood_base=100000
         steady_s=1; drain_s=3 ;;
  smoke) sizes="10"; budget=60; flood_chatd=3000; flood_base=3000; steady_s=1; drain_s=5 ;;
esac

sizes="${sizes_override:-$sizes}"
work="$(mktemp -d "${TMPDIR:-/tmp}/chat-bench.XXXXXX")"
server_pid=""
failures=0
start=$SECONDS

stop_server() {
  [[ -n "$server_pid" ]] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits (bounded) until FILE has a line matching PATTERN.
wait_for_line() {
  local file="$1" pattern="$2"
  for _ in $(seq 100); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# chatd's limits that a load generator from one address must not trip: flood control
# and the per-address connection limit, turned off with 0 when this chatd has them
# (recognised by a "(0 = ..." in their --help text).
flood_off_args() {
  "$chatd" --help | awk '/^ *-/ { opt = ($1 ~ /^--(flood|max-per-address)/) ? $1 : "" }
    opt != "" && /\(0 = / { print opt, 0; opt = "" }'
}
read -r -a flood_args <<<"$(flood_off_args | tr '\n' ' ')"

# start_chatd BACKEND: chatd on a fresh 127.0.0.1 listening socket passed as fd 3.
start_chatd() {
  local backend="$1"
  : >"$work/port"
  : >"$work/server.log"
  python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(4096)
print(s.getsockname()[1], flush=True)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)  # dup2 onto itself would keep CLOEXEC
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())  # exec keeps the pid
os.execv(sys.argv[1], sys.argv[1:])
' "$chatd" --config /dev/null --control-socket= --history 0 --log-level info \
    --event-loop="$backend" "${flood_args[@]}" >"$work/port" 2>"$work/server.log" &
  server_pid=$!
  wait_for_line "$work/server.log" "event=start" || {
    echo "run_bench.sh: chatd ($backend) did not start:" >&2
    cat "$work/server.log" >&2
    return 1
  }
  port="$(head -n1 "$work/port")"
  max_clients="$(sed -n 's/.*event=start.* max_clients=\([0-9]*\).*/\1/p' "$work/server.log" | head -n1)"
  sed -n 's/.*\(event=start.*\)/# chatd: \1/p' "$work/server.log" | head -n1 >&2
}

# start_port_printer CMD...: a server that binds port 0 and prints port=N first.
start_port_printer() {
  : >"$work/port"
  : >"$work/server.log"
  "$@" >"$work/port" 2>"$work/server.log" &
  server_pid=$!
  wait_for_line "$work/port" "^port=" || {
    echo "run_bench.sh: $1 did not start:" >&2
    cat "$work/server.log" >&2
    return 1
  }
  port="$(sed -n 's/^port=//p' "$work/port")"
}
start_baseline() {
  start_port_printer python3 "$baseline" 0
  max_clients=1000  # select(): FD_SETSIZE 1024 less its own descriptors (FD_LIMIT 1020)
}
start_floor() {
  start_port_printer "$floor" 0
  max_clients=100000
}
want() { [[ " $servers " == *" $1 "* ]]; }

# bench LABEL BACKEND ARGS...: one chat-bench run within what is left of the budget.
bench() {
  local label="$1" backend="$2"
  shift 2
  local left=$((budget - (SECONDS - start)))
  if ((left < 5)); then
    echo "mode=skipped server=$label backend=$backend status=skipped reason=time-budget args=\"$*\""
    return 0
  fi
  local rc=0
  "$bench" --port "$port" --server-pid "$server_pid" \
    --server-label "$label" --backend "$backend" --timeout "$left" "$@" || rc=$?
  if ((rc != 0)); then
    # The baseline not keeping up is a result, not a failure of the run.
    [[ "$label" == baseline && "$profile" != smoke ]] || failures=$((failures + 1))
    echo "# chat-bench exited $rc (server $label/$backend, args: $*)" >&2
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "# the server exited during the run; its log:" >&2
    tail -n 20 "$work/server.log" >&2
  fi
}

# flood_messages DELIVERIES CLIENTS: messages per sender for about DELIVERIES.
flood_messages() {
  local d="$1" n="$2" s=$(($2 < 100 ? $2 : 100))
  local m=$((d / (s * n)))
  echo $((m < 1 ? 1 : m))
}

# steady_rate CLIENTS: 1 msg/s each up to 1000 clients (the issue's case); beyond,
# the same 10^6 deliveries/s in total (5000 x 0.04 is the issue's other case).
steady_rate() {
  local n="$1"
  if ((n <= 1000)); then echo 1; else python3 -c "print(f'{1e6 / ($n * $n):.6g}')"; fi
}

# One server instance per client count; hold, flood and steady run on one join.
run_size() {
  local label="$1" backend="$2" n="$3" flood_d="$4"
  local modes="hold,flood,steady"
  if ((n > max_clients)); then
    n=$max_clients
    echo "# $label/$backend: $3 clients are past its limit; running at its limit $n" >&2
  fi
  bench "$label" "$backend" --mode "$modes" --clients "$n" \
    --messages "$(flood_messages "$flood_d" "$n")" \
    --rate "$(steady_rate "$n")" --duration "$steady_s" --drain "$drain_s"
}

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "# run_bench.sh profile=$profile date=$(date -u +%Y-%m-%dT%H:%M:%SZ) cpu=\"$cpu\"" \
  "cores=$(nproc) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\" nice=$nice_level" \
  "autogroup=\"$(cat /proc/self/autogroup 2>/dev/null || echo none)\"" \
  "chatd=$chatd chatd_args=\"${flood_args[*]}\""

if [[ "$profile" == smoke ]]; then
  for backend in select epoll; do
    start_chatd "$backend"
    bench chatd "$backend" --mode hold,flood,steady --clients 10 --messages 300 --rate 5 \
      --duration "$steady_s" --drain "$drain_s"
    stop_server
  done
  start_baseline
  bench baseline - --mode flood --clients 10 --messages 300
  stop_server
  start_floor
  bench floor - --mode flood --clients 10 --messages 300
  stop_server
  exit $((failures == 0 ? 0 : 1))
fi

if [[ "$profile" == quick ]] && want chatd-select; then
  # The select limit, refused cleanly: the clients past max_clients get server-full.
  start_chatd select
  bench chatd select --mode hold --clients $((max_clients + 20)) --connect-batch 32
  stop_server
fi
for n in $sizes; do
  for backend in select epoll; do
    want "chatd-$backend" || continue
    start_chatd "$backend"
    if [[ "$backend" == select && "$n" -gt "$max_clients" && "$n" -ge 10000 ]]; then
      # Past FD_SETSIZE: every client past the limit must be refused with server-full.
      bench chatd select --mode hold --clients "$n" --connect-batch 32
    else
      run_size chatd "$backend" "$n" "$flood_chatd"
    fi
    stop_server
  done
  if ((n <= 1000)) && want baseline; then
    start_baseline
    run_size baseline - "$n" "$flood_base"
    stop_server
  fi
  if want floor; then
    start_floor
    run_size floor - "$n" "$flood_chatd"
    stop_server
  fi
done
if [[ "$profile" == full ]]; then
  # The issue's second epoll latency target: 5000 clients x 0.04 msg/s; and the floor.
  if want chatd-epoll; then
    start_chatd epoll
    bench chatd epoll --mode hold,steady --clients 5000 --rate 0.04 --duration "$steady_s" \
      --drain "$drain_s"
    stop_server
  fi
  if want floor; then
    start_floor
    bench floor - --mode steady --clients 5000 --rate 0.04 --duration "$steady_s" \
      --drain "$drain_s"
    stop_server
  fi
fi
echo "# done in $((SECONDS - start)) s, $failures run(s) not ok"
exit $((failures == 0 ? 0 : 1))
