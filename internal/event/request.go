package event

import (
	"slices"
	"time"
)

// Identity is requestContext.identity. AWS's 2024 captures carry sourceIp
// always and userAgent only when the client sent a User-Agent header, so an
// empty UserAgent is omitted from the JSON.
type Identity struct {
	// SourceIP is the client's IP address, without a port.
	SourceIP string
	// UserAgent is the client's User-Agent header; empty when it sent none.
	UserAgent string
}

// Connection is what stays fixed for the life of a connection. The gateway
// fills it in once, before the $connect event, and must not modify it
// afterwards: every Request built from it keeps a pointer to it.
type Connection struct {
	// ID is requestContext.connectionId (see NewID).
	ID string
	// APIID is requestContext.apiId.
	APIID string
	// Stage is requestContext.stage.
	Stage string
	// DomainName is requestContext.domainName.
	DomainName string
	// ConnectedAt is requestContext.connectedAt (written in milliseconds).
	ConnectedAt time.Time
	// Identity is requestContext.identity.
	Identity Identity
	// Authorizer is requestContext.authorizer. Nil means no "authorizer"
	// key at all. Values should be what decoding JSON produces (string,
	// float64, bool, nil, map[string]any, []any); other types are encoded
	// with encoding/json and written as null if that fails. Keys are
	// written sorted, like encoding/json does. Reserved for the authorizer
	// issue; events with an authorizer allocate while encoding.
	Authorizer map[string]any
}

// HeaderField is one header line of the client's handshake, with the name
// spelled as the client sent it.
type HeaderField struct{ Name, Value string }

// QueryParam is one parameter of the handshake's query string, already
// percent-decoded, in the order the client sent it.
type QueryParam struct{ Name, Value string }

// kind is the requestContext.eventType of a Request.
type kind uint8

const (
	kindConnect kind = iota + 1
	kindMessage
	kindDisconnect
	kindAuthorizer // the REQUEST authorizer event (authorizer.go)
)

// Event types, as written in requestContext.eventType.
const (
	EventConnect    = "CONNECT"
	EventMessage    = "MESSAGE"
	EventDisconnect = "DISCONNECT"
)

// Route keys of the events that are not selected by the route selection
// expression.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
)

// Request is one Lambda proxy event for a WebSocket route, built by Connect,
// Message or Disconnect and written with AppendJSON. It is immutable after
// construction and safe to encode from several goroutines at once (for
// example a retried $disconnect).
type Request struct {
	conn      *Connection
	kind      kind
	routeKey  string
	requestID string // requestId and extendedRequestId
	messageID string // MESSAGE only
	eventType string // overrides the kind's eventType (channel requests)
	time      time.Time

	// CONNECT: the handshake headers and query, grouped by name.
	headers []field
	query   []field

	// MESSAGE: the frame payload, retained, not copied.
	body     []byte
	isBase64 bool

	// DISCONNECT.
	code   int
	reason string
	host   string

	// AUTHORIZER: methodArn (headers and query as for CONNECT).
	methodARN string
}

// field is one name of headers/multiValueHeaders or of the query maps with
// all its values in order.
type field struct {
	name   string
	values []string
}

// Connect builds the $connect event. headers are the handshake headers as
// the integration should see them, in the client's order and case (AWS
// drops Connection and Upgrade and adds X-Amzn-Trace-Id and
// X-Forwarded-For/-Port/-Proto; that is the caller's job). Names that differ only in
// ASCII case are one header, written with the spelling of its first
// occurrence, its last value in "headers" and all its values, in order, in
// "multiValueHeaders". Headers are written sorted by name without regard to
// case, the order of every AWS capture (Host, x-api-key, X-Forwarded-For,
// ...). query is the parsed query string; the query maps are written, in
// the client's order, only when it is non-empty, with the last value of a
// repeated name in "queryStringParameters"; query names are case-sensitive.
// The slices are not retained.
func Connect(c *Connection, now time.Time, requestID string, headers []HeaderField, query []QueryParam) *Request {
	r := &Request{
		conn:      c,
		kind:      kindConnect,
		routeKey:  RouteConnect,
		requestID: requestID,
		time:      now,
	}
	r.headers = groupFields(len(headers), func(i int) (string, string) { return headers[i].Name, headers[i].Value }, true)
	slices.SortStableFunc(r.headers, func(a, b field) int { return compareFold(a.name, b.name) })
	if len(query) > 0 {
		r.query = groupFields(len(query), func(i int) (string, string) { return query[i].Name, query[i].Value }, false)
	}
	return r
}

