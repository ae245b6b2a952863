package authorizer

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/switchboardhq/switchboard/internal/event"
)

// The identity source syntax of WebSocket APIs (§5.1 of the AWS
// reference): route.request.header.NAME and route.request.querystring.NAME.
const (
	headerPrefix = "route.request.header."
	queryPrefix  = "route.request.querystring."
)

// identitySource is one parsed entry of config.Authorizer.IdentitySources.
type identitySource struct {
	spec   string // as configured, for messages
	header bool   // a header (name matched without regard to case); else a query parameter
	name   string
}

// parseIdentitySource accepts what AWS accepts for a WebSocket API that
// Switchboard can evaluate, and explains the syntaxes people bring from
// HTTP and REST APIs.
func parseIdentitySource(s string) (identitySource, error) {
	switch {
	case strings.HasPrefix(s, headerPrefix):
		name := s[len(headerPrefix):]
		if !validHeaderName(name) {
			return identitySource{}, fmt.Errorf("%q: %q is not a valid header name", s, name)
		}
		return identitySource{spec: s, header: true, name: name}, nil
	case strings.HasPrefix(s, queryPrefix):
		name := s[len(queryPrefix):]
		if name == "" {
			return identitySource{}, fmt.Errorf("%q: the query parameter name is empty", s)
		}
		return identitySource{spec: s, name: name}, nil
	}
	for _, alt := range []struct{ prefix, api, fix string }{
		{"$request.header.", "HTTP API", headerPrefix},
		{"$request.querystring.", "HTTP API", queryPrefix},
		{"method.request.header.", "REST API", headerPrefix},
		{"method.request.querystring.", "REST API", queryPrefix},
	} {
		if len(s) >= len(alt.prefix) && strings.EqualFold(s[:len(alt.prefix)], alt.prefix) {
			return identitySource{}, fmt.Errorf("%q is the %s syntax; WebSocket APIs write %s%s", s, alt.api, alt.fix, s[len(alt.prefix):])
		}
	}
	for _, p := range []string{headerPrefix, queryPrefix} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return identitySource{}, fmt.Errorf("%q: the prefix is case-sensitive; write %s%s", s, p, s[len(p):])
		}
	}
	switch {
	case strings.HasPrefix(s, "stageVariables."):
		return identitySource{}, fmt.Errorf("%q: Switchboard has no stage variables; use %sNAME or %sNAME", s, headerPrefix, queryPrefix)
	case strings.HasPrefix(s, "context."):
		return identitySource{}, fmt.Errorf("%q: context variables are not supported as identity sources; use %sNAME or %sNAME", s, headerPrefix, queryPrefix)
	}
	return identitySource{}, fmt.Errorf("%q: want %sNAME or %sNAME", s, headerPrefix, queryPrefix)
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// appendValues appends the source's values in the handshake to dst, in a
// form that cannot be confused with other values (a count, then each value
// with its length), and reports whether the source is present: AWS needs
// every identity source "present in the request, not null, and non-empty".
// The value that must be non-empty is the one the event's "headers" or
// "queryStringParameters" shows, the last; the key holds all of them, so
// that two handshakes that differ in any value never share a decision.
func (s *identitySource) appendValues(dst []byte, headers []event.HeaderField, query []event.QueryParam) ([]byte, bool) {
	n, last := 0, ""
	if s.header {
		for _, h := range headers {
			if strings.EqualFold(h.Name, s.name) {
				n, last = n+1, h.Value
			}
		}
	} else {
		for _, q := range query {
			if q.Name == s.name {
				n, last = n+1, q.Value
			}
		}
	}
	if last == "" {
		return dst, false
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	if s.header {
		for _, h := range headers {
			if strings.EqualFold(h.Name, s.name) {
				dst = appendValue(dst, h.Value)
			}
		}
	} else {
		for _, q := range query {
			if q.Name == s.name {
				dst = appendValue(dst, q.Value)
			}
		}
	}
	return dst, true
}

func appendValue(dst []byte, v string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}
