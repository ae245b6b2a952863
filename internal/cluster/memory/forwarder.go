package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// forwardTimeout caps a forwarded call, as the HTTP Forwarder does
// (decision 0024 §2.4).
const forwardTimeout = 5 * time.Second

// Forwarders is the in-process cluster.Forwarder: a table of incarnation →
// cluster.Local of the nodes of one process, called directly. A call to an
// incarnation that is not registered (never, or Unregister), or whose node
// of the Backend given to NewForwarders was killed, fails with
// cluster.ErrNodeGone; a call whose context ends before the Local answers
// with a context error fails with cluster.ErrUnavailable (wrapping the
// context's error), as an owner that does not answer in time would. Every
// other error of the Local comes back unchanged. Data is handed to the
// Local as is, not copied (the HTTP Forwarder's Local gets its own copy), so
// a caller must not modify it after the call. Safe for concurrent use.
type Forwarders struct {
	b *Backend // nil: registration alone decides

	mu     sync.RWMutex
	locals map[string]cluster.Local // by incarnation
}

// NewForwarders returns an empty table. With b non-nil, a node of b that
// was killed (Node.Kill) is gone for its callers even while still
// registered.
func NewForwarders(b *Backend) *Forwarders {
	return &Forwarders{b: b, locals: make(map[string]cluster.Local)}
}

// Register makes calls to node n reach l (replacing any earlier Local of
// the same incarnation).
func (f *Forwarders) Register(n cluster.Node, l cluster.Local) {
	f.mu.Lock()
	f.locals[n.Incarnation] = l
	f.mu.Unlock()
}

// Unregister makes calls to incarnation fail with cluster.ErrNodeGone, as
// to a stopped process.
func (f *Forwarders) Unregister(incarnation string) {
	f.mu.Lock()
	delete(f.locals, incarnation)
	f.mu.Unlock()
}

// Forwarder returns the cluster.Forwarder over the table; every node of the
// process may share it.
func (f *Forwarders) Forwarder() cluster.Forwarder { return (*forwarder)(f) }

type forwarder Forwarders

var _ cluster.Forwarder = (*forwarder)(nil)

// local returns the Local of to, a ctx capped at forwardTimeout, or
// ErrNodeGone.
func (f *forwarder) local(ctx context.Context, to cluster.Node) (cluster.Local, context.Context, context.CancelFunc, error) {
	f.mu.RLock()
	l := f.locals[to.Incarnation]
	f.mu.RUnlock()
	if l == nil || f.killed(to.Incarnation) {
		return nil, nil, nil, fmt.Errorf("%w: node %s", cluster.ErrNodeGone, to.Incarnation)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", cluster.ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	return l, ctx, cancel, nil
}

// killed reports whether incarnation's node of the Backend was killed.
func (f *forwarder) killed(incarnation string) bool {
	if f.b == nil {
		return false
	}
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	st := f.b.nodes[incarnation]
	return st != nil && st.deaf.Load() && !st.cut.Load()
}

// result maps the Local's error: a context error once ctx has ended is
// ErrUnavailable; anything else passes unchanged.
func result(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return fmt.Errorf("%w: %w", cluster.ErrUnavailable, err)
	}
	return err
}

func (f *forwarder) Post(ctx context.Context, to cluster.Node, stage, id string, data []byte) error {
	l, ctx, cancel, err := f.local(ctx, to)
	if err != nil {
		return err
	}
	defer cancel()
	return result(ctx, l.Post(ctx, stage, id, data))
}

func (f *forwarder) Get(ctx context.Context, to cluster.Node, stage, id string) (cluster.ConnectionInfo, error) {
	l, ctx, cancel, err := f.local(ctx, to)
	if err != nil {
		return cluster.ConnectionInfo{}, err
	}
	defer cancel()
	c, err := l.Get(ctx, stage, id)
	return c, result(ctx, err)
}

func (f *forwarder) Delete(ctx context.Context, to cluster.Node, stage, id string) error {
	l, ctx, cancel, err := f.local(ctx, to)
	if err != nil {
		return err
	}
	defer cancel()
	return result(ctx, l.Delete(ctx, stage, id))
}

func (f *forwarder) Join(ctx context.Context, to cluster.Node, stage, channel, id string) error {
	l, ctx, cancel, err := f.local(ctx, to)
	if err != nil {
		return err
	}
	defer cancel()
	return result(ctx, l.Join(ctx, stage, channel, id))
}

func (f *forwarder) Leave(ctx context.Context, to cluster.Node, stage, channel, id string) error {
	l, ctx, cancel, err := f.local(ctx, to)
	if err != nil {
		return err
	}
	defer cancel()
	return result(ctx, l.Leave(ctx, stage, channel, id))
}

func (f *forwarder) List(ctx context.Context, to cluster.Node, stage, cursor string, limit int) (cluster.ConnectionPage, error) {
	l, ctx, cancel, err := f.local(ctx, to)
	if err != nil {
		return cluster.ConnectionPage{}, err
	}
	defer cancel()
	p, err := l.List(ctx, stage, cursor, limit)
	return p, result(ctx, err)
}

func (f *forwarder) User(ctx context.Context, to cluster.Node, stage, user string, op cluster.UserOp, data []byte) (cluster.UserResult, error) {
	l, ctx, cancel, err := f.local(ctx, to)
	if err != nil {
		return cluster.UserResult{}, err
	}
	defer cancel()
	u, err := l.User(ctx, stage, user, op, data)
	return u, result(ctx, err)
}
