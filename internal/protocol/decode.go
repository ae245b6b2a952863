package protocol

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"unicode/utf8"
)

// b64 decodes "b64" payloads: standard alphabet, padding required, unused
// bits zero, so each payload has exactly one encoding. Read-only.
var b64 = base64.StdEncoding.Strict()

// span is the bounds of a member's value in the frame; end == 0 when the
// member is absent (a value never ends at offset 0).
type span struct{ start, end int }

func (s span) present() bool { return s.end > 0 }

// members holds the values of the known top-level members of a message.
type members struct {
	typ, id, channel, recover, data, text, b64, excludeSelf, token span
	dup                                                            string // the first known key seen twice
}

// slot returns where to record the member named key, or nil for an
// unknown key, along with the key's name for error messages.
func (m *members) slot(key []byte) (*span, string) {
	switch string(key) {
	case "type":
		return &m.typ, "type"
	case "id":
		return &m.id, "id"
	case "channel":
		return &m.channel, "channel"
	case "recover":
		return &m.recover, "recover"
	case "data":
		return &m.data, "data"
	case "text":
		return &m.text, "text"
	case "b64":
		return &m.b64, "b64"
	case "excludeSelf":
		return &m.excludeSelf, "excludeSelf"
	case "token":
		return &m.token, "token"
	}
	return nil, ""
}

// Decode parses one client text frame: a JSON object, optionally
// surrounded by whitespace.
//
// On success it returns the message and its id (Message.ID). On failure
// it returns the zero Message, the message's id when it could be read (the
// frame is a JSON object with a valid, single "id"; 0 otherwise), so that
// the caller can reply to it, and an *Error with CodeBadRequest whose
// Message says what is wrong, for the client.
//
// The rules, beyond docs/protocol.md: member names are case-sensitive and
// compared after decoding escapes ("\u0074ype" is "type"); unknown members
// are ignored but must be valid JSON; a known member given twice is an
// error; members a type does not use are ignored, whatever their value;
// null is not accepted for any member but "data" (where it is the
// payload); strings must be valid UTF-8, and \u escapes of unpaired
// surrogates decode to U+FFFD, as with encoding/json; arrays and objects
// may nest at most 10,000 deep, as with encoding/json. Of several
// problems the first in this order is reported: JSON syntax, "id", a
// duplicate member, "type", "channel", then the members of the type.
//
// Decode never panics. Message.Payload may share memory with frame.
func Decode(frame []byte) (Message, uint64, error) {
	var m members
	if err := m.scan(frame); err != nil {
		return Message{}, 0, err
	}

	var id uint64
	if m.dup == "id" {
		return Message{}, 0, badRequest(`duplicate "id"`)
	}
	if m.id.present() {
		n, ok := parseUint(frame[m.id.start:m.id.end])
		if !ok || n == 0 || n > MaxID {
			return Message{}, 0, badRequest(`"id" must be an integer from 1 to 9007199254740991`)
		}
		id = n
	}
	msg, err := m.message(frame)
	if err != nil {
		return Message{}, id, err
	}
	msg.ID = id
	return msg, id, nil
}

// scan checks that frame is one JSON object and records its known
// members.
func (m *members) scan(frame []byte) *Error {
	i := skipSpace(frame, 0)
	if i >= len(frame) {
		return badRequest("empty message, want a JSON object")
	}
	if frame[i] != '{' {
		end, err := scanValue(frame, i, 0)
		if err != nil {
			return err
		}
		if j := skipSpace(frame, end); j < len(frame) {
			return unexpected(frame, j, "the end after the value")
		}
		return badRequest("message must be a JSON object, not " + kindOf(frame[i]))
	}
	i = skipSpace(frame, i+1)
	if i < len(frame) && frame[i] == '}' {
		i++
	} else {
		for {
			kend, escaped, vstart, err := scanKey(frame, i)
			if err != nil {
				return err
			}
			vend, err := scanValue(frame, vstart, 1)
			if err != nil {
				return err
			}
			key := frame[i+1 : kend-1]
			if escaped {
				var buf [32]byte
				key = unescape(buf[:0], key)
			}
			if s, name := m.slot(key); s != nil {
				if s.present() && m.dup == "" {
					m.dup = name
				}
				*s = span{vstart, vend}
			}
			i = skipSpace(frame, vend)
			if i < len(frame) && frame[i] == ',' {
				i = skipSpace(frame, i+1)
				continue
			}
			if i < len(frame) && frame[i] == '}' {
				i++
				break
			}
			return unexpected(frame, i, "',' or '}'")
		}
	}
	if j := skipSpace(frame, i); j < len(frame) {
		return unexpected(frame, j, "the end after the object")
	}
	return nil
}

