package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Response is what an integration returned, either read from a Lambda proxy
// response object (Proxy true) or taken from a plain HTTP reply.
type Response struct {
	// StatusCode is between 100 and 599.
	StatusCode int
	// Headers and MultiValueHeaders are as the integration sent them (for
	// a plain HTTP reply: the first value of each header, and all values,
	// under Go's canonical names). Either may be nil.
	Headers           map[string]string
	MultiValueHeaders map[string][]string
	// Body is the response body, already base64-decoded when
	// IsBase64Encoded. Nil or empty when there was none.
	Body []byte
	// IsBase64Encoded reports that the integration declared its body
	// binary ("isBase64Encoded": true).
	IsBase64Encoded bool
	// Proxy is true when the response was read from a Lambda proxy
	// response object.
	Proxy bool
}

// Header returns the first value of the header name, matched without
// regard to case, from Headers and then from MultiValueHeaders; "" when
// there is none. If several keys match (say "x-a" and "X-A") the exact
// spelling wins, then the lexically smallest key, so the answer does not
// depend on map order.
func (r *Response) Header(name string) string {
	if v, ok := r.Headers[name]; ok {
		return v
	}
	if k, ok := foldKey(r.Headers, name); ok {
		return r.Headers[k]
	}
	if vs, ok := r.MultiValueHeaders[name]; ok && len(vs) > 0 {
		return vs[0]
	}
	if k, ok := foldKey(r.MultiValueHeaders, name); ok && len(r.MultiValueHeaders[k]) > 0 {
		return r.MultiValueHeaders[k][0]
	}
	return ""
}

func foldKey[V any](m map[string]V, name string) (string, bool) {
	best, found := "", false
	for k := range m {
		if strings.EqualFold(k, name) && (!found || k < best) {
			best, found = k, true
		}
	}
	return best, found
}

// ErrMalformedResponse is wrapped by every error ParseProxy returns, and by
// ParseHTTP's errors for a malformed Lambda proxy response object. The
// error text says what was wrong.
var ErrMalformedResponse = errors.New("malformed backend response")

type malformedError struct{ reason string }

func (e *malformedError) Error() string { return "backend response: " + e.reason }
func (e *malformedError) Unwrap() error { return ErrMalformedResponse }

func malformed(format string, args ...any) error {
	return &malformedError{reason: fmt.Sprintf(format, args...)}
}

// StatusError is ParseHTTP's error for a plain HTTP reply (not a Lambda
// proxy response object) whose status is 500 or more, or not a valid HTTP
// status at all: Switchboard treats it as a failed integration, as AWS
// treats a Lambda function that threw.
type StatusError struct {
	// StatusCode is the HTTP status the backend answered with.
	StatusCode int
	// Body holds at most the first 256 bytes of the reply body, for logs.
	Body []byte
}

const statusErrorBodyMax = 256

func (e *StatusError) Error() string {
	var b strings.Builder
	b.WriteString("backend response: HTTP ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.StatusCode < 100 || e.StatusCode > 599 {
		b.WriteString(" is not a valid HTTP status (want 100-599)")
	} else {
		if t := http.StatusText(e.StatusCode); t != "" {
			b.WriteString(" " + t)
		}
		b.WriteString(" (a plain reply with status 500 or more is an integration failure; to send a 5xx on purpose, answer with a Lambda proxy object)")
	}
	if len(e.Body) > 0 {
		fmt.Fprintf(&b, "; body starts %q", e.Body)
	}
	return b.String()
}

// ParseProxy reads a Lambda proxy response object:
//
//	{"statusCode": 200, "headers": {...}, "multiValueHeaders": {...}, "body": "...", "isBase64Encoded": false}
//
// statusCode is required and must be an integer from 100 to 599 (200.0 and
// 2e2 are integers). headers must map names to strings, multiValueHeaders
// names to arrays of strings; body must be a string, isBase64Encoded a
// boolean. Any member but statusCode may be absent or null (aws-lambda-go
// writes null maps). Members are matched case-sensitively; unknown members
// are ignored; of duplicate members the last counts, as in encoding/json.
// When isBase64Encoded is true, body must be standard base64 (line breaks
// allowed) and Response.Body holds the decoded bytes. Errors wrap
// ErrMalformedResponse and say what was wrong.
func ParseProxy(b []byte) (*Response, error) {
	t := trimJSONSpace(b)
	if len(t) == 0 {
		return nil, malformed(`the reply is empty, want a JSON object like {"statusCode": 200}`)
	}
	if t[0] != '{' {
		if !json.Valid(t) {
			return nil, malformed(`the reply is not valid JSON, want an object like {"statusCode": 200}`)
		}
		return nil, malformed(`the reply is %s, want a JSON object like {"statusCode": 200}`, describe(t))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, malformed("the reply is not valid JSON: %v", err)
	}
	return parseProxyMembers(m)
}

