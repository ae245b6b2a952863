package client

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// inMsg is any switchboard.v1 server message; fields a type does not use
// stay zero.
type inMsg struct {
	Type         string          `json:"type"`
	ID           int64           `json:"id"`
	Result       json.RawMessage `json:"result"`
	Error        *Error          `json:"error"`
	Channel      string          `json:"channel"`
	Event        string          `json:"event"`
	Epoch        string          `json:"epoch"`
	Offset       *uint64         `json:"offset"`
	Data         json.RawMessage `json:"data"`
	Text         *string         `json:"text"`
	B64          *string         `json:"b64"`
	Member       *Member         `json:"member"`
	Reason       string          `json:"reason"`
	ConnectionID string          `json:"connectionId"`
	User         string          `json:"user"`

	payload []byte // of pub and message: data, text or b64 decoded
	gone    bool   // a reply that will never come: the connection ended
}

// decodeFrame parses one server frame. It checks what the client relies
// on: a type, an error object on "error", a channel on channel messages,
// and a decodable payload.
func decodeFrame(b []byte) (inMsg, error) {
	var m inMsg
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("not a JSON object: %w", err)
	}
	switch m.Type {
	case "":
		return m, errors.New("no type")
	case "error":
		if m.Error == nil {
			return m, errors.New("error without an error object")
		}
	case "reply":
		if m.ID <= 0 {
			return m, errors.New("reply without an id")
		}
	case "pub", "join", "leave", "subscribed", "unsubscribed":
		if m.Channel == "" {
			return m, fmt.Errorf("%s without a channel", m.Type)
		}
	}
	if m.Type == "pub" || m.Type == "message" {
		switch {
		case m.Data != nil:
			m.payload = []byte(m.Data)
		case m.Text != nil:
			m.payload = []byte(*m.Text)
		case m.B64 != nil:
			p, err := base64.StdEncoding.DecodeString(*m.B64)
			if err != nil {
				return m, fmt.Errorf("bad b64: %w", err)
			}
			m.payload = p
		}
	}
	return m, nil
}

// encodePayload puts data in msg as the field the server would deliver it
// in: data (JSON), text (UTF-8) or b64.
func encodePayload(msg map[string]any, data []byte) {
	switch {
	case json.Valid(data):
		msg["data"] = json.RawMessage(data)
	case utf8.Valid(data):
		msg["text"] = string(data)
	default:
		msg["b64"] = base64.StdEncoding.EncodeToString(data)
	}
}

// tokenExpiry reads the exp claim of a JWT without verifying it (the
// server verifies; the client only needs to know when to refresh).
func tokenExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *float64 `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	// The server refuses exp outside 0..253402300799; so does the client.
	if *claims.Exp < 0 || *claims.Exp > 253402300799 {
		return time.Time{}, false
	}
	return time.Unix(int64(*claims.Exp), 0), true
}
