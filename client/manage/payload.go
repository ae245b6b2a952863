package manage

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// payload carries bytes in JSON in exactly one of three fields, by the
// rule of docs/protocol.md, "Payloads": a JSON value in data, other
// valid UTF-8 in text, anything else in b64 (standard base64).
type payload struct {
	Data json.RawMessage `json:"data,omitempty"`
	Text *string         `json:"text,omitempty"`
	B64  *string         `json:"b64,omitempty"`
}

// encodePayload chooses the field for b. Bytes that parse as JSON but hold
// invalid UTF-8 go in b64, which keeps them exact. JSON with white space
// outside its strings goes in text: encoding/json compacts an embedded
// value, which would change the bytes.
func encodePayload(b []byte) payload {
	if !utf8.Valid(b) {
		s := base64.StdEncoding.EncodeToString(b)
		return payload{B64: &s}
	}
	if json.Valid(b) && isCompact(b) {
		return payload{Data: json.RawMessage(b)}
	}
	s := string(b)
	return payload{Text: &s}
}

var errPayloadFields = errors.New(`want exactly one of "data", "text" or "b64"`)

// bytes decodes the payload: the data's JSON text as it came, the text's
// UTF-8, or the b64's bytes.
func (p payload) bytes() ([]byte, error) {
	n := 0
	if p.Data != nil {
		n++
	}
	if p.Text != nil {
		n++
	}
	if p.B64 != nil {
		n++
	}
	switch {
	case n != 1:
		return nil, errPayloadFields
	case p.Data != nil:
		return []byte(p.Data), nil
	case p.Text != nil:
		return []byte(*p.Text), nil
	default:
		b, err := base64.StdEncoding.DecodeString(*p.B64)
		if err != nil {
			return nil, errors.New(`"b64": ` + err.Error())
		}
		return b, nil
	}
}

// isCompact reports whether the valid JSON b is as json.Compact writes it.
func isCompact(b []byte) bool {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return false
	}
	return bytes.Equal(buf.Bytes(), b)
}

// marshal encodes v as JSON without escaping <, > and & (nor U+2028 and
// U+2029) in strings: json.Marshal would also rewrite them inside an
// embedded "data" value, changing the bytes it carries.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
