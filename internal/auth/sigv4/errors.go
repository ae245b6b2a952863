package sigv4

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The kinds of *Error. Callers branch on them with errors.Is.
var (
	// ErrMissing: the request carries no Authorization header (and no
	// presigned query parameters).
	ErrMissing = errors.New("no AWS signature")
	// ErrMalformed: the Authorization header, the credential scope, the
	// signed headers or the date header cannot be used as SigV4.
	ErrMalformed = errors.New("malformed AWS signature")
	// ErrUnsupported: AWS authentication this package does not verify:
	// presigned URLs (query-string authentication), SigV4a, and unsigned
	// or streaming payloads.
	ErrUnsupported = errors.New("unsupported AWS authentication")
	// ErrWrongService: the credential is scoped to a service other than
	// execute-api.
	ErrWrongService = errors.New("credential scoped to another service")
	// ErrExpired: X-Amz-Date is more than MaxSkew before or after now.
	ErrExpired = errors.New("signature expired or not yet current")
	// ErrUnknownKey: the access key id is not a configured key (Verify's
	// lookup found no secret).
	ErrUnknownKey = errors.New("unknown access key")
	// ErrSignature: the signature, or the body's hash, does not match.
	ErrSignature = errors.New("signature does not match")
)

// Error is the error of every failed verification. Kind is one of the Err
// sentinels above; Message is the text for the caller, in AWS API
// Gateway's wording where it is known.
type Error struct {
	Kind    error
	Message string
}

// Error returns "sigv4: " and the kind only, so that the error can be
// logged: Message may quote the request's headers, such as its session
// token, back to the caller who sent them.
func (e *Error) Error() string { return "sigv4: " + e.Kind.Error() }

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Fixed messages. The first three are API Gateway's own ("Missing
// Authentication Token" for an unsigned request to an IAM-authorized
// route; "The security token included in the request is invalid." for an
// unknown access key; the signature mismatch, to which API Gateway
// appends the canonical request and the string to sign).
const (
	msgMissing    = "Missing Authentication Token"
	msgUnknownKey = "The security token included in the request is invalid."
	msgMismatch   = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgPresigned  = "Presigned URLs (query-string authentication with X-Amz-Signature) are not supported; sign the request in the Authorization header, as the AWS SDKs do"
	msgBothAuth   = "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
	msgSigV4a     = "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported; sign with SigV4 (AWS4-HMAC-SHA256)"
	msgBodyHash   = "The provided 'x-amz-content-sha256' header does not match what was computed."
)

var (
	errMissing    = &Error{Kind: ErrMissing, Message: msgMissing}
	errUnknownKey = &Error{Kind: ErrUnknownKey, Message: msgUnknownKey}
)

// errIncomplete is API Gateway's answer to an Authorization header that
// lacks parameters: one sentence per missing parameter, then the header
// as received.
func errIncomplete(missing []string, header string) *Error {
	var b strings.Builder
	for _, m := range missing {
		switch m {
		case "date":
			b.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
		default:
			b.WriteString("Authorization header requires '" + m + "' parameter. ")
		}
	}
	b.WriteString("Authorization=" + header)
	return &Error{Kind: ErrMalformed, Message: b.String()}
}

// errSkew words a date outside the allowed skew as AWS does:
// "Signature expired: 20201027T123008Z is now earlier than
// 20201027T125507Z (20201027T130007Z - 5 min.)", and "Signature not yet
// current: ... is still later than ... (... + 5 min.)".
func errSkew(signed, now time.Time) *Error {
	if signed.Before(now) {
		return newError(ErrExpired, "Signature expired: %s is now earlier than %s (%s - 5 min.)",
			formatTime(signed), formatTime(now.Add(-MaxSkew)), formatTime(now))
	}
	return newError(ErrExpired, "Signature not yet current: %s is still later than %s (%s + 5 min.)",
		formatTime(signed), formatTime(now.Add(MaxSkew)), formatTime(now))
}
