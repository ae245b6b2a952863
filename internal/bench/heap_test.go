package bench

import (
	"strings"
	"testing"
)

func TestHeapFigure(t *testing.T) {
	before := map[string]float64{metricHeapLive: 4 << 20, metricHeapInuse: 12 << 20, metricGCCount: 10}
	for _, tc := range []struct {
		name       string
		open, aftr map[string]float64
		metric     string
		b, a       float64
	}{
		{"a GC ran after the connections opened: live heap",
			map[string]float64{metricGCCount: 11}, map[string]float64{metricHeapLive: 9 << 20, metricHeapInuse: 10 << 20, metricGCCount: 12},
			metricHeapLive, 4 << 20, 9 << 20},
		{"no GC since: the live heap predates the connections, heap in use",
			map[string]float64{metricGCCount: 12}, map[string]float64{metricHeapLive: 9 << 20, metricHeapInuse: 10 << 20, metricGCCount: 12},
			metricHeapInuse, 12 << 20, 10 << 20},
		{"a server without the live metric: heap in use",
			map[string]float64{metricGCCount: 11}, map[string]float64{metricHeapInuse: 14 << 20, metricGCCount: 12},
			metricHeapInuse, 12 << 20, 14 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, b, a := heapFigure(before, tc.open, tc.aftr)
			if m != tc.metric || b != tc.b || a != tc.a {
				t.Fatalf("heapFigure = %s %v %v, want %s %v %v", m, b, a, tc.metric, tc.b, tc.a)
			}
		})
	}
}

// The heap in use can fall between the samples (a GC frees garbage of
// earlier activity): the report then says so instead of printing a
// negative size per connection, as it did.
func TestHeapNeverNegative(t *testing.T) {
	s := FanoutSetup{Connections: 5000, HeapMetric: metricHeapInuse, HeapBefore: 40 << 20, HeapAfter: 31 << 20, RSSBefore: 30 << 20, RSSAfter: 29 << 20}
	if _, ok := s.HeapPerConn(); ok {
		t.Fatal("HeapPerConn ok for a heap that fell")
	}
	line := heapLine(s.HeapMetric, s.HeapBefore, s.HeapAfter, s.Connections)
	if !strings.Contains(line, "40.0 MiB -> 31.0 MiB: fell, so no figure per connection") {
		t.Fatalf("heap line: %s", line)
	}
	str := s.String()
	if strings.Contains(str, ": -") || !strings.Contains(str, "server RSS       30.0 MiB -> 29.0 MiB: fell, so no figure per connection") {
		t.Fatalf("negative figure in the report:\n%s", str)
	}
	r := IdleResult{Connections: 100, HeapMetric: metricHeapLive, HeapBefore: 1 << 20, HeapAfter: 1<<20 + 100*1536}
	if !strings.Contains(r.String(), "server heap      1.0 MiB -> 1.1 MiB: 1.50 KiB per connection (live heap after a GC)") {
		t.Fatalf("idle report:\n%s", r)
	}
}
