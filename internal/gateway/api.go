package gateway

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/integration/function"
	"github.com/switchboardhq/switchboard/internal/integration/httpint"
	"github.com/switchboardhq/switchboard/internal/integration/lambdaint"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/payload"
	"github.com/switchboardhq/switchboard/internal/route"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// Integration is a backend a route calls. Errors wrapping
// integration.ErrTimeout are timeouts; any other error is a failure.
type Integration interface {
	Invoke(ctx context.Context, req *event.Request) (*event.Response, error)
}

// Route keys with a meaning of their own.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// API is one configured API at run time. Immutable after newAPI except
// for its registry and pool.
type API struct {
	id, stage   string
	domainName  string // "" : the client's Host
	selector    *route.Expression
	routes      map[string]*Route
	connect     *Route
	disconnect  *Route
	limits      ws.Limits
	inboundMax  int
	binary      bool // binary frames are delivered base64-encoded
	maxPost     int
	maxChannels int // channels.maxPerConnection

	disconnectAttempts int
	disconnectBackoff  time.Duration

	registry     *registry
	pool         *pool
	admit        *admission
	auth         connectAuth
	hub          *hub.Hub
	history      *history.Memory // nil when no namespace keeps history
	integrations map[string]Integration
	// closers release what integrations hold (idle connections, worker
	// processes), in order, at shutdown.
	closers []func(context.Context)
	m       apiMetrics
}

// apiMetrics are the API's hot-path collectors, resolved once.
type apiMetrics struct {
	messagesIn    prometheus.Counter
	deliveries    prometheus.Counter
	connections   prometheus.Gauge
	publications  prometheus.Counter
	channels      prometheus.Gauge
	subscriptions prometheus.Gauge
}

// countMembership refreshes the channel gauges after a membership change.
func (a *API) countMembership() {
	a.m.channels.Set(float64(a.hub.Channels()))
	a.m.subscriptions.Set(float64(a.hub.Subscriptions()))
}

// Route is one configured route.
type Route struct {
	key string
	// Exactly one of integration and action is set.
	integration     Integration
	integrationName string
	action          string            // "broadcast", "echo", "join" or "leave"
	channel         *route.Expression // join, leave; broadcast to a channel
	template        *payload.Template
	excludeSender   bool
	twoWay          bool // send the integration's response body back
}

// name is how logs and metrics name what the route calls.
func (r *Route) name() string {
	if r.integration != nil {
		return r.integrationName
	}
	return "action:" + r.action
}

// maxPoolWorkers bounds an API's worker goroutines whatever the
// integrations' concurrency adds up to.
const maxPoolWorkers = 10000

