package manage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// Error types sent in x-amzn-ErrorType and the body's __type. The first four
// are in the AWS model (apigatewaymanagementapi), so SDKs turn them into
// typed errors; the others reach SDK users as generic API errors carrying
// the type name and the HTTP status.
const (
	typeForbidden        = "ForbiddenException"
	typeGone             = "GoneException"
	typePayloadTooLarge  = "PayloadTooLargeException"
	typeLimitExceeded    = "LimitExceededException"
	typeBadRequest       = "BadRequestException"
	typeConflict         = "ConflictException"
	typeNotFound         = "NotFoundException"
	typeMethodNotAllowed = "MethodNotAllowedException"
	typeInternal         = "InternalServerErrorException"
	// typeUnavailable: in a cluster, the node holding the connection or
	// the shared state did not answer (AWS's 503 type; SDKs retry it).
	typeUnavailable = "ServiceUnavailableException"
)

// Header names. The request id header is sent on every response, the error
// type header on every error response.
const (
	headerRequestID = "x-amzn-RequestId"
	headerErrorType = "x-amzn-ErrorType"
	// canonicalRequestID is headerRequestID as net/http keys it, so that
	// a request does not canonicalize it anew.
	canonicalRequestID = "X-Amzn-Requestid"
	// canonicalAPIKey is the header that carries an API key, x-api-key
	// (as on API Gateway REST APIs), as net/http keys it.
	canonicalAPIKey = "X-Api-Key"
)

// Messages of fixed error responses.
const (
	msgForbidden   = "Forbidden"
	msgInternal    = "Internal server error"
	msgGone        = "The connection is gone: it is unknown, closed, or still in its $connect route"
	msgInvalidID   = "Invalid connection id"
	msgInvalidCurs = "Invalid cursor: pass back a nextCursor returned by this server"
	msgUnavailable = "Service unavailable: the cluster node that holds the connection, or the cluster's shared state, did not answer; the call may or may not have taken effect; retry"

	msgInvalidChannel = "Invalid channel name: a channel name is 1 to channels.maxNameBytes (default 255) bytes of UTF-8 without control characters, white space or commas"
	msgNoNamespace    = "No channel namespace matches the channel name: add a channels.namespaces[] pattern for it"
	msgInvalidUser    = "Invalid user id: a user id is 1 to 128 bytes of UTF-8 without control characters or commas"
	msgNoHistory      = "The channel's namespace keeps no history"
	msgTooMany        = "The connection is already in as many channels as channels.maxPerConnection allows"
	msgEpochMismatch  = "The channel's stream has another epoch: the publications after the given position are lost; query again without epoch to read what is kept"
	msgInvalidExclude = "Invalid exclude: not a connection id"
)

// Messages of refused credentials (see auth.go). SigV4 failures carry the
// verifier's own messages.
const (
	msgMissingAuth = "Missing Authentication Token: sign the request with SigV4 using a key of management.accessKeys (as the AWS SDKs do), or send a key of management.apiKeys as \"Authorization: Bearer <key>\" or \"x-api-key: <key>\""
	msgInvalidKey  = "Invalid API key: it is not one of management.apiKeys"
	// msgUnknownAccessKey is API Gateway's answer to an access key id it
	// does not know.
	msgUnknownAccessKey = "The security token included in the request is invalid."
	msgOneCredential    = "Send at most one Authorization header and one x-api-key header"
	msgScheme           = "Unsupported Authorization scheme: sign the request with SigV4 (AWS4-HMAC-SHA256) or send \"Bearer <API key>\""
)

// apiError is an error with its HTTP rendering. Handler funcs return it (or
// a gateway sentinel, which toAPIError maps) and writeError renders it.
type apiError struct {
	status  int
	typ     string
	message string
	// allow is the Allow header of a 405.
	allow string
}

func (e *apiError) Error() string { return e.typ + ": " + e.message }

// errMalformedPath answers a path whose percent-encoding is invalid.
var errMalformedPath = &apiError{http.StatusBadRequest, typeBadRequest, "Malformed percent-encoding in the request path", ""}

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, typeBadRequest, fmt.Sprintf(format, args...), ""}
}

func forbidden(message string) *apiError {
	return &apiError{http.StatusForbidden, typeForbidden, message, ""}
}

// notFound uses AWS's wording for a path or method it has no route for.
func notFound(rt route, method string) *apiError {
	return &apiError{http.StatusNotFound, typeNotFound,
		fmt.Sprintf("No method found matching route %s for http method %s.", rt.name, method), ""}
}

