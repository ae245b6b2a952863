package hub

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/protocol"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// A Codec encodes what the hub sends to the members of one wire protocol:
// channel publications, direct messages and presence notices. The hub
// calls a codec at most once per publication (or notice) per node, for the
// protocols its members in the channel speak, and queues the same frame on
// every member of that protocol.
//
// Each method appends a message's payload to dst and returns the frame's
// opcode (ws.OpText or ws.OpBinary) and dst extended, as strconv's Append
// functions do: the hub reuses the result as scratch for the next call, so
// the payload must be in it (never other memory, never kept by the codec).
// Publication and Notice are called under a channel's shard lock: they
// must not block or call the hub. A codec is shared by every shard: it
// keeps no state of its own between calls.
type Codec interface {
	// Publication encodes a channel publication. p is valid only during
	// the call.
	Publication(dst []byte, p *Publication) (ws.Opcode, []byte)
	// Direct encodes data sent to one connection or user rather than on
	// a channel (postToConnection, a user, a broadcast).
	Direct(dst, data []byte) (ws.Opcode, []byte)
	// Notice encodes, for the channel's other members, that m joined (join)
	// or left it; op 0 (ws.OpContinuation) when this protocol says nothing
	// about it (raw). userEdge: m was its user's first connection in the
	// channel (join) or its last (leave); a member without a user is its
	// own edge.
	Notice(dst []byte, channel string, m cluster.Member, join, userEdge bool) (ws.Opcode, []byte)
}

// Publication is a channel publication as codecs see it.
type Publication struct {
	Channel string
	// Name is the event name, "" when the publisher gave none (the
	// management API and switchboard.v1 publish give none).
	Name string
	// User is the publishing connection's user id, when it has one and
	// the publisher passed it (Pusher client events).
	User string
	Data []byte
	Pos  *history.Position // nil without history
}

// CodecID picks a member's codec in its hub's table.
type CodecID uint8

// The built-in codecs; a hub's front-end codecs (Options.Codecs) follow
// them.
const (
	// Raw sends the data bytes alone (the AWS API Gateway model): a text
	// frame when they are UTF-8, else binary. It sends no notices and
	// ignores event names and users.
	Raw CodecID = iota
	// V1 sends switchboard.v1 envelopes (docs/protocol.md).
	V1
	// FirstFrontEnd is the id of Options.Codecs[0]; Options.Codecs[i] is
	// FirstFrontEnd+i.
	FirstFrontEnd
)

// MaxCodecs bounds a hub's codec table (the built-in ones included): the
// fan-out keeps one message per codec on its stack.
const MaxCodecs = 8

// ErrUnknownCodec: a member's codec id is not in its hub's table.
var ErrUnknownCodec = errors.New("hub: unknown codec")

// builtin is the start of every hub's table.
var builtin = [...]Codec{Raw: rawCodec{}, V1: v1Codec{}}

// codecTable builds a hub's table from its front-ends' codecs.
func codecTable(front []Codec) ([]Codec, error) {
	if len(builtin)+len(front) > MaxCodecs {
		return nil, fmt.Errorf("hub: %d front-end codecs: at most %d", len(front), MaxCodecs-len(builtin))
	}
	t := append(builtin[:len(builtin):len(builtin)], front...)
	for i, c := range t {
		if c == nil {
			return nil, fmt.Errorf("hub: codec %d is nil", i)
		}
	}
	return t, nil
}

// rawCodec is Raw.
type rawCodec struct{}

func (rawCodec) Publication(dst []byte, p *Publication) (ws.Opcode, []byte) {
	return dataOpcode(p.Data), append(dst, p.Data...)
}

func (rawCodec) Direct(dst, data []byte) (ws.Opcode, []byte) {
	return dataOpcode(data), append(dst, data...)
}

func (rawCodec) Notice(dst []byte, _ string, _ cluster.Member, _, _ bool) (ws.Opcode, []byte) {
	return 0, dst
}

// dataOpcode is text for UTF-8, else binary, so that arbitrary bytes never
// break a client (as ws.DataFrame).
func dataOpcode(b []byte) ws.Opcode {
	if utf8.Valid(b) {
		return ws.OpText
	}
	return ws.OpBinary
}

// v1Codec is V1.
type v1Codec struct{}

func (v1Codec) Publication(dst []byte, p *Publication) (ws.Opcode, []byte) {
	var pos *protocol.Position
	if p.Pos != nil {
		pos = &protocol.Position{Epoch: p.Pos.Epoch, Offset: p.Pos.Offset}
	}
	return ws.OpText, protocol.AppendPubEvent(dst, p.Channel, p.Name, pos, p.Data, protocol.Classify(p.Data))
}

func (v1Codec) Direct(dst, data []byte) (ws.Opcode, []byte) {
	return ws.OpText, protocol.AppendMessage(dst, data, protocol.Classify(data))
}

func (v1Codec) Notice(dst []byte, channel string, m cluster.Member, join, _ bool) (ws.Opcode, []byte) {
	pm := protocol.Member{ConnectionID: m.ID, User: m.User, Info: m.Info}
	if join {
		return ws.OpText, protocol.AppendJoin(dst, channel, pm)
	}
	return ws.OpText, protocol.AppendLeave(dst, channel, pm)
}

// Frames encodes one direct message (not on a channel) for the members of
// each codec, each at most once (Codec.Direct). Each is a ws.Message, so
// it is also compressed at most once, when a connection with
// permessage-deflate gets it. A Frames is used by one goroutine. The zero
// value with Data set knows the built-in codecs only; Hub.Frames knows the
// hub's.
type Frames struct {
	Data   []byte
	codecs []Codec
	msgs   [MaxCodecs]*ws.Message
}

// Frames returns the Frames of data for this hub's codecs.
func (h *Hub) Frames(data []byte) Frames { return Frames{Data: data, codecs: h.codecs} }

// For returns the message for members of codec c. An id outside the table
// gets the raw message.
func (f *Frames) For(c CodecID) *ws.Message {
	codecs := f.codecs
	if codecs == nil {
		codecs = builtin[:]
	}
	if int(c) >= len(codecs) {
		c = Raw
	}
	if m := f.msgs[c]; m != nil {
		return m
	}
	bp := scratch.Get().(*[]byte)
	op, b := codecs[c].Direct((*bp)[:0], f.Data)
	m := ws.NewMessage(ws.NewFrame(op, b))
	if cap(b) <= maxScratch {
		*bp = b[:0]
		scratch.Put(bp)
	}
	f.msgs[c] = m
	return m
}

// scratch holds encoding buffers for direct messages, which are encoded
// outside any shard lock; buffers above maxScratch are left to the GC.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxScratch = 64 << 10

// Send queues data for member m alone (a postToConnection), encoded by
// its codec (Codec.Direct).
func (h *Hub) Send(m *Member, data []byte) error {
	f := h.Frames(data)
	return m.out.SendMessage(f.For(m.codec))
}
