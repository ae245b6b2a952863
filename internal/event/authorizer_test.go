package event

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// authorizerGoldenCase rebuilds one authorizer event from its inputs.
// dropHeader names a header the file lists in multiValueHeaders only: the
// 2025 powertools capture has Sec-WebSocket-Key there but not in headers
// (redacted by hand, it seems); a builder fed one header list writes it in
// both, so the comparison ignores it in headers.
type authorizerGoldenCase struct {
	file       string
	dropHeader string
	build      func() *Request
}

func authorizerGoldenCases() []authorizerGoldenCase {
	return []authorizerGoldenCase{
		{
			file:       "authorizer-2025-powertools.json",
			dropHeader: "Sec-WebSocket-Key",
			build: func() *Request {
				c := &Connection{
					ID:          "FDmBIeapIAMCIQg=",
					APIID:       "c5jwxq709g",
					Stage:       "production",
					DomainName:  "c5jwxq709g.execute-api.us-east-1.amazonaws.com",
					ConnectedAt: time.UnixMilli(1737995987617),
					Identity:    Identity{SourceIP: "93.108.161.96"},
				}
				// Client order; the event lists them sorted without regard to case.
				return AuthorizerRequest(c, time.UnixMilli(1737995987617), "FDmBIG3EoAMEqYA=",
					"arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/production/$connect",
					[]HeaderField{
						{"Host", "c5jwxq709g.execute-api.us-east-1.amazonaws.com"},
						{"Upgrade", "websocket"},
						{"Connection", "upgrade"},
						{"Sec-WebSocket-Key", "CYZZrfNgEcgzzzwL44qytQ=="},
						{"Sec-WebSocket-Version", "13"},
						{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
						{"Authorization", "Leo"},
						{"content-length", "0"},
						{"X-Amzn-Trace-Id", "Root=1-6797b6d3-64f9c928577f3ac56f5368ce"},
						{"X-Forwarded-For", "93.108.161.96"},
						{"X-Forwarded-Port", "443"},
						{"X-Forwarded-Proto", "https"},
					}, nil)
			},
		},
		{
			file: "authorizer-docs-query.json",
			build: func() *Request {
				c := &Connection{
					ID:          "CFMUZeJWoAMCJ2A=",
					APIID:       "abcdef123",
					Stage:       "default",
					DomainName:  "abcdef123.execute-api.us-east-1.amazonaws.com",
					ConnectedAt: time.UnixMilli(1674162806344),
					Identity:    Identity{SourceIP: "198.51.100.23"},
				}
				return AuthorizerRequest(c, time.UnixMilli(1674162806345), "CFMUZGvgIAMFdPA=",
					"arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$connect",
					[]HeaderField{
						{"Host", "abcdef123.execute-api.us-east-1.amazonaws.com"},
						{"Connection", "upgrade"},
						{"Upgrade", "websocket"},
						{"Sec-WebSocket-Version", "13"},
						{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
						{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
						{"HeaderAuth1", "headerValue1"},
						{"content-length", "0"},
						{"X-Amzn-Trace-Id", "Root=1-63c9b376-5d2c7a1e0f3b4a6d8e9f0a1b"},
						{"X-Forwarded-For", "198.51.100.23"},
						{"X-Forwarded-Port", "443"},
						{"X-Forwarded-Proto", "https"},
					}, []QueryParam{{"QueryString1", "queryValue1"}})
			},
		},
	}
}

func TestGoldenAuthorizerRequest(t *testing.T) {
	for _, tc := range authorizerGoldenCases() {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got := tc.build().AppendJSON(nil)
			if !json.Valid(got) {
				t.Fatalf("AppendJSON output is not valid JSON:\n%s", got)
			}

			var wantV, gotV map[string]any
			mustUnmarshal(t, want, &wantV)
			mustUnmarshal(t, got, &gotV)
			if tc.dropHeader != "" {
				delete(gotV["headers"].(map[string]any), tc.dropHeader)
			}
			if diff := cmp.Diff(wantV, gotV); diff != "" {
				t.Errorf("event differs from %s (-capture +ours):\n%s\nours: %s", tc.file, diff, got)
			}

			wantKeys, gotKeys := objectKeys(t, want), objectKeys(t, got)
			gotKeys["headers"] = slices.DeleteFunc(gotKeys["headers"], func(k string) bool { return k == tc.dropHeader })
			for _, path := range []string{"", "requestContext", "requestContext.identity", "headers", "multiValueHeaders", "queryStringParameters"} {
				if diff := cmp.Diff(wantKeys[path], gotKeys[path]); diff != "" {
					t.Errorf("key order of %q differs (-capture +ours):\n%s", path, diff)
				}
			}

			r := tc.build()
			if m, _ := r.MarshalJSON(); !bytes.Equal(m, got) {
				t.Errorf("MarshalJSON differs from AppendJSON")
			}
			if !r.IsAuthorizer() || r.EventType() != EventConnect || r.RouteKey() != RouteConnect || r.MethodARN() != wantV["methodArn"] {
				t.Errorf("IsAuthorizer %v, EventType %q, RouteKey %q, MethodARN %q", r.IsAuthorizer(), r.EventType(), r.RouteKey(), r.MethodARN())
			}
		})
	}
}

// TestAuthorizerRequestShape covers what the golden files do not: repeated
// and case-variant names, a connection that already has an authorizer
// context (never written into the authorizer event), escaping, and that
// the other constructors are not authorizer events.
func TestAuthorizerRequestShape(t *testing.T) {
	c := &Connection{
		ID: "R1kmxc2VNjMCFIA=", APIID: "api", Stage: "prod", DomainName: "example.com",
		ConnectedAt: time.UnixMilli(1705751697419),
		Identity:    Identity{SourceIP: "203.0.113.7", UserAgent: "ua/1"},
		Authorizer:  map[string]any{"principalId": "from-jwt"},
	}
	r := AuthorizerRequest(c, time.UnixMilli(1705751697420), "R1koeHsUtjMFbRw=", "arn:aws:execute-api:r:a:api/prod/$connect",
		[]HeaderField{{"X-Token", "a"}, {"x-token", "b"}, {"Host", "example.com"}, {"X-Q", "\"quoted\"\n"}},
		[]QueryParam{{"t", "1"}, {"T", "2"}, {"t", "3"}})
	b := r.AppendJSON(nil)
	var got map[string]any
	mustUnmarshal(t, b, &got)
	want := map[string]any{
		"type":      "REQUEST",
		"methodArn": "arn:aws:execute-api:r:a:api/prod/$connect",
		"headers":   map[string]any{"Host": "example.com", "X-Q": "\"quoted\"\n", "X-Token": "b"},
		"multiValueHeaders": map[string]any{
			"Host": []any{"example.com"}, "X-Q": []any{"\"quoted\"\n"}, "X-Token": []any{"a", "b"},
		},
		"queryStringParameters":           map[string]any{"t": "3", "T": "2"},
		"multiValueQueryStringParameters": map[string]any{"t": []any{"1", "3"}, "T": []any{"2"}},
		"stageVariables":                  map[string]any{},
		"requestContext": map[string]any{
			"routeKey": "$connect", "eventType": "CONNECT", "extendedRequestId": "R1koeHsUtjMFbRw=",
			"requestTime": "20/Jan/2024:11:54:57 +0000", "messageDirection": "IN", "stage": "prod",
			"connectedAt": float64(1705751697419), "requestTimeEpoch": float64(1705751697420),
			"identity":  map[string]any{"userAgent": "ua/1", "sourceIp": "203.0.113.7"},
			"requestId": "R1koeHsUtjMFbRw=", "domainName": "example.com", "connectionId": "R1kmxc2VNjMCFIA=", "apiId": "api",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("authorizer event (-want +got):\n%s\n%s", diff, b)
	}
	if keys := objectKeys(t, b)["queryStringParameters"]; !slices.Equal(keys, []string{"t", "T"}) {
		t.Errorf("query keys in %v, want the client's order [t T]", keys)
	}

	for _, other := range []*Request{
		Connect(c, time.Now(), "id", nil, nil),
		Message(c, time.Now(), "id", "mid", "$default", nil, false),
		Disconnect(c, time.Now(), "id", 1000, "", "h"),
	} {
		if other.IsAuthorizer() || other.MethodARN() != "" {
			t.Errorf("%s event: IsAuthorizer %v, MethodARN %q", other.EventType(), other.IsAuthorizer(), other.MethodARN())
		}
	}
	// The $connect event of the same connection still carries the context.
	if !bytes.Contains(Connect(c, time.Now(), "id", nil, nil).AppendJSON(nil), []byte(`"authorizer":{"principalId":"from-jwt"}`)) {
		t.Error("the CONNECT event lost requestContext.authorizer")
	}
}

// lambdaGoAuthorizerRequest mirrors aws-lambda-go's
// events.APIGatewayCustomAuthorizerRequestTypeRequest (events/apigw.go,
// v1.55.1), the type Go REQUEST authorizers take, so that the test proves
// they decode our event. Kept in the test to avoid the dependency.
type lambdaGoAuthorizerRequest struct {
	Type                            string              `json:"type"`
	MethodArn                       string              `json:"methodArn"`
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	RequestContext                  struct {
		Path       string `json:"path"`
		AccountID  string `json:"accountId"`
		ResourceID string `json:"resourceId"`
		Stage      string `json:"stage"`
		RequestID  string `json:"requestId"`
		Identity   struct {
			APIKey   string `json:"apiKey"`
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
		ResourcePath string `json:"resourcePath"`
		HTTPMethod   string `json:"httpMethod"`
		APIID        string `json:"apiId"`
	} `json:"requestContext"`
}

func TestAuthorizerRequestTypedLambdaGoDecodes(t *testing.T) {
	for _, tc := range authorizerGoldenCases() {
		var r lambdaGoAuthorizerRequest
		if err := json.Unmarshal(tc.build().AppendJSON(nil), &r); err != nil {
			t.Fatalf("%s: typed decode: %v", tc.file, err)
		}
		if r.Type != "REQUEST" || !strings.HasSuffix(r.MethodArn, "/$connect") || r.Headers["Host"] == "" ||
			r.StageVariables == nil || r.QueryStringParameters == nil || r.RequestContext.APIID == "" ||
			r.RequestContext.Stage == "" || r.RequestContext.RequestID == "" || r.RequestContext.Identity.SourceIP == "" {
			t.Errorf("%s: decoded %+v", tc.file, r)
		}
	}
}

// FuzzAuthorizerRequestJSON: whatever the handshake carries, the event is
// valid JSON and UTF-8 and keeps the methodArn and the values.
func FuzzAuthorizerRequestJSON(f *testing.F) {
	f.Add("Authorization", "Bearer x", "token", "abc", "arn:aws:execute-api:r:a:api/s/$connect")
	f.Add("X-\xff", "\u2028\x00", "", "\"", "\\")
	f.Fuzz(func(t *testing.T, hname, hvalue, qname, qvalue, arn string) {
		c := &Connection{ID: "id", ConnectedAt: time.UnixMilli(1)}
		r := AuthorizerRequest(c, time.UnixMilli(2), "rid", arn,
			[]HeaderField{{hname, hvalue}, {"Host", "h"}}, []QueryParam{{qname, qvalue}})
		b := r.AppendJSON(nil)
		if !json.Valid(b) || !utf8.Valid(b) {
			t.Fatalf("invalid JSON or UTF-8: %q", b)
		}
		var got lambdaGoAuthorizerRequest
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.MethodArn != fixUTF8(arn) || got.MultiValueQueryStringParameters[fixUTF8(qname)][0] != fixUTF8(qvalue) {
			t.Fatalf("lost values: %q", b)
		}
	})
}
