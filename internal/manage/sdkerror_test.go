package manage

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The modelled error shapes of apigatewaymanagementapi. An SDK turns these
// into typed errors (types.GoneException, ...); any other code becomes a
// generic API error.
var modelledErrors = []string{"ForbiddenException", "GoneException", "LimitExceededException", "PayloadTooLargeException"}

// sdkErrorCurrent resolves an error response as the pinned Go SDK does
// (aws-sdk-go-v2/service/apigatewaymanagementapi v1.38.0 on smithy-go
// v1.28.9, transport/http/protocol/restjson1 deserializeError): the
// x-amzn-ErrorType header wins, then body __type, then body code; the code
// is sanitized (before ':', after '#') and matched against the modelled
// shapes' short names exactly. A body that is not JSON is a
// DeserializationError: the typed error is lost (ok false).
func sdkErrorCurrent(header http.Header, body []byte) (code, message string, typed, ok bool) {
	var info struct {
		Type    string `json:"__type"`
		Message string
		Code    any
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&info); err != nil && err != io.EOF {
		return "", "", false, false
	}
	code, message = "UnknownError", "UnknownError"
	if h := header.Get("X-Amzn-ErrorType"); h != "" {
		code = h
	} else if info.Type != "" {
		code = info.Type
	} else if c, isString := info.Code.(string); isString && c != "" {
		code = c
	}
	if info.Message != "" {
		message = info.Message
	}
	code = sanitizeErrorCode(code)
	for _, m := range modelledErrors {
		if m == code {
			typed = true
		}
	}
	return code, message, typed, true
}

// sdkErrorLegacy resolves it as the older generated deserializers do
// (reference §4.5; aws/protocol/restjson GetErrorInfo): the header first,
// overridden by a non-empty body code or __type; sanitized; matched
// case-insensitively.
func sdkErrorLegacy(header http.Header, body []byte) (code, message string, typed, ok bool) {
	var info struct {
		Code    string
		Type    string `json:"__type"`
		Message string
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&info); err != nil && err != io.EOF {
		return "", "", false, false
	}
	code = header.Get("X-Amzn-ErrorType")
	bodyCode := info.Code
	if bodyCode == "" {
		bodyCode = info.Type
	}
	if bodyCode != "" {
		code = bodyCode
	}
	code = sanitizeErrorCode(code)
	for _, m := range modelledErrors {
		if strings.EqualFold(m, code) {
			code, typed = m, true
		}
	}
	return code, info.Message, typed, true
}

func sanitizeErrorCode(code string) string {
	if i := strings.Index(code, ":"); i >= 0 {
		code = code[:i]
	}
	if i := strings.Index(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	return code
}

// TestSDKRecoversErrorType parses this handler's error responses the way
// the Go SDK v2 does and checks that the error type, and for the modelled
// types the typed error, is recovered.
func TestSDKRecoversErrorType(t *testing.T) {
	srv := newTestServer(t, newTestBackend(), Auth{APIKeys: testKeys})
	key := hdr("Bearer " + secretCI)
	tests := []struct {
		name, method, path string
		body               string
		header             http.Header
		wantCode           string
		wantTyped          bool
		wantMsg            string
	}{
		{"gone", "POST", "/prod/@connections/nope", "x", key, "GoneException", true, "gone"},
		{"forbidden stage", "POST", "/test/@connections/x", "x", key, "ForbiddenException", true, "Forbidden"},
		{"forbidden key", "POST", "/prod/@connections/x", "x", nil, "ForbiddenException", true, "Missing Authentication Token"},
		{"forbidden sigv4", "POST", "/prod/@connections/x", "x", hdr(sigV4), "ForbiddenException", true, msgUnknownAccessKey},
		{"too large", "POST", "/prod/@connections/R1kmxc2VNjMCFIA%3D", strings.Repeat("z", testMaxBytes+1), key, "PayloadTooLargeException", true, "64 bytes"},
		{"bad request", "GET", "/prod/@connections/bad!", "", key, "BadRequestException", false, "Invalid connection id"},
		{"not found", "GET", "/prod/@connections/a/b", "", key, "NotFoundException", false, "No method found"},
		{"method", "PUT", "/prod/@connections/x", "", key, "MethodNotAllowedException", false, "PUT"},
		{"internal", "GET", "/prod/@connections/boom", "", key, "InternalServerErrorException", false, "Internal server error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.path, strings.NewReader(tt.body), tt.header)
			if r.status < 400 {
				t.Fatalf("status %d, want an error", r.status)
			}
			for parser, parse := range map[string]func(http.Header, []byte) (string, string, bool, bool){
				"current": sdkErrorCurrent, "legacy": sdkErrorLegacy,
			} {
				code, msg, typed, ok := parse(r.header, r.body)
				if !ok {
					t.Fatalf("%s: body %q is a DeserializationError", parser, r.body)
				}
				if code != tt.wantCode || typed != tt.wantTyped || !strings.Contains(msg, tt.wantMsg) {
					t.Errorf("%s: got code %q typed %v message %q, want %q typed %v message containing %q",
						parser, code, typed, msg, tt.wantCode, tt.wantTyped, tt.wantMsg)
				}
			}
		})
	}
}

// TestSDKParsersAgainstSnapshot checks the two parsers above against the
// SDK's own error snapshot (response_snapshot/GoneException.error.snap),
// and against qualified codes that AWS services also send.
func TestSDKParsersAgainstSnapshot(t *testing.T) {
	tests := []struct {
		header, body, want string
	}{
		{"", `{"__type":"GoneException"}`, "GoneException"},
		{"GoneException", ``, "GoneException"},
		{"", `{"code":"com.amazonaws.apigatewaymanagementapi#GoneException:http://x"}`, "GoneException"},
		{"GoneException:http://internal.amazon.com/", `{"__type":"GoneException"}`, "GoneException"},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set("x-amzn-ErrorType", tt.header)
		}
		for parser, parse := range map[string]func(http.Header, []byte) (string, string, bool, bool){
			"current": sdkErrorCurrent, "legacy": sdkErrorLegacy,
		} {
			if code, _, typed, ok := parse(h, []byte(tt.body)); !ok || !typed || code != tt.want {
				t.Errorf("%s(%q, %q) = %q typed %v ok %v, want %q typed", parser, tt.header, tt.body, code, typed, ok, tt.want)
			}
		}
	}
	if _, _, _, ok := sdkErrorCurrent(http.Header{}, []byte("Gone")); ok {
		t.Error("a non-JSON body must lose the typed error, as in the SDK")
	}
}