func parseProxyMembers(m map[string]json.RawMessage) (*Response, error) {
	resp := &Response{Proxy: true}

	raw, ok := m["statusCode"]
	if !ok {
		return nil, malformed("statusCode is missing, want an integer between 100 and 599")
	}
	if describe(raw) != "a number" {
		return nil, malformed("statusCode is %s, want an integer", describe(raw))
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) {
		return nil, malformed("statusCode is %s, want an integer", raw)
	}
	if f < 100 || f > 599 {
		return nil, malformed("statusCode is %s, want an integer between 100 and 599", raw)
	}
	resp.StatusCode = int(f)

	if raw := m["headers"]; !isNull(raw) {
		obj, err := object(raw, "headers", "an object of strings")
		if err != nil {
			return nil, err
		}
		resp.Headers = make(map[string]string, len(obj))
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			s, err := str(obj[k], fmt.Sprintf("headers[%q]", k))
			if err != nil {
				return nil, err
			}
			resp.Headers[k] = s
		}
	}

	if raw := m["multiValueHeaders"]; !isNull(raw) {
		obj, err := object(raw, "multiValueHeaders", "an object of arrays of strings")
		if err != nil {
			return nil, err
		}
		resp.MultiValueHeaders = make(map[string][]string, len(obj))
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			v := obj[k]
			if describe(v) != "an array" {
				return nil, malformed("multiValueHeaders[%q] is %s, want an array of strings", k, describe(v))
			}
			var elems []json.RawMessage
			if err := json.Unmarshal(v, &elems); err != nil {
				return nil, malformed("multiValueHeaders[%q]: %v", k, err)
			}
			vals := make([]string, len(elems))
			for i, e := range elems {
				if vals[i], err = str(e, fmt.Sprintf("multiValueHeaders[%q][%d]", k, i)); err != nil {
					return nil, err
				}
			}
			resp.MultiValueHeaders[k] = vals
		}
	}

	var body string
	if raw := m["body"]; !isNull(raw) {
		if describe(raw) != "a string" {
			return nil, malformed("body is %s, want a string (encode a JSON body into a string, e.g. JSON.stringify)", describe(raw))
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, malformed("body: %v", err)
		}
	}

	if raw := m["isBase64Encoded"]; !isNull(raw) {
		switch describe(raw) {
		case "true":
			resp.IsBase64Encoded = true
		case "false":
		default:
			return nil, malformed("isBase64Encoded is %s, want true or false", describe(raw))
		}
	}

	if resp.IsBase64Encoded {
		dec, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, malformed("body is not valid base64 although isBase64Encoded is true: %v", err)
		}
		resp.Body = dec
	} else if body != "" {
		resp.Body = []byte(body)
	}
	return resp, nil
}

// ParseHTTP applies the response rule of the http integration (see the
// package documentation) to a plain HTTP reply. A non-nil error means the
// integration failed: a malformed Lambda proxy response object (wrapping
// ErrMalformedResponse) or a *StatusError.
func ParseHTTP(status int, header http.Header, body []byte) (*Response, error) {
	if m, ok := proxyObject(body); ok {
		return parseProxyMembers(m)
	}
	if status < 100 || status >= 500 {
		return nil, &StatusError{StatusCode: status, Body: bytes.Clone(body[:min(len(body), statusErrorBodyMax)])}
	}
	resp := &Response{StatusCode: status, Body: body}
	if header != nil {
		resp.Headers = make(map[string]string, len(header))
		resp.MultiValueHeaders = make(map[string][]string, len(header))
		for k, vs := range header {
			if len(vs) == 0 {
				continue
			}
			resp.Headers[k] = vs[0]
			resp.MultiValueHeaders[k] = slices.Clone(vs)
		}
	}
	return resp, nil
}

// proxyObject reports whether body is, after trimming JSON whitespace, a
// JSON object with a numeric "statusCode" member, and returns its members.
func proxyObject(body []byte) (map[string]json.RawMessage, bool) {
	t := trimJSONSpace(body)
	if len(t) < 2 || t[0] != '{' {
		return nil, false
	}
	// A key that decodes to statusCode is spelled literally or uses a \u
	// escape (no other escape yields a letter): skip the decoding of
	// ordinary JSON replies that cannot be proxy objects.
	if !bytes.Contains(t, []byte("statusCode")) && !bytes.Contains(t, []byte(`\u`)) {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, false
	}
	raw, ok := m["statusCode"]
	if !ok || describe(raw) != "a number" {
		return nil, false
	}
	return m, true
}

func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

// describe names the kind of a valid JSON value for error messages: "a
// string", "a number", "true", "false", "null", "an object", "an array".
func describe(raw json.RawMessage) string { return DescribeJSON(raw) }

// DescribeJSON names the kind of a JSON value for error messages about
// backends' answers: "a string", "a number", "true", "false", "null", "an
// object", "an array"; "empty" or "not JSON" otherwise. It looks only at
// the first byte after whitespace.
func DescribeJSON(raw []byte) string {
	raw = trimJSONSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch c := raw[0]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't':
		return "true"
	case c == 'f':
		return "false"
	case c == 'n':
		return "null"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	}
	return "not JSON"
}

func isNull(raw json.RawMessage) bool {
	return raw == nil || describe(raw) == "null"
}

func object(raw json.RawMessage, what, want string) (map[string]json.RawMessage, error) {
	if describe(raw) != "an object" {
		return nil, malformed("%s is %s, want %s", what, describe(raw), want)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, malformed("%s: %v", what, err)
	}
	return obj, nil
}

func str(raw json.RawMessage, what string) (string, error) {
	if describe(raw) != "a string" {
		return "", malformed("%s is %s, want a string", what, describe(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", malformed("%s: %v", what, err)
	}
	return s, nil
}
