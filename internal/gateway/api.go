package gateway

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/integration/function"
	"github.com/switchboardhq/switchboard/internal/integration/httpint"
	"github.com/switchboardhq/switchboard/internal/integration/lambdaint"
	"github.com/switchboardhq/switchboard/internal/limit"
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

// API is one configured API at run time. Its identity (id, stage), its
// connections, channels and workers live as long as the process; what a
// configuration reload may change — routes, integrations, auth, limits —
// is in an immutable apiState that a reload replaces whole (state.go).
type API struct {
	// Immutable after newAPI.
	g           *Gateway
	id, stage   string
	maxChannels int // channels.maxPerConnection

	registry *registry
	pool     *pool
	hub      *hub.Hub
	// perIP and perUser count open connections per source IP (and in
	// total) and per user; the limits of the current state apply to them,
	// so that a reload that lowers a limit counts what is already open.
	perIP, perUser *limit.Counter
	m              apiMetrics

	// state is what the current configuration says; a reload swaps it
	// (Gateway.Reload). Readers that call integrations hold it with
	// acquire/release, so that what a replaced state alone holds is
	// closed only once no call uses it.
	state atomic.Pointer[apiState]
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
	integrationType string            // http, lambda or function
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

// FunctionCredentials makes the AWS key pair given to the workers of one
// function integration (function.credentials: generated), which the
// management API must accept on stage, and only there. revoke withdraws
// it; the gateway calls it once the integration's workers are stopped.
type FunctionCredentials func(stage, integration string) (creds function.Credentials, revoke func(), err error)

// maxPoolWorkers bounds an API's worker goroutines whatever the
// integrations' concurrency adds up to.
const maxPoolWorkers = 10000

// newAPI builds an API and its first state from c.
func newAPI(g *Gateway, c *config.API) (_ *API, err error) {
	a := &API{
		g:           g,
		id:          c.ID,
		stage:       c.Stage,
		maxChannels: cmp.Or(c.Channels.MaxPerConnection, 128),
		registry:    newRegistry(),
	}
	if a.perIP, err = limit.NewTrackingCounter(0, 0); err != nil {
		return nil, err
	}
	if a.perUser, err = limit.NewTrackingCounter(0, 0); err != nil {
		return nil, err
	}
	st, fresh, err := g.buildState(a, c, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // release what was built before the error
			closeResources(context.Background(), fresh)
		}
	}()
	// The hub goes through the node's cluster seams (decision 0024): its
	// Bus always, its Presence when clustered, and the history the Bus
	// appends to. The seams name the API by its stage (unique; ids are
	// not).
	hubOpts := hub.Options{API: c.Stage, Channels: c.Channels, Logger: g.log, Now: g.now,
		Bus: g.cluster.Bus, Presence: g.cluster.Presence, Codecs: g.codecs}
	if g.onMembership != nil {
		stage, f := c.Stage, g.onMembership
		hubOpts.OnMembership = func(_, channel string, ev hub.MembershipEvent) { f(stage, channel, ev) }
	}
	for _, ns := range c.Channels.Namespaces {
		if ns.History.Size > 0 {
			if hubOpts.History, err = g.historyFor(c.Stage); err != nil {
				return nil, fmt.Errorf("apis[%s].channels: %w", c.ID, err)
			}
			break
		}
	}
	if a.hub, err = hub.New(hubOpts); err != nil {
		return nil, fmt.Errorf("apis[%s].channels: %w", c.ID, err)
	}
	a.pool = newPool(st.workers)
	a.commit(st)
	return a, nil
}