func methodNotAllowed(rt route, method, allow string) *apiError {
	return &apiError{http.StatusMethodNotAllowed, typeMethodNotAllowed,
		fmt.Sprintf("Method %s is not allowed on route %s; allowed: %s.", method, rt.name, allow), allow}
}

// payloadTooLarge gives the limit in its message, so that backend authors
// know how far to cut.
func payloadTooLarge(limit int) *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, typePayloadTooLarge,
		"Payload too large: the data is larger than this stage's limit of " + strconv.Itoa(limit) + " bytes", ""}
}

// bodyTooLarge answers a signed request whose body, which its route
// ignores, is larger than limit: it is not read to be hashed.
func bodyTooLarge(limit int) *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, typePayloadTooLarge,
		"Payload too large: this request's body may be at most " + strconv.Itoa(limit) + " bytes", ""}
}

// batchTooLarge answers a batch body larger than maxBatchBytes.
func batchTooLarge() *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, typePayloadTooLarge,
		"Payload too large: the batch body is larger than its limit of " + strconv.Itoa(maxBatchBytes) + " bytes", ""}
}

// toAPIError maps any error a handler func returned to its rendering: an
// *apiError as is, a gateway sentinel to its AWS type, anything else to a
// 500. internal reports the last case, which is logged.
func toAPIError(err error) (ae *apiError, internal bool) {
	switch {
	case errors.As(err, &ae):
		return ae, false
	case errors.Is(err, gateway.ErrGone):
		return &apiError{http.StatusGone, typeGone, msgGone, ""}, false
	case errors.Is(err, gateway.ErrUnavailable):
		return &apiError{http.StatusServiceUnavailable, typeUnavailable, msgUnavailable, ""}, false
	case errors.Is(err, gateway.ErrNoSuchStage):
		// AWS answers a request for a stage it does not serve with a bare
		// 403 Forbidden.
		return forbidden(msgForbidden), false
	case errors.Is(err, gateway.ErrPayloadTooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, typePayloadTooLarge, "Payload too large", ""}, false
	case errors.Is(err, gateway.ErrInvalidConnectionID):
		return badRequest(msgInvalidID), false
	case errors.Is(err, gateway.ErrInvalidCursor):
		return badRequest(msgInvalidCurs), false
	case errors.Is(err, gateway.ErrInvalidChannel):
		return badRequest(msgInvalidChannel), false
	case errors.Is(err, gateway.ErrNoNamespace):
		return badRequest(msgNoNamespace), false
	case errors.Is(err, gateway.ErrInvalidUser):
		return badRequest(msgInvalidUser), false
	case errors.Is(err, gateway.ErrNoHistory):
		return badRequest(msgNoHistory), false
	case errors.Is(err, gateway.ErrTooManyChannels):
		return &apiError{http.StatusTooManyRequests, typeLimitExceeded, msgTooMany, ""}, false
	case errors.Is(err, gateway.ErrEpochMismatch):
		return &apiError{http.StatusConflict, typeConflict, msgEpochMismatch, ""}, false
	default:
		return &apiError{http.StatusInternalServerError, typeInternal, msgInternal, ""}, true
	}
}

// errorBody is the JSON body of every error response. SDKs read the type
// from __type (after the x-amzn-ErrorType header) and the text from
// message.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// writeError is the one adapter that renders handler errors: status,
// x-amzn-ErrorType, and a JSON body, never anything else, because an SDK
// that cannot parse an error body loses the typed error.
func (h *Handler) writeError(w *statusWriter, r *http.Request, rt route, err error) {
	ae, internal := toAPIError(err)
	if internal {
		lvl := slog.LevelError
		if r.Context().Err() != nil || errors.Is(err, context.Canceled) {
			lvl = slog.LevelDebug // the caller went away; nobody reads this
		}
		h.logger.LogAttrs(r.Context(), lvl, "management call failed", rt.logAttrs(
			slog.String("method", r.Method),
			slog.String("requestId", w.Header().Get(headerRequestID)),
			slog.Any("err", err))...)
	}
	if w.status != 0 {
		// A success response is already on its way; the failure (a write
		// to a departed client) cannot be reported to the caller.
		return
	}
	body, mErr := json.Marshal(errorBody{Type: ae.typ, Message: ae.message})
	if mErr != nil { // unreachable: two strings always marshal
		body = []byte(`{"__type":"` + typeInternal + `","message":"` + msgInternal + `"}`)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set(headerErrorType, ae.typ)
	if ae.allow != "" {
		hdr.Set("Allow", ae.allow)
	}
	w.WriteHeader(ae.status)
	_, _ = w.Write(body)
}

// newRequestID returns a random UUID (version 4), the shape of AWS request
// ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
