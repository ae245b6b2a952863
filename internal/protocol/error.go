package protocol

import "strconv"

// Code is a protocol error code, sent in the "code" of an error object.
// The codes follow HTTP status codes; docs/protocol.md ("Error codes")
// carries the same table for users.
type Code int

const (
	// CodeBadRequest: a malformed message (not JSON, not an object, a
	// missing or unknown type, a missing or mistyped field), an invalid
	// channel name, no namespace for the channel, or a binary frame.
	CodeBadRequest Code = 400
	// CodeForbidden: refused by the namespace's rule or its authorizer.
	CodeForbidden Code = 403
	// CodeAlreadySubscribed: subscribe to a channel the connection is in.
	CodeAlreadySubscribed Code = 409
	// CodeTooLarge: a payload larger than the API's maxMessageBytes.
	CodeTooLarge Code = 413
	// CodeNotEnabled: presence on a namespace that keeps none, or on a
	// channel the connection is not subscribed to.
	CodeNotEnabled Code = 422
	// CodeTooManyChannels: past channels.maxPerConnection.
	CodeTooManyChannels Code = 429
	// CodeInternal: the server failed.
	CodeInternal Code = 500
	// CodeBadGateway: the authorizer integration failed.
	CodeBadGateway Code = 502
	// CodeUnavailable: the cluster's shared state did not answer; the
	// request may or may not have taken effect, and may be retried.
	CodeUnavailable Code = 503
	// CodeTimeout: the authorizer integration timed out.
	CodeTimeout Code = 504
)

// String returns the code in decimal.
func (c Code) String() string { return strconv.Itoa(int(c)) }

// Error is a protocol error: what a client is told in a reply's or an
// error message's "error" object.
type Error struct {
	Code    Code
	Message string // for the client: says precisely what is wrong
}

// Error returns "switchboard.v1 error <code>: <message>".
func (e *Error) Error() string {
	return "switchboard.v1 error " + strconv.Itoa(int(e.Code)) + ": " + e.Message
}

// badRequest returns a 400 error with msg.
func badRequest(msg string) *Error { return &Error{Code: CodeBadRequest, Message: msg} }
