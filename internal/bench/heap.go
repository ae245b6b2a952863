package bench

import "fmt"

// The server's heap is read from its /metrics. go_memstats_heap_inuse_bytes
// counts garbage that no GC has collected yet: when a GC between the two
// samples frees more garbage of earlier activity (start-up, a previous run)
// than the connections add, its difference is negative, which is not a
// memory cost per connection but noise from the collector. The live heap
// that a GC marked (go_gc_heap_live_bytes, Go's /gc/heap/live:bytes)
// counts no garbage; it measures the connections when a GC ran after they
// were all open (go_gc_duration_seconds_count grew since). heapFigure uses
// it then, and heap in use otherwise.
const (
	metricHeapLive  = "go_gc_heap_live_bytes"
	metricHeapInuse = "go_memstats_heap_inuse_bytes"
	metricGCCount   = "go_gc_duration_seconds_count"
)

// heapFigure picks the heap metric and its values from the scrapes taken
// before the connections, when they were all open, and after settling.
func heapFigure(before, open, after map[string]float64) (metric string, b, a float64) {
	_, okB := before[metricHeapLive]
	_, okA := after[metricHeapLive]
	gcOpen, okO := open[metricGCCount]
	if okB && okA && okO && after[metricGCCount] > gcOpen {
		return metricHeapLive, before[metricHeapLive], after[metricHeapLive]
	}
	return metricHeapInuse, before[metricHeapInuse], after[metricHeapInuse]
}

// heapPerConn is the heap growth per connection in bytes; ok is false when
// the heap did not grow (see above: the collector freed more than the
// connections hold), which gives no per-connection figure.
func heapPerConn(before, after float64, conns int) (perConn float64, ok bool) {
	if after < before {
		return 0, false
	}
	return (after - before) / float64(max(conns, 1)), true
}

// heapLine formats the heap figures for the text reports.
func heapLine(metric string, before, after float64, conns int) string {
	what := "live heap after a GC"
	if metric != metricHeapLive {
		what = "heap in use, garbage included: no GC ran after the connections opened"
	}
	return memLine("server heap", before, after, conns, what)
}

// memLine formats one memory figure of a text report: before -> after and
// the growth per connection, or, when the figure fell, that it fell (the
// server returned memory of earlier activity, such as a previous run's
// connections, during this one) instead of a negative size per connection.
func memLine(label string, before, after float64, conns int, note string) string {
	s := fmt.Sprintf("%-16s %.1f MiB -> %.1f MiB: ", label, before/(1<<20), after/(1<<20))
	if per, ok := heapPerConn(before, after, conns); ok {
		s += fmt.Sprintf("%.2f KiB per connection", per/1024)
	} else {
		s += "fell, so no figure per connection: the server released more memory of earlier activity than the connections hold (a freshly started server gives a clean figure)"
	}
	if note != "" {
		s += " (" + note + ")"
	}
	return s
}