// kindOf names the kind of JSON value that starts with c.
func kindOf(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// message interprets the members recorded by scan (all valid JSON) for
// the message's type. It leaves ID to the caller.
func (m *members) message(frame []byte) (Message, *Error) {
	var msg Message
	if m.dup != "" {
		return msg, badRequest(`duplicate "` + m.dup + `"`)
	}
	if !m.typ.present() {
		return msg, badRequest(`message needs "type"`)
	}
	typ, ok := stringContent(frame, m.typ)
	if !ok {
		return msg, badRequest(`"type" must be a string`)
	}
	switch string(typ) {
	case "subscribe":
		msg.Type = TypeSubscribe
	case "unsubscribe":
		msg.Type = TypeUnsubscribe
	case "publish":
		msg.Type = TypePublish
	case "presence":
		msg.Type = TypePresence
	case "ping":
		msg.Type = TypePing
		return msg, nil
	case "refresh":
		msg.Type = TypeRefresh
		if !m.token.present() {
			return msg, badRequest(`refresh needs "token"`)
		}
		tok, ok := stringContent(frame, m.token)
		if !ok {
			return msg, badRequest(`"token" must be a string`)
		}
		msg.Token = string(tok)
		return msg, nil
	default:
		return msg, badRequest("unknown type " + quoteShort(typ))
	}

	if !m.channel.present() {
		return msg, badRequest(msg.Type.String() + ` needs "channel"`)
	}
	channel, ok := stringContent(frame, m.channel)
	if !ok {
		return msg, badRequest(`"channel" must be a string`)
	}
	msg.Channel = string(channel)

	switch msg.Type {
	case TypeSubscribe:
		if m.recover.present() {
			pos, err := parseRecover(frame[m.recover.start:m.recover.end])
			if err != nil {
				return msg, err
			}
			msg.Recover = pos
		}
	case TypePublish:
		var err *Error
		if msg.Payload, err = m.payload(frame); err != nil {
			return msg, err
		}
		if m.excludeSelf.present() {
			switch string(frame[m.excludeSelf.start:m.excludeSelf.end]) {
			case "true":
				msg.ExcludeSelf = true
			case "false":
			default:
				return msg, badRequest(`"excludeSelf" must be true or false`)
			}
		}
	}
	return msg, nil
}

// payload returns the bytes a publish message carries.
func (m *members) payload(frame []byte) ([]byte, *Error) {
	n := 0
	for _, s := range [...]span{m.data, m.text, m.b64} {
		if s.present() {
			n++
		}
	}
	if n != 1 {
		return nil, badRequest(`publish needs exactly one of "data", "text", "b64"`)
	}
	switch {
	case m.data.present():
		return frame[m.data.start:m.data.end:m.data.end], nil
	case m.text.present():
		text, ok := stringContent(frame, m.text)
		if !ok {
			return nil, badRequest(`"text" must be a string`)
		}
		return text, nil
	default:
		enc, ok := stringContent(frame, m.b64)
		if !ok {
			return nil, badRequest(`"b64" must be a string`)
		}
		// The decoder skips line breaks; a payload has one encoding.
		if bytes.ContainsAny(enc, "\r\n") {
			return nil, badRequest(`"b64" must be standard base64 with padding, without line breaks`)
		}
		out := make([]byte, b64.DecodedLen(len(enc)))
		n, err := b64.Decode(out, enc)
		if err != nil {
			return nil, badRequest(`"b64" must be standard base64 with padding`)
		}
		return out[:n:n], nil
	}
}

// parseRecover parses the "recover" object raw (valid JSON).
func parseRecover(raw []byte) (*Position, *Error) {
	if raw[0] != '{' {
		return nil, badRequest(`"recover" must be an object with "epoch" and "offset"`)
	}
	var epoch, offset span
	i := skipSpace(raw, 1)
	for i < len(raw) && raw[i] != '}' {
		kend, escaped, vstart, err := scanKey(raw, i)
		if err != nil {
			return nil, err // not reached: raw is valid
		}
		vend, err := scanValue(raw, vstart, 2)
		if err != nil {
			return nil, err // not reached: raw is valid
		}
		key := raw[i+1 : kend-1]
		if escaped {
			var buf [32]byte
			key = unescape(buf[:0], key)
		}
		var s *span
		switch string(key) {
		case "epoch":
			s = &epoch
		case "offset":
			s = &offset
		}
		if s != nil {
			if s.present() {
				return nil, badRequest(`duplicate "` + string(key) + `" in "recover"`)
			}
			*s = span{vstart, vend}
		}
		if i = skipSpace(raw, vend); i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	if !epoch.present() {
		return nil, badRequest(`"recover" needs "epoch"`)
	}
	if !offset.present() {
		return nil, badRequest(`"recover" needs "offset"`)
	}
	e, ok := stringContent(raw, epoch)
	if !ok {
		return nil, badRequest(`"epoch" in "recover" must be a string`)
	}
	off, ok := parseUint(raw[offset.start:offset.end])
	if !ok {
		return nil, badRequest(`"offset" in "recover" must be an integer from 0 to 18446744073709551615`)
	}
	return &Position{Epoch: string(e), Offset: off}, nil
}

// stringContent returns the decoded contents of the value at s when it is
// a string. It aliases frame unless the string holds escapes.
func stringContent(frame []byte, s span) ([]byte, bool) {
	if frame[s.start] != '"' {
		return nil, false
	}
	raw := frame[s.start+1 : s.end-1 : s.end-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw, true
	}
	return unescape(make([]byte, 0, len(raw)), raw), true
}

// parseUint parses raw as a JSON integer without sign, fraction or
// exponent.
func parseUint(raw []byte) (uint64, bool) {
	if len(raw) == 0 || len(raw) > 20 || (raw[0] == '0' && len(raw) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// quoteShort quotes s for an error message, cut to 64 bytes at a rune
// boundary.
func quoteShort(s []byte) string {
	const limit = 64
	if len(s) <= limit {
		return strconv.Quote(string(s))
	}
	n := limit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strconv.Quote(string(s[:n])) + "…"
}
