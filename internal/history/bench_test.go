package history_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/history"
)

var benchOptions = history.StreamOptions{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}

func channelNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("chat:room-%d", i)
	}
	return names
}

func BenchmarkMemoryAppend(b *testing.B) {
	ctx := context.Background()
	data := []byte(`{"text":"hello, world"}`)

	b.Run("one-channel", func(b *testing.B) {
		m := history.NewMemory(history.MemoryOptions{})
		defer m.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Append(ctx, "chat:lobby", history.Publication{Data: data}, benchOptions); err != nil {
				b.Fatal(err)
			}
		}
	})
	// 10,000 channels in turn: shard and map lookups miss the cache more.
	b.Run("10k-channels", func(b *testing.B) {
		m := history.NewMemory(history.MemoryOptions{})
		defer m.Close()
		names := channelNames(10_000)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Append(ctx, names[i], history.Publication{Data: data}, benchOptions); err != nil {
				b.Fatal(err)
			}
			if i++; i == len(names) {
				i = 0
			}
		}
	})
	// Every goroutine appends to channels of its own: the shards should
	// keep them from contending.
	b.Run("parallel-own-channels", func(b *testing.B) {
		m := history.NewMemory(history.MemoryOptions{})
		defer m.Close()
		names := channelNames(1024)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			base := int(next.Add(1)) * 16
			i := 0
			for pb.Next() {
				if _, err := m.Append(ctx, names[(base+i%16)%len(names)], history.Publication{Data: data}, benchOptions); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	// Every goroutine appends to the same channel: the worst case.
	b.Run("parallel-one-channel", func(b *testing.B) {
		m := history.NewMemory(history.MemoryOptions{})
		defer m.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.Append(ctx, "chat:lobby", history.Publication{Data: data}, benchOptions); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// A new stream per append: the cost of creation (epoch, map entry, ring).
	b.Run("new-streams", func(b *testing.B) {
		m := history.NewMemory(history.MemoryOptions{})
		defer m.Close()
		names := channelNames(100_000)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == len(names) {
				b.StopTimer()
				for _, n := range names {
					m.Remove(ctx, n)
				}
				i = 0
				b.StartTimer()
			}
			if _, err := m.Append(ctx, names[i], history.Publication{Data: data}, benchOptions); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkMemoryRead(b *testing.B) {
	ctx := context.Background()
	m := history.NewMemory(history.MemoryOptions{})
	defer m.Close()
	for i := range 150 { // wraps the ring of 100
		m.Append(ctx, "chat:lobby", history.Publication{Data: fmt.Appendf(nil, `{"n":%d}`, i)}, benchOptions)
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
			for b.Loop() {
				if _, err := m.Read(ctx, "chat:lobby", bc.since, bc.limit, benchOptions); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
