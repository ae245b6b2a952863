package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/memory"
	"github.com/switchboardhq/switchboard/internal/history"
)

// setupCluster sets the gateway's cluster seams (decision 0024): those of
// Options.Cluster, or, when it is the zero value, one node of an
// in-process backend of its own (cluster/memory) with no Presence: the
// hubs then answer presence from their own tables, as a single process
// always did. The backend's history (streams "<api>/<channel>") is where
// every API's channel history lives.
func (g *Gateway) setupCluster(c cluster.Seams) error {
	if c.Registry != nil || c.Bus != nil || c.Presence != nil || c.Forwarder != nil || c.History != nil {
		if c.Registry == nil || c.Bus == nil {
			return errors.New("gateway: cluster seams need a Registry and a Bus")
		}
		g.cluster = c
		return nil
	}
	b := memory.New(memory.Options{Now: g.now})
	node := b.NewNode("")
	if err := node.Registry().Join(context.Background()); err != nil {
		b.Close()
		return err
	}
	g.ownCluster = b
	g.cluster = cluster.Seams{Registry: node.Registry(), Bus: node.Bus(), History: node.History}
	return nil
}

// subscribeBroadcasts subscribes this node to every API's broadcasts
// (Bus.Subscribe with channel "", decision 0024 §2.2 as built): without
// it a Redis Bus delivers a @broadcast, a broadcast route action without a
// channel or a @batch broadcast to no node at all. The gateway's own
// in-process node needs none (its broadcasts are local).
func (g *Gateway) subscribeBroadcasts() error {
	if g.ownCluster != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterCallTimeout)
	defer cancel()
	for _, a := range g.list {
		if err := g.cluster.Bus.Subscribe(ctx, a.stage, ""); err != nil {
			return fmt.Errorf("gateway: subscribing to the broadcasts of stage %q: %w", a.stage, err)
		}
	}
	return nil
}

// historyFor returns the stream store the hub of api (a stage) reads: the
// one the Bus appends to.
func (g *Gateway) historyFor(api string) (history.History, error) {
	if g.cluster.History == nil {
		return nil, errors.New("a namespace keeps history but the cluster seams have no History")
	}
	return g.cluster.History(api), nil
}

// handleBus is the Bus handler of every API of the gateway (Handle is once
// per Bus). The Bus names an API by its stage, which is unique, where API
// ids may repeat across stages (decision 0024, as built). Channel "" is a
// broadcast, fanned out to the API's connections here; anything else goes
// to the API's hub. It never calls the Bus.
func (g *Gateway) handleBus(api, channel string, m cluster.Message) {
	a := g.apis[api]
	if a == nil {
		return
	}
	if channel == "" {
		if m.Kind == cluster.Publication {
			a.broadcastLocal(m)
		}
		return
	}
	if n := a.hub.Deliver(channel, m); n > 0 {
		a.m.deliveries.Add(float64(n))
	}
}

// closeCluster stops the in-process backend the gateway made itself.
func (g *Gateway) closeCluster() {
	if g.ownCluster != nil {
		g.ownCluster.Close()
		g.ownCluster = nil
	}
}

// broadcast sends data to every open connection of the API, on every node,
// except the connection exclude ("" for none): one Bus.Broadcast, fanned
// out on each node by its handler. On one node it returns the number of
// connections the data was queued on. In a cluster it returns the API's
// open connections on every live node as of each node's last lease
// renewal (cluster.Counter, read before the broadcast so that a failed
// read sends nothing; the excluded connection is counted), or 0 with a
// Registry that does not count or when count is false (the broadcast
// route action, which answers no count). A Bus or Registry error
// (cluster.ErrUnavailable among them) is returned wrapped.
func (g *Gateway) broadcast(ctx context.Context, a *API, data []byte, exclude string, count bool) (int, error) {
	m := cluster.Message{Kind: cluster.Publication, Exclude: exclude, Data: data}
	var err error
	n := 0
	if lb := a.hub.Local(); lb != nil {
		err = lb.BroadcastLocal(ctx, a.stage, m, func(m cluster.Message) { n = a.broadcastLocal(m) })
	} else {
		if count && g.cl != nil && g.cl.counter != nil {
			cctx, cancel := context.WithTimeout(ctx, clusterCallTimeout)
			n, err = g.cl.counter.Connections(cctx, a.stage)
			cancel()
			if err != nil {
				return 0, fmt.Errorf("broadcast: counting connections: %w", err)
			}
		}
		err = g.cluster.Bus.Broadcast(ctx, a.stage, m)
	}
	if err != nil {
		return 0, fmt.Errorf("broadcast: %w", err)
	}
	return n, nil
}

// broadcastLocal queues a broadcast on every open connection of the API on
// this node except m.Exclude, encoded once per protocol. It never blocks on
// a slow client. It returns the number of connections the data was queued
// on.
func (a *API) broadcastLocal(m cluster.Message) int {
	n := 0
	frames := a.hub.Frames(m.Data)
	a.registry.each(func(c *Conn) {
		if (m.Exclude == "" || c.info.ID != m.Exclude) && c.ws.SendMessage(frames.For(c.codec)) == nil {
			n++
		}
	})
	a.m.deliveries.Add(float64(n))
	return n
}
