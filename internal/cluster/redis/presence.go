package redcluster

// PLACEHOLDER until Presence lands (issue 10, increment 3).

import (
	"context"
	"errors"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

var errPresenceNotBuilt = errors.New("redcluster: presence not built yet")

type presence struct{ n *Node }

func newPresence(n *Node) *presence { return &presence{n: n} }

func (p *presence) Join(context.Context, string, string, cluster.Member, bool) error {
	return errPresenceNotBuilt
}
func (p *presence) Leave(context.Context, string, string, string, bool) error {
	return errPresenceNotBuilt
}
func (p *presence) Page(context.Context, string, string, string, int) (cluster.PresencePage, error) {
	return cluster.PresencePage{}, errPresenceNotBuilt
}
func (p *presence) AddUser(context.Context, string, string, string) error { return errPresenceNotBuilt }
func (p *presence) RemoveUser(context.Context, string, string, string) error {
	return errPresenceNotBuilt
}
func (p *presence) UserConnections(context.Context, string, string) ([]string, error) {
	return nil, errPresenceNotBuilt
}
func (p *presence) RemoveNode(context.Context, string, func(string, string, cluster.Member)) error {
	return errPresenceNotBuilt
}
