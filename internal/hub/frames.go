package hub

import (
	"github.com/switchboardhq/switchboard/internal/protocol"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// Frames encodes one direct message (not on a channel) for both kinds of
// connections, each at most once: raw connections get the bytes (a text
// frame when they are UTF-8, else binary), switchboard.v1 connections
// {"type":"message", <payload>}. Each is a ws.Message, so it is also
// compressed at most once, when a connection with permessage-deflate gets
// it. A Frames is used by one goroutine.
type Frames struct {
	Data    []byte
	raw, v1 *ws.Message
}

// For returns the message for a connection that speaks switchboard.v1
// (v1) or not.
func (f *Frames) For(v1 bool) *ws.Message {
	if v1 {
		if f.v1 == nil {
			f.v1 = ws.NewMessage(ws.TextFrame(protocol.AppendMessage(nil, f.Data, protocol.Classify(f.Data))))
		}
		return f.v1
	}
	if f.raw == nil {
		f.raw = ws.NewMessage(ws.DataFrame(f.Data))
	}
	return f.raw
}
