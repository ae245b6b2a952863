package bench

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value lands in a bucket whose bounds hold it, buckets are
	// contiguous, and no bucket is wider than 1/128 of its lower bound.
	prevLow, prevWidth := uint64(0), uint64(1)
	for i := 1; i < histBuckets; i++ {
		low, width := histBounds(i)
		if low != prevLow+prevWidth {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, prevLow+prevWidth)
		}
		if low >= 2*histSub && float64(width)/float64(low) > 1.0/histSub {
			t.Fatalf("bucket %d: width %d at %d is more than 1/%d", i, width, low, histSub)
		}
		for _, v := range []uint64{low, low + width/2, low + width - 1} {
			if got := histIndex(v); got != i {
				t.Fatalf("value %d: bucket %d, want %d", v, got, i)
			}
		}
		prevLow, prevWidth = low, width
	}
	if prevLow+prevWidth <= histMax {
		t.Fatalf("the buckets end at %d, before %d", prevLow+prevWidth, histMax)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]int64, 100000)
	for i := range vals {
		// Log-uniform from 1 µs to 10 s.
		vals[i] = int64(math.Exp(math.Log(1e3) + rng.Float64()*(math.Log(1e10)-math.Log(1e3))))
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
		rank := max(int(math.Ceil(q*float64(len(vals)))), 1)
		want := float64(vals[rank-1])
		got := float64(h.Quantile(q))
		if math.Abs(got-want)/want > 0.005 {
			t.Errorf("q%g: %v, want %v (±0.5%%)", q, time.Duration(got), time.Duration(want))
		}
	}
	if h.Count() != uint64(len(vals)) || h.Max() != time.Duration(vals[len(vals)-1]) || h.Min() != time.Duration(vals[0]) {
		t.Errorf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
	var sum float64
	for _, v := range vals {
		sum += float64(v)
	}
	if mean := sum / float64(len(vals)); math.Abs(float64(h.Mean())-mean)/mean > 1e-6 {
		t.Errorf("mean %v, want %v", h.Mean(), time.Duration(mean))
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("an empty histogram reports values")
	}
	h.Record(-5) // a clock step: counted as 0
	h.Record(int64(200 * time.Second))
	if h.Count() != 2 || h.Min() != 0 || h.Max() != 200*time.Second {
		t.Fatalf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
	if q := h.Quantile(0.5); q != 0 {
		t.Fatalf("p50 %v, want 0", q)
	}
	if q := h.Quantile(0.99); q != 200*time.Second {
		t.Fatalf("p99 %v, want the exact max", q)
	}
	h.Reset()
	if h.Count() != 0 || h.Quantile(0.5) != 0 {
		t.Fatal("Reset left values")
	}
}

func TestHistogramMergeAndJSON(t *testing.T) {
	var a, b, all Histogram
	for i := range 10000 {
		v := int64(i) * 1777
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	// Over the wire, as a worker sends it.
	var wire Histogram
	buf, err := json.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf, &wire); err != nil {
		t.Fatal(err)
	}
	var merged Histogram
	merged.Merge(&a)
	merged.Merge(&wire)
	merged.Merge(&Histogram{})
	if merged.Count() != all.Count() || merged.Min() != all.Min() || merged.Max() != all.Max() || merged.Mean() != all.Mean() {
		t.Fatalf("merged count %d min %v max %v mean %v; want %d %v %v %v",
			merged.Count(), merged.Min(), merged.Max(), merged.Mean(), all.Count(), all.Min(), all.Max(), all.Mean())
	}
	if !slices.Equal(merged.counts, all.counts) {
		t.Fatal("merged buckets differ")
	}
	for _, bad := range []string{`{"n":1,"buckets":[[99999,1]]}`, `{"n":2,"buckets":[[3,1]]}`} {
		var h Histogram
		if err := json.Unmarshal([]byte(bad), &h); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h Histogram
	h.Record(1)
	for i := range b.N {
		h.Record(int64(i&0xFFFFF) * 1000)
	}
}
