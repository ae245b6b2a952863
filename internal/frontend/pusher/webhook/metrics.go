package webhook

import "github.com/prometheus/client_golang/prometheus"

// Drop reasons (the "reason" label of Metrics.Dropped).
const (
	ReasonQueueFull = "queue_full" // the target's queue was full at Emit
	ReasonExpired   = "expired"    // not delivered within the retry window
	ReasonShutdown  = "shutdown"   // still queued or in flight when Close's ctx ended
	ReasonInvalid   = "invalid"    // Emit was given an unknown event name
)

// Request results (the "result" label of Metrics.Requests).
const (
	ResultOK       = "ok"       // a 2xx answer
	ResultRejected = "rejected" // any other status
	ResultTimeout  = "timeout"  // no answer within the attempt timeout
	ResultError    = "error"    // the request failed (connection refused, reset, DNS, ...)
)

// Metrics holds the webhook collectors. Labels: app (the Pusher app id,
// bounded by configuration), result and reason (the small fixed sets
// above). Safe for concurrent use.
type Metrics struct {
	// Requests counts webhook POSTs (attempts, retries included) per app
	// and result.
	Requests *prometheus.CounterVec
	// Events counts events delivered (in a request answered 2xx) per app.
	Events *prometheus.CounterVec
	// Dropped counts events given up per app and reason.
	Dropped *prometheus.CounterVec
	// Retries counts attempts after the first one of a request, per app.
	Retries *prometheus.CounterVec
	// Queued is the number of events accepted and not yet delivered or
	// dropped (queued or in flight), per app, summed over its targets.
	Queued *prometheus.GaugeVec
}

// NewMetrics creates the collectors and registers them with reg (none
// when reg is nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_pusher_webhook_requests_total", Help: "Pusher webhook requests (every attempt) by result: ok, rejected, timeout, error.",
		}, []string{"app", "result"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_pusher_webhook_events_delivered_total", Help: "Pusher webhook events delivered (answered 2xx).",
		}, []string{"app"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_pusher_webhook_events_dropped_total", Help: "Pusher webhook events given up, by reason: queue_full, expired, shutdown, invalid.",
		}, []string{"app", "reason"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_pusher_webhook_retries_total", Help: "Pusher webhook attempts after the first of a request.",
		}, []string{"app"}),
		Queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_pusher_webhook_queued_events", Help: "Pusher webhook events queued or in flight.",
		}, []string{"app"}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Events, m.Dropped, m.Retries, m.Queued)
	}
	return m
}
