package memory_test

import (
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster/clustertest"
	"github.com/switchboardhq/switchboard/internal/cluster/memory"
)

// clock is an injected clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const lease = 10 * time.Second

// factory makes n joined nodes on a fresh Backend with an injected clock.
func factory(t *testing.T, n int) clustertest.Cluster {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := memory.New(memory.Options{Now: clk.now, Lease: lease})
	t.Cleanup(b.Close)
	nodes := make([]*memory.Node, n)
	c := clustertest.Cluster{
		Kill: func(i int) { nodes[i].Kill() },
		Cut:  func(i int) { nodes[i].Cut() },
		Expire: func(*testing.T) {
			clk.advance(lease)
			b.Wake()
		},
	}
	for i := range nodes {
		nodes[i] = b.NewNode("")
		if err := nodes[i].Registry().Join(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, clustertest.Seams{
			Registry: nodes[i].Registry(),
			Bus:      nodes[i].Bus(),
			Presence: nodes[i].Presence(),
		})
	}
	return c
}

func TestRegistry(t *testing.T) { clustertest.RunRegistry(t, factory) }
func TestBus(t *testing.T)      { clustertest.RunBus(t, factory) }
func TestPresence(t *testing.T) { clustertest.RunPresence(t, factory) }
