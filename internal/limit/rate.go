package limit

import (
	"errors"
	"fmt"
	"math"
)

// maxTolerance bounds burst × interval (about 146 years) so that sums of
// nanosecond times near the present never overflow an int64.
const maxTolerance = 1 << 62

// Rate is a token-bucket rate: up to burst events at once, refilled at
// perSecond events per second. It is immutable and shared by any number of
// Buckets. The zero Rate admits everything.
type Rate struct {
	interval  int64 // nanoseconds per token; 0: unlimited
	tolerance int64 // burst × interval: how far ahead of now tat may run
}

// ErrInvalidRate reports a rate or burst that cannot build a bucket.
var ErrInvalidRate = errors.New("invalid rate")

// NewRate returns the rate of perSecond events per second (fractions
// allowed: 0.5 is one every two seconds) with bursts of up to burst events.
// perSecond must be positive (math.Inf(1) means no limit) and burst at
// least 1.
func NewRate(perSecond float64, burst int) (*Rate, error) {
	r, err := newRate(perSecond, burst)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func newRate(perSecond float64, burst int) (Rate, error) {
	switch {
	case math.IsNaN(perSecond) || perSecond <= 0:
		return Rate{}, fmt.Errorf("%w: %v per second: want a positive number", ErrInvalidRate, perSecond)
	case burst < 1:
		return Rate{}, fmt.Errorf("%w: burst %d: want at least 1", ErrInvalidRate, burst)
	case math.IsInf(perSecond, 1):
		return Rate{}, nil
	}
	iv := math.Round(1e9 / perSecond)
	if iv*float64(burst) > maxTolerance {
		return Rate{}, fmt.Errorf("%w: %v per second with burst %d takes more than 100 years to refill", ErrInvalidRate, perSecond, burst)
	}
	// Above 10⁹ per second the interval rounds to 0: no limit.
	return Rate{interval: int64(iv), tolerance: int64(iv) * int64(burst)}, nil
}

// allow takes one token from the bucket whose theoretical arrival time is
// *tat, at now (nanoseconds), and reports whether there was one. A refused
// call takes nothing.
//
// GCRA: tat is the time at which the bucket is full again; each event
// pushes it one interval later, and an event is refused when that would put
// it more than burst intervals ahead of now.
func (r *Rate) allow(tat *int64, now int64) bool {
	t := *tat
	if t < now {
		t = now // full: the tokens that overflowed are gone
	} else if t > now+r.tolerance {
		// Only possible when the clock went back: treat the bucket as
		// empty rather than locking it for as long as the jump.
		t = now + r.tolerance
	}
	next := t + r.interval
	if next-r.tolerance > now {
		*tat = t
		return false
	}
	*tat = next
	return true
}

// Bucket is one connection's token bucket: 16 bytes, no lock, no
// allocation. It is not safe for concurrent use: only the goroutine that
// reads the connection's messages calls Allow. The zero Bucket admits
// everything.
type Bucket struct {
	rate *Rate
	tat  int64 // time at which the bucket is full again, in the caller's nanoseconds
}

// NewBucket returns a full bucket of rate r; a nil r admits everything.
func NewBucket(r *Rate) Bucket {
	return Bucket{rate: r, tat: math.MinInt64}
}

// Allow takes one token at now and reports whether there was one. now is
// in nanoseconds on any clock that the caller uses for this bucket
// throughout (time.Now().UnixNano(), or nanoseconds since start), within
// ±2⁶² of zero. If the clock goes back, the bucket is at worst empty for
// one burst's refill time.
func (b *Bucket) Allow(now int64) bool {
	if b.rate == nil {
		return true
	}
	return b.rate.allow(&b.tat, now)
}
