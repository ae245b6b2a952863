#!/usr/bin/env bash
# Cluster fan-out measurements (issue 10.10, docs/BENCHMARKS.md "Cluster:
# fan-out over nodes"): one redis-server and up to three Switchboard
# nodes on this machine, measured by `switchboard bench` in three setups,
# interleaved run by run so that each comparison is within one session:
#
#   lone   one node, no cluster section (in memory)
#   c1     one node with a cluster section (Redis Bus, registry, leases)
#   c3     three nodes on the same redis-server, subscribers round robin
#
# Each setup starts fresh nodes (and an emptied Redis) for each
# measurement. Per run and setup:
#   fanout -n 5000,  10 publications/s for 10 s   (latency)
#   fanout -n 15000, 16, 64 and 128 publications/s, 10 s each (deliveries/s),
#          each step waiting up to 20 s for late deliveries
#   idle   -n 15000 (lone and c1 only: memory per connection, Redis memory)
#   forward -n 2000 (c3 only: POST through the owner vs another node)
# The fan-out runs read the redis-server's INFO commandstats and cpu
# around each step. Every command is bounded by its own --timeout.
#
#   scripts/bench-cluster.sh [runs] [outdir]     # default 2 runs, a temp dir
#
# Needs redis-server (Debian: apt-get install redis-server), Linux, and the
# loopback addresses 127.0.0.2-5 (Linux routes all of 127/8 to lo).
set -euo pipefail
runs=${1:-2}
out=${2:-$(mktemp -d /tmp/bench-cluster.XXXXXX)}
mkdir -p "$out"
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/bench-cluster-work.XXXXXX)
pids=()
node_pids=()
cleanup() {
  for p in "${node_pids[@]}" "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis_port=${REDIS_PORT:-6391}
# Sizes, for a quick check of the script itself (defaults: the documented run).
small=${SMALL_N:-5000} big=${BIG_N:-15000} dur=${DURATION:-10s} posts=${POSTS:-2000}
redis=127.0.0.1:$redis_port
go build -o "$work/switchboard" "$root/cmd/switchboard"
sb=$work/switchboard

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# node_config NAME LISTEN INTERNAL CLUSTER(yes|no)
node_config() {
  cat <<YAML
listen: $2
log: {level: warn}
management: {allowLoopback: true}
apis:
  - id: chat
    stage: production
    routeSelectionExpression: \$request.body.action
    routes:
      sendMessage:
        action: {type: broadcast, payload: {message: \$request.body.message}}
YAML
  if [ "$4" = yes ]; then
    cat <<YAML
cluster:
  nodeId: $1
  redis:
    mode: single
    addresses: ["$redis"]
  internal:
    advertise: $3
    secret: bench-cluster-secret-0123456789abcdefghij
YAML
  fi
}

# start_nodes SETUP: starts its nodes, sets urls (comma list) and first
start_nodes() {
  local setup=$1 n=1 cluster=yes
  case $setup in lone) cluster=no ;; c3) n=3 ;; esac
  redis-cli -p "$redis_port" flushall >/dev/null
  node_pids=()
  urls=""
  for i in $(seq 1 "$n"); do
    local listen=127.0.0.1:$((8190 + i)) internal=127.0.0.1:$((9190 + i))
    node_config "node-$i" "$listen" "$internal" "$cluster" >"$work/node-$i.yaml"
    "$sb" serve --config "$work/node-$i.yaml" >>"$work/node-$i.log" 2>&1 &
    node_pids+=("$!")
    urls=${urls:+$urls,}ws://$listen/production
  done
  for i in $(seq 1 "$n"); do
    for _ in $(seq 200); do
      curl -sf "http://127.0.0.1:$((8190 + i))/readyz" >/dev/null 2>&1 && break
      sleep 0.05
    done
    curl -sf "http://127.0.0.1:$((8190 + i))/readyz" >/dev/null || { echo "node $i not ready" >&2; tail "$work/node-$i.log" >&2; exit 1; }
  done
}

stop_nodes() {
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  node_pids=()
}

redis_flag() { [ "$1" = lone ] || echo "--redis=$redis"; }

for run in $(seq 1 "$runs"); do
  for setup in lone c1 c3; do
    echo "== run $run, $setup: fanout $small ($(cat /proc/loadavg))"
    start_nodes "$setup"
    "$sb" bench fanout --url "$urls" $(redis_flag "$setup") -n "$small" --rate 10 --duration "$dur" \
      --timeout 3m --json >"$out/fanout5k-$setup-$run.json"
    stop_nodes

    echo "== run $run, $setup: fanout $big ($(cat /proc/loadavg))"
    start_nodes "$setup"
    "$sb" bench fanout --url "$urls" $(redis_flag "$setup") -n "$big" --rate 16,64,128 --duration "$dur" \
      --grace 20s --timeout 5m --json >"$out/fanout15k-$setup-$run.json"
    stop_nodes

    if [ "$setup" != c3 ]; then
      echo "== run $run, $setup: idle $big ($(cat /proc/loadavg))"
      start_nodes "$setup"
      "$sb" bench idle --url "$urls" $(redis_flag "$setup") -n "$big" >"$out/idle-$setup-$run.txt"
      stop_nodes
    else
      echo "== run $run, $setup: forward ($(cat /proc/loadavg))"
      start_nodes "$setup"
      # A connection on node 3, POSTs through node 3 and through node 1.
      "$sb" bench forward --owner ws://127.0.0.1:8193/production --other ws://127.0.0.1:8191/production \
        -n "$posts" --timeout 2m --json >"$out/forward-$run.json"
      stop_nodes
    fi
  done
done
redis-cli -p "$redis_port" info server | grep -E '^redis_version' >"$out/redis-version.txt" || true
echo "results in $out"
