package redcluster

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// Benchmarks of the Redis Bus (docs/BENCHMARKS.md, "Cluster: Redis Bus"):
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/cluster/redis/
//	go test -run '^$' -bench ManyChannels/single -benchtime 1x ./internal/cluster/redis/
//	go test -run '^$' -bench ManyChannels/cluster -benchtime 1x ./internal/cluster/redis/
//
// (one process per ManyChannels target: RSS does not shrink between runs).

type benchTarget struct {
	name    string
	addrs   []string
	servers []*redistest.Server
}

func benchTargets(b *testing.B) []benchTarget {
	srv := redistest.StartServer(b)
	cl := redistest.SharedCluster(b)
	return []benchTarget{
		{"single", []string{srv.Addr}, []*redistest.Server{srv}},
		{"cluster", cl.Addrs(), cl.Nodes},
	}
}

// commandStats sums INFO commandstats calls per command over the masters
// among servers.
func commandStats(tb testing.TB, servers []*redistest.Server) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	for _, s := range servers {
		repl, err := s.Do("INFO", "replication")
		if err != nil {
			tb.Fatal(err)
		}
		if !strings.Contains(repl, "role:master") {
			continue
		}
		info, err := s.Do("INFO", "commandstats")
		if err != nil {
			tb.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
			if !ok {
				continue
			}
			calls, rest, _ := strings.Cut(rest, ",")
			n, _ := strconv.ParseInt(calls, 10, 64)
			name = strings.TrimPrefix(name, "cmdstat_")
			out[name] += n
			if u, ok := strings.CutPrefix(rest, "usec="); ok {
				u, _, _ = strings.Cut(u, ",")
				us, _ := strconv.ParseInt(u, 10, 64)
				out[name+" usec"] += us
			}
		}
	}
	return out
}

// usedMemory sums INFO memory used_memory over the masters.
func usedMemory(tb testing.TB, servers []*redistest.Server) int64 {
	tb.Helper()
	var total int64
	for _, s := range servers {
		repl, err := s.Do("INFO", "replication")
		if err != nil {
			tb.Fatal(err)
		}
		if !strings.Contains(repl, "role:master") {
			continue
		}
		info, err := s.Do("INFO", "memory")
		if err != nil {
			tb.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				total += n
			}
		}
	}
	return total
}

// BenchmarkPublish: publications from one node to 64 channels, each
// subscribed by 3 nodes; ns/op is per publication, ordered and
// acknowledged (the deliveries are awaited after the timer stops).
// Metrics: evalsha/op (client commands per publication), servercmds/op
// (every command the masters ran, including those inside the script),
// redis-us/op (the masters' own time in the script), deliveries/op/node.
func BenchmarkPublish(b *testing.B) {
	for _, tg := range benchTargets(b) {
		for _, par := range []bool{false, true} {
			for _, hist := range []bool{true, false} {
				name := fmt.Sprintf("%s/parallel=%v/history=%v", tg.name, par, hist)
				b.Run(name, func(b *testing.B) { benchPublish(b, tg, par, hist) })
			}
		}
	}
}

