package event

import "github.com/switchboardhq/switchboard/internal/jsonenc"

// Messages of the error frames AWS sends to a client whose message could
// not be handled; the connection stays open.
const (
	// MessageInternalError: the integration failed (AWS: the Lambda
	// function threw or returned a malformed response).
	MessageInternalError = "Internal server error"
	// MessageTimeout: the integration did not answer within its timeout.
	MessageTimeout = "Endpoint request timed out"
	// MessageForbidden: no route matched and there is no $default route.
	MessageForbidden = "Forbidden"
)

// ErrorFrame returns the text frame AWS sends for an error, byte for byte:
//
//	{"message": "Internal server error", "connectionId":"VNRUSeldSwMCIRQ=", "requestId":"VNRXVFJOywMF3-Q="}
//
// (a space after "message": only). The values are JSON-escaped.
func ErrorFrame(message, connectionID, requestID string) []byte {
	b := make([]byte, 0, 48+len(message)+len(connectionID)+len(requestID))
	b = append(b, `{"message": `...)
	b = jsonenc.AppendString(b, message)
	b = append(b, `, "connectionId":`...)
	b = jsonenc.AppendString(b, connectionID)
	b = append(b, `, "requestId":`...)
	b = jsonenc.AppendString(b, requestID)
	return append(b, '}')
}
