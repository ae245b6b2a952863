package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// goldenCase rebuilds one captured event from the inputs it was made of.
type goldenCase struct {
	file  string
	build func() *Request
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{
			file: "connect-2024-powertools.json",
			build: func() *Request {
				c := &Connection{
					ID:          "BFHPhfCWIAMCKlQ=",
					APIID:       "asasasas",
					Stage:       "prod",
					DomainName:  "asasasas.execute-api.us-east-1.amazonaws.com",
					ConnectedAt: time.UnixMilli(1731324924553),
					Identity:    Identity{SourceIP: "166.90.225.1"},
				}
				return Connect(c, time.UnixMilli(1731324924561), "BFHPhFe3IAMF95g=", []HeaderField{
					{"Host", "fjnq7njcv2.execute-api.us-east-1.amazonaws.com"},
					{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
					{"Sec-WebSocket-Key", "+W5xw47OHh3OTFsWKjGu9Q=="},
					{"Sec-WebSocket-Version", "13"},
					{"X-Amzn-Trace-Id", "Root=1-6731ebfc-08e1e656421db73c5d2eef31"},
					{"X-Forwarded-For", "166.90.225.1"},
					{"X-Forwarded-Port", "443"},
					{"X-Forwarded-Proto", "https"},
				}, nil)
			},
		},
		{
			file: "message-2024-powertools.json",
			build: func() *Request {
				c := &Connection{
					ID:          "BFaT_fALIAMCKug=",
					APIID:       "asasasas",
					Stage:       "prod",
					DomainName:  "asasasas.execute-api.us-east-1.amazonaws.com",
					ConnectedAt: time.UnixMilli(1731332735513),
					Identity:    Identity{SourceIP: "166.90.225.1"},
				}
				return Message(c, time.UnixMilli(1731332746514), "BFaVtH2HoAMFZEQ=", "BFaVtfGSIAMCKug=", "chat",
					[]byte(`{"action": "chat", "message": "Hello from client"}`), false)
			},
		},
		{
			file: "disconnect-2024-aws-lambda-go.json",
			build: func() *Request {
				c := &Connection{
					ID:          "R1kmxc2VNjMCFIA=",
					APIID:       "dl7ptocha9",
					Stage:       "prod",
					DomainName:  "dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
					ConnectedAt: time.UnixMilli(1705751697419),
					Identity: Identity{
						SourceIP:  "49.105.91.154",
						UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36",
					},
				}
				return Disconnect(c, time.UnixMilli(1705751708326), "R1koeHsUtjMFbRw=", 1001, "",
					"dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com")
			},
		},
		{
			file: "connect-query-useragent.json",
			build: func() *Request {
				c := &Connection{
					ID:          "TWegAcC4EowCHnA=",
					APIID:       "gy415nuibc",
					Stage:       "testStage",
					DomainName:  "gy415nuibc.execute-api.us-east-1.amazonaws.com",
					ConnectedAt: time.UnixMilli(1547230720092),
					Identity:    Identity{SourceIP: "192.168.196.186", UserAgent: "PostmanRuntime/2.4.5"},
				}
				// The order a client sends; the event lists them sorted.
				return Connect(c, time.UnixMilli(1547230720101), "TWegAcC5IAMFx7Q=", []HeaderField{
					{"Host", "gy415nuibc.execute-api.us-east-1.amazonaws.com"},
					{"User-Agent", "PostmanRuntime/2.4.5"},
					{"Sec-WebSocket-Version", "13"},
					{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
					{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
					{"X-Amzn-Trace-Id", "Root=1-5c38de40-0d1e0f2a3b4c5d6e7f809a1b"},
					{"X-Forwarded-For", "192.168.196.186"},
					{"X-Forwarded-Port", "443"},
					{"X-Forwarded-Proto", "https"},
				}, []QueryParam{{"name", "me"}})
			},
		},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got := tc.build().AppendJSON(nil)
			if !json.Valid(got) {
				t.Fatalf("AppendJSON output is not valid JSON:\n%s", got)
			}

			var wantV, gotV any
			mustUnmarshal(t, want, &wantV)
			mustUnmarshal(t, got, &gotV)
			if diff := cmp.Diff(wantV, gotV); diff != "" {
				t.Errorf("event differs from %s (-capture +ours):\n%s\nours: %s", tc.file, diff, got)
			}

			wantKeys, gotKeys := objectKeys(t, want), objectKeys(t, got)
			for _, path := range []string{"", "requestContext", "requestContext.identity", "headers", "multiValueHeaders"} {
				if diff := cmp.Diff(wantKeys[path], gotKeys[path]); diff != "" {
					t.Errorf("key order of %q differs (-capture +ours):\n%s", path, diff)
				}
			}
		})
	}
}

