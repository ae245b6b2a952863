package peer

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// Metrics are the internal endpoint's collectors, shared by a node's
// Client and Server (give both the same value in Options.Metrics).
type Metrics struct {
	// Forwards counts calls this node forwarded, per op and outcome: ok,
	// error (the owner answered one of the sentinels), gone
	// (cluster.ErrNodeGone), unavailable (cluster.ErrUnavailable: no
	// answer in time, refused credentials) or failed (ErrRemote,
	// ErrRefused).
	Forwards *prometheus.CounterVec
	// ForwardSeconds observes a forwarded call's round trip, per op.
	ForwardSeconds *prometheus.HistogramVec
	// Refused counts requests the server refused before its Local saw
	// them, per reason: unauthorized, too_large, bad_request, not_found.
	Refused *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cluster_forwards_total",
			Help: "Management calls forwarded to the node that holds the connection, by op and outcome.",
		}, []string{"op", "outcome"}),
		ForwardSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_cluster_forward_seconds",
			Help:    "Round trip of a forwarded management call, by op.",
			Buckets: []float64{.0001, .00025, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"op"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cluster_internal_refused_total",
			Help: "Requests to the internal endpoint refused before reaching the gateway, by reason.",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.Forwards, m.ForwardSeconds, m.Refused} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// forwarded records one forwarded call.
func (m *Metrics) forwarded(o op, start time.Time, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, cluster.ErrNodeGone):
		outcome = "gone"
	case errors.Is(err, cluster.ErrUnavailable):
		outcome = "unavailable"
	case errors.Is(err, ErrRemote), errors.Is(err, ErrRefused):
		outcome = "failed"
	default:
		outcome = "error"
	}
	m.Forwards.WithLabelValues(o.String(), outcome).Inc()
	m.ForwardSeconds.WithLabelValues(o.String()).Observe(time.Since(start).Seconds())
}

// refused records one refused request.
func (m *Metrics) refused(reason string) {
	if m != nil {
		m.Refused.WithLabelValues(reason).Inc()
	}
}
