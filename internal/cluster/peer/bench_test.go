package peer

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// nopLocal answers every call at once with success.
type nopLocal struct{}

func (nopLocal) Post(context.Context, string, string, []byte) error { return nil }
func (nopLocal) Get(context.Context, string, string) (cluster.ConnectionInfo, error) {
	return cluster.ConnectionInfo{}, nil
}
func (nopLocal) Delete(context.Context, string, string) error        { return nil }
func (nopLocal) Join(context.Context, string, string, string) error  { return nil }
func (nopLocal) Leave(context.Context, string, string, string) error { return nil }
func (nopLocal) List(context.Context, string, string, int) (cluster.ConnectionPage, error) {
	return cluster.ConnectionPage{}, nil
}
func (nopLocal) User(context.Context, string, string, cluster.UserOp, []byte) (cluster.UserResult, error) {
	return cluster.UserResult{}, nil
}

// reportPercentiles reports the p50 and p99 of ds in microseconds.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkForwardPost is a forwarded management POST (256-byte payload)
// over loopback HTTP to a node whose Local does nothing: the latency the
// cluster adds to a POST on a connection of another node. Sequential: one
// caller; Parallel: GOMAXPROCS×4 callers on the same client.
func BenchmarkForwardPost(b *testing.B) {
	for _, m := range []struct {
		name string
		mode mode
	}{{"secret", mode{secret: true}}, {"secret+mTLS", mode{secret: true, mtls: true}}} {
		nodes := startNodes(b, m.mode, []cluster.Local{nopLocal{}, nopLocal{}}, nil, func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		})
		fw, to := nodes[0].cli, nodes[1].node
		data := make([]byte, 256)
		ctx := context.Background()
		b.Run(m.name+"/Sequential", func(b *testing.B) {
			b.ReportAllocs()
			ds := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				if err := fw.Post(ctx, to, "prod", "AbCdEfGhIjKlMnO=", data); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			reportPercentiles(b, ds)
		})
		b.Run(m.name+"/Parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			var mu sync.Mutex
			var all []time.Duration
			b.RunParallel(func(pb *testing.PB) {
				var ds []time.Duration
				for pb.Next() {
					t0 := time.Now()
					if err := fw.Post(ctx, to, "prod", "AbCdEfGhIjKlMnO=", data); err != nil {
						b.Error(err)
						return
					}
					ds = append(ds, time.Since(t0))
				}
				mu.Lock()
				all = append(all, ds...)
				mu.Unlock()
			})
			reportPercentiles(b, all)
		})
	}
}
