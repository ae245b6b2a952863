package pusherproto

import (
	"errors"
	"fmt"
)

// The kinds of *Error. Callers branch on them with errors.Is.
var (
	// ErrTooLarge: a frame, an event name or member data is over its limit.
	ErrTooLarge = errors.New("too large")
	// ErrMalformed: a frame, its data, channel_data, user_data or an HTTP
	// API query does not have the shape the protocol defines.
	ErrMalformed = errors.New("malformed")
	// ErrChannelName: a channel name that is not a valid Pusher channel
	// name (reference §5).
	ErrChannelName = errors.New("invalid channel name")
	// ErrSocketID: a socket_id or connection id that does not map to the
	// other (reference §1.2).
	ErrSocketID = errors.New("invalid socket id")
	// ErrSignature: an auth value or auth_signature that does not match,
	// including an auth value whose key part is not the app's key.
	ErrSignature = errors.New("invalid signature")

	// The HTTP API request checks (reference §12.2), in the order they run.

	// ErrRepeatedParam: a query parameter given twice (after lower-casing).
	ErrRepeatedParam = errors.New("repeated query parameter")
	// ErrMissingParam: auth_key, auth_timestamp, auth_version or
	// auth_signature is absent, or body_md5 for a non-empty body.
	ErrMissingParam = errors.New("missing query parameter")
	// ErrAuthKey: auth_key is not the app's key.
	ErrAuthKey = errors.New("wrong auth_key")
	// ErrAuthVersion: auth_version is not "1.0".
	ErrAuthVersion = errors.New("unsupported auth_version")
	// ErrTimestamp: auth_timestamp is not a decimal number of seconds or
	// is further from now than the allowed skew.
	ErrTimestamp = errors.New("bad auth_timestamp")
	// ErrBodyMD5: body_md5 is not the hex MD5 of the body.
	ErrBodyMD5 = errors.New("bad body_md5")
)

// Error is every error this package returns. Kind is one of the Err
// sentinels; Msg says what is wrong in words meant for the client that
// sent the input (a pusher:error message or an HTTP API error body). Msg
// never contains a secret or an expected signature; a signature error
// names the string that was expected to be signed instead, which is what
// users get wrong first (reference §16.9).
type Error struct {
	Kind error
	Msg  string
}

// Error returns Msg.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
