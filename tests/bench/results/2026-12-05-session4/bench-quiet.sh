#!/bin/bash
# Quiet-window benchmarks: TLS rows (issue 14), steady p99 before/after (issue 11),
# and (if CLUSTER=1) the 2-node Redis rows (issue 15). Usage: bench-quiet.sh BUILD OUT
set -u
build=$1
out=$2
mkdir -p "$out"
bench=$build/tests/bench/chat-bench
chatd=$build/daemon/chatd
tmp=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
  -out "$tmp/cert.pem" -subj /CN=localhost -days 2 2>/dev/null
hdr() { echo "# $(date -u +%FT%TZ) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\" $*"; }
pidof_port() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
start_chatd() { # BIN PORT [args]: starts it, echoes its pid
  local bin=$1 port=$2
  shift 2
  "$bin" --control-socket= --event-loop=epoll --flood-rate=0 --flood-bytes-rate=0 \
    --max-per-address=0 --max-clients=30000 "$@" "$port" >"$tmp/chatd-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do ss -ltnH "sport = :$port" | grep -q . && break; sleep 0.1; done
  echo "$pid"
}
ulimit -n 65536
# Let the bench and servers be heard over anything else (autogroup nice).
echo -10 >/proc/self/autogroup 2>/dev/null || true

if [ "${TLS:-1}" = 1 ]; then
  f=$out/tls.txt
  hdr "issue 14 TLS rows, chatd $chatd" >"$f"
  pid=$(start_chatd "$chatd" 17440 --tls-port 17443 --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem")
  for tls in "" "--tls"; do
    p=17440; [ -n "$tls" ] && p=17443
    "$bench" --port $p $tls --mode flood -n 100 --server-pid "$pid" --backend epoll >>"$f" 2>&1
  done
  for tls in "" "--tls"; do
    p=17440; [ -n "$tls" ] && p=17443
    "$bench" --port $p $tls --mode steady -n 1000 --rate 1 --duration 10 --server-pid "$pid" >>"$f" 2>&1
  done
  kill "$pid"; wait "$pid" 2>/dev/null
  # Hold: each in a chatd of its own, so its RSS is the idle clients' alone.
  for tls in "" "--tls"; do
    pid=$(start_chatd "$chatd" 17440 --tls-port 17443 --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem")
    p=17440; [ -n "$tls" ] && p=17443
    "$bench" --port $p $tls --mode hold -n 10000 --timeout 400 --server-pid "$pid" >>"$f" 2>&1
    kill "$pid"; wait "$pid" 2>/dev/null
  done
fi

if [ "${STEADY11:-1}" = 1 ]; then
  f=$out/steady-ab.txt
  hdr "issue 11 steady N=100 and N=1000 p99, before=/tmp/perf11-before-chatd after=$chatd" >"$f"
  for round in 1 2; do
    for which in before after; do
      bin=$chatd; [ $which = before ] && bin=/tmp/perf11-before-chatd
      pid=$(start_chatd "$bin" 17450)
      echo "# $which round $round" >>"$f"
      "$bench" --port 17450 --mode steady -n 100 --rate 10 --duration 10 --server-pid "$pid" >>"$f" 2>&1
      "$bench" --port 17450 --mode flood -n 100 --server-pid "$pid" >>"$f" 2>&1
      kill "$pid"; wait "$pid" 2>/dev/null
    done
  done
fi

if [ "${CLUSTER:-0}" = 1 ]; then
  # Issue 15: single node (memory) beside two nodes (redis), for each chatd given in
  # CLUSTER_BINS (label=path ...), flood N=100 with -m 100 and -m 1000, steady 1000 x 1/s.
  f=$out/cluster.txt
  hdr "issue 15: one node (memory) vs two nodes (redis); ${CLUSTER_BINS:-after=$chatd}" >"$f"
  rdir=$tmp/redis
  mkdir -p "$rdir"
  for spec in ${CLUSTER_BINS:-after=$chatd}; do
    label=${spec%%=*} bin=${spec#*=}
    redis-server --port 0 --unixsocket "$rdir/redis.sock" --save '' --appendonly no \
      --daemonize no >"$rdir/log" 2>&1 &
    rpid=$!
    for _ in $(seq 50); do [ -S "$rdir/redis.sock" ] && break; sleep 0.1; done
    r="--engine redis --redis unix:$rdir/redis.sock"
    for m in 100 1000; do
      pid=$(start_chatd "$bin" 17460)
      echo "# $label: single node, memory engine, flood -m $m" >>"$f"
      "$bench" --port 17460 --mode flood -n 100 -m $m --server-pid "$pid" >>"$f" 2>&1
      kill "$pid"; wait "$pid" 2>/dev/null
      # shellcheck disable=SC2086
      a=$(start_chatd "$bin" 17462 $r --node-name a)
      # shellcheck disable=SC2086
      b=$(start_chatd "$bin" 17463 $r --node-name b)
      echo "# $label: two nodes, redis engine, clients alternate, flood -m $m" >>"$f"
      "$bench" --port 17462 --also-port 17463 --mode flood -n 100 -m $m --server-pid "$a" --also-pid "$b" --redis-pid "$rpid" >>"$f" 2>&1
      kill "$a" "$b"; wait "$a" "$b" 2>/dev/null
    done
    pid=$(start_chatd "$bin" 17460)
    echo "# $label: single node, memory engine, steady" >>"$f"
    "$bench" --port 17460 --mode steady -n 1000 --rate 1 --duration 10 --server-pid "$pid" >>"$f" 2>&1
    kill "$pid"; wait "$pid" 2>/dev/null
    # shellcheck disable=SC2086
    a=$(start_chatd "$bin" 17462 $r --node-name a)
    # shellcheck disable=SC2086
    b=$(start_chatd "$bin" 17463 $r --node-name b)
    echo "# $label: two nodes, redis engine, steady" >>"$f"
    "$bench" --port 17462 --also-port 17463 --mode steady -n 1000 --rate 1 --duration 10 --server-pid "$a" --also-pid "$b" --redis-pid "$rpid" >>"$f" 2>&1
    kill "$a" "$b"; wait "$a" "$b" 2>/dev/null
    kill "$rpid"; wait "$rpid" 2>/dev/null
    rm -f "$rdir/redis.sock"
  done
fi
rm -rf "$tmp"
