package redcluster

// PLACEHOLDER until the Registry lands (issue 10, increment 4): only what
// the Bus and Presence suites call (Self, NewID); everything else fails.

import (
	"context"
	"errors"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

var errNotBuilt = errors.New("redcluster: registry not built yet")

type registry struct{ n *Node }

func newRegistry(n *Node) *registry { return &registry{n: n} }
func (r *registry) kill()           {}
func (r *registry) close()          {}

func (r *registry) Self() cluster.Node         { return r.n.self }
func (r *registry) Join(context.Context) error { return nil }
func (r *registry) NewID() string              { return cluster.NewID(r.n.self.Incarnation) }
func (r *registry) Owner(context.Context, string) (cluster.Node, error) {
	return cluster.Node{}, errNotBuilt
}
func (r *registry) Nodes(context.Context) ([]cluster.Node, error) { return nil, errNotBuilt }
func (r *registry) Add(context.Context, cluster.Record) error     { return errNotBuilt }
func (r *registry) Remove(context.Context, string, string) error  { return errNotBuilt }
func (r *registry) Lost() <-chan struct{}                         { return nil }
func (r *registry) Leave(context.Context) error                   { return errNotBuilt }
func (r *registry) Reap(ctx context.Context, _ func(context.Context, cluster.Node, cluster.Records) error) error {
	<-ctx.Done()
	return ctx.Err()
}
