package bench

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"time"
)

// Histogram bucket layout: log-linear, like HDR histograms. Values below
// 2*histSub are exact; above, each power of two is split into histSub
// equal buckets, so a bucket is at most 1/histSub = 0.78% of its lower
// bound wide, and the midpoint that Quantile reports is within 0.4% of
// every value in it.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	// histMax is the largest value kept in its own bucket: 100 s in
	// nanoseconds. Larger values are counted in the last bucket (Max
	// stays exact).
	histMax = uint64(100 * time.Second)
)

var histBuckets = histIndex(histMax) + 1

// histIndex is the bucket of v.
func histIndex(v uint64) int {
	s := bits.Len64(v) - (histSubBits + 1)
	if s < 0 {
		s = 0
	}
	return s*histSub + int(v>>uint(s))
}

// histBounds is the lowest value of bucket i and the bucket's width.
func histBounds(i int) (low, width uint64) {
	if i < 2*histSub {
		return uint64(i), 1
	}
	s := i/histSub - 1
	m := uint64(i - s*histSub)
	return m << uint(s), 1 << uint(s)
}

// Histogram counts durations in nanoseconds, from 0 to 100 s with at most
// 0.78% relative error (exact below 256 ns), in about 31 KiB. The zero
// value is empty and ready to use. Histograms of several goroutines or
// processes merge exactly. Not safe for concurrent use.
type Histogram struct {
	counts []uint64 // allocated on the first Record
	n      uint64
	min    uint64
	max    uint64
	sum    uint64 // saturates rather than wraps; 584 years of nanoseconds
}

// Record counts one value in nanoseconds; negative values count as 0.
func (h *Histogram) Record(ns int64) {
	v := uint64(max(ns, 0))
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	i := histIndex(min(v, histMax))
	h.counts[i]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	if s := h.sum + v; s >= h.sum {
		h.sum = s
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded value (exact), 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest recorded value (exact), 0 when empty.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the average of the recorded values, 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Quantile is the value below which a fraction q (0..1) of the recorded
// values lie: the midpoint of the bucket holding the ceil(q*n)-th value,
// clamped to the exact minimum and maximum. 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	if rank == h.n {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := histBounds(i)
			v := low + (width-1)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	if s := h.sum + o.sum; s >= h.sum {
		h.sum = s
	}
}

// Reset empties h, keeping its buckets.
func (h *Histogram) Reset() {
	clear(h.counts)
	h.n, h.min, h.max, h.sum = 0, 0, 0, 0
}

// histJSON is a Histogram on the wire between the fan-out workers and
// their coordinator: only the buckets in use, as [index, count] pairs.
type histJSON struct {
	N       uint64      `json:"n"`
	Min     uint64      `json:"min"`
	Max     uint64      `json:"max"`
	Sum     uint64      `json:"sum"`
	Buckets [][2]uint64 `json:"buckets,omitempty"`
}

// MarshalJSON encodes the non-empty buckets only.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	w := histJSON{N: h.n, Min: h.min, Max: h.max, Sum: h.sum}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON replaces h with the encoded histogram.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var w histJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = Histogram{n: w.N, min: w.Min, max: w.Max, sum: w.Sum}
	if len(w.Buckets) == 0 {
		return nil
	}
	h.counts = make([]uint64, histBuckets)
	var total uint64
	for _, b := range w.Buckets {
		if b[0] >= uint64(histBuckets) {
			return fmt.Errorf("histogram bucket %d out of range", b[0])
		}
		h.counts[b[0]] += b[1]
		total += b[1]
	}
	if total != w.N {
		return fmt.Errorf("histogram buckets hold %d values, want %d", total, w.N)
	}
	return nil
}