// Message builds a MESSAGE event for routeKey (a custom key or "$default").
// body is the raw frame payload and is retained, not copied: the caller must
// not modify it while the Request is in use. If isBase64 is true the caller
// has already base64-encoded body and isBase64Encoded is written as true.
func Message(c *Connection, now time.Time, requestID, messageID, routeKey string, body []byte, isBase64 bool) *Request {
	return &Request{
		conn:      c,
		kind:      kindMessage,
		routeKey:  routeKey,
		requestID: requestID,
		messageID: messageID,
		time:      now,
		body:      body,
		isBase64:  isBase64,
	}
}

// Event types and route keys of the channel requests that Switchboard
// sends to a namespace's authorizer integration (not AWS events).
const (
	EventSubscribe = "SUBSCRIBE"
	EventPublish   = "PUBLISH"
	RouteSubscribe = "$subscribe"
	RoutePublish   = "$publish"
)

// ChannelRequest builds the event that asks a namespace's authorizer
// whether a connection may subscribe (eventType SUBSCRIBE, routeKey
// $subscribe) or publish (PUBLISH, $publish). It is shaped like a MESSAGE
// event; body is the request as JSON (docs/configuration.md describes it)
// and is retained.
func ChannelRequest(c *Connection, now time.Time, requestID, routeKey, eventType string, body []byte) *Request {
	r := Message(c, now, requestID, requestID, routeKey, body, false)
	r.eventType = eventType
	return r
}

// Disconnect builds the $disconnect event. code and reason are the close
// code and reason written as disconnectStatusCode and disconnectReason.
// host is the value of the fixed "Host" header AWS sends on $disconnect
// (the API's host name); the other three fixed headers, x-api-key,
// X-Forwarded-For and x-restapi, are empty as in every AWS capture.
func Disconnect(c *Connection, now time.Time, requestID string, code int, reason string, host string) *Request {
	return &Request{
		conn:      c,
		kind:      kindDisconnect,
		routeKey:  RouteDisconnect,
		requestID: requestID,
		time:      now,
		code:      code,
		reason:    reason,
		host:      host,
	}
}

// RouteKey returns requestContext.routeKey.
func (r *Request) RouteKey() string { return r.routeKey }

// RequestID returns requestContext.requestId (equal to extendedRequestId).
func (r *Request) RequestID() string { return r.requestID }

// EventType returns requestContext.eventType: EventConnect, EventMessage or
// EventDisconnect.
func (r *Request) EventType() string {
	if r.eventType != "" {
		return r.eventType
	}
	switch r.kind {
	case kindConnect:
		return EventConnect
	case kindMessage:
		return EventMessage
	case kindDisconnect:
		return EventDisconnect
	}
	return ""
}

// Connection returns the connection the event belongs to.
func (r *Request) Connection() *Connection { return r.conn }

// groupFieldsLinearMax is the size up to which groupFields looks names up
// by scanning; larger inputs use a map so a handshake with many headers
// cannot make grouping quadratic.
const groupFieldsLinearMax = 16

// groupFields groups n name/value pairs by name, keeping the order of first
// occurrence and, with fold, treating names that differ in ASCII case as
// one (written with the first spelling).
func groupFields(n int, at func(int) (string, string), fold bool) []field {
	if n == 0 {
		return nil
	}
	out := make([]field, 0, n)
	var index map[string]int
	if n > groupFieldsLinearMax {
		index = make(map[string]int, n)
	}
	for i := range n {
		name, value := at(i)
		key := name
		if fold && index != nil {
			key = asciiLower(name)
		}
		j := -1
		if index != nil {
			if k, ok := index[key]; ok {
				j = k
			}
		} else {
			for k := range out {
				if out[k].name == name || fold && asciiEqualFold(out[k].name, name) {
					j = k
					break
				}
			}
		}
		if j < 0 {
			if index != nil {
				index[key] = len(out)
			}
			out = append(out, field{name: name, values: []string{value}})
			continue
		}
		out[j].values = append(out[j].values, value)
	}
	return out
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// compareFold orders names by their ASCII-lowercased bytes, as Java's
// String.CASE_INSENSITIVE_ORDER does for ASCII.
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := lowerASCII(a[i]), lowerASCII(b[i])
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
