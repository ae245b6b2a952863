package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/integration"
)

// invokerFunc is the test double of Invoker.
type invokerFunc func(ctx context.Context, req *event.Request) (*event.Response, error)

func (f invokerFunc) Invoke(ctx context.Context, req *event.Request) (*event.Response, error) {
	return f(ctx, req)
}

// counting returns an Invoker that answers with f and counts its calls.
func counting(f invokerFunc) (Invoker, *atomic.Int64) {
	var n atomic.Int64
	return invokerFunc(func(ctx context.Context, req *event.Request) (*event.Response, error) {
		n.Add(1)
		return f(ctx, req)
	}), &n
}

// reply answers body as a Lambda return value read by event.ParseHTTP.
func reply(body string) invokerFunc {
	return func(context.Context, *event.Request) (*event.Response, error) {
		return event.ParseHTTP(http.StatusOK, nil, []byte(body))
	}
}

// output builds an authorizer output with one statement.
func output(principal, effect, resource, context string) string {
	s := fmt.Sprintf(`{"principalId":%q,"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":%q,"Resource":%q}]}`,
		principal, effect, resource)
	if context != "" {
		s += `,"context":` + context
	}
	return s + "}"
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 27, 16, 39, 47, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect"

func testConn() *event.Connection {
	return &event.Connection{
		ID: "FDmBIeapIAMCIQg=", APIID: "abcdef123", Stage: "prod", DomainName: "example.com",
		ConnectedAt: time.UnixMilli(1737995987617), Identity: event.Identity{SourceIP: "203.0.113.7"},
	}
}

func testHeaders(auth string) []event.HeaderField {
	return []event.HeaderField{hf("Host", "example.com"), hf("Connection", "upgrade"), hf("Upgrade", "websocket"), hf("Authorization", auth)}
}

func newTest(t *testing.T, c config.Authorizer, inv Invoker, o ...func(*Options)) *Authorizer {
	t.Helper()
	opts := Options{Config: c, Invoker: inv, Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, f := range o {
		f(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// tWriter routes log lines to t.Logf.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Logf("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

var headerSource = config.Authorizer{Integration: "auth", IdentitySources: []string{"route.request.header.Authorization"}}

func TestAuthorizeAllow(t *testing.T) {
	// The clock is the test's: the call "takes" exactly 7 ms, so
	// integrationLatency is known and nothing depends on the machine's
	// speed (a measured 0 vs 1 ms failed this test under load).
	clk := newClock()
	var sent []byte
	inv := invokerFunc(func(ctx context.Context, req *event.Request) (*event.Response, error) {
		if !req.IsAuthorizer() || req.MethodARN() != testARN || req.Connection().ID != "FDmBIeapIAMCIQg=" {
			t.Errorf("request: authorizer %v, methodArn %q", req.IsAuthorizer(), req.MethodARN())
		}
		sent = req.AppendJSON(nil)
		clk.Advance(7*time.Millisecond + 900*time.Microsecond)
		return reply(output("user-1", "Allow", testARN, `{"tenant":"acme","n":123,"f":1.50,"b":true,"no":false,"z":null}`))(ctx, req)
	})
	a := newTest(t, headerSource, inv, func(o *Options) { o.Now = clk.Now })
	d, err := a.Authorize(context.Background(), testConn(), testHeaders("Bearer x"), []event.QueryParam{qp("q", "1")}, testARN)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	want := Decision{
		PrincipalID: "user-1",
		Context: map[string]any{
			"tenant": "acme", "n": "123", "f": "1.50", "b": "true", "no": "false", "z": nil,
			"principalId": "user-1", "integrationLatency": float64(7), // whole milliseconds
		},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("decision (-want +got):\n%s", diff)
	}

	var ev map[string]any
	if err := json.Unmarshal(sent, &ev); err != nil {
		t.Fatal(err)
	}
	if ev["type"] != "REQUEST" || ev["methodArn"] != testARN ||
		ev["headers"].(map[string]any)["Authorization"] != "Bearer x" ||
		ev["queryStringParameters"].(map[string]any)["q"] != "1" ||
		ev["requestContext"].(map[string]any)["connectionId"] != "FDmBIeapIAMCIQg=" {
		t.Errorf("event sent: %s", sent)
	}

	// The context goes into later events as requestContext.authorizer.
	conn := testConn()
	conn.Authorizer = d.Context
	msg := event.Message(conn, time.Now(), "id", "mid", "$default", []byte("x"), false).AppendJSON(nil)
	if !strings.Contains(string(msg), `"authorizer":{"b":"true","f":"1.50","integrationLatency":7,"n":"123","no":"false","principalId":"user-1","tenant":"acme","z":null}`) {
		t.Errorf("MESSAGE event: %s", msg)
	}
}

func TestAuthorizeOutcomes(t *testing.T) {
	thrown := func(msg string) invokerFunc {
		return func(context.Context, *event.Request) (*event.Response, error) {
			return nil, fmt.Errorf("invoke: %w", &thrownError{msg})
		}
	}
	status := func(code int) invokerFunc {
		return func(context.Context, *event.Request) (*event.Response, error) {
			return event.ParseHTTP(code, nil, []byte("nope"))
		}
	}
	for _, tc := range []struct {
		name   string
		inv    invokerFunc
		status int
		is     error
		msg    string
	}{
		{"allow", reply(output("u", "Allow", testARN, "")), 200, nil, ""},
		{"deny", reply(output("u", "Deny", testARN, "")), 403, ErrForbidden, `denies execute-api:Invoke`},
		{"allow other resource", reply(output("u", "Allow", "arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/$connect", "")), 403, ErrForbidden, "does not allow"},
		{"no statements", reply(`{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[]}}`), 403, ErrForbidden, "does not allow"},
		{"thrown Unauthorized", thrown("Unauthorized"), 401, ErrUnauthorized, `threw "Unauthorized"`},
		{"thrown other", thrown("boom"), 500, ErrFailed, "boom"},
		{"thrown unauthorized lowercase", thrown("unauthorized"), 500, ErrFailed, "unauthorized"},
		{"http 401", status(401), 401, ErrUnauthorized, "HTTP 401"},
		{"http 403", status(403), 500, ErrFailed, "HTTP 403"},
		{"http 500", status(502), 500, ErrFailed, "HTTP 502"},
		{"timeout", func(context.Context, *event.Request) (*event.Response, error) {
			return nil, fmt.Errorf("POST x: %w", integration.ErrTimeout)
		}, 500, integration.ErrTimeout, "timed out"},
		{"nil response", func(context.Context, *event.Request) (*event.Response, error) { return nil, nil }, 500, ErrFailed, "no response"},
		{"null output", reply(`null`), 500, ErrFailed, "returned nothing"},
		{"proxy response", reply(`{"statusCode":401,"body":"Unauthorized"}`), 500, ErrFailed, "Lambda proxy response"},
		{"malformed", reply(`{"principalId":"u"}`), 500, ErrFailed, "policyDocument is missing"},
		{"nested context", reply(output("u", "Allow", testARN, `{"o":{"a":1}}`)), 500, ErrFailed, `context["o"] is an object`},
		{"too large", reply(output("u", "Allow", testARN, `{"big":"`+strings.Repeat("x", MaxOutputBytes)+`"}`)), 500, ErrFailed, "8 KB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTest(t, headerSource, tc.inv)
			d, err := a.Authorize(context.Background(), testConn(), testHeaders("t"), nil, testARN)
			if got := Status(err); got != tc.status {
				t.Errorf("Status = %d, want %d (err %v)", got, tc.status, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want it to wrap %v", err, tc.is)
			}
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q, want it to say %q", err, tc.msg)
			}
			if errors.Is(err, ErrForbidden) && d.PrincipalID != "u" {
				t.Errorf("denied decision has PrincipalID %q, want u", d.PrincipalID)
			}
			if err != nil && d.Context != nil {
				t.Errorf("refused decision has a context: %v", d.Context)
			}
		})
	}
}

// thrownError stands for an integration's error for a function that threw.
type thrownError struct{ msg string }

func (e *thrownError) Error() string        { return "function error: Error: " + e.msg }
func (e *thrownError) ErrorMessage() string { return e.msg }

func TestAuthorizeIdentitySources(t *testing.T) {
	c := config.Authorizer{IdentitySources: []string{"route.request.header.X-Token", "route.request.querystring.room"}}
	for _, tc := range []struct {
		name    string
		headers []event.HeaderField
		query   []event.QueryParam
		ok      bool
	}{
		{"both", []event.HeaderField{hf("X-Token", "t")}, []event.QueryParam{qp("room", "r")}, true},
		{"header name case", []event.HeaderField{hf("x-token", "t")}, []event.QueryParam{qp("room", "r")}, true},
		{"no header", nil, []event.QueryParam{qp("room", "r")}, false},
		{"empty header", []event.HeaderField{hf("X-Token", "")}, []event.QueryParam{qp("room", "r")}, false},
		{"last header empty", []event.HeaderField{hf("X-Token", "t"), hf("x-token", "")}, []event.QueryParam{qp("room", "r")}, false},
		{"no query", []event.HeaderField{hf("X-Token", "t")}, nil, false},
		{"query name case", []event.HeaderField{hf("X-Token", "t")}, []event.QueryParam{qp("Room", "r")}, false},
		{"empty query", []event.HeaderField{hf("X-Token", "t")}, []event.QueryParam{qp("room", "")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, calls := counting(reply(output("u", "Allow", "*", "")))
			a := newTest(t, c, inv)
			_, err := a.Authorize(context.Background(), testConn(), tc.headers, tc.query, testARN)
			if tc.ok {
				if err != nil || calls.Load() != 1 {
					t.Fatalf("err %v, calls %d; want allowed after one call", err, calls.Load())
				}
				return
			}
			if Status(err) != 401 || !errors.Is(err, ErrUnauthorized) {
				t.Errorf("err = %v (status %d), want ErrUnauthorized (401)", err, Status(err))
			}
			if calls.Load() != 0 {
				t.Errorf("the integration was called %d times for a missing identity source", calls.Load())
			}
		})
	}
}

func TestAuthorizeNoIdentitySources(t *testing.T) {
	inv, calls := counting(reply(output("anon", "Allow", "*", "")))
	a := newTest(t, config.Authorizer{}, inv)
	for range 2 {
		if _, err := a.Authorize(context.Background(), testConn(), nil, nil, testARN); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2 (no cache)", calls.Load())
	}
}

func TestAuthorizeContextCancelled(t *testing.T) {
	inv := invokerFunc(func(ctx context.Context, req *event.Request) (*event.Response, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	a := newTest(t, headerSource, inv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.Authorize(ctx, testConn(), testHeaders("t"), nil, testARN)
	if !errors.Is(err, ErrFailed) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want ErrFailed wrapping context.Canceled", err)
	}
	if _, err := a.Authorize(context.Background(), testConn(), testHeaders("t"), nil, ""); !errors.Is(err, ErrFailed) {
		t.Errorf("empty methodArn: err = %v, want ErrFailed", err)
	}
}

func TestIntegrationLatency(t *testing.T) {
	clk := newClock()
	inv := invokerFunc(func(ctx context.Context, req *event.Request) (*event.Response, error) {
		clk.Advance(42 * time.Millisecond)
		return reply(output("u", "Allow", "*", `{"integrationLatency":"x","principalId":"spoof"}`))(ctx, req)
	})
	a := newTest(t, headerSource, inv, func(o *Options) { o.Now = clk.Now })
	d, err := a.Authorize(context.Background(), testConn(), testHeaders("t"), nil, testARN)
	if err != nil {
		t.Fatal(err)
	}
	if d.Context["integrationLatency"] != float64(42) || d.Context["principalId"] != "u" {
		t.Errorf("context %v, want integrationLatency 42 and principalId u", d.Context)
	}
}

func TestNew(t *testing.T) {
	inv := reply("")
	for _, tc := range []struct {
		name string
		c    config.Authorizer
		max  int
		inv  Invoker
		want string // "" : valid
	}{
		{"header and query", config.Authorizer{IdentitySources: []string{"route.request.header.Authorization", "route.request.querystring.token"}, CacheTTL: config.Duration(5 * time.Minute)}, 0, inv, ""},
		{"none", config.Authorizer{}, 0, inv, ""},
		{"one hour", config.Authorizer{IdentitySources: []string{"route.request.header.A"}, CacheTTL: config.Duration(time.Hour)}, 5, inv, ""},
		{"no invoker", config.Authorizer{}, 0, nil, "Options.Invoker is nil"},
		{"http api syntax", config.Authorizer{IdentitySources: []string{"$request.header.Authorization"}}, 0, inv, `identitySources[0]: "$request.header.Authorization" is the HTTP API syntax; WebSocket APIs write route.request.header.Authorization`},
		{"rest api syntax", config.Authorizer{IdentitySources: []string{"route.request.header.A", "method.request.querystring.t"}}, 0, inv, `identitySources[1]: "method.request.querystring.t" is the REST API syntax; WebSocket APIs write route.request.querystring.t`},
		{"prefix case", config.Authorizer{IdentitySources: []string{"route.request.Header.A"}}, 0, inv, "the prefix is case-sensitive; write route.request.header.A"},
		{"bad header name", config.Authorizer{IdentitySources: []string{"route.request.header.A B"}}, 0, inv, `"A B" is not a valid header name`},
		{"empty header name", config.Authorizer{IdentitySources: []string{"route.request.header."}}, 0, inv, `"" is not a valid header name`},
		{"empty query name", config.Authorizer{IdentitySources: []string{"route.request.querystring."}}, 0, inv, "the query parameter name is empty"},
		{"stage variable", config.Authorizer{IdentitySources: []string{"stageVariables.x"}}, 0, inv, "no stage variables"},
		{"context", config.Authorizer{IdentitySources: []string{"context.routeKey"}}, 0, inv, "context variables are not supported"},
		{"garbage", config.Authorizer{IdentitySources: []string{"Authorization"}}, 0, inv, "want route.request.header.NAME or route.request.querystring.NAME"},
		{"negative ttl", config.Authorizer{IdentitySources: []string{"route.request.header.A"}, CacheTTL: config.Duration(-time.Second)}, 0, inv, "cacheTTL: -1s is negative"},
		{"ttl too long", config.Authorizer{IdentitySources: []string{"route.request.header.A"}, CacheTTL: config.Duration(2 * time.Hour)}, 0, inv, "more than 1h"},
		{"cache without sources", config.Authorizer{CacheTTL: config.Duration(time.Minute)}, 0, inv, "there are none"},
		{"negative max", config.Authorizer{}, -1, inv, "MaxCacheEntries is -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Config: tc.c, Invoker: tc.inv, MaxCacheEntries: tc.max})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Every problem is reported at once.
	_, err := New(Options{Config: config.Authorizer{IdentitySources: []string{"a", "b"}, CacheTTL: config.Duration(-1)}})
	for _, want := range []string{"Invoker", "identitySources[0]", "identitySources[1]", "cacheTTL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("joined error %v lacks %q", err, want)
		}
	}
}

func TestStatusAndMethodARN(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{fmt.Errorf("%w: x", ErrUnauthorized), 401},
		{fmt.Errorf("%w: x", ErrForbidden), 403},
		{fmt.Errorf("%w: x", ErrFailed), 500},
		{errors.New("other"), 500},
	} {
		if got := Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if got, want := MethodARN("us-east-1", "123456789012", "abcdef123", "default"), "arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$connect"; got != want {
		t.Errorf("MethodARN = %q, want %q", got, want)
	}
}

func hf(name, value string) event.HeaderField { return event.HeaderField{Name: name, Value: value} }
func qp(name, value string) event.QueryParam  { return event.QueryParam{Name: name, Value: value} }
