package protocol

import (
	"encoding/base64"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/internal/jsonenc"
)

// PayloadKind is how a publication's bytes travel in a server message:
// which of the fields "data", "text" and "b64" carries them
// (docs/protocol.md, "Payloads").
type PayloadKind uint8

const (
	// PayloadData: the bytes are valid UTF-8 and one valid JSON value,
	// embedded as "data" as they are (without surrounding whitespace).
	PayloadData PayloadKind = iota + 1
	// PayloadText: the bytes are valid UTF-8 but not JSON; "text" carries
	// them as a JSON string.
	PayloadText
	// PayloadBase64: any other bytes; "b64" carries them in standard
	// base64 with padding.
	PayloadBase64
)

// String returns the name of the field that carries the payload: "data",
// "text" or "b64" ("b64" for every value that is not a kind).
func (k PayloadKind) String() string {
	switch k {
	case PayloadData:
		return "data"
	case PayloadText:
		return "text"
	}
	return "b64"
}

// Classify returns how payload travels: PayloadData when it is valid
// UTF-8 and valid JSON (as json.Valid says, which allows whitespace around
// the value), else PayloadText when it is valid UTF-8, else
// PayloadBase64. The empty payload is PayloadText (""). Classify the
// bytes of a publication once and reuse the kind for every subscriber.
//
// Which field a payload travels in depends only on its bytes: a client
// that publishes "text": "42" has its subscribers receive "data": 42.
//
// Classify uses the scanner behind Decode rather than json.Valid and
// utf8.Valid: one pass, several times faster, same answers (FuzzAppendPub
// checks).
func Classify(payload []byte) PayloadKind {
	if i := skipSpace(payload, 0); i < len(payload) {
		// scanValue checks UTF-8 inside strings; outside, any byte that
		// is not ASCII is a syntax error.
		if end, err := scanValue(payload, i, 0); err == nil && skipSpace(payload, end) == len(payload) {
			return PayloadData
		}
	}
	if utf8.Valid(payload) {
		return PayloadText
	}
	return PayloadBase64
}

// AppendPayloadField appends the member that carries payload, with kind
// as returned by Classify: `"data":<payload>` (surrounding whitespace
// trimmed), `"text":"<escaped payload>"` or `"b64":"<base64>"`.
//
// kind is trusted: PayloadData with bytes that are not valid JSON makes
// the output invalid. PayloadText is safe for any bytes (invalid UTF-8
// becomes U+FFFD) and PayloadBase64 is always exact; a kind that is none
// of the three is written as PayloadBase64.
func AppendPayloadField(dst []byte, payload []byte, kind PayloadKind) []byte {
	switch kind {
	case PayloadData:
		dst = append(dst, `"data":`...)
		return append(dst, trimSpace(payload)...)
	case PayloadText:
		dst = append(dst, `"text":`...)
		return jsonenc.AppendString(dst, payload)
	}
	dst = append(dst, `"b64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, payload)
	return append(dst, '"')
}

// payloadFieldLen returns about how many bytes AppendPayloadField appends
// (exactly, but for escapes in text).
func payloadFieldLen(payload []byte, kind PayloadKind) int {
	switch kind {
	case PayloadData:
		return len(`"data":`) + len(payload)
	case PayloadText:
		return len(`"text":""`) + len(payload)
	}
	return len(`"b64":""`) + base64.StdEncoding.EncodedLen(len(payload))
}