// TestGoldenMarshalJSON checks that MarshalJSON is AppendJSON and that the
// event survives encoding/json (which calls it, then compacts).
func TestGoldenMarshalJSON(t *testing.T) {
	for _, tc := range goldenCases() {
		r := tc.build()
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%s: json.Marshal: %v", tc.file, err)
		}
		m, _ := r.MarshalJSON()
		if !bytes.Equal(m, r.AppendJSON(nil)) {
			t.Errorf("%s: MarshalJSON differs from AppendJSON", tc.file)
		}
		var a, c any
		mustUnmarshal(t, b, &a)
		mustUnmarshal(t, m, &c)
		if diff := cmp.Diff(a, c); diff != "" {
			t.Errorf("%s: json.Marshal(r) differs:\n%s", tc.file, diff)
		}
	}
}

// lambdaGoRequest mirrors aws-lambda-go's events.APIGatewayWebsocketProxyRequest
// (events/apigw.go, field tags as in the current release) so that the test
// proves a typed Go handler decodes our events. Kept in the test to avoid
// the dependency.
type lambdaGoRequest struct {
	Resource                        string                 `json:"resource"`
	Path                            string                 `json:"path"`
	HTTPMethod                      string                 `json:"httpMethod,omitempty"`
	Headers                         map[string]string      `json:"headers"`
	MultiValueHeaders               map[string][]string    `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string      `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string    `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string      `json:"pathParameters"`
	StageVariables                  map[string]string      `json:"stageVariables"`
	RequestContext                  lambdaGoRequestContext `json:"requestContext"`
	Body                            string                 `json:"body"`
	IsBase64Encoded                 bool                   `json:"isBase64Encoded,omitempty"`
}

type lambdaGoRequestContext struct {
	AccountID          string                  `json:"accountId"`
	ResourceID         string                  `json:"resourceId"`
	Stage              string                  `json:"stage"`
	RequestID          string                  `json:"requestId"`
	Identity           lambdaGoRequestIdentity `json:"identity"`
	ResourcePath       string                  `json:"resourcePath"`
	Authorizer         interface{}             `json:"authorizer"`
	HTTPMethod         string                  `json:"httpMethod"`
	APIID              string                  `json:"apiId"`
	ConnectedAt        int64                   `json:"connectedAt"`
	ConnectionID       string                  `json:"connectionId"`
	DomainName         string                  `json:"domainName"`
	Error              string                  `json:"error"`
	EventType          string                  `json:"eventType"`
	ExtendedRequestID  string                  `json:"extendedRequestId"`
	IntegrationLatency string                  `json:"integrationLatency"`
	MessageDirection   string                  `json:"messageDirection"`
	MessageID          interface{}             `json:"messageId"`
	RequestTime        string                  `json:"requestTime"`
	RequestTimeEpoch   int64                   `json:"requestTimeEpoch"`
	RouteKey           string                  `json:"routeKey"`
	Status             string                  `json:"status"`
}

type lambdaGoRequestIdentity struct {
	CognitoIdentityPoolID         string `json:"cognitoIdentityPoolId,omitempty"`
	AccountID                     string `json:"accountId,omitempty"`
	CognitoIdentityID             string `json:"cognitoIdentityId,omitempty"`
	Caller                        string `json:"caller,omitempty"`
	APIKey                        string `json:"apiKey,omitempty"`
	APIKeyID                      string `json:"apiKeyId,omitempty"`
	AccessKey                     string `json:"accessKey,omitempty"`
	SourceIP                      string `json:"sourceIp"`
	CognitoAuthenticationType     string `json:"cognitoAuthenticationType,omitempty"`
	CognitoAuthenticationProvider string `json:"cognitoAuthenticationProvider,omitempty"`
	UserArn                       string `json:"userArn,omitempty"`
	UserAgent                     string `json:"userAgent"`
	User                          string `json:"user,omitempty"`
}

func TestTypedLambdaGoHandlerDecodes(t *testing.T) {
	conn := &Connection{
		ID: "R1kmxc2VNjMCFIA=", APIID: "api", Stage: "prod", DomainName: "example.com",
		ConnectedAt: time.UnixMilli(1705751697419),
		Identity:    Identity{SourceIP: "203.0.113.7", UserAgent: "ua/1"},
		Authorizer:  map[string]any{"principalId": "user", "integrationLatency": float64(0), "num": "123"},
	}
	now := time.UnixMilli(1705751708326)
	for _, tc := range []struct {
		name string
		req  *Request
		want func(*testing.T, *lambdaGoRequest)
	}{
		{"connect", Connect(conn, now, "R1koeHsUtjMFbRw=", []HeaderField{{"Host", "example.com"}, {"X-A", "1"}, {"x-a", "2"}}, []QueryParam{{"token", "abc"}}), func(t *testing.T, r *lambdaGoRequest) {
			if r.Headers["X-A"] != "2" || len(r.MultiValueHeaders["X-A"]) != 2 || r.QueryStringParameters["token"] != "abc" {
				t.Errorf("headers/query not decoded: %+v %+v %+v", r.Headers, r.MultiValueHeaders, r.QueryStringParameters)
			}
			if r.RequestContext.EventType != "CONNECT" || r.RequestContext.MessageID != nil {
				t.Errorf("context: %+v", r.RequestContext)
			}
		}},
		{"message", Message(conn, now, "R1koeHsUtjMFbRw=", "R1knPc2ntjMCFIA=", "$default", []byte(`{"a":1}`), false), func(t *testing.T, r *lambdaGoRequest) {
			if r.Body != `{"a":1}` || r.RequestContext.MessageID != "R1knPc2ntjMCFIA=" || r.Headers != nil {
				t.Errorf("message: %+v", r)
			}
		}},
		{"disconnect", Disconnect(conn, now, "R1koeHsUtjMFbRw=", 1005, "Client-side close frame status not set", "example.com"), func(t *testing.T, r *lambdaGoRequest) {
			if r.Headers["Host"] != "example.com" || r.RequestContext.RouteKey != "$disconnect" {
				t.Errorf("disconnect: %+v", r)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r lambdaGoRequest
			if err := json.Unmarshal(tc.req.AppendJSON(nil), &r); err != nil {
				t.Fatalf("typed decode: %v", err)
			}
			rc := r.RequestContext
			if rc.ConnectionID != conn.ID || rc.RequestID != "R1koeHsUtjMFbRw=" || rc.ExtendedRequestID != rc.RequestID ||
				rc.ConnectedAt != 1705751697419 || rc.RequestTimeEpoch != 1705751708326 ||
				rc.RequestTime != "20/Jan/2024:11:55:08 +0000" || rc.Identity.SourceIP != "203.0.113.7" ||
				rc.Identity.UserAgent != "ua/1" || rc.Stage != "prod" || rc.APIID != "api" || rc.DomainName != "example.com" ||
				rc.MessageDirection != "IN" {
				t.Errorf("requestContext: %+v", rc)
			}
			if auth, ok := rc.Authorizer.(map[string]any); !ok || auth["principalId"] != "user" {
				t.Errorf("authorizer: %#v", rc.Authorizer)
			}
			tc.want(t, &r)
		})
	}
}

func mustUnmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, b)
	}
}

// objectKeys reads a JSON document with json.Decoder tokens and returns,
// for every object, its keys in document order, by dotted path ("" is the
// top level).
func objectKeys(t testing.TB, b []byte) map[string][]string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	out := map[string][]string{}
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			out[path] = []string{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				out[path] = append(out[path], key)
				child := key
				if path != "" {
					child = path + "." + key
				}
				if err := walk(child); err != nil {
					return err
				}
			}
			_, err = dec.Token() // '}'
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token() // ']'
			return err
		}
		return nil
	}
	if err := walk(""); err != nil {
		t.Fatalf("reading keys: %v", err)
	}
	return out
}
