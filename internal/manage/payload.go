package manage

import (
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// payloadJSON carries a publication's bytes in exactly one of three
// fields, chosen by the rule of docs/protocol.md "Payloads": bytes that
// are a JSON value go in data, embedded as is; other valid UTF-8 in text,
// as a string; anything else in b64, standard base64. Embedded in a
// struct, its field joins the struct's own.
type payloadJSON struct {
	Data json.RawMessage `json:"data,omitempty"`
	Text *string         `json:"text,omitempty"`
	B64  *string         `json:"b64,omitempty"`
}

// newPayloadJSON chooses the field for b. JSON text is UTF-8 (RFC 8259),
// so bytes that parse as JSON but hold invalid UTF-8 inside a string go in
// b64, which keeps them exact.
func newPayloadJSON(b []byte) payloadJSON {
	if !utf8.Valid(b) {
		s := base64.StdEncoding.EncodeToString(b)
		return payloadJSON{B64: &s}
	}
	if json.Valid(b) {
		return payloadJSON{Data: json.RawMessage(b)}
	}
	s := string(b)
	return payloadJSON{Text: &s}
}
