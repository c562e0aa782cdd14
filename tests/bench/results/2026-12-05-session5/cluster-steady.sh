#!/bin/bash
# csteady.sh LABEL=BIN ...: two-node steady 1000 x 1/s, alternating
B=/work/main/build/default; bench=$B/tests/bench/chat-bench
tmp=$(mktemp -d)
start_chatd() { local bin=$1 port=$2; shift 2
  $bin --control-socket= --event-loop=epoll --flood-rate=0 --flood-bytes-rate=0 --max-per-address=0 --max-clients=30000 "$@" $port > $tmp/c$port.log 2>&1 &
  local pid=$!; for _ in $(seq 50); do ss -ltnH "sport = :$port" | grep -q . && break; sleep 0.1; done; echo $pid; }
for round in 1 2; do
for spec in "$@"; do label=${spec%%=*} bin=${spec#*=}
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --appendonly no > $tmp/redis.log 2>&1 &
rpid=$!; for _ in $(seq 50); do [ -S $tmp/redis.sock ] && break; sleep 0.1; done
r="--engine redis --redis unix:$tmp/redis.sock"
a=$(start_chatd $bin 17462 $r --node-name a); b=$(start_chatd $bin 17463 $r --node-name b)
echo -n "$label: "; $bench --port 17462 --also-port 17463 --mode steady -n 1000 --rate 1 --duration 10 --server-pid $a --also-pid $b --redis-pid $rpid | grep -o "p50_ms=[^ ]* p99_ms=[^ ]*\|server_cpu_s=[^ ]*\|bench_cpu_s=[^ ]*\|redis_cpu_s=[^ ]*" | tr '\n' ' '; echo
kill $a $b; wait $a $b 2>/dev/null; kill $rpid; wait $rpid 2>/dev/null; rm -f $tmp/redis.sock
done; done
rm -rf $tmp
