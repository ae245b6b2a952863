package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/clustertest"
	"github.com/switchboardhq/switchboard/internal/cluster/memory"
)

func TestForwarder(t *testing.T) {
	clustertest.RunForwarder(t, func(t *testing.T, locals []cluster.Local, _ []error) clustertest.ForwarderCluster {
		fs := memory.NewForwarders(nil)
		c := clustertest.ForwarderCluster{}
		for _, l := range locals {
			n := cluster.Node{Incarnation: cluster.NewIncarnation()}
			n.ID = n.Incarnation
			fs.Register(n, l)
			c.Nodes = append(c.Nodes, n)
			c.Forwarders = append(c.Forwarders, fs.Forwarder())
		}
		c.Stop = func(i int) { fs.Unregister(c.Nodes[i].Incarnation) }
		return c
	})
}

// A node of the Backend that was killed is gone for its callers even while
// its Local is still registered; a cut node still answers (it is cut off
// the shared state, not from its peers).
func TestForwarderKilledNode(t *testing.T) {
	b := memory.New(memory.Options{})
	t.Cleanup(b.Close)
	fs := memory.NewForwarders(b)
	killed, cut := b.NewNode("killed"), b.NewNode("cut")
	lk, lc := clustertest.NewFakeLocal(), clustertest.NewFakeLocal()
	fs.Register(killed.Registry().Self(), lk)
	fs.Register(cut.Registry().Self(), lc)
	fw := fs.Forwarder()
	ctx := context.Background()
	if err := fw.Post(ctx, killed.Registry().Self(), "prod", "id", nil); err != nil {
		t.Fatalf("Post before Kill: %v", err)
	}
	killed.Kill()
	cut.Cut()
	if err := fw.Post(ctx, killed.Registry().Self(), "prod", "id", nil); !errors.Is(err, cluster.ErrNodeGone) {
		t.Fatalf("Post to a killed node: %v, want ErrNodeGone", err)
	}
	if err := fw.Post(ctx, cut.Registry().Self(), "prod", "id", nil); err != nil {
		t.Fatalf("Post to a cut node: %v", err)
	}
	if n := len(lk.Calls()); n != 1 {
		t.Fatalf("the killed node's Local received %d calls, want 1 (before Kill)", n)
	}
}

// A caller whose context has already ended gets ErrUnavailable without the
// Local being called.
func TestForwarderEndedContext(t *testing.T) {
	fs := memory.NewForwarders(nil)
	n := cluster.Node{Incarnation: cluster.NewIncarnation()}
	l := clustertest.NewFakeLocal()
	fs.Register(n, l)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := fs.Forwarder().Delete(ctx, n, "prod", "id"); !errors.Is(err, cluster.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete with an ended context: %v", err)
	}
	if len(l.Calls()) != 0 {
		t.Fatal("the Local was called with an ended context")
	}
}
