#!/bin/bash
# cluster.sh CHATD [flood extra args]: single node memory vs two nodes redis, flood N=100 (longer)
chatd=$1; shift
B=/work/main/build/default; bench=$B/tests/bench/chat-bench
tmp=$(mktemp -d)
start_chatd() { local port=$1; shift
  $chatd --control-socket= --event-loop=epoll --flood-rate=0 --flood-bytes-rate=0 --max-per-address=0 --max-clients=30000 "$@" $port > $tmp/c$port.log 2>&1 &
  local pid=$!; for _ in $(seq 50); do ss -ltnH "sport = :$port" | grep -q . && break; sleep 0.1; done; echo $pid; }
redis-server --port 0 --unixsocket $tmp/redis.sock --save '' --appendonly no > $tmp/redis.log 2>&1 &
rpid=$!; for _ in $(seq 50); do [ -S $tmp/redis.sock ] && break; sleep 0.1; done
r="--engine redis --redis unix:$tmp/redis.sock"
for round in 1 2; do
pid=$(start_chatd 17460)
echo -n "single/memory: "; $bench --port 17460 --mode flood -n 100 "$@" --server-pid $pid | grep -o "deliveries_per_s=[^ ]*\|elapsed_s=[^ ]*\|server_cpu_s=[^ ]*" | tr '\n' ' '; echo
kill $pid; wait $pid 2>/dev/null
a=$(start_chatd 17462 $r --node-name a); b=$(start_chatd 17463 $r --node-name b)
echo -n "two/redis: "; $bench --port 17462 --also-port 17463 --mode flood -n 100 "$@" --server-pid $a --also-pid $b --redis-pid $rpid | grep -o "deliveries_per_s=[^ ]*\|elapsed_s=[^ ]*\|server_cpu_s=[^ ]*\|redis_cpu_s=[^ ]*" | tr '\n' ' '; echo
kill $a $b; wait $a $b 2>/dev/null
done
kill $rpid; rm -rf $tmp