// buildState builds the run-time form of c for a. Integrations, the JWT
// verifier, the authorizer and the rate limiters of old (nil: none) whose
// configuration is unchanged are reused, so that a reload keeps their
// warm workers, caches and buckets; fresh lists the resources built anew,
// which the caller closes if it does not commit the state.
func (g *Gateway) buildState(a *API, c *config.API, old *apiState) (st *apiState, fresh []*resource, err error) {
	defer func() {
		if err != nil {
			closeResources(context.Background(), fresh)
			fresh = nil
		}
	}()
	sel, err := route.Parse(c.RouteSelectionExpression)
	if err != nil {
		return nil, nil, fmt.Errorf("apis[%s].routeSelectionExpression: %w", c.ID, err)
	}
	st = &apiState{
		cfg:        c,
		domainName: c.DomainName,
		selector:   sel,
		routes:     make(map[string]*Route, len(c.Routes)),
		inboundMax: c.Limits.InboundQueueMessages,
		maxPost:    c.Limits.MaxMessageBytes.Int(),
		limits: &ws.Limits{
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
		integrations:       make(map[string]Integration, len(c.Integrations)),
		entries:            make(map[string]*integrationEntry, len(c.Integrations)),
	}
	if c.Compression.Enabled {
		st.limits.Deflate = &ws.DeflateOptions{MinBytes: c.Compression.MinBytes.Int()}
	}
	if old != nil && reflect.DeepEqual(old.limits, st.limits) {
		st.limits = old.limits // connections compare it to tell their limits apart
	}
	v1 := *st.limits
	v1.AllowBinary = true
	st.v1Limits = &v1
	if old != nil && reflect.DeepEqual(old.v1Limits, st.v1Limits) {
		st.v1Limits = old.v1Limits
	}
	workers := 64 // built-in actions and routes without a backend
	for name, ic := range c.Integrations {
		workers += ic.MaxConcurrency
		if old != nil {
			if e := old.entries[name]; e != nil && reflect.DeepEqual(e.cfg, ic) {
				st.entries[name] = e
				st.integrations[name] = e.in
				st.res = append(st.res, e.res)
				continue
			}
		}
		e, err := g.newIntegration(c.ID, c.Stage, name, ic)
		if err != nil {
			return nil, fresh, err
		}
		st.entries[name] = e
		st.integrations[name] = e.in
		st.res = append(st.res, e.res)
		fresh = append(fresh, e.res)
	}
	st.workers = min(workers, maxPoolWorkers)
	for key, rc := range c.Routes {
		r := &Route{key: key, twoWay: rc.RouteResponseSelectionExpression == "$default"}
		switch {
		case rc.Integration != "":
			r.integration = st.integrations[rc.Integration]
			r.integrationName = rc.Integration
			if r.integration == nil {
				return nil, fresh, fmt.Errorf("apis[%s].routes.%s: unknown integration %q", c.ID, key, rc.Integration)
			}
			r.integrationType = st.entries[rc.Integration].cfg.Type
		case rc.Action != nil:
			r.action = rc.Action.Type
			r.excludeSender = rc.Action.ExcludeSender
			if rc.Action.Channel != "" {
				if r.channel, err = route.Parse(rc.Action.Channel); err != nil {
					return nil, fresh, fmt.Errorf("apis[%s].routes.%s.action.channel: %w", c.ID, key, err)
				}
			}
			if r.action == "broadcast" {
				if r.template, err = payload.Compile(rc.Action.Payload); err != nil {
					return nil, fresh, fmt.Errorf("apis[%s].routes.%s.action.payload: %w", c.ID, key, err)
				}
			}
		default:
			return nil, fresh, fmt.Errorf("apis[%s].routes.%s: needs an integration or an action", c.ID, key)
		}
		st.routes[key] = r
	}
	st.connect = st.routes[RouteConnect]
	st.disconnect = st.routes[RouteDisconnect]
	var oldAdmit *admission
	if old != nil {
		oldAdmit = old.admit
	}
	if st.admit, err = newAdmission(&c.Limits, c.Auth.Origins, g.now, oldAdmit); err != nil {
		return nil, fresh, fmt.Errorf("apis[%s].%w", c.ID, err)
	}
	auth, res, err := g.newConnectAuth(c, st, old)
	fresh = append(fresh, res...)
	if err != nil {
		return nil, fresh, fmt.Errorf("apis[%s].%w", c.ID, err)
	}
	st.auth = auth
	return st, fresh, nil
}

// newIntegration builds one integration, wrapped in its load shedding.
func (g *Gateway) newIntegration(apiID, stage, name string, ic config.Integration) (*integrationEntry, error) {
	e := &integrationEntry{cfg: ic, res: &resource{name: "integration " + name}}
	var in Integration
	switch ic.Type {
	case "http":
		h, err := httpint.New(name, httpint.Config{
			URL:            ic.URL,
			Timeout:        ic.Timeout.Std(),
			MaxConcurrency: ic.MaxConcurrency,
			Headers:        ic.Headers,
		}, g.client)
		if err != nil {
			return nil, fmt.Errorf("apis[%s].integrations.%s: %w", apiID, name, err)
		}
		in = h
	case "lambda":
		l, err := lambdaint.New(context.Background(), name, lambdaint.Config{
			FunctionName:   ic.Lambda.FunctionName,
			Qualifier:      ic.Lambda.Qualifier,
			Region:         ic.Lambda.Region,
			Endpoint:       ic.Lambda.Endpoint,
			Timeout:        ic.Timeout.Std(),
			MaxConcurrency: ic.MaxConcurrency,
		}, nil)
		if err != nil {
			return nil, fmt.Errorf("apis[%s].integrations.%s: %w", apiID, name, err)
		}
		in = l
		e.res.close = func(context.Context) { l.CloseIdleConnections() }
	case "function":
		dir, err := filepath.Abs(ic.Function.Directory)
		if err != nil {
			return nil, fmt.Errorf("apis[%s].integrations.%s.function.directory: %w", apiID, name, err)
		}
		var creds *function.Credentials
		revoke := func() {}
		if ic.Function.Credentials != function.CredentialsEnvironment && g.fnCreds != nil {
			cr, rv, err := g.fnCreds(stage, name)
			if err != nil {
				return nil, fmt.Errorf("apis[%s].integrations.%s: credentials: %w", apiID, name, err)
			}
			creds, revoke = &cr, rv
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
			Credentials:    ic.Function.Credentials,
		}, function.Options{Logger: g.log, Metrics: g.metrics, APIID: apiID, Credentials: creds})
		if err != nil {
			revoke()
			return nil, fmt.Errorf("apis[%s].integrations.%s: %w", apiID, name, err)
		}
		in = fn
		e.res.close = func(ctx context.Context) {
			if err := fn.Close(ctx); err != nil {
				g.log.Warn("stopping a function's workers", "api", apiID, "integration", name, "error", err.Error())
			}
			revoke() // the workers that held it are gone
		}
	default:
		return nil, fmt.Errorf("apis[%s].integrations.%s: unknown type %q", apiID, name, ic.Type)
	}
	e.in = newShedding(in, name, ic.MaxConcurrency, ic.MaxWaiting, g.metrics.IntegrationShed.WithLabelValues(apiID, name))
	return e, nil
}

// ID is the API's id (requestContext.apiId).
func (a *API) ID() string { return a.id }

// Stage is the API's stage (its path segment).
func (a *API) Stage() string { return a.stage }

// Connections reports the number of open connections.
func (a *API) Connections() int { return a.registry.len() }
