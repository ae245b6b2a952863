package redishistory_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// The same data and options as history's BenchmarkMemoryAppend/Read, so the
// figures compare.
var benchOptions = history.StreamOptions{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}

var benchData = []byte(`{"text":"hello, world"}`)

// BenchmarkAppend runs against one local redis-server (loopback TCP, no
// persistence) that the benchmark starts.
func BenchmarkAppend(b *testing.B) {
	srv := redistest.StartServer(b)
	s := newStore(b, newClient(b, srv.Addr), "")
	ctx := context.Background()

	// One caller: every Append waits for its round trip.
	b.Run("one-channel", func(b *testing.B) {
		b.ReportAllocs()
		reportServerTime(b, srv, func() {
			for b.Loop() {
				if _, err := s.Append(ctx, "chat:lobby", history.Publication{Data: benchData}, benchOptions); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	// 64 concurrent callers, each on channels of its own: rueidis
	// pipelines their scripts on one connection.
	b.Run("parallel-64-own-channels", func(b *testing.B) {
		var next atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(32) // × GOMAXPROCS (2) = 64 goroutines
		reportServerTime(b, srv, func() {
			b.RunParallel(func(pb *testing.PB) {
				base := next.Add(1) * 16
				i := int64(0)
				for pb.Next() {
					if _, err := s.Append(ctx, fmt.Sprintf("chat:room-%d", base+i%16), history.Publication{Data: benchData}, benchOptions); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	})
	// 64 concurrent callers on one channel: one key, the worst case.
	b.Run("parallel-64-one-channel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		reportServerTime(b, srv, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Append(ctx, "chat:hot", history.Publication{Data: benchData}, benchOptions); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	})
}

func BenchmarkRead(b *testing.B) {
	srv := redistest.StartServer(b)
	s := newStore(b, newClient(b, srv.Addr), "")
	ctx := context.Background()
	for i := range 150 { // 100 kept, offsets 51..150
		if _, err := s.Append(ctx, "chat:lobby", history.Publication{Data: fmt.Appendf(nil, `{"n":%d}`, i)}, benchOptions); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name  string
		since uint64
		limit int
	}{
		{"top-only", 0, 0},       // a subscribe without recovery
		{"recover-10", 140, 100}, // a reconnect that missed 10
		{"recover-100", 50, 100}, // everything kept
		{"too-old", 10, 100},     // since+1 was trimmed: incomplete
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			reportServerTime(b, srv, func() {
				for b.Loop() {
					if _, err := s.Read(ctx, "chat:lobby", bc.since, bc.limit, benchOptions); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run("parallel-64-recover-10", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		reportServerTime(b, srv, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Read(ctx, "chat:lobby", 140, 100, benchOptions); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	})
}

// scriptStats returns how many EVALSHA calls the server ran and the
// microseconds it spent in them (INFO commandstats).
func scriptStats(b *testing.B, srv *redistest.Server) (calls, usec float64) {
	b.Helper()
	info, err := srv.Do("INFO", "commandstats")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for kv := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				calls = f
			case "usec":
				usec = f
			}
		}
	}
	return calls, usec
}

// reportServerTime runs f and reports the server's time per script call
// during it: the Redis CPU one Append or Read costs, which bounds how many
// one shard's master can run per second.
func reportServerTime(b *testing.B, srv *redistest.Server, f func()) {
	c0, u0 := scriptStats(b, srv)
	f()
	c1, u1 := scriptStats(b, srv)
	if c1 > c0 {
		b.ReportMetric((u1-u0)/(c1-c0), "redis-µs/call")
	}
}
