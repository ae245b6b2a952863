package limit

import (
	"errors"
	"math"
	"testing"
	"time"
	"unsafe"
)

func TestNewRateErrors(t *testing.T) {
	for _, tc := range []struct {
		perSecond float64
		burst     int
	}{
		{0, 1}, {-1, 1}, {math.NaN(), 1}, {math.Inf(-1), 1}, {1, 0}, {1, -5}, {1e-12, 1000},
	} {
		if _, err := NewRate(tc.perSecond, tc.burst); !errors.Is(err, ErrInvalidRate) {
			t.Errorf("NewRate(%v, %d) error = %v, want ErrInvalidRate", tc.perSecond, tc.burst, err)
		}
	}
	for _, tc := range []struct {
		perSecond float64
		burst     int
	}{
		{1, 1}, {0.001, 3}, {1e6, 1 << 20}, {math.Inf(1), 1}, {1e12, 1},
	} {
		if _, err := NewRate(tc.perSecond, tc.burst); err != nil {
			t.Errorf("NewRate(%v, %d): %v", tc.perSecond, tc.burst, err)
		}
	}
}

func TestBucketSize(t *testing.T) {
	if got := unsafe.Sizeof(Bucket{}); got != 16 {
		t.Errorf("Bucket is %d bytes, want 16", got)
	}
}

// countAllowed calls Allow n times at now and counts the true results.
func countAllowed(b *Bucket, now int64, n int) int {
	ok := 0
	for range n {
		if b.Allow(now) {
			ok++
		}
	}
	return ok
}

func TestBucketBurstAndRefill(t *testing.T) {
	r, err := NewRate(10, 5) // one token per 100ms
	if err != nil {
		t.Fatal(err)
	}
	b := NewBucket(r)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	if got := countAllowed(&b, now, 100); got != 5 {
		t.Fatalf("first burst: %d allowed, want 5", got)
	}
	if got := countAllowed(&b, now+int64(99*time.Millisecond), 10); got != 0 {
		t.Fatalf("after 99ms: %d allowed, want 0", got)
	}
	if got := countAllowed(&b, now+int64(100*time.Millisecond), 10); got != 1 {
		t.Fatalf("after 100ms: %d allowed, want 1", got)
	}
	if got := countAllowed(&b, now+int64(350*time.Millisecond), 10); got != 2 {
		t.Fatalf("after 350ms: %d allowed, want 2", got)
	}
	// A long pause refills the bucket to its burst, not beyond.
	if got := countAllowed(&b, now+int64(time.Hour), 100); got != 5 {
		t.Fatalf("after an hour: %d allowed, want 5", got)
	}
}

func TestBucketSustainedRate(t *testing.T) {
	r, _ := NewRate(3, 1)
	b := NewBucket(r)
	start := int64(0)
	ok := 0
	// A call every millisecond for 10 s: 3/s → 30, plus nothing for the
	// burst of 1 beyond the first token.
	for ms := range int64(10_000) {
		if b.Allow(start + ms*int64(time.Millisecond)) {
			ok++
		}
	}
	if ok < 30 || ok > 31 {
		t.Fatalf("%d allowed in 10s at 3/s, want 30 or 31", ok)
	}
}

func TestBucketFractionalRate(t *testing.T) {
	r, _ := NewRate(0.5, 1) // one every two seconds
	b := NewBucket(r)
	if !b.Allow(0) {
		t.Fatal("first event refused")
	}
	if b.Allow(int64(1999 * time.Millisecond)) {
		t.Fatal("allowed after 1.999s")
	}
	if !b.Allow(int64(2 * time.Second)) {
		t.Fatal("refused after 2s")
	}
}

func TestBucketZeroAndUnlimited(t *testing.T) {
	var zero Bucket
	if got := countAllowed(&zero, 0, 1000); got != 1000 {
		t.Errorf("zero Bucket: %d of 1000 allowed", got)
	}
	r, _ := NewRate(math.Inf(1), 1)
	b := NewBucket(r)
	if got := countAllowed(&b, 42, 1000); got != 1000 {
		t.Errorf("infinite rate: %d of 1000 allowed", got)
	}
	nb := NewBucket(nil)
	if got := countAllowed(&nb, 42, 1000); got != 1000 {
		t.Errorf("nil rate: %d of 1000 allowed", got)
	}
}

func TestBucketClockGoesBack(t *testing.T) {
	r, _ := NewRate(10, 5) // refills in 500ms
	b := NewBucket(r)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	countAllowed(&b, now, 5)
	// The wall clock jumps back an hour: the bucket must not stay locked
	// for an hour, only for at most one refill time.
	back := now - int64(time.Hour)
	if b.Allow(back) {
		t.Fatal("allowed right after the jump with an empty bucket")
	}
	if got := countAllowed(&b, back+int64(500*time.Millisecond), 10); got != 5 {
		t.Fatalf("500ms after the jump: %d allowed, want 5", got)
	}
}

func TestBucketNegativeAndZeroTimes(t *testing.T) {
	r, _ := NewRate(1, 2)
	b := NewBucket(r)
	if got := countAllowed(&b, -int64(time.Hour), 5); got != 2 {
		t.Fatalf("at a negative time: %d allowed, want 2", got)
	}
}

func TestGlobal(t *testing.T) {
	clk := newFakeClock()
	g, err := NewGlobal(2, 4, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for range 10 {
		if g.Allow() {
			ok++
		}
	}
	if ok != 4 {
		t.Fatalf("burst: %d allowed, want 4", ok)
	}
	clk.Add(500 * time.Millisecond)
	if !g.Allow() || g.Allow() {
		t.Fatal("after 500ms at 2/s: want exactly one token")
	}
	if _, err := NewGlobal(0, 1, nil); !errors.Is(err, ErrInvalidRate) {
		t.Errorf("NewGlobal(0, 1) error = %v, want ErrInvalidRate", err)
	}
	var nilG *Global
	if !nilG.Allow() {
		t.Error("nil Global refused")
	}
}
