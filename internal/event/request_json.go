package event

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the event's JSON to dst and returns the extended
// slice. Keys are written in the order AWS writes them (see the package
// documentation); strings are escaped as encoding/json escapes them with
// HTML escaping off, invalid UTF-8 included (each invalid byte becomes
// \ufffd). It does not allocate beyond growing dst, unless the connection
// has an Authorizer.
func (r *Request) AppendJSON(dst []byte) []byte {
	c := r.conn
	dst = append(dst, '{')
	switch r.kind {
	case kindConnect:
		dst = appendFieldsSingle(dst, `"headers":`, r.headers)
		dst = appendFieldsMulti(dst, `,"multiValueHeaders":`, r.headers)
		if len(r.query) > 0 {
			dst = appendFieldsSingle(dst, `,"queryStringParameters":`, r.query)
			dst = appendFieldsMulti(dst, `,"multiValueQueryStringParameters":`, r.query)
		}
		dst = append(dst, ',')
	case kindDisconnect:
		dst = append(dst, `"headers":{"Host":`...)
		dst = appendString(dst, r.host)
		dst = append(dst, `,"x-api-key":"","X-Forwarded-For":"","x-restapi":""},"multiValueHeaders":{"Host":[`...)
		dst = appendString(dst, r.host)
		dst = append(dst, `],"x-api-key":[""],"X-Forwarded-For":[""],"x-restapi":[""]},`...)
	}

	dst = append(dst, `"requestContext":{"routeKey":`...)
	dst = appendString(dst, r.routeKey)
	switch r.kind {
	case kindMessage:
		dst = append(dst, `,"messageId":`...)
		dst = appendString(dst, r.messageID)
	case kindDisconnect:
		dst = append(dst, `,"disconnectStatusCode":`...)
		dst = strconv.AppendInt(dst, int64(r.code), 10)
	}
	dst = append(dst, `,"eventType":"`...)
	dst = append(dst, r.EventType()...)
	dst = append(dst, `","extendedRequestId":`...)
	dst = appendString(dst, r.requestID)
	dst = append(dst, `,"requestTime":"`...)
	dst = appendRequestTime(dst, r.time)
	dst = append(dst, `","messageDirection":"IN"`...)
	if r.kind == kindDisconnect {
		dst = append(dst, `,"disconnectReason":`...)
		dst = appendString(dst, r.reason)
	}
	dst = append(dst, `,"stage":`...)
	dst = appendString(dst, c.Stage)
	dst = append(dst, `,"connectedAt":`...)
	dst = strconv.AppendInt(dst, c.ConnectedAt.UnixMilli(), 10)
	dst = append(dst, `,"requestTimeEpoch":`...)
	dst = strconv.AppendInt(dst, r.time.UnixMilli(), 10)
	// AWS writes userAgent before sourceIp (aws-lambda-go's 2024 captures).
	dst = append(dst, `,"identity":{`...)
	if c.Identity.UserAgent != "" {
		dst = append(dst, `"userAgent":`...)
		dst = appendString(dst, c.Identity.UserAgent)
		dst = append(dst, ',')
	}
	dst = append(dst, `"sourceIp":`...)
	dst = appendString(dst, c.Identity.SourceIP)
	dst = append(dst, `},"requestId":`...)
	dst = appendString(dst, r.requestID)
	dst = append(dst, `,"domainName":`...)
	dst = appendString(dst, c.DomainName)
	dst = append(dst, `,"connectionId":`...)
	dst = appendString(dst, c.ID)
	dst = append(dst, `,"apiId":`...)
	dst = appendString(dst, c.APIID)
	if c.Authorizer != nil {
		dst = append(dst, `,"authorizer":`...)
		dst = appendAny(dst, c.Authorizer)
	}
	dst = append(dst, '}')

	if r.kind == kindMessage {
		dst = append(dst, `,"body":`...)
		dst = appendString(dst, r.body)
		if r.isBase64 {
			return append(dst, `,"isBase64Encoded":true}`...)
		}
	}
	return append(dst, `,"isBase64Encoded":false}`...)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (r *Request) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(make([]byte, 0, 640+len(r.body))), nil
}

func appendFieldsSingle(dst []byte, key string, fs []field) []byte {
	dst = append(dst, key...)
	dst = append(dst, '{')
	for i, f := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f.name)
		dst = append(dst, ':')
		dst = appendString(dst, f.values[len(f.values)-1])
	}
	return append(dst, '}')
}

func appendFieldsMulti(dst []byte, key string, fs []field) []byte {
	dst = append(dst, key...)
	dst = append(dst, '{')
	for i, f := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f.name)
		dst = append(dst, ':', '[')
		for j, v := range f.values {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

const hex = "0123456789abcdef"

// safeASCII[b] is true for the ASCII bytes that need no escaping inside a
// JSON string: everything but the control characters, '"' and '\\'. This is
// encoding/json's safeSet (HTML characters are not escaped).
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendString appends src as a JSON string, escaping exactly as
// encoding/json does with SetEscapeHTML(false): \" \\ \b \f \n \r \t, other
// control characters as \u00XX, U+2028 and U+2029 as \u2028/\u2029, and
// every byte that is not part of valid UTF-8 as \ufffd.
func appendString[B []byte | string](dst []byte, src B) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(src); {
		b := src[i]
		if b < utf8.RuneSelf {
			if safeASCII[b] {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		// Converting at most utf8.UTFMax bytes to a string does not
		// allocate; it lets one loop serve both []byte and string.
		n := min(len(src)-i, utf8.UTFMax)
		r, size := utf8.DecodeRuneInString(string(src[i : i+n]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, src[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, src[start:]...)
	return append(dst, '"')
}

// appendAny appends v as JSON. It handles the types decoding JSON into an
// interface produces (and a few common Go ones) directly, with map keys
// sorted as encoding/json sorts them, and falls back to encoding/json for
// anything else; a value encoding/json rejects (NaN, a channel) is written
// as null so the event stays valid JSON.
func appendAny(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendString(dst, v)
	case bool:
		return strconv.AppendBool(dst, v)
	case float64:
		return appendFloat(dst, v, 64)
	case float32:
		return appendFloat(dst, float64(v), 32)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case int32:
		return strconv.AppendInt(dst, int64(v), 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendAny(dst, v[k])
		}
		return append(dst, '}')
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		return appendAny(dst, m)
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendAny(dst, e)
		}
		return append(dst, ']')
	case []string:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, e)
		}
		return append(dst, ']')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return append(dst, "null"...)
	}
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
}

// appendFloat writes f as encoding/json does (ES6 number formatting); NaN
// and infinities, which JSON cannot represent, become null.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
