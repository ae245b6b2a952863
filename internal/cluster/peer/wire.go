package peer

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// The wire format of the internal endpoint (docs/decisions/0024 §2.4, "As
// built"): a small binary framing, the same for every op.
//
// A request body is
//
//	version   byte (1)
//	target    string   the incarnation the call is addressed to
//	timeout   uvarint  the caller's remaining time in ms (0: none)
//	stage     string
//	... the op's fields, in the order of the op's Forwarder method:
//	post      id string, data bytes
//	get       id string
//	delete    id string
//	join      channel string, id string
//	leave     channel string, id string
//	list      cursor string, limit varint
//	user      user string, op byte, data bytes
//
// where string and bytes are a uvarint length then that many bytes
// (strings are UTF-8 and at most maxField bytes). Nothing may follow the
// last field. A successful answer (200) carries nothing for post, delete,
// join and leave, one connection for get, a count then that many
// connections then the next cursor for list, and the count of connections
// acted on then the listed connections (count, then each) for user. A
// connection is id, connectedAt, lastActiveAt, sourceIP, userAgent, user,
// then the number of channels and each channel; a time is a byte 0 (the
// zero time) or 1 followed by the Unix seconds (varint) and nanoseconds
// (uvarint, below 1e9), so times cross with full precision (in UTC).
//
// Answers have versions of their own, so that a node can add to them
// without breaking a rolling upgrade (docs/decisions/0035). A caller that
// reads answers past version 1 says the highest it reads in the
// headerAnswerVersion request header; the owner answers in the lower of
// that and its own, and names the version in the same header of its
// answer when it is above 1. A node that predates the header ignores it
// and answers version 1 without one; a caller that predates it sends none
// and gets version 1. Version 2 adds to each connection its send queue
// (bytes, uvarint) and its inbox (messages, uvarint), after the channels.

// requestVersion is the version byte of every request body.
const requestVersion = 1

// answerVersion is the highest answer version this node writes and reads.
const answerVersion = 2

// headerAnswerVersion carries, on a request, the highest answer version
// the caller reads and, on an answer above version 1, its version.
const headerAnswerVersion = "X-Switchboard-Answer-Version"

// maxField bounds every string field of a request or an answer: stage,
// connection id, channel, user, cursor, source IP, user agent.
const maxField = 8 << 10

// op is one of the Forwarder's methods.
type op uint8

const (
	opPost op = iota + 1
	opGet
	opDelete
	opJoin
	opLeave
	opList
	opUser
)

var opNames = [...]string{opPost: "post", opGet: "get", opDelete: "delete", opJoin: "join", opLeave: "leave", opList: "list", opUser: "user"}

func (o op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "op?"
}

// opByName returns the op whose path segment is name, or 0.
func opByName(name string) op {
	for i, n := range opNames {
		if n != "" && n == name {
			return op(i)
		}
	}
	return 0
}

// request is one decoded call.
type request struct {
	Op      op
	Target  string
	Timeout time.Duration // the caller's remaining time; 0: none
	Stage   string
	ID      string
	Channel string
	Cursor  string
	Limit   int
	User    string
	UserOp  cluster.UserOp
	Data    []byte
}

// errMalformed is wrapped by every decoding error.
var errMalformed = errors.New("malformed body")

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// appendRequest encodes r's body (its op goes in the path).
func appendRequest(b []byte, r *request) []byte {
	b = append(b, requestVersion)
	b = appendString(b, r.Target)
	ms := uint64(0)
	if r.Timeout > 0 {
		ms = uint64(r.Timeout / time.Millisecond)
		if r.Timeout%time.Millisecond != 0 {
			ms++ // round up: 0 would mean no deadline
		}
	}
	b = appendUvarint(b, ms)
	b = appendString(b, r.Stage)
	switch r.Op {
	case opPost:
		b = appendString(b, r.ID)
		b = appendBytes(b, r.Data)
	case opGet, opDelete:
		b = appendString(b, r.ID)
	case opJoin, opLeave:
		b = appendString(b, r.Channel)
		b = appendString(b, r.ID)
	case opList:
		b = appendString(b, r.Cursor)
		b = binary.AppendVarint(b, int64(r.Limit))
	case opUser:
		b = appendString(b, r.User)
		b = append(b, byte(r.UserOp))
		b = appendBytes(b, r.Data)
	}
	return b
}

