package admin

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/metrics"
)

// TestSampler drives the real collectors of internal/metrics and checks
// the rates, the gauge, the errors by reason and the latency quantiles the
// samples report.
func TestSampler(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	s := NewSampler(reg)
	t0 := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	s.Sample(t0)
	if got := s.Series(); len(got) != 0 {
		t.Fatalf("first reading gave %d samples, want none", len(got))
	}
	m.Connections.WithLabelValues("chat").Set(3)
	m.Connects.WithLabelValues("chat", "accepted").Add(4)
	m.Connects.WithLabelValues("chat", "rejected").Add(2)
	m.MessagesIn.WithLabelValues("chat").Add(10)
	m.Deliveries.WithLabelValues("chat").Add(20)
	m.Rejections.WithLabelValues("chat", "rate_limited").Add(2)
	for range 99 {
		m.IntegrationSeconds.WithLabelValues("chat", "backend", "MESSAGE").Observe(0.003) // in (0.0025, 0.005]
	}
	m.IntegrationSeconds.WithLabelValues("chat", "backend", "MESSAGE").Observe(2) // in (1, 2.5]
	s.Sample(t0.Add(2 * time.Second))
	got := s.Series()
	if len(got) != 1 {
		t.Fatalf("%d samples, want 1", len(got))
	}
	p := got[0]
	if p.Connections != 3 || p.Handshakes != 3 || p.Messages != 5 || p.Deliveries != 10 {
		t.Fatalf("sample %+v: want 3 connections, 3 handshakes/s, 5 messages/s, 10 deliveries/s", p)
	}
	if p.Errors["handshake rate_limited"] != 1 || p.Errors["connect rejected"] != 1 || len(p.Errors) != 2 {
		t.Fatalf("errors %v", p.Errors)
	}
	if p.P50 == nil || *p.P50 <= 0.0025 || *p.P50 > 0.005 {
		t.Fatalf("p50 = %v, want within the (2.5ms, 5ms] bucket", p.P50)
	}
	if p.P99 == nil || *p.P99 <= 0.0025 || *p.P99 > 0.005 {
		t.Fatalf("p99 = %v: 99 of 100 calls took 3ms", p.P99)
	}
	// Nothing new: rates fall to 0 and the quantiles still cover the window.
	s.Sample(t0.Add(3 * time.Second))
	p = s.Series()[1]
	if p.Handshakes != 0 || p.Messages != 0 || len(p.Errors) != 0 || p.P50 == nil {
		t.Fatalf("idle sample %+v", p)
	}
	// The ring keeps 10 minutes.
	for i := range ringSize + 5 {
		s.Sample(t0.Add(time.Duration(4+i) * time.Second))
	}
	if n := len(s.Series()); n != ringSize {
		t.Fatalf("%d samples kept, want %d", n, ringSize)
	}
	// After the latency window with no calls, no quantile.
	if last := s.Series()[ringSize-1]; last.P50 != nil || last.P99 != nil {
		t.Fatalf("quantiles with no calls in the window: %v %v", *last.P50, *last.P99)
	}
}

// TestQuantile checks the interpolation against hand-computed values.
func TestQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4, math.Inf(1)}
	for _, tc := range []struct {
		q    float64
		cum  []float64
		want float64
	}{
		{0.5, []float64{0, 10, 10, 10}, 1.5},  // all in (1,2]: the middle
		{0.5, []float64{10, 10, 10, 10}, 0.5}, // all in [0,1]
		{0.99, []float64{0, 0, 0, 10}, 4},     // in +Inf: its lower bound
		{0.75, []float64{5, 5, 10, 10}, 3},    // rank 7.5 of (2,4] holding 5
	} {
		got := quantile(tc.q, bounds, tc.cum)
		if got == nil || math.Abs(*got-tc.want) > 1e-9 {
			t.Errorf("quantile(%v, %v) = %v, want %v", tc.q, tc.cum, got, tc.want)
		}
	}
	if quantile(0.5, bounds, []float64{0, 0, 0, 0}) != nil {
		t.Error("quantile of nothing is not nil")
	}
}
