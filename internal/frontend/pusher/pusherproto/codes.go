package pusherproto

// Code is a Pusher close code, also sent as the code of a pusher:error.
// Only the codes Pusher's protocol documentation names are defined
// (reference §3.1); each comment says what pusher-js 8.6.0 does when the
// server closes with it (reference §3.2), which is what matters when
// choosing one: 4000–4099 and ≥ 4300 stop the client for good, 4100–4199
// reconnect after 1 s, 4200–4299 reconnect at once.
type Code int

const (
	// CodeTLSOnly (4000): the app accepts TLS only. pusher-js switches to
	// TLS and reconnects at once.
	CodeTLSOnly Code = 4000
	// CodeAppUnknown (4001): no app has this key. pusher-js gives up
	// (disconnect, no retry).
	CodeAppUnknown Code = 4001
	// CodeAppDisabled (4003): the app is disabled. pusher-js gives up.
	CodeAppDisabled Code = 4003
	// CodeOverConnectionQuota (4004): the app is over its connection
	// quota. pusher-js gives up.
	CodeOverConnectionQuota Code = 4004
	// CodePathNotFound (4005): no such path. pusher-js gives up.
	CodePathNotFound Code = 4005
	// CodeInvalidVersion (4006): the version string is invalid. pusher-js
	// gives up.
	CodeInvalidVersion Code = 4006
	// CodeUnsupportedProtocol (4007): the protocol version is not
	// supported. pusher-js gives up.
	CodeUnsupportedProtocol Code = 4007
	// CodeNoProtocol (4008): no protocol version was given. pusher-js
	// gives up.
	CodeNoProtocol Code = 4008
	// CodeUnauthorized (4009): the connection is unauthorized. pusher-js
	// gives up.
	CodeUnauthorized Code = 4009
	// CodeOverCapacity (4100): over capacity. pusher-js reconnects after
	// 1 s (fixed, not exponential).
	CodeOverCapacity Code = 4100
	// CodeReconnect (4200): generic "reconnect now", used on drain.
	// pusher-js reconnects at once: spread these closes over a window.
	CodeReconnect Code = 4200
	// CodePongNotReceived (4201): the client did not answer the server's
	// ping. pusher-js reconnects at once.
	CodePongNotReceived Code = 4201
	// CodeInactive (4202): closed after inactivity (a client that never
	// pings). pusher-js reconnects at once.
	CodeInactive Code = 4202
	// CodeClientEventRejected (4301): a client event was rejected (rate
	// limit). Send it as a pusher:error and keep the socket open: as a
	// close code pusher-js would give up for good.
	CodeClientEventRejected Code = 4301
	// CodeWatchlistTooLong (4302): the sign-in watchlist has over 100 ids
	// (only the first 100 are used). Send it as a pusher:error; as a close
	// code pusher-js would give up.
	CodeWatchlistTooLong Code = 4302
)

// Action is what pusher-js 8.6.0 does when the server closes the socket
// with a code (its getCloseAction, reference §3.2).
type Action string

const (
	// ActionTLSOnly: switch to TLS and reconnect at once (4000).
	ActionTLSOnly Action = "tls_only"
	// ActionRefused: disconnect; no further attempts (4001–4099, ≥ 4300).
	ActionRefused Action = "refused"
	// ActionBackoff: reconnect after 1000 ms (1002–1004, 4100–4199).
	ActionBackoff Action = "backoff"
	// ActionRetry: reconnect at once (4200–4299).
	ActionRetry Action = "retry"
	// ActionNone: no specific action; a connected client reconnects after
	// 1000 ms when the socket closes (every other code).
	ActionNone Action = "none"
)

// PusherJSAction returns what pusher-js 8.6.0 does on a close with code.
func PusherJSAction(code int) Action {
	switch {
	case code == 4000:
		return ActionTLSOnly
	case code >= 1002 && code <= 1004, code >= 4100 && code <= 4199:
		return ActionBackoff
	case code >= 4001 && code <= 4099, code >= 4300:
		return ActionRefused
	case code >= 4200 && code <= 4299:
		return ActionRetry
	}
	return ActionNone
}
