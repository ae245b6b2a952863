package ws

import "strconv"

// CloseCode is a WebSocket close status code (RFC 6455 §7.4). Every close
// code Switchboard sends or reports is listed here, with when it is used;
// docs/ARCHITECTURE.md carries the same table for users.
type CloseCode uint16

const (
	// CloseNormal: the management API deleted the connection (AWS reports
	// 1000 "Connection Closed Normally" for DeleteConnection), or the
	// client closed normally.
	CloseNormal CloseCode = 1000
	// CloseGoingAway: server shutdown, idle timeout, maximum connection
	// duration.
	CloseGoingAway CloseCode = 1001
	// CloseProtocolError: a malformed frame (reserved bits or opcodes,
	// unmasked client frame, fragmented or oversized control frame, bad
	// continuation, bad close payload).
	CloseProtocolError CloseCode = 1002
	// CloseUnsupportedData: a binary frame on an API that does not accept
	// binary (AWS closes with 1003).
	CloseUnsupportedData CloseCode = 1003
	// CloseNoStatus is reported (never sent) when the peer's close frame
	// carried no code.
	CloseNoStatus CloseCode = 1005
	// CloseAbnormal is reported (never sent) when the TCP connection ended
	// without a close frame: the client vanished or stopped answering pings.
	CloseAbnormal CloseCode = 1006
	// CloseInvalidPayload: invalid UTF-8 in a text message or close reason.
	CloseInvalidPayload CloseCode = 1007
	// ClosePolicyViolation: a policy was broken — the message rate limit,
	// an expired token, a ping flood (more than pingBurst pings at once).
	ClosePolicyViolation CloseCode = 1008
	// CloseMessageTooBig: a message or frame over the API's limit (AWS
	// closes with 1009).
	CloseMessageTooBig CloseCode = 1009
	// CloseInternalError: the server could not go on with the connection.
	CloseInternalError CloseCode = 1011
	// CloseTryAgainLater: slow consumer — the connection's outbound queue
	// was full, or its socket accepted nothing for the write timeout. The
	// client should reconnect (and recover what it missed, where it can).
	CloseTryAgainLater CloseCode = 1013
)

func (c CloseCode) String() string { return strconv.Itoa(int(c)) }

// validReceivedCode reports whether a peer may send code in a close frame:
// the codes registered with IANA for use in frames and the 3000-4999
// ranges for libraries and applications (RFC 6455 §7.4).
func validReceivedCode(code CloseCode) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