func benchPublish(b *testing.B, tg benchTarget, parallel, hist bool) {
	const nodesN, channels = 3, 64
	nodes := newNodes(b, tg.addrs, nodesN)
	var delivered atomic.Int64
	api := unique("api")
	chs := make([]string, channels)
	for i := range chs {
		chs[i] = unique(fmt.Sprint("ch", i))
	}
	for _, n := range nodes {
		n.Bus().Handle(func(_, _ string, m cluster.Message) {
			if m.Kind == cluster.Publication {
				delivered.Add(1)
			}
		})
		for _, ch := range chs {
			if err := n.Bus().Subscribe(b.Context(), api, ch); err != nil {
				b.Fatal(err)
			}
		}
	}
	var o *history.StreamOptions
	if hist {
		o = &history.StreamOptions{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}
	}
	pub := nodes[0].Bus()
	msg := cluster.Message{Kind: cluster.Publication, Data: []byte(strings.Repeat("x", 100))}
	// Load the scripts once, outside the count.
	for _, ch := range chs {
		if _, err := pub.Publish(b.Context(), api, ch, msg, o); err != nil {
			b.Fatal(err)
		}
	}
	waitForB(b, func() bool { return delivered.Load() == nodesN*channels })
	delivered.Store(0)
	before := commandStats(b, tg.servers)
	b.ResetTimer()
	if parallel {
		var next atomic.Int64
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ch := chs[next.Add(1)%channels]
				if _, err := pub.Publish(b.Context(), api, ch, msg, o); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for i := range b.N {
			if _, err := pub.Publish(b.Context(), api, chs[i%channels], msg, o); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	want := int64(nodesN * b.N)
	waitForB(b, func() bool { return delivered.Load() >= want })
	after := commandStats(b, tg.servers)
	var all int64
	for k, v := range after {
		if k != "info" && !strings.HasSuffix(k, " usec") {
			all += v - before[k]
		}
	}
	b.ReportMetric(float64(after["evalsha"]-before["evalsha"])/float64(b.N), "evalsha/op")
	b.ReportMetric(float64(all)/float64(b.N), "servercmds/op")
	b.ReportMetric(float64(after["evalsha usec"]-before["evalsha usec"])/float64(b.N), "redis-us/op")
	b.ReportMetric(float64(delivered.Load())/float64(b.N)/nodesN, "deliveries/op/node")
}

func waitForB(b *testing.B, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// rss returns this process's resident set size in bytes.
func rss(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkManyChannels: one node subscribes 10,000 shard channels (64 at
// a time); reports the time that took, the node's memory (RSS, Go heap,
// goroutines) and Redis's per channel, then checks that publications to
// 100 of them from another node still arrive. Run with -benchtime 1x.
func BenchmarkManyChannels(b *testing.B) {
	for _, tg := range benchTargets(b) {
		b.Run(tg.name, func(b *testing.B) {
			for range b.N {
				benchManyChannels(b, tg, 10000)
			}
		})
	}
}

func benchManyChannels(b *testing.B, tg benchTarget, count int) {
	nodes := newNodes(b, tg.addrs, 2)
	var delivered atomic.Int64
	nodes[0].Bus().Handle(func(string, string, cluster.Message) { delivered.Add(1) })
	api := unique("api")
	chs := make([]string, count)
	for i := range chs {
		chs[i] = unique(fmt.Sprint("ch", i))
	}
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	rss0, g0, red0 := rss(b), runtime.NumGoroutine(), usedMemory(b, tg.servers)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(count) {
					return
				}
				if err := nodes[0].Bus().Subscribe(b.Context(), api, chs[i]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	b.StopTimer()
	runtime.GC()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	rss1, g1, red1 := rss(b), runtime.NumGoroutine(), usedMemory(b, tg.servers)
	o := &history.StreamOptions{Size: 10, TTL: time.Minute, MetaTTL: time.Hour}
	pubStart := time.Now()
	for i := range 100 {
		if _, err := nodes[1].Bus().Publish(b.Context(), api, chs[i*count/100], cluster.Message{Kind: cluster.Publication, Data: []byte("x")}, o); err != nil {
			b.Fatal(err)
		}
	}
	waitForB(b, func() bool { return delivered.Load() == 100 })
	pubTook := time.Since(pubStart)
	per := float64(count)
	b.ReportMetric(took.Seconds(), "subscribe-s")
	b.ReportMetric(float64(rss1-rss0)/per, "rss-B/chan")
	b.ReportMetric(float64(ms1.HeapInuse-ms0.HeapInuse)/per, "heap-B/chan")
	b.ReportMetric(float64(ms1.StackInuse-ms0.StackInuse)/per, "stack-B/chan")
	b.ReportMetric(float64(g1-g0)/per, "goroutines/chan")
	b.ReportMetric(float64(red1-red0)/per, "redis-B/chan")
	b.ReportMetric(float64(pubTook.Microseconds())/100, "us/publish+delivery")
}
