package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/memory"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// Options are what New needs. Config must be valid (config.Validate).
type Options struct {
	Config     *config.Config
	Engine     ws.Options   // the WebSocket engine the gateway creates and owns
	HTTPClient *http.Client // shared by the http integrations
	Logger     *slog.Logger
	Metrics    *metrics.Metrics
	Now        func() time.Time // the clock of event timestamps; default time.Now
	// TLS tells that the listener terminates TLS (X-Forwarded-Proto: https).
	TLS bool
	// FunctionCredentials, when set, makes the key pair of each function
	// integration whose function.credentials is generated. Nil: such
	// workers get no AWS credentials.
	FunctionCredentials FunctionCredentials
	// Cluster makes the gateway one node of a cluster (decision 0024):
	// connection ownership, channel delivery, presence and users go through
	// these seams. The zero value: one node on the in-process backend.
	Cluster cluster.Seams
	// Codecs are the protocol front-ends' hub codecs (decision 0025),
	// given to every API's hub: Codecs[i] gets hub.FirstFrontEnd+i.
	Codecs []hub.Codec
	// OnMembership, when set, hears every hub's joins and leaves with their
	// cluster-wide edges (hub.Options.OnMembership), by stage.
	OnMembership func(stage, channel string, ev hub.MembershipEvent)
	// TracerProvider traces route invocations and authorizer calls; nil or
	// a noop provider: no spans (and no cost beyond a branch).
	TracerProvider trace.TracerProvider
}

// ErrShutdownStarted is Shutdown's answer to a second call.
var ErrShutdownStarted = errors.New("gateway: shutdown already started")

// Gateway serves the configured APIs.
type Gateway struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	now     func() time.Time
	client  *http.Client // shared by the http integrations
	engine  *ws.Engine
	apis    map[string]*API // by stage; the set of APIs never changes
	list    []*API
	tls     bool // the listener terminates TLS

	// cluster are the node's cluster seams (Options.Cluster, or one
	// in-process node of ownCluster); see cluster_hub.go.
	cluster    cluster.Seams
	ownCluster *memory.Backend

	// Changed by Reload.
	reloadMu sync.Mutex                      // one reload at a time
	drain    atomic.Pointer[config.Shutdown] // shutdown settings
	// maxConns is http.maxConnections: open plus handshaking (0: none).
	maxConns atomic.Int64

	// closing counts resources being closed in the background
	// (closeState); closeCtx bounds them and ends when shutdown gives up.
	closing     sync.WaitGroup
	closeCtx    context.Context
	closeCancel context.CancelFunc

	// fnCreds makes the keys of function integrations (Options), for
	// every integration built, at start or by a reload.
	fnCreds FunctionCredentials

	// ctx bounds every integration call; it is cancelled when shutdown
	// gives up waiting.
	ctx        context.Context
	cancel     context.CancelFunc
	draining   atomic.Bool
	handshakes atomic.Int64 // handshakes past the draining check

	cl *nodeCluster // nil: one node (cluster.go)

	// codecs and onMembership are Options.Codecs and OnMembership, for the
	// hubs.
	codecs       []hub.Codec
	onMembership func(stage, channel string, ev hub.MembershipEvent)

	tr tracer // Options.TracerProvider's (trace.go)
}

// New builds the APIs and starts the WebSocket engine.
func New(o Options) (*Gateway, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		codecs:       o.Codecs,
		onMembership: o.OnMembership,
		log:          o.Logger,
		metrics:      o.Metrics,
		now:          o.Now,
		client:       o.HTTPClient,
		apis:         make(map[string]*API),
		tls:          o.TLS,
		fnCreds:      o.FunctionCredentials,
		cl:           newNodeCluster(o.Cluster),
		tr:           newTracer(o.TracerProvider),
	}
	sd := o.Config.Shutdown
	g.drain.Store(&sd)
	g.maxConns.Store(int64(o.Config.HTTP.MaxConnections))
	g.closeCtx, g.closeCancel = context.WithCancel(context.Background())
	if err := g.setupCluster(o.Cluster); err != nil {
		return nil, err
	}
	for i := range o.Config.APIs {
		a, err := newAPI(g, &o.Config.APIs[i])
		if err == nil && g.apis[a.stage] != nil {
			g.releaseAPI(a)
			err = fmt.Errorf("two APIs use stage %q", a.stage)
		}
		if err != nil {
			g.releaseAll()
			return nil, err
		}
		g.apis[a.stage] = a
		g.list = append(g.list, a)
		a.m = apiMetrics{
			messagesIn:    o.Metrics.MessagesIn.WithLabelValues(a.id),
			deliveries:    o.Metrics.Deliveries.WithLabelValues(a.id),
			connections:   o.Metrics.Connections.WithLabelValues(a.id),
			publications:  o.Metrics.Publications.WithLabelValues(a.id),
			channels:      o.Metrics.Channels.WithLabelValues(a.id),
			subscriptions: o.Metrics.Subscriptions.WithLabelValues(a.id),
		}
		for _, code := range []string{"1000", "1001", "1005", "1006", "1013"} {
			g.metrics.Disconnects.WithLabelValues(a.id, code) // export zeros
		}
		g.metrics.SlowConsumers.WithLabelValues(a.id)
	}
	g.cluster.Bus.Handle(g.handleBus)
	if err := g.subscribeBroadcasts(); err != nil {
		g.releaseAll()
		return nil, err
	}
	eo := o.Engine
	if eo.Logger == nil {
		eo.Logger = o.Logger
	}
	engine, err := ws.NewEngine(eo)
	if err != nil {
		g.releaseAll()
		return nil, err
	}
	g.engine = engine
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.startCluster()
	return g, nil
}

