package admin

import (
	"context"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Sampling: one sample a second, the last 10 minutes kept; latency
// quantiles are computed over the last latencyWindow of observations, so
// that one slow call does not make a single-second spike.
const (
	sampleEvery   = time.Second
	ringSize      = 600
	latencyWindow = 10 // samples
)

// Sample is one point of the overview's series. Rates are per second
// since the previous sample; P50 and P99 are seconds, nil when no
// integration call ended in the latency window.
type Sample struct {
	Time        time.Time          `json:"t"`
	Connections float64            `json:"connections"`
	Handshakes  float64            `json:"handshakes"`
	Messages    float64            `json:"messages"`
	Deliveries  float64            `json:"deliveries"`
	P50         *float64           `json:"p50"`
	P99         *float64           `json:"p99"`
	Errors      map[string]float64 `json:"errors"` // per second, by reason; only non-zero ones
}

// reading is what one gather found: gauges, counter totals and the
// integration latency histogram's cumulative buckets.
type reading struct {
	time        time.Time
	connections float64
	handshakes  float64
	messages    float64
	deliveries  float64
	errors      map[string]float64 // totals by reason
	bounds      []float64          // upper bounds, +Inf last
	buckets     []float64          // cumulative counts, summed over label sets
}

// Sampler reads a Prometheus registry into a ring of Samples.
type Sampler struct {
	g prometheus.Gatherer

	mu       sync.Mutex
	readings []reading // the last latencyWindow+1, oldest first
	ring     []Sample  // oldest first, at most ringSize
}

// NewSampler returns a Sampler of g's metrics (the switchboard_*
// collectors of internal/metrics).
func NewSampler(g prometheus.Gatherer) *Sampler { return &Sampler{g: g} }

// Run samples every second until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	s.Sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.Sample(now)
		}
	}
}

// Sample gathers the registry now and appends a Sample (none for the
// first reading, which has nothing to compute rates against). A gather
// error skips the point.
func (s *Sampler) Sample(now time.Time) {
	mfs, err := s.g.Gather()
	if err != nil && len(mfs) == 0 {
		return
	}
	cur := read(mfs, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.readings); n > 0 {
		prev := s.readings[n-1]
		dt := now.Sub(prev.time).Seconds()
		if dt > 0 {
			s.ring = append(s.ring, s.point(prev, cur, dt))
			if len(s.ring) > ringSize {
				s.ring = slices.Delete(s.ring, 0, len(s.ring)-ringSize)
			}
		}
	}
	s.readings = append(s.readings, cur)
	if len(s.readings) > latencyWindow+1 {
		s.readings = slices.Delete(s.readings, 0, len(s.readings)-latencyWindow-1)
	}
}

// point computes a Sample from two readings dt seconds apart (and the
// oldest reading kept, for the latency window).
func (s *Sampler) point(prev, cur reading, dt float64) Sample {
	rate := func(a, b float64) float64 { return max(b-a, 0) / dt }
	p := Sample{
		Time:        cur.time,
		Connections: cur.connections,
		Handshakes:  rate(prev.handshakes, cur.handshakes),
		Messages:    rate(prev.messages, cur.messages),
		Deliveries:  rate(prev.deliveries, cur.deliveries),
		Errors:      map[string]float64{},
	}
	for k, v := range cur.errors {
		if r := rate(prev.errors[k], v); r > 0 {
			p.Errors[k] = r
		}
	}
	base := s.readings[0] // before the first observation it has no buckets: zeros
	if len(cur.bounds) > 0 && (base.bounds == nil || len(base.bounds) == len(cur.bounds)) {
		diff := make([]float64, len(cur.buckets))
		for i := range diff {
			diff[i] = cur.buckets[i]
			if base.bounds != nil {
				diff[i] = max(diff[i]-base.buckets[i], 0)
			}
		}
		p.P50 = quantile(0.5, cur.bounds, diff)
		p.P99 = quantile(0.99, cur.bounds, diff)
	}
	return p
}

// Series returns the samples of the last 10 minutes, oldest first.
func (s *Sampler) Series() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ring)
}

// quantile estimates the q-quantile from cumulative bucket counts as
// Prometheus's histogram_quantile does: linear interpolation inside the
// bucket that holds the rank; the +Inf bucket answers its lower bound.
// nil when there are no observations.
func quantile(q float64, bounds, cum []float64) *float64 {
	n := len(cum)
	if n == 0 || cum[n-1] == 0 {
		return nil
	}
	rank := q * cum[n-1]
	i := sort.Search(n, func(i int) bool { return cum[i] >= rank })
	var v float64
	switch {
	case math.IsInf(bounds[i], 1):
		v = 0
		if i > 0 {
			v = bounds[i-1]
		}
	default:
		lo, below := 0.0, 0.0
		if i > 0 {
			lo, below = bounds[i-1], cum[i-1]
		}
		in := cum[i] - below
		v = bounds[i]
		if in > 0 {
			v = lo + (bounds[i]-lo)*(rank-below)/in
		}
	}
	return &v
}

// read sums the metrics the overview plots over their label sets.
func read(mfs []*dto.MetricFamily, now time.Time) reading {
	r := reading{time: now, errors: map[string]float64{}}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			counter := m.GetCounter().GetValue()
			switch mf.GetName() {
			case "switchboard_connections":
				r.connections += m.GetGauge().GetValue()
			case "switchboard_connects_total":
				r.handshakes += counter
				if o := labels["outcome"]; o != "accepted" {
					r.errors["connect "+o] += counter
				}
			case "switchboard_messages_received_total":
				r.messages += counter
			case "switchboard_deliveries_total":
				r.deliveries += counter
			case "switchboard_handshake_rejections_total":
				r.errors["handshake "+labels["reason"]] += counter
			case "switchboard_route_invocations_total":
				if o := labels["outcome"]; o != "ok" {
					r.errors["route "+o] += counter
				}
			case "switchboard_slow_consumer_closes_total":
				r.errors["slow consumer closed (1013)"] += counter
			case "switchboard_message_rate_closes_total":
				r.errors["message rate closed (1008)"] += counter
			case "switchboard_disconnect_failures_total":
				r.errors["$disconnect failed"] += counter
			case "switchboard_integration_shed_total":
				r.errors["integration shed"] += counter
			case "switchboard_channel_requests_total":
				if o := labels["outcome"]; o != "ok" {
					r.errors["channel "+labels["op"]+" "+o] += counter
				}
			case "switchboard_integration_duration_seconds":
				h := m.GetHistogram()
				bs := h.GetBucket()
				if r.bounds == nil {
					r.bounds = make([]float64, 0, len(bs)+1)
					for _, b := range bs {
						r.bounds = append(r.bounds, b.GetUpperBound())
					}
					r.bounds = append(r.bounds, math.Inf(1))
					r.buckets = make([]float64, len(r.bounds))
				}
				if len(bs)+1 != len(r.bounds) {
					continue // unreachable: one HistogramVec, one set of buckets
				}
				for i, b := range bs {
					r.buckets[i] += float64(b.GetCumulativeCount())
				}
				r.buckets[len(bs)] += float64(h.GetSampleCount())
			}
		}
	}
	return r
}
