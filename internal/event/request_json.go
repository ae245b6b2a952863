package event

import (
	"github.com/switchboardhq/switchboard/internal/jsonenc"

	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
)

// AppendJSON appends the event's JSON to dst and returns the extended
// slice. Keys are written in the order AWS writes them (see the package
// documentation); strings are escaped as encoding/json escapes them with
// HTML escaping off, invalid UTF-8 included (each invalid byte becomes
// \ufffd). It does not allocate beyond growing dst, unless the connection
// has an Authorizer.
func (r *Request) AppendJSON(dst []byte) []byte {
	if r.kind == kindAuthorizer {
		return r.appendAuthorizerJSON(dst)
	}
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
		dst = jsonenc.AppendString(dst, r.host)
		dst = append(dst, `,"x-api-key":"","X-Forwarded-For":"","x-restapi":""},"multiValueHeaders":{"Host":[`...)
		dst = jsonenc.AppendString(dst, r.host)
		dst = append(dst, `],"x-api-key":[""],"X-Forwarded-For":[""],"x-restapi":[""]},`...)
	}

	dst = r.appendRequestContext(dst)

	if r.kind == kindMessage {
		dst = append(dst, `,"body":`...)
		dst = jsonenc.AppendString(dst, r.body)
		if r.isBase64 {
			return append(dst, `,"isBase64Encoded":true}`...)
		}
	}
	return append(dst, `,"isBase64Encoded":false}`...)
}

// appendRequestContext appends "requestContext":{...} in AWS's key order.
func (r *Request) appendRequestContext(dst []byte) []byte {
	c := r.conn
	dst = append(dst, `"requestContext":{"routeKey":`...)
	dst = jsonenc.AppendString(dst, r.routeKey)
	switch r.kind {
	case kindMessage:
		dst = append(dst, `,"messageId":`...)
		dst = jsonenc.AppendString(dst, r.messageID)
	case kindDisconnect:
		dst = append(dst, `,"disconnectStatusCode":`...)
		dst = strconv.AppendInt(dst, int64(r.code), 10)
	}
	dst = append(dst, `,"eventType":"`...)
	dst = append(dst, r.EventType()...)
	dst = append(dst, `","extendedRequestId":`...)
	dst = jsonenc.AppendString(dst, r.requestID)
	dst = append(dst, `,"requestTime":"`...)
	dst = appendRequestTime(dst, r.time)
	dst = append(dst, `","messageDirection":"IN"`...)
	if r.kind == kindDisconnect {
		dst = append(dst, `,"disconnectReason":`...)
		dst = jsonenc.AppendString(dst, r.reason)
	}
	dst = append(dst, `,"stage":`...)
	dst = jsonenc.AppendString(dst, c.Stage)
	dst = append(dst, `,"connectedAt":`...)
	dst = strconv.AppendInt(dst, c.ConnectedAt.UnixMilli(), 10)
	dst = append(dst, `,"requestTimeEpoch":`...)
	dst = strconv.AppendInt(dst, r.time.UnixMilli(), 10)
	// AWS writes userAgent before sourceIp (aws-lambda-go's 2024 captures).
	dst = append(dst, `,"identity":{`...)
	if c.Identity.UserAgent != "" {
		dst = append(dst, `"userAgent":`...)
		dst = jsonenc.AppendString(dst, c.Identity.UserAgent)
		dst = append(dst, ',')
	}
	dst = append(dst, `"sourceIp":`...)
	dst = jsonenc.AppendString(dst, c.Identity.SourceIP)
	dst = append(dst, `},"requestId":`...)
	dst = jsonenc.AppendString(dst, r.requestID)
	dst = append(dst, `,"domainName":`...)
	dst = jsonenc.AppendString(dst, c.DomainName)
	dst = append(dst, `,"connectionId":`...)
	dst = jsonenc.AppendString(dst, c.ID)
	dst = append(dst, `,"apiId":`...)
	dst = jsonenc.AppendString(dst, c.APIID)
	// The authorizer event is sent before there is an authorizer context.
	if c.Authorizer != nil && r.kind != kindAuthorizer {
		dst = append(dst, `,"authorizer":`...)
		dst = appendAny(dst, c.Authorizer)
	}
	return append(dst, '}')
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
		dst = jsonenc.AppendString(dst, f.name)
		dst = append(dst, ':')
		dst = jsonenc.AppendString(dst, f.values[len(f.values)-1])
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
		dst = jsonenc.AppendString(dst, f.name)
		dst = append(dst, ':', '[')
		for j, v := range f.values {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = jsonenc.AppendString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
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
		return jsonenc.AppendString(dst, v)
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
			dst = jsonenc.AppendString(dst, k)
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
			dst = jsonenc.AppendString(dst, e)
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
