package gateway

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/route"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// apiState is what an API's configuration says at run time: its routes and
// integrations, connect auth and limits. It is immutable once committed; a
// configuration reload builds a new one and swaps it in whole
// (API.state), so a reader sees either the old state or the new one, never
// a mix (decision 0019).
//
// Lifetime: a handshake and each inbox item of a connection hold the
// state they started with (acquire/release), so a call in flight finishes
// on the integration it started on. A replaced state is retired; when the
// last holder releases it, it is closed: each resource it holds (an
// integration's worker processes or idle connections, a JWKS refresher)
// loses a holder, and a resource that no committed state holds any more
// is closed.
type apiState struct {
	api *API
	cfg *config.API // what the state was built from

	domainName string // "" : the client's Host
	selector   *route.Expression
	routes     map[string]*Route
	connect    *Route
	disconnect *Route
	// limits are the socket limits of connections opened under this state
	// (each connection keeps the limits it opened with).
	limits *ws.Limits
	// v1Limits are limits with binary frames let through: switchboard.v1
	// answers them with error 400 (docs/protocol.md).
	v1Limits   *ws.Limits
	inboundMax int
	maxPost    int
	workers    int // the pool size the integrations' concurrency asks for

	disconnectAttempts int
	disconnectBackoff  time.Duration

	admit        *admission
	auth         connectAuth
	integrations map[string]Integration // by name, with load shedding
	entries      map[string]*integrationEntry
	res          []*resource // what the state holds (one holder each)

	refs    atomic.Int64 // holders of the state; closedRefs once closed
	retired atomic.Bool  // replaced, or released at shutdown
	why     string       // why it was retired (for the log); set before retired
}

// closedRefs marks a closed state: acquire skips it.
const closedRefs = -1 << 62

// integrationEntry is a built integration and the configuration it was
// built from, so that a reload can reuse it when that is unchanged.
type integrationEntry struct {
	cfg config.Integration
	in  Integration // the shedding wrapper
	res *resource
}

// resource is something a state holds that must be closed when no state
// holds it any more.
type resource struct {
	name    string                // for the log: "integration backend", "JWKS refresher"
	close   func(context.Context) // nil: nothing to close
	holders atomic.Int32          // committed states that hold it and are not closed
}

// closeResources closes resources that no state ever held (a state that
// was built but not committed).
func closeResources(ctx context.Context, res []*resource) {
	for _, r := range res {
		if r.close != nil {
			r.close(ctx)
		}
	}
}

// acquire returns the API's current state, held until release.
func (a *API) acquire() *apiState {
	for {
		st := a.state.Load()
		if st.ref() {
			return st
		}
		// Closed between Load and ref: a newer state is in place.
	}
}

func (st *apiState) ref() bool {
	for {
		n := st.refs.Load()
		if n < 0 {
			return false
		}
		if st.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release ends a hold taken by acquire.
func (st *apiState) release() {
	if st.refs.Add(-1) == 0 && st.retired.Load() && st.refs.CompareAndSwap(0, closedRefs) {
		st.api.g.closeState(st)
	}
}

// Why a state was retired, as logged when its resources close.
const (
	whyReload   = "replaced by a configuration reload"
	whyShutdown = "shutdown"
)

// retire marks st replaced (or released); it is closed now if nothing
// holds it, else by the last release. It is called once per state, under
// reloadMu or after every holder is gone.
func (g *Gateway) retire(st *apiState, why string) {
	st.why = why
	st.retired.Store(true)
	if st.refs.CompareAndSwap(0, closedRefs) {
		g.closeState(st)
	}
}

// resourceCloseTimeout bounds the close of a resource a reload replaced:
// no call of ours is in flight on it any more, so this only bounds
// stopping idle worker processes.
const resourceCloseTimeout = 30 * time.Second

// closeState drops st's hold on its resources and closes, in the
// background, those that no other state holds. Shutdown waits for them.
func (g *Gateway) closeState(st *apiState) {
	for _, r := range st.res {
		if r.holders.Add(-1) != 0 || r.close == nil {
			continue
		}
		why := st.why
		g.closing.Add(1)
		go func() {
			defer g.closing.Done()
			ctx, cancel := context.WithTimeout(g.closeCtx, resourceCloseTimeout)
			defer cancel()
			r.close(ctx)
			g.log.Info("closed "+r.name, "api", st.api.id, "why", why)
		}()
	}
}

// commit makes st the API's state and retires the one it replaces.
func (a *API) commit(st *apiState) {
	st.api = a
	for _, r := range st.res {
		r.holders.Add(1)
	}
	l := &st.cfg.Limits
	if err := a.perIP.SetLimits(l.MaxConnectionsPerIP, l.MaxConnections); err != nil {
		a.g.log.Error("applying limits.maxConnectionsPerIP", "api", a.id, "error", err.Error())
	}
	if err := a.perUser.SetLimits(l.MaxConnectionsPerUser, 0); err != nil {
		a.g.log.Error("applying limits.maxConnectionsPerUser", "api", a.id, "error", err.Error())
	}
	if a.pool != nil {
		a.pool.setMax(st.workers)
	}
	if old := a.state.Swap(st); old != nil {
		a.g.retire(old, whyReload)
	}
}

// ErrShuttingDown is the error of a reload asked for during shutdown.
var ErrShuttingDown = errors.New("the server is shutting down")

// Reload applies cfg — the result of config.ApplyReload, valid and
// checked — to the running APIs: each API whose configuration changed
// gets a new state, swapped in atomically, and the process-wide limits
// (http.maxConnections, shutdown) change. APIs are matched by stage and
// must have the same id; cfg may not add or remove APIs. Either every API
// is updated or, when building one fails (a function's directory is gone,
// a JWKS cannot be fetched), none is and the error says why. Open
// connections stay open; calls in flight finish on the integration they
// started on; replaced integrations are closed once idle. Reload returns
// the ids of the APIs that changed.
func (g *Gateway) Reload(cfg *config.Config) ([]string, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.draining.Load() {
		return nil, ErrShuttingDown
	}
	type pending struct {
		a     *API
		st    *apiState
		fresh []*resource
	}
	var todo []pending
	fail := func(err error) ([]string, error) {
		for _, p := range todo {
			closeResources(context.Background(), p.fresh)
		}
		return nil, err
	}
	if len(cfg.APIs) != len(g.list) {
		return fail(fmt.Errorf("a reload cannot add or remove APIs (%d configured, %d running)", len(cfg.APIs), len(g.list)))
	}
	for i := range cfg.APIs {
		c := &cfg.APIs[i]
		a := g.apis[c.Stage]
		if a == nil || a.id != c.ID {
			return fail(fmt.Errorf("apis[%s]: no running API with id %q serves stage %q; a restart applies it", c.ID, c.ID, c.Stage))
		}
		old := a.state.Load()
		if reflect.DeepEqual(old.cfg, c) {
			continue
		}
		st, fresh, err := g.buildState(a, c, old)
		if err != nil {
			return fail(err)
		}
		todo = append(todo, pending{a, st, fresh})
	}
	changed := make([]string, 0, len(todo))
	for _, p := range todo {
		p.a.commit(p.st)
		changed = append(changed, p.a.id)
	}
	g.maxConns.Store(int64(cfg.HTTP.MaxConnections))
	sd := cfg.Shutdown
	g.drain.Store(&sd)
	return changed, nil
}
