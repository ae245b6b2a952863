package hub

import (
	"slices"
	"sync"

	"github.com/switchboardhq/switchboard/internal/ws"
)

// Sender queues a frame on a connection. It must never block; an error
// means the frame was not queued (the connection is closing, or it was
// just closed as a slow consumer). SendMessage queues a data message,
// compressed when the connection negotiated permessage-deflate (the
// compressed frame is made once per message, see ws.Message).
type Sender interface {
	Send(f ws.Frame) error
	SendMessage(m *ws.Message) error
}

// Member is one connection as the hub sees it: its id, user and presence
// info, the codec of the protocol it speaks, where its frames go, and the
// channels it is in.
type Member struct {
	// Immutable after NewMember.
	id    string
	user  string
	info  []byte
	codec CodecID
	out   Sender

	// Guarded by mu.
	mu    sync.Mutex
	chans []*channel
	gone  bool // Remove ran: the member joins nothing more
}

// NewMember describes a connection to the hub. info is raw JSON shown in
// presence (nil for none); codec is the id of its protocol's codec in the
// hub's table (Raw, V1, or a front-end's, see Options.Codecs): what it is
// sent is encoded by that codec.
func NewMember(id, user string, info []byte, codec CodecID, out Sender) *Member {
	return &Member{id: id, user: user, info: info, codec: codec, out: out}
}

// ID is the connection id.
func (m *Member) ID() string { return m.id }

// User is the connection's user id, "" when it has none.
func (m *Member) User() string { return m.user }

// Codec is the id of the connection's codec.
func (m *Member) Codec() CodecID { return m.codec }

// V1 reports whether the connection speaks switchboard.v1.
func (m *Member) V1() bool { return m.codec == V1 }

// Channels returns the names of the channels the member is in, sorted.
func (m *Member) Channels() []string {
	m.mu.Lock()
	out := make([]string, len(m.chans))
	for i, ch := range m.chans {
		out[i] = ch.name
	}
	m.mu.Unlock()
	slices.Sort(out)
	return out
}

// In reports whether the member is in the named channel.
func (m *Member) In(channel string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ch := range m.chans {
		if ch.name == channel {
			return true
		}
	}
	return false
}

// dropChannelLocked removes ch from m.chans.
func (m *Member) dropChannelLocked(ch *channel) {
	for i, c := range m.chans {
		if c == ch {
			last := len(m.chans) - 1
			m.chans[i] = m.chans[last]
			m.chans[last] = nil
			m.chans = m.chans[:last]
			if len(m.chans) == 0 {
				m.chans = nil
			}
			return
		}
	}
}