// reader decodes fields, keeping the first error; v is the answer version
// it reads (unused for requests).
type reader struct {
	b   []byte
	err error
	v   int
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = errors.Join(errMalformed, errors.New(what))
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what + ": bad or missing number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what + ": bad or missing number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte1(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail(what + ": missing")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// raw returns the next length-prefixed field, at most limit bytes; it
// aliases the input.
func (r *reader) raw(what string, limit int) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(limit) {
		r.fail(what + ": too long")
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(what + ": truncated")
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) str(what string) string {
	p := r.raw(what, maxField)
	if r.err != nil {
		return ""
	}
	if !utf8.Valid(p) {
		r.fail(what + ": not UTF-8")
		return ""
	}
	return string(p)
}

func (r *reader) time(what string) time.Time {
	switch r.byte1(what) {
	case 0:
		return time.Time{}
	case 1:
	default:
		r.fail(what + ": bad time")
		return time.Time{}
	}
	sec := r.varint(what)
	nsec := r.uvarint(what)
	if r.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		r.fail(what + ": bad time")
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.IsZero() {
		r.fail(what + ": the zero time must be sent as such")
	}
	return t
}

// count reads a number of elements, each at least minSize bytes, so that a
// lying count cannot make the decoder allocate more than the input allows.
func (r *reader) count(what string, minSize int) int {
	n := r.uvarint(what)
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/minSize) {
		r.fail(what + ": count larger than the body")
		return 0
	}
	return int(n)
}

func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

// decodeRequest decodes the body of a call to o. Data aliases body.
func decodeRequest(o op, body []byte) (request, error) {
	req := request{Op: o}
	if o == 0 || int(o) >= len(opNames) {
		return req, errors.Join(errMalformed, errors.New("unknown op"))
	}
	r := reader{b: body}
	if v := r.byte1("version"); r.err == nil && v != requestVersion {
		r.fail("unsupported version")
	}
	req.Target = r.str("target")
	ms := r.uvarint("timeout")
	if ms > uint64(math.MaxInt64/int64(time.Millisecond)) {
		r.fail("timeout: too large")
	}
	req.Timeout = time.Duration(ms) * time.Millisecond
	req.Stage = r.str("stage")
	switch o {
	case opPost:
		req.ID = r.str("id")
		req.Data = r.raw("data", math.MaxInt)
	case opGet, opDelete:
		req.ID = r.str("id")
	case opJoin, opLeave:
		req.Channel = r.str("channel")
		req.ID = r.str("id")
	case opList:
		req.Cursor = r.str("cursor")
		l := r.varint("limit")
		if l > math.MaxInt32 || l < math.MinInt32 {
			r.fail("limit: too large")
		}
		req.Limit = int(l)
	case opUser:
		req.User = r.str("user")
		req.UserOp = cluster.UserOp(r.byte1("user op"))
		if r.err == nil && (req.UserOp < cluster.UserPost || req.UserOp > cluster.UserList) {
			r.fail("user op: unknown")
		}
		req.Data = r.raw("data", math.MaxInt)
	}
	return req, r.end()
}

// appendInfo encodes c as answer version v has it.
func appendInfo(b []byte, c *cluster.ConnectionInfo, v int) []byte {
	b = appendString(b, c.ID)
	b = appendTime(b, c.ConnectedAt)
	b = appendTime(b, c.LastActiveAt)
	b = appendString(b, c.SourceIP)
	b = appendString(b, c.UserAgent)
	b = appendString(b, c.User)
	b = appendUvarint(b, uint64(len(c.Channels)))
	for _, ch := range c.Channels {
		b = appendString(b, ch)
	}
	if v >= 2 {
		b = appendUvarint(b, uint64(max(c.SendQueueBytes, 0)))
		b = appendUvarint(b, uint64(max(c.Inbox, 0)))
	}
	return b
}

// minInfo is the smallest encoded connection: six empty strings, two zero
// times and no channels (and, in version 2, two zeros more: counting
// against the smaller bound is safe for both).
const minInfo = 9

func (r *reader) info() cluster.ConnectionInfo {
	var c cluster.ConnectionInfo
	c.ID = r.str("id")
	c.ConnectedAt = r.time("connectedAt")
	c.LastActiveAt = r.time("lastActiveAt")
	c.SourceIP = r.str("sourceIP")
	c.UserAgent = r.str("userAgent")
	c.User = r.str("user")
	if n := r.count("channels", 1); n > 0 {
		c.Channels = make([]string, 0, n)
		for range n {
			c.Channels = append(c.Channels, r.str("channel"))
		}
	}
	if r.v >= 2 {
		c.SendQueueBytes = r.size("sendQueueBytes")
		c.Inbox = r.size("inbox")
	}
	return c
}

// size reads a non-negative count that fits an int32.
func (r *reader) size(what string) int {
	n := r.uvarint(what)
	if n > math.MaxInt32 {
		r.fail(what + ": too large")
		return 0
	}
	return int(n)
}

func (r *reader) infos() []cluster.ConnectionInfo {
	n := r.count("connections", minInfo)
	if n == 0 {
		return nil
	}
	cs := make([]cluster.ConnectionInfo, 0, n)
	for range n {
		cs = append(cs, r.info())
	}
	return cs
}

func appendInfos(b []byte, cs []cluster.ConnectionInfo, v int) []byte {
	b = appendUvarint(b, uint64(len(cs)))
	for i := range cs {
		b = appendInfo(b, &cs[i], v)
	}
	return b
}

func appendPage(b []byte, p *cluster.ConnectionPage, v int) []byte {
	b = appendInfos(b, p.Connections, v)
	return appendString(b, p.Next)
}

func appendUserResult(b []byte, u *cluster.UserResult, v int) []byte {
	b = appendUvarint(b, uint64(max(u.Count, 0)))
	return appendInfos(b, u.Connections, v)
}

func decodeInfo(body []byte, v int) (cluster.ConnectionInfo, error) {
	r := reader{b: body, v: v}
	c := r.info()
	return c, r.end()
}

func decodePage(body []byte, v int) (cluster.ConnectionPage, error) {
	r := reader{b: body, v: v}
	var p cluster.ConnectionPage
	p.Connections = r.infos()
	p.Next = r.str("next")
	return p, r.end()
}

func decodeUserResult(body []byte, v int) (cluster.UserResult, error) {
	r := reader{b: body, v: v}
	var u cluster.UserResult
	u.Count = r.size("count")
	u.Connections = r.infos()
	return u, r.end()
}
