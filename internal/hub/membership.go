package hub

import "github.com/switchboardhq/switchboard/internal/cluster"

// MembershipEvent is one join or leave of a channel and what it changed,
// as Options.OnMembership is told of it: in a cluster, what the cluster
// Presence step reported (cluster.JoinResult, cluster.LeaveResult); on one
// node, the hub's own counts.
type MembershipEvent struct {
	Join   bool           // a join; false: a leave
	Member cluster.Member // who joined or left (id, user, info)
	// UserEdge: the member has a user and was its user's first connection
	// in the channel (join) or its last (leave).
	UserEdge bool
	Occupied bool // join: the channel went from 0 connections to 1
	Vacated  bool // leave: the channel went from 1 connection to 0
	Members  int  // connections in the channel after the change
	Users    int  // distinct users in the channel after it
}

// localEdges reports whether the hub counts what joins and leaves change
// itself: on one node (no Presence), when somebody listens.
func (h *Hub) localEdges() bool { return h.onMembership != nil && h.presence == nil }

// joinedLocally counts m, just added to ch, among ch's users and returns
// the event of its join. s.mu is held.
func joinedLocally(ch *channel, m *Member) MembershipEvent {
	who := ch.who(m)
	ev := MembershipEvent{Join: true, Member: who, Members: len(ch.members), Occupied: len(ch.members) == 1}
	if who.User != "" {
		if ch.users == nil {
			ch.users = make(map[string]int32)
		}
		ch.users[who.User]++
		ev.UserEdge = ch.users[who.User] == 1
	}
	ev.Users = len(ch.users)
	return ev
}

// leftLocally takes m, just removed from ch, out of ch's users and returns
// the event of its leave. s.mu is held.
func leftLocally(ch *channel, m *Member) MembershipEvent {
	who := ch.who(m)
	ev := MembershipEvent{Member: who, Members: len(ch.members), Vacated: len(ch.members) == 0}
	if who.User != "" {
		if n := ch.users[who.User] - 1; n > 0 {
			ch.users[who.User] = n
		} else {
			delete(ch.users, who.User)
			ev.UserEdge = true
			if len(ch.users) == 0 {
				ch.users = nil
			}
		}
	}
	ev.Users = len(ch.users)
	return ev
}

// reportJoin tells OnMembership what a cluster Presence.Join of m did.
func (h *Hub) reportJoin(channel string, m cluster.Member, r cluster.JoinResult) {
	if h.onMembership == nil || !r.Joined {
		return
	}
	h.onMembership(h.api, channel, MembershipEvent{Join: true, Member: m, UserEdge: r.UserFirst,
		Occupied: r.Occupied, Members: r.Members, Users: r.Users})
}

// reportLeave tells OnMembership what a cluster Presence.Leave (or
// RemoveNode) did.
func (h *Hub) reportLeave(channel string, r cluster.LeaveResult) {
	if h.onMembership == nil || !r.Left {
		return
	}
	h.onMembership(h.api, channel, MembershipEvent{Member: r.Member, UserEdge: r.UserLast,
		Vacated: r.Vacated, Members: r.Members, Users: r.Users})
}

// Reaped tells OnMembership of a member that cluster Presence.RemoveNode
// took out of the channel (a dead node's, or one a failed leave left
// behind): the node that ran RemoveNode calls it with each removal
// reported to it, so that those leaves, too, are reported once
// cluster-wide. A removal that changed nothing (r.Left false) is ignored.
func (h *Hub) Reaped(channel string, r cluster.LeaveResult) { h.reportLeave(channel, r) }
