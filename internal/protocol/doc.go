// Package protocol decodes the client messages and encodes the server
// messages of switchboard.v1, the JSON protocol over WebSocket that gives
// clients channels: subscribe, publish, presence and recovery of missed
// publications. docs/protocol.md is the specification; this package is its
// wire format only. Authorization, channel names, namespaces and
// membership belong to the hub.
//
// # Decoding
//
// Decode turns one text frame into a Message, or into an *Error with code
// 400 that says precisely what is wrong, along with the message's id when
// it could be read, so the caller can answer with a reply (id known) or an
// error message (id unknown). Decode is a strict scanner over the frame's
// bytes rather than encoding/json: member names are case-sensitive,
// duplicate known members are rejected, and a subscribe storm decodes
// without reflection — the only allocations are the channel name and,
// when given, the recovery position (see BenchmarkDecodeSubscribe).
//
// # Encoding
//
// The Append functions build server messages and result objects in the
// strconv.Append style and allocate only to grow dst, so the hub can
// encode a publication once (AppendPub) and queue the same bytes on every
// subscriber. Strings are escaped with internal/jsonenc.
//
// # Payloads
//
// A publication is bytes. Classify decides once per publication which
// field carries them to switchboard.v1 clients: "data" for valid JSON
// (embedded without the whitespace around it), "text" for other valid
// UTF-8, "b64" for the rest. A published payload is the raw JSON of
// "data" (whitespace around it trimmed), the decoded string of "text" or
// the decoded bytes of "b64", so a subscriber receives what was published
// — in the field its bytes call for, which is not always the field the
// publisher used ("text": "42" arrives as "data": 42).
//
// # Concurrency
//
// The package has no mutable state; every function is safe for
// concurrent use. Decode does not keep frame, but Message.Payload may
// share memory with it.
package protocol
