package redcluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// The envelope is what a shard channel carries: one cluster.Message. It is
// built partly by the client (member, exclude, data) and partly inside the
// publish script (offset and epoch, known only there), so its head is text
// a Lua script can concatenate:
//
//	envelope = kind offset ':' epoch ':' member exclude [named] data
//	kind     = one byte, cluster.Kind (1 Publication, 2 Join, 3 Leave),
//	           plus namedFlag (0x80) when named follows exclude
//	offset   = decimal digits, empty without history
//	epoch    = the stream's epoch, empty without history (never contains ':')
//	member   = str(id) str(user) str(info)
//	exclude  = str(connection id), empty for none
//	named    = str(event name) str(publisher's user id), only when the kind
//	           byte has namedFlag
//	data     = the rest; for Join and Leave the user edge instead:
//	           "1" when Message.UserEdge, empty otherwise
//	str(s)   = uvarint(len(s)) s
//
// A message without a name or user is encoded without the flag and the
// named section, byte for byte as before they existed, so nodes of an
// earlier release read every publication that does not use them.
//
// A member as kept in a channel's :pi hash (presence) is
//
//	flag inc member
//
// with flag '1' when its Join asked for notices ('0' otherwise) and inc the
// 8-character incarnation that holds it, so a script can build a Leave
// notice from it without decoding: kind "::" .. member .. "\0" .. edge.

// namedFlag marks, in the kind byte, an envelope with the named section.
const namedFlag = 0x80

// kindByte is the envelope's first byte for m.
func kindByte(m cluster.Message) byte {
	if m.Name != "" || m.User != "" {
		return byte(m.Kind) | namedFlag
	}
	return byte(m.Kind)
}

// maxOffsetDigits bounds the offset field (uint64 has at most 20 digits).
const maxOffsetDigits = 20

var errEnvelope = errors.New("redcluster: malformed envelope")

// appendStr appends uvarint(len(s)) s.
func appendStr(b []byte, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendMember appends the member section.
func appendMember(b []byte, m cluster.Member) []byte {
	b = appendStr(b, []byte(m.ID))
	b = appendStr(b, []byte(m.User))
	return appendStr(b, m.Info)
}

// envelopeMiddle is what follows the head for m, without the data: member,
// exclude and, when kindByte(m) says so, named.
func envelopeMiddle(m cluster.Message) []byte {
	b := make([]byte, 0, 12+len(m.Member.ID)+len(m.Member.User)+len(m.Member.Info)+len(m.Exclude)+len(m.Name)+len(m.User))
	b = appendMember(b, m.Member)
	b = appendStr(b, []byte(m.Exclude))
	if kindByte(m)&namedFlag != 0 {
		b = appendStr(b, []byte(m.Name))
		b = appendStr(b, []byte(m.User))
	}
	return b
}

// encodeEnvelope builds a whole envelope client-side (broadcasts, tests).
func encodeEnvelope(m cluster.Message) []byte {
	b := []byte{kindByte(m)}
	if m.Offset != 0 {
		b = strconv.AppendUint(b, m.Offset, 10)
	}
	b = append(b, ':')
	b = append(b, m.Epoch...)
	b = append(b, ':')
	b = append(b, envelopeMiddle(m)...)
	if m.Kind == cluster.Join || m.Kind == cluster.Leave {
		if m.UserEdge {
			b = append(b, '1')
		}
		return b
	}
	return append(b, m.Data...)
}

// decoder reads the variable part of an envelope.
type decoder struct {
	s   string
	err error
}

func (d *decoder) str() string {
	if d.err != nil {
		return ""
	}
	n, k := uvarint(d.s)
	if k <= 0 || n > uint64(len(d.s)-k) {
		d.err = errEnvelope
		return ""
	}
	v := d.s[k : k+int(n)]
	d.s = d.s[k+int(n):]
	return v
}

// uvarint is binary.Uvarint on a string (no copy).
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -1
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

func (d *decoder) member() cluster.Member {
	id, user, info := d.str(), d.str(), d.str()
	m := cluster.Member{ID: id, User: user}
	if info != "" {
		m.Info = []byte(info)
	}
	return m
}

// decodeEnvelope parses an envelope. It never panics: anything that is not
// an envelope gives an error.
func decodeEnvelope(s string) (cluster.Message, error) {
	if len(s) < 3 {
		return cluster.Message{}, errEnvelope
	}
	var m cluster.Message
	m.Kind = cluster.Kind(s[0] &^ namedFlag)
	if m.Kind < cluster.Publication || m.Kind > cluster.Leave {
		return cluster.Message{}, fmt.Errorf("%w: kind %d", errEnvelope, s[0])
	}
	rest := s[1:]
	offText, rest, ok := strings.Cut(rest, ":")
	if !ok || len(offText) > maxOffsetDigits {
		return cluster.Message{}, errEnvelope
	}
	m.Epoch, rest, ok = strings.Cut(rest, ":")
	if !ok {
		return cluster.Message{}, errEnvelope
	}
	if offText != "" {
		off, err := strconv.ParseUint(offText, 10, 64)
		if err != nil || off == 0 || offText[0] == '+' {
			return cluster.Message{}, errEnvelope
		}
		m.Offset = off
	}
	// An offset belongs to an epoch and back.
	if (m.Offset == 0) != (m.Epoch == "") {
		return cluster.Message{}, errEnvelope
	}
	d := decoder{s: rest}
	m.Member = d.member()
	m.Exclude = d.str()
	if s[0]&namedFlag != 0 {
		m.Name, m.User = d.str(), d.str()
	}
	if d.err != nil {
		return cluster.Message{}, d.err
	}
	if m.Kind == cluster.Join || m.Kind == cluster.Leave {
		switch d.s {
		case "":
		case "1":
			m.UserEdge = true
		default:
			return cluster.Message{}, fmt.Errorf("%w: user edge %q", errEnvelope, d.s)
		}
		return m, nil
	}
	if d.s != "" {
		m.Data = []byte(d.s)
	}
	return m, nil
}

// storedMember is a member as kept in :pi: flag, incarnation, member.
func storedMember(m cluster.Member, inc string, notice bool) []byte {
	flag := byte('0')
	if notice {
		flag = '1'
	}
	b := make([]byte, 0, 1+len(inc)+8+len(m.ID)+len(m.User)+len(m.Info))
	b = append(b, flag)
	b = append(b, inc...)
	return appendMember(b, m)
}

// decodeStored parses a :pi value.
func decodeStored(s string) (m cluster.Member, inc string, notice bool, err error) {
	if len(s) < 1+incLen || (s[0] != '0' && s[0] != '1') {
		return cluster.Member{}, "", false, errEnvelope
	}
	d := decoder{s: s[1+incLen:]}
	m = d.member()
	if d.err != nil || d.s != "" {
		return cluster.Member{}, "", false, errEnvelope
	}
	return m, s[1 : 1+incLen], s[0] == '1', nil
}

// incLen is the length of an incarnation in keys and stored members.
const incLen = 8
