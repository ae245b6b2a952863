package hub

import (
	"cmp"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/history"
)

// Rule says who may subscribe or publish from a client.
type Rule uint8

// Rules of a namespace (config: channels.namespaces[].subscribe/publish).
const (
	RuleAllow       Rule = iota + 1 // anyone
	RuleDeny                        // nobody
	RuleUser                        // the user the pattern's {user} bound
	RuleSubscribers                 // connections in the channel (publish only)
	RuleAuthorizer                  // ask the namespace's authorizer integration
)

func parseRule(s string) Rule {
	switch s {
	case "allow":
		return RuleAllow
	case "user":
		return RuleUser
	case "subscribers":
		return RuleSubscribers
	case "authorizer":
		return RuleAuthorizer
	}
	return RuleDeny
}

// Namespace is a compiled channels.namespaces entry.
type Namespace struct {
	cfg        *config.Namespace
	Pattern    string
	Subscribe  Rule
	Publish    Rule
	Authorizer string // integration name, for RuleAuthorizer
	Presence   bool
	JoinLeave  bool
	// History is nil when the namespace keeps none.
	History       *history.StreamOptions
	RecoveryLimit int
}

func newNamespace(c *config.Namespace) *Namespace {
	ns := &Namespace{
		cfg:        c,
		Pattern:    c.Pattern,
		Subscribe:  parseRule(c.Subscribe),
		Publish:    parseRule(c.Publish),
		Authorizer: c.Authorizer,
		Presence:   c.Presence == nil || *c.Presence,
		JoinLeave:  c.JoinLeave,
	}
	if c.History.Size > 0 {
		o := &history.StreamOptions{
			Size:    c.History.Size,
			TTL:     cmp.Or(c.History.TTL.Std(), 5*time.Minute),
			MetaTTL: cmp.Or(c.History.MetaTTL.Std(), 24*time.Hour),
		}
		o.MetaTTL = max(o.MetaTTL, o.TTL)
		ns.History = o
		ns.RecoveryLimit = c.History.RecoveryLimit
		if ns.RecoveryLimit <= 0 {
			ns.RecoveryLimit = c.History.Size
		}
	}
	return ns
}

// Lookup validates a channel name and finds its namespace. user is what
// the pattern's {user} bound ("" when it has none).
func (h *Hub) Lookup(channel string) (ns *Namespace, user string, err error) {
	if !ValidChannel(channel, h.maxNameBytes) {
		return nil, "", ErrInvalidChannel
	}
	for _, ns := range h.namespaces {
		if u, ok := ns.cfg.Match(channel); ok {
			return ns, u, nil
		}
	}
	return nil, "", ErrNoNamespace
}