// API returns the API served under stage, or nil.
func (g *Gateway) API(stage string) *API { return g.apis[stage] }

// APIs returns every API in configuration order.
func (g *Gateway) APIs() []*API { return g.list }

// Driver reports which WebSocket driver plain sockets use.
func (g *Gateway) Driver() string { return g.engine.Driver() }

// Draining reports whether Shutdown has begun.
func (g *Gateway) Draining() bool { return g.draining.Load() }

// Shutdown drains the gateway: new handshakes are refused (503), every
// open connection is closed with 1001 "server shutting down", spread over
// the configured drain window, and the $disconnect of each is delivered.
// Connections still open when ctx ends are dropped, and $disconnect calls
// still running are cancelled (and logged). Shutdown returns when every
// goroutine of the gateway has ended.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.reloadMu.Lock() // a reload in progress finishes first
	started := g.draining.CompareAndSwap(false, true)
	g.reloadMu.Unlock()
	if !started {
		return ErrShutdownStarted
	}
	g.stopCluster()
	total := 0
	for _, a := range g.list {
		total += a.registry.len()
	}
	drain := g.drain.Load()
	g.log.Info("draining", "connections", total, "window", drain.DrainWindow.String())
	for _, a := range g.list {
		a.hub.Quiet()
	}
	g.closeAll(ctx, drain.DrainWindow.Std())

	// Wait for the closing handshakes and the handshakes in flight, closing
	// any connection that registered meanwhile; then drop what is left.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for i := 1; g.engine.Open() > 0 || g.handshakes.Load() > 0; i++ {
		select {
		case <-ctx.Done():
			break wait
		case <-tick.C:
		}
		if i%10 == 0 {
			g.closeRegistered()
		}
	}
	if n := g.engine.Open(); n > 0 {
		g.log.Warn("shutdown timeout: dropping connections", "connections", n)
	}
	g.engine.Close() // every remaining OnClose has run when it returns

	// Deliver the $disconnect events.
	for busy := g.busy(); busy > 0; busy = g.busy() {
		select {
		case <-ctx.Done():
			g.log.Error("shutdown timeout: cancelling $disconnect calls still running", "workers", busy)
			g.cancel()
		case <-tick.C:
			continue
		}
		break
	}
	g.leaveCluster(ctx)
	g.cancel()
	// Integrations' worker processes may take until ctx ends to stop.
	stop := context.AfterFunc(ctx, g.closeCancel)
	defer stop()
	g.releaseAll()
	g.closeCancel()
	return nil
}

// releaseAPI stops what an API holds besides connections: its workers,
// the resources of its state (integrations' idle connections and worker
// processes, JWKS refreshers). It returns once they
// are closed (Shutdown bounds that through closeCtx).
func (g *Gateway) releaseAPI(a *API) {
	if a.pool != nil {
		a.pool.close()
	}
	if st := a.state.Load(); st != nil {
		g.retire(st, whyShutdown)
	}
	g.closing.Wait()
}

// releaseAll releases every API, then the in-process cluster backend.
func (g *Gateway) releaseAll() {
	for _, a := range g.list {
		g.releaseAPI(a)
	}
	g.closeCluster()
}

// closeAll sends 1001 to every open connection, spread over the drain
// window so that clients do not all reconnect at the same instant. It
// repeats until no connection is left to close, so connections whose
// $connect finished during the drain are closed too.
func (g *Gateway) closeAll(ctx context.Context, window time.Duration) {
	var conns []*Conn
	for _, a := range g.list {
		a.registry.each(func(c *Conn) { conns = append(conns, c) })
	}
	start := time.Now()
	for i, c := range conns {
		if window > 0 && len(conns) > 1 {
			due := start.Add(window * time.Duration(i) / time.Duration(len(conns)))
			if d := time.Until(due); d > time.Millisecond {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					window = 0
				}
			}
		}
		c.ws.Close(c.closeForDrain())
	}
	g.closeRegistered()
}

// closeRegistered closes every registered connection not yet closing.
func (g *Gateway) closeRegistered() {
	for _, a := range g.list {
		a.registry.each(func(c *Conn) { c.ws.Close(c.closeForDrain()) })
	}
}

func (g *Gateway) busy() int {
	n := 0
	for _, a := range g.list {
		n += a.pool.busy()
	}
	return n
}
