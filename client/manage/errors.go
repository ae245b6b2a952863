package manage

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Error types the management API answers with (docs/management-api.md,
// "Errors"). Error.Type is one of them, or whatever another server sent.
const (
	TypeBadRequest       = "BadRequestException"
	TypeForbidden        = "ForbiddenException"
	TypeNotFound         = "NotFoundException"
	TypeMethodNotAllowed = "MethodNotAllowedException"
	TypeConflict         = "ConflictException"
	TypeGone             = "GoneException"
	TypePayloadTooLarge  = "PayloadTooLargeException"
	TypeLimitExceeded    = "LimitExceededException"
	TypeInternal         = "InternalServerErrorException"
	TypeUnavailable      = "ServiceUnavailableException"
)

// Error is a refusal by the management API, decoded from the AWS error
// shape: the x-amzn-ErrorType header or the body's __type, and the body's
// message.
type Error struct {
	// Status is the HTTP status code, such as 410; 0 for an operation of
	// a batch (the batch itself answered 200).
	Status int
	// Type is the AWS error type, such as "GoneException". An answer
	// without one (a proxy's error page) gets "HTTP <status>".
	Type string
	// Message is the server's explanation; for an answer without the AWS
	// shape, the start of its body.
	Message string
	// RequestID is the x-amzn-RequestId header, to quote when reporting a
	// problem.
	RequestID string
}

func (e *Error) Error() string {
	msg := e.Type
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Status != 0 && !strings.HasPrefix(e.Type, "HTTP ") {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	return msg
}

// maxPlainMessage bounds the message taken from a body that is not the
// AWS shape.
const maxPlainMessage = 200

// decodeError makes the *Error of a non-2xx answer. It never fails: what
// it cannot read it reports as the status and the start of the body.
func decodeError(status int, h http.Header, body []byte) *Error {
	e := &Error{Status: status, RequestID: h.Get("x-amzn-RequestId")}
	var b struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		MessageU string `json:"Message"` // some AWS services capitalize it
	}
	isJSON := json.Unmarshal(body, &b) == nil
	e.Type = errorType(h.Get("x-amzn-ErrorType"))
	if e.Type == "" && isJSON {
		e.Type = errorType(b.Type)
	}
	if isJSON {
		e.Message = b.Message
		if e.Message == "" {
			e.Message = b.MessageU
		}
	}
	if e.Type == "" {
		e.Type = fmt.Sprintf("HTTP %d", status)
		if t := http.StatusText(status); t != "" {
			e.Type += " " + t
		}
	}
	if e.Message == "" && !isJSON {
		e.Message = plainMessage(body)
	}
	return e
}

// errorType strips what AWS may put around a type: a
// "namespace#" prefix (the body's __type of some services) and a
// ":http://..." suffix (x-amzn-ErrorType).
func errorType(s string) string {
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// plainMessage is the start of a body that is not the AWS shape, on one
// line, as valid UTF-8.
func plainMessage(body []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "\uFFFD")), " ")
	if len(s) > maxPlainMessage {
		cut := maxPlainMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
