package gateway

import (
	"context"

	"github.com/switchboardhq/switchboard/internal/cluster"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// The management data methods below are what the management API, the CLI
// and tests call. They are safe for concurrent use. In a cluster, a call on
// a connection another node holds is carried there (cluster.go: forwarded);
// a context marked local-only (the receiving side of that call) is served
// here whatever the id says.

func (g *Gateway) lookup(stage, id string) (*Conn, error) {
	a := g.apis[stage]
	if a == nil {
		return nil, ErrNoSuchStage
	}
	if !event.ValidID(id) {
		return nil, ErrInvalidConnectionID
	}
	c := a.registry.get(id)
	if c == nil || c.gone() {
		return nil, ErrGone
	}
	return c, nil
}

// PostToConnection sends data to one connection: a text frame when data is
// valid UTF-8, a binary frame otherwise. It returns ErrGone when the
// connection is unknown or closed, or when the send overflowed its queue
// (the connection is then closed as a slow consumer).
func (g *Gateway) PostToConnection(ctx context.Context, stage, id string, data []byte) error {
	a := g.apis[stage]
	if a == nil {
		return ErrNoSuchStage
	}
	if len(data) > a.state.Load().maxPost {
		return ErrPayloadTooLarge
	}
	if g.cl != nil {
		if fwd, err := g.forwarded(ctx, stage, id, func(ctx context.Context, f cluster.Forwarder, to cluster.Node) error {
			return f.Post(ctx, to, stage, id, data)
		}); fwd {
			return err
		}
	}
	c, err := g.lookup(stage, id)
	if err != nil {
		return err
	}
	f := a.hub.Frames(data)
	// One recipient: SendMessageDirect writes the frame from this
	// goroutine when the connection has nothing else waiting, instead of
	// waking its event loop, and with it the frames of concurrent posts to
	// the same connection (fan-out keeps Send).
	if err := c.ws.SendMessageDirect(f.For(c.codec)); err != nil {
		return ErrGone
	}
	a.m.deliveries.Inc()
	return nil
}

// GetConnection reports one open connection.
func (g *Gateway) GetConnection(ctx context.Context, stage, id string) (ConnectionInfo, error) {
	if g.cl != nil {
		var info ConnectionInfo
		if fwd, err := g.forwarded(ctx, stage, id, func(ctx context.Context, f cluster.Forwarder, to cluster.Node) (err error) {
			info, err = f.Get(ctx, to, stage, id)
			return err
		}); fwd {
			return info, err
		}
	}
	c, err := g.lookup(stage, id)
	if err != nil {
		return ConnectionInfo{}, err
	}
	return c.connectionInfo(), nil
}

// DeleteConnection closes a connection with 1000 and the reason AWS
// reports for DeleteConnection; $disconnect follows. The connection is
// gone for the management API at once.
func (g *Gateway) DeleteConnection(ctx context.Context, stage, id string) error {
	if g.cl != nil {
		if fwd, err := g.forwarded(ctx, stage, id, func(ctx context.Context, f cluster.Forwarder, to cluster.Node) error {
			return f.Delete(ctx, to, stage, id)
		}); fwd {
			return err
		}
	}
	c, err := g.lookup(stage, id)
	if err != nil {
		return err
	}
	c.deleted.Store(true)
	c.ws.Close(ws.CloseNormal, "Connection Closed Normally")
	return nil
}

// ListConnections returns a page of the API's open connections, oldest
// first (in the order they connected). Pass the returned Next as cursor to
// get the following page. In a cluster the pages walk the nodes in
// incarnation order, each node's connections oldest first (clusterList).
func (g *Gateway) ListConnections(ctx context.Context, stage, cursor string, limit int) (ConnectionPage, error) {
	if g.cl != nil && !isLocalOnly(ctx) {
		return g.clusterList(ctx, stage, cursor, limit)
	}
	a := g.apis[stage]
	if a == nil {
		return ConnectionPage{}, ErrNoSuchStage
	}
	conns, next, err := a.registry.page(cursor, limit)
	if err != nil {
		return ConnectionPage{}, err
	}
	page := ConnectionPage{Next: next, Connections: make([]ConnectionInfo, 0, len(conns))}
	for _, c := range conns {
		if !c.gone() {
			page.Connections = append(page.Connections, c.connectionInfo())
		}
	}
	return page, nil
}

// MaxPostBytes is the largest body PostToConnection accepts on stage.
func (g *Gateway) MaxPostBytes(stage string) (int, error) {
	a := g.apis[stage]
	if a == nil {
		return 0, ErrNoSuchStage
	}
	return a.state.Load().maxPost, nil
}
