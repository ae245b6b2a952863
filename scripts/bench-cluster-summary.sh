#!/usr/bin/env bash
# Summarises the results of scripts/bench-cluster.sh: one line per run and
# setup, for docs/BENCHMARKS.md "Cluster: fan-out over nodes".
#   scripts/bench-cluster-summary.sh OUTDIR
set -euo pipefail
d=$1
echo "# 5,000 subscribers, 10 publications/s: setup run p50 p99 max received/expected serverCPU load redis(evalsha,total cmds,script µs,cpu µs per pub)"
for f in "$d"/fanout5k-*.json; do
  jq -r --arg f "$(basename "$f" .json)" '.steps[0] as $s | [$f, ($s.latency.p50|.*100|round/100), ($s.latency.p99|.*100|round/100), ($s.latency.max|.*100|round/100),
    "\($s.received)/\($s.expected)", ($s.serverCpu|.*100|round/100), $s.loadAverage,
    (if $s.redis then "\($s.redis.perPublication.evalsha) \($s.redis.totalPerPublication|.*100|round/100) \($s.redis.scriptMicros|.*10|round/10) \($s.redis.cpuMicrosPerPublication|round)" else "-" end),
    ([$s.nodes[]? | "\(.subscribers):p50 \(.latency.p50|.*100|round/100) p99 \(.latency.p99|.*100|round/100) cpu/deliv \(.cpuMicrosPerDelivery|.*10|round/10)µs"] | join("; "))] | @tsv' "$f"
done
echo
echo "# 15,000 subscribers: setup run rate deliveries/s received/expected p50 p99 serverCPU µs-server-CPU-per-delivery load redis(evalsha,total,script µs,cpu µs per pub) shard-subscribers"
for f in "$d"/fanout15k-*.json; do
  jq -r --arg f "$(basename "$f" .json)" '.steps[] as $s | [$f, $s.rate, ($s.perSecond|round), "\($s.received)/\($s.expected)",
    ($s.latency.p50|.*100|round/100), ($s.latency.p99|.*100|round/100), ($s.serverCpu|.*100|round/100),
    (if $s.received > 0 then ($s.serverCpu * $s.wallSeconds * 1e6 / $s.received | .*100|round/100) else "-" end), $s.loadAverage,
    (if $s.redis then "\($s.redis.perPublication.evalsha) \($s.redis.totalPerPublication|.*100|round/100) \($s.redis.scriptMicros|.*10|round/10) \($s.redis.cpuMicrosPerPublication|round)" else "-" end),
    (if $s.redis then ($s.redis.shardSubscribers | to_entries | map("\(.value)") | join(",")) else "-" end)] | @tsv' "$f"
done
echo
echo "# idle"
for f in "$d"/idle-*.txt; do echo "$(basename "$f")"; grep -E "server RSS|server heap|redis memory|goroutines" "$f"; done
echo
echo "# forward: run local p50 p99 forwarded p50 p99 added p50 p99 (ms)"
for f in "$d"/forward-*.json; do
  jq -r --arg f "$(basename "$f" .json)" '[$f, (.local.p50|.*1000|round/1000), (.local.p99|.*1000|round/1000), (.forwarded.p50|.*1000|round/1000), (.forwarded.p99|.*1000|round/1000),
    ((.forwarded.p50-.local.p50)|.*1000|round/1000), ((.forwarded.p99-.local.p99)|.*1000|round/1000)] | @tsv' "$f"
done
