package hub

import (
	"context"
	"fmt"
	"slices"
	"strings"

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
// cursor ("" for the first page).
func (h *Hub) Presence(name, cursor string, limit int) (PresencePage, error) {
	ns, _, err := h.Lookup(name)
	if err != nil {
		return PresencePage{}, err
	}
	s := h.shardOf(name)
	s.mu.Lock()
	ch := s.channels[name]
	page := PresencePage{Enabled: ns.Presence}
	var picked []*Member
	if ch != nil {
		page.Members = len(ch.members)
		if ns.Presence {
			for _, m := range ch.members {
				if m.id > cursor {
					picked = append(picked, m)
				}
			}
		}
	}
	s.mu.Unlock()
	if !ns.Presence {
		return page, nil
	}
	slices.SortFunc(picked, func(a, b *Member) int { return strings.Compare(a.id, b.id) })
	if len(picked) > limit {
		picked = picked[:limit]
		page.Next = picked[limit-1].id
	}
	page.List = make([]protocol.Member, len(picked))
	for i, m := range picked {
		page.List[i] = protocol.Member{ConnectionID: m.id, User: m.user, Info: m.info}
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
