package redcluster

// PLACEHOLDER until the Bus lands (issue 10, increment 2).

import (
	"context"
	"errors"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/history"
)

var errBusNotBuilt = errors.New("redcluster: bus not built yet")

type bus struct{ n *Node }

func newBus(n *Node) *bus { return &bus{n: n} }
func (b *bus) kill()      {}
func (b *bus) close()     {}

func (b *bus) Publish(context.Context, string, string, cluster.Message, *history.StreamOptions) (cluster.Published, error) {
	return cluster.Published{}, errBusNotBuilt
}
func (b *bus) Broadcast(context.Context, string, cluster.Message) error { return errBusNotBuilt }
func (b *bus) Subscribe(context.Context, string, string) error          { return errBusNotBuilt }
func (b *bus) Unsubscribe(context.Context, string, string) error        { return errBusNotBuilt }
func (b *bus) Handle(func(api, channel string, m cluster.Message))      {}
