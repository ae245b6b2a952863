package hub

import "sync"

// users indexes members by user id, sharded like the channels.
type users struct {
	shards [shards]struct {
		mu sync.Mutex
		m  map[string][]*Member
	}
}

func (u *users) init() {
	for i := range u.shards {
		u.shards[i].m = make(map[string][]*Member)
	}
}

func (u *users) shard(user string) int { return int(fnv32(user) % shards) }

// AddUser records m as one of its user's connections (a no-op for a
// member without a user). Call it once, when the connection opens.
func (h *Hub) AddUser(m *Member) {
	if m.user == "" {
		return
	}
	s := &h.users.shards[h.users.shard(m.user)]
	s.mu.Lock()
	s.m[m.user] = append(s.m[m.user], m)
	s.mu.Unlock()
}

func (u *users) remove(m *Member) {
	s := &u.shards[u.shard(m.user)]
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.m[m.user]
	for i, x := range list {
		if x == m {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.m, m.user)
	} else {
		s.m[m.user] = list
	}
}

// UserMembers returns the open connections of user, in the order they
// opened.
func (h *Hub) UserMembers(user string) []*Member {
	s := &h.users.shards[h.users.shard(user)]
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Member(nil), s.m[user]...)
}

// Users reports how many distinct users have open connections.
func (h *Hub) Users() int {
	n := 0
	for i := range h.users.shards {
		s := &h.users.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