func newAPI(c *config.API, client *http.Client, log *slog.Logger, m *metrics.Metrics, now func() time.Time) (_ *API, err error) {
	sel, err := route.Parse(c.RouteSelectionExpression)
	if err != nil {
		return nil, fmt.Errorf("apis[%s].routeSelectionExpression: %w", c.ID, err)
	}
	a := &API{
		id:          c.ID,
		stage:       c.Stage,
		domainName:  c.DomainName,
		selector:    sel,
		routes:      make(map[string]*Route, len(c.Routes)),
		binary:      c.Binary == "base64",
		inboundMax:  c.Limits.InboundQueueMessages,
		maxPost:     c.Limits.MaxMessageBytes.Int(),
		maxChannels: cmp.Or(c.Channels.MaxPerConnection, 128),
		limits: ws.Limits{
			MaxMessageBytes: c.Limits.MaxMessageBytes.Int(),
			MaxFrameBytes:   c.Limits.MaxFrameBytes.Int(),
			AllowBinary:     c.Binary == "base64",
			IdleTimeout:     c.Limits.IdleTimeout.Std(),
			MaxLifetime:     c.Limits.MaxConnectionDuration.Std(),
			PingInterval:    c.Limits.PingInterval.Std(),
			PongTimeout:     c.Limits.PongTimeout.Std(),
			WriteTimeout:    c.Limits.WriteTimeout.Std(),
			MaxQueueBytes:   c.Limits.OutboundQueueBytes.Int(),
		},
		disconnectAttempts: c.Disconnect.Attempts,
		disconnectBackoff:  c.Disconnect.Backoff.Std(),
		registry:           newRegistry(),
	}
	if c.Compression.Enabled {
		a.limits.Deflate = &ws.DeflateOptions{MinBytes: c.Compression.MinBytes.Int()}
	}
	defer func() {
		if err != nil { // release what was built before the error
			a.release(context.Background())
		}
	}()
	integrations := make(map[string]Integration, len(c.Integrations))
	workers := 64 // built-in actions and routes without a backend
	for name, ic := range c.Integrations {
		switch ic.Type {
		case "http":
			in, err := httpint.New(name, httpint.Config{
				URL:            ic.URL,
				Timeout:        ic.Timeout.Std(),
				MaxConcurrency: ic.MaxConcurrency,
				Headers:        ic.Headers,
			}, client)
			if err != nil {
				return nil, fmt.Errorf("apis[%s].integrations.%s: %w", c.ID, name, err)
			}
			integrations[name] = in
			workers += ic.MaxConcurrency
		case "lambda":
			in, err := lambdaint.New(context.Background(), name, lambdaint.Config{
				FunctionName:   ic.Lambda.FunctionName,
				Qualifier:      ic.Lambda.Qualifier,
				Region:         ic.Lambda.Region,
				Endpoint:       ic.Lambda.Endpoint,
				Timeout:        ic.Timeout.Std(),
				MaxConcurrency: ic.MaxConcurrency,
			}, nil)
			if err != nil {
				return nil, fmt.Errorf("apis[%s].integrations.%s: %w", c.ID, name, err)
			}
			integrations[name] = in
			a.closers = append(a.closers, func(context.Context) { in.CloseIdleConnections() })
			workers += ic.MaxConcurrency
		case "function":
			dir, err := filepath.Abs(ic.Function.Directory)
			if err != nil {
				return nil, fmt.Errorf("apis[%s].integrations.%s.function.directory: %w", c.ID, name, err)
			}
			fn, err := function.New(name, function.Config{
				Name:           ic.Function.Name,
				Runtime:        ic.Function.Runtime,
				Directory:      dir,
				Handler:        ic.Function.Handler,
				Command:        ic.Function.Command,
				Memory:         ic.Function.Memory,
				Timeout:        ic.Timeout.Std(),
				Environment:    ic.Function.Environment,
				MaxConcurrency: ic.MaxConcurrency,
				MinWorkers:     ic.Function.MinWorkers,
				IdleTimeout:    ic.Function.IdleTimeout.Std(),
			}, function.Options{Logger: log, Metrics: m, APIID: c.ID})
			if err != nil {
				return nil, fmt.Errorf("apis[%s].integrations.%s: %w", c.ID, name, err)
			}
			integrations[name] = fn
			a.closers = append(a.closers, func(ctx context.Context) {
				if err := fn.Close(ctx); err != nil {
					log.Warn("stopping a function's workers", "api", c.ID, "integration", name, "error", err.Error())
				}
			})
			workers += ic.MaxConcurrency
		default:
			return nil, fmt.Errorf("apis[%s].integrations.%s: unknown type %q", c.ID, name, ic.Type)
		}
	}
	for name, in := range integrations {
		integrations[name] = newShedding(in, name, c.Integrations[name].MaxConcurrency, c.Integrations[name].MaxWaiting, m.IntegrationShed.WithLabelValues(c.ID, name))
	}
	a.pool = newPool(min(workers, maxPoolWorkers))
	for key, rc := range c.Routes {
		r := &Route{key: key, twoWay: rc.RouteResponseSelectionExpression == "$default"}
		switch {
		case rc.Integration != "":
			r.integration = integrations[rc.Integration]
			r.integrationName = rc.Integration
			if r.integration == nil {
				return nil, fmt.Errorf("apis[%s].routes.%s: unknown integration %q", c.ID, key, rc.Integration)
			}
		case rc.Action != nil:
			r.action = rc.Action.Type
			r.excludeSender = rc.Action.ExcludeSender
			if rc.Action.Channel != "" {
				if r.channel, err = route.Parse(rc.Action.Channel); err != nil {
					return nil, fmt.Errorf("apis[%s].routes.%s.action.channel: %w", c.ID, key, err)
				}
			}
			if r.action == "broadcast" {
				if r.template, err = payload.Compile(rc.Action.Payload); err != nil {
					return nil, fmt.Errorf("apis[%s].routes.%s.action.payload: %w", c.ID, key, err)
				}
			}
		default:
			return nil, fmt.Errorf("apis[%s].routes.%s: needs an integration or an action", c.ID, key)
		}
		a.routes[key] = r
	}
	if a.admit, err = newAdmission(&c.Limits, c.Auth.Origins, now); err != nil {
		return nil, fmt.Errorf("apis[%s].%w", c.ID, err)
	}
	auth, closers, err := newConnectAuth(c, integrations, log, now)
	a.closers = append(a.closers, closers...)
	if err != nil {
		return nil, fmt.Errorf("apis[%s].%w", c.ID, err)
	}
	a.auth = auth
	a.integrations = integrations
	for _, ns := range c.Channels.Namespaces {
		if ns.History.Size > 0 {
			a.history = history.NewMemory(history.MemoryOptions{Now: now})
			break
		}
	}
	hubOpts := hub.Options{Channels: c.Channels, Logger: log, Now: now}
	if a.history != nil {
		hubOpts.History = a.history
	}
	if a.hub, err = hub.New(hubOpts); err != nil {
		return nil, fmt.Errorf("apis[%s].channels: %w", c.ID, err)
	}
	a.connect = a.routes[RouteConnect]
	a.disconnect = a.routes[RouteDisconnect]
	return a, nil
}

// closeHistory stops the API's history store, if it has one.
func (a *API) closeHistory() {
	if a.history != nil {
		a.history.Close()
		a.history = nil
	}
}

// release stops what the API holds besides connections: its
// integrations' idle connections and worker processes (ctx bounds how long
// running invocations may take to finish) and its history store.
func (a *API) release(ctx context.Context) {
	for _, f := range a.closers {
		f(ctx)
	}
	a.closers = nil
	a.closeHistory()
}

// ID is the API's id (requestContext.apiId).
func (a *API) ID() string { return a.id }

// Stage is the API's stage (its path segment).
func (a *API) Stage() string { return a.stage }

// Connections reports the number of open connections.
func (a *API) Connections() int { return a.registry.len() }
