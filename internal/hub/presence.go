package hub

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/protocol"
)

// PresencePage is one page of a channel's members, ordered by connection
// id.
type PresencePage struct {
	// Members is the channel's member count.
	Members int
	// Enabled tells whether the namespace keeps presence; List and Next
	// are empty when it does not.
	Enabled bool
	List    []protocol.Member
	// Next is the cursor of the following page; "" on the last.
	Next string
}

// Presence returns up to limit members with a connection id after the
// cursor ("" for the first page). With cluster Presence, the page and the
// count are cluster-wide (Presence.Page; a cursor it did not issue gives
// cluster.ErrInvalidCursor); without, they are this node's.
func (h *Hub) Presence(ctx context.Context, name, cursor string, limit int) (PresencePage, error) {
	ns, _, err := h.Lookup(name)
	if err != nil {
		return PresencePage{}, err
	}
	if h.presence != nil {
		return h.clusterPresence(ctx, ns, name, cursor, limit)
	}
	s := h.shardOf(name)
	s.mu.Lock()
	ch := s.channels[name]
	page := PresencePage{Enabled: ns.Presence}
	var picked []cluster.Member
	if ch != nil {
		page.Members = len(ch.members)
		if ns.Presence {
			for _, m := range ch.members {
				if m.id > cursor {
					picked = append(picked, ch.who(m))
				}
			}
		}
	}
	s.mu.Unlock()
	if !ns.Presence {
		return page, nil
	}
	slices.SortFunc(picked, func(a, b cluster.Member) int { return strings.Compare(a.ID, b.ID) })
	if len(picked) > limit {
		picked = picked[:limit]
		page.Next = picked[limit-1].ID
	}
	page.List = make([]protocol.Member, len(picked))
	for i, m := range picked {
		page.List[i] = protocol.Member{ConnectionID: m.ID, User: m.User, Info: m.Info}
	}
	return page, nil
}

// clusterPresence reads a presence page from the cluster Presence.
func (h *Hub) clusterPresence(ctx context.Context, ns *Namespace, name, cursor string, limit int) (PresencePage, error) {
	if !ns.Presence {
		cursor, limit = "", 1 // the count alone
	}
	pp, err := h.presence.Page(ctx, h.api, name, cursor, max(limit, 1))
	if err != nil {
		return PresencePage{}, fmt.Errorf("read the channel's presence: %w", err)
	}
	page := PresencePage{Members: pp.Members, Enabled: ns.Presence}
	if !ns.Presence {
		return page, nil
	}
	page.Next = pp.Next
	page.List = make([]protocol.Member, len(pp.List))
	for i, m := range pp.List {
		page.List[i] = protocol.Member{ConnectionID: m.ID, User: m.User, Info: m.Info}
	}
	return page, nil
}

// HistoryPage is what History read.
type HistoryPage struct {
	Top          history.Position
	Publications []history.Publication
	Truncated    bool
}

// History reads a channel's kept publications after since (at most
// limit). epoch, when not "", must be the stream's epoch.
func (h *Hub) History(ctx context.Context, name string, since uint64, epoch string, limit int) (HistoryPage, error) {
	ns, _, err := h.Lookup(name)
	if err != nil {
		return HistoryPage{}, err
	}
	if ns.History == nil {
		return HistoryPage{}, ErrNoHistory
	}
	rr, err := h.history.Read(ctx, name, since, limit, *ns.History)
	if err != nil {
		return HistoryPage{}, fmt.Errorf("read history: %w", err)
	}
	if epoch != "" && epoch != rr.Top.Epoch {
		return HistoryPage{}, ErrEpochMismatch
	}
	return HistoryPage{Top: rr.Top, Publications: rr.Publications, Truncated: !rr.Complete}, nil
}
