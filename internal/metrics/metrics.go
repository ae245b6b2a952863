// Package metrics defines Switchboard's Prometheus metrics. One Metrics
// value is created per process with the registerer it should use (no
// global registry) and passed to the packages that count. Labels are
// bounded by configuration (API ids, route keys, integration names) or by
// small fixed sets (close codes, outcomes); never by connection.
//
// All methods are safe for concurrent use.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds every collector.
type Metrics struct {
	// Connections is the number of open connections per API.
	Connections *prometheus.GaugeVec
	// Connects counts handshakes per API and outcome: accepted, rejected
	// (non-2xx from $connect), failed ($connect integration error or
	// timeout), upgrade_failed.
	Connects *prometheus.CounterVec
	// Disconnects counts closed connections per API and close code.
	Disconnects *prometheus.CounterVec
	// SlowConsumers counts connections closed with 1013 per API.
	SlowConsumers *prometheus.CounterVec
	// MessagesIn counts messages received from clients per API.
	MessagesIn *prometheus.CounterVec
	// Routes counts route invocations per API, route and outcome: ok,
	// error, timeout, forbidden (no route matched).
	Routes *prometheus.CounterVec
	// IntegrationSeconds observes integration call latency per API,
	// integration and event type.
	IntegrationSeconds *prometheus.HistogramVec
	// DisconnectFailures counts $disconnect events that failed after every
	// attempt, per API.
	DisconnectFailures *prometheus.CounterVec
	// Deliveries counts frames queued to connections by built-in actions
	// and the management API, per API.
	Deliveries *prometheus.CounterVec
	// Rejections counts refused handshakes per API and reason
	// (connection_rate, connection_rate_per_ip, max_connections,
	// max_connections_per_user, server_full, origin, unauthorized,
	// forbidden).
	Rejections *prometheus.CounterVec
	// RateLimitCloses counts connections closed with 1008 for sending
	// messages faster than limits.messagesPerSecond, per API.
	RateLimitCloses *prometheus.CounterVec
	// IntegrationShed counts calls refused at once because their
	// integration had maxWaiting calls waiting for a slot.
	IntegrationShed *prometheus.CounterVec
	// Publications counts publications to channels per API.
	Publications *prometheus.CounterVec
	// Channels is the number of channels with at least one member, per API.
	Channels *prometheus.GaugeVec
	// Subscriptions is the number of channel memberships, per API.
	Subscriptions *prometheus.GaugeVec
	// ChannelRequests counts subscribe and publish requests from clients
	// (switchboard.v1 and route actions) per API, operation (subscribe,
	// publish) and outcome (ok, forbidden, invalid, error).
	ChannelRequests *prometheus.CounterVec

	// FunctionInvocations counts invocations of function integrations
	// (Lambda handlers run as local workers) per API, function and outcome:
	// ok, error (the function reported an error, failed to initialize, or
	// returned a malformed or oversized result), timeout (past the
	// function's timeout, or no worker free in time) or crash (the runtime
	// exited during the invocation).
	FunctionInvocations *prometheus.CounterVec
	// FunctionColdStarts counts workers started because an invocation
	// found none idle, per API and function. Workers started to keep
	// minWorkers warm are not cold starts.
	FunctionColdStarts *prometheus.CounterVec
	// FunctionInitSeconds observes how long a worker took from its start
	// to its first request for work (the Lambda init phase), per API and
	// function.
	FunctionInitSeconds *prometheus.HistogramVec
	// FunctionSeconds observes invocation duration, from the hand-off to a
	// worker to its result, per API and function.
	FunctionSeconds *prometheus.HistogramVec
	// FunctionWorkers is the number of worker processes per API and
	// function, starting and stopping ones included.
	FunctionWorkers *prometheus.GaugeVec

	// ConfigReloads counts configuration reloads (SIGHUP) by result:
	// applied (the file was valid and what can change live changed),
	// invalid (the file was refused; the running configuration stays),
	// failed (the file was valid but applying it failed, for example a
	// function's directory could not be started; nothing changed) and
	// skipped (no configuration file: the seed configuration).
	ConfigReloads *prometheus.CounterVec
}

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_connections", Help: "Open WebSocket connections.",
		}, []string{"api"}),
		Connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_connects_total", Help: "WebSocket handshakes by outcome.",
		}, []string{"api", "outcome"}),
		Disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_disconnects_total", Help: "Closed connections by close code.",
		}, []string{"api", "code"}),
		SlowConsumers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_slow_consumer_closes_total", Help: "Connections closed with 1013 because their outbound queue was full or their socket stalled.",
		}, []string{"api"}),
		MessagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_messages_received_total", Help: "Messages received from clients.",
		}, []string{"api"}),
		Routes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_route_invocations_total", Help: "Route invocations by outcome.",
		}, []string{"api", "route", "outcome"}),
		IntegrationSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_integration_duration_seconds",
			Help:    "Integration call latency.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 29},
		}, []string{"api", "integration", "event"}),
		DisconnectFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_disconnect_failures_total", Help: "$disconnect events that failed after every attempt.",
		}, []string{"api"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_deliveries_total", Help: "Frames queued to connections by built-in actions and the management API.",
		}, []string{"api"}),
		Rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_handshake_rejections_total", Help: "Handshakes refused by a limit or by authentication, by reason.",
		}, []string{"api", "reason"}),
		RateLimitCloses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_message_rate_closes_total", Help: "Connections closed with 1008 for exceeding limits.messagesPerSecond.",
		}, []string{"api"}),
		IntegrationShed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_integration_shed_total", Help: "Integration calls refused because maxWaiting calls already waited for a slot.",
		}, []string{"api", "integration"}),
		Publications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_publications_total", Help: "Publications to channels.",
		}, []string{"api"}),
		Channels: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_channels", Help: "Channels with at least one member.",
		}, []string{"api"}),
		Subscriptions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_subscriptions", Help: "Channel memberships.",
		}, []string{"api"}),
		ChannelRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_channel_requests_total", Help: "Subscribe and publish requests from clients by outcome.",
		}, []string{"api", "op", "outcome"}),
		FunctionInvocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_function_invocations_total", Help: "Invocations of function integrations by outcome.",
		}, []string{"api", "function", "outcome"}),
		FunctionColdStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_function_cold_starts_total", Help: "Function workers started because no worker was idle.",
		}, []string{"api", "function"}),
		FunctionInitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_function_init_seconds",
			Help:    "Time from a function worker's start to its first request for work.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"api", "function"}),
		FunctionSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_function_duration_seconds",
			Help:    "Function invocation duration, from the hand-off to a worker to its result.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 29, 60, 300, 900},
		}, []string{"api", "function"}),
		FunctionWorkers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_function_workers", Help: "Function worker processes, starting and stopping ones included.",
		}, []string{"api", "function"}),
	}
	reg.MustRegister(m.Connections, m.Connects, m.Disconnects, m.SlowConsumers, m.MessagesIn,
		m.Routes, m.IntegrationSeconds, m.DisconnectFailures, m.Deliveries,
		m.Rejections, m.RateLimitCloses, m.IntegrationShed, m.Publications, m.Channels, m.Subscriptions, m.ChannelRequests,
		m.FunctionInvocations, m.FunctionColdStarts, m.FunctionInitSeconds, m.FunctionSeconds, m.FunctionWorkers)

	m.ConfigReloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_config_reloads_total", Help: "Configuration reloads (SIGHUP) by result: applied, invalid, failed or skipped.",
	}, []string{"result"})
	for _, r := range []string{"applied", "invalid", "failed", "skipped"} {
		m.ConfigReloads.WithLabelValues(r) // export zeros
	}
	reg.MustRegister(m.ConfigReloads)
	return m
}
