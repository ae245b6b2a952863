package server

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/tracing"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver: it decodes the
// protobuf export requests the server's exporter POSTs to /v1/traces and
// keeps their spans.
type otlpReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	spans    []recvSpan
	services map[string]bool // service.name of the resources
	changed  chan struct{}   // closed and replaced on every export
}

// recvSpan is a received span, ids in hex.
type recvSpan struct {
	name                    string
	traceID, spanID, parent string
	kind                    tracepb.Span_SpanKind
	attrs                   map[string]string
	status                  tracepb.Status_StatusCode
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{t: t, services: map[string]bool{}, changed: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP receiver: unexpected %s %s (%s)", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		var ex collectortrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &ex)
		}
		if err != nil {
			t.Errorf("OTLP receiver: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&ex)
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *otlpReceiver) add(ex *collectortrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range ex.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				r.services[kv.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, recvSpan{
					name:    s.GetName(),
					traceID: hex.EncodeToString(s.GetTraceId()),
					spanID:  hex.EncodeToString(s.GetSpanId()),
					parent:  hex.EncodeToString(s.GetParentSpanId()),
					kind:    s.GetKind(),
					attrs:   attrMap(s.GetAttributes()),
					status:  s.GetStatus().GetCode(),
				})
			}
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch v.GetValue().(type) {
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = fmt.Sprint(v.GetIntValue())
		default:
			m[kv.GetKey()] = v.GetStringValue()
		}
	}
	return m
}

// wait returns the first span named name for which match holds (nil:
// any), waiting for exports to bring it (the exporter is synchronous: a
// span is here once it has ended).
func (r *otlpReceiver) wait(name string, match func(recvSpan) bool) recvSpan {
	r.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, s := range r.spans {
			if s.name == name && (match == nil || match(s)) {
				r.mu.Unlock()
				return s
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			r.t.Fatalf("no span %q arrived; got %v", name, r.names())
		}
	}
}

func (r *otlpReceiver) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.spans {
		out = append(out, s.name)
	}
	return out
}

// startTraced is startServer with a tracer provider built, as serve
// builds it, from OTEL_* variables that point the exporter at rec
// (synchronous export, so that tests wait for spans, not timers).
func startTraced(t *testing.T, rec *otlpReceiver, yaml string, mutate ...func(*config.Config)) *env {
	t.Helper()
	p, err := tracing.FromEnv(func(k string) (string, bool) {
		v, ok := map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": rec.srv.URL,
			"OTEL_SERVICE_NAME":           "switchboard-test",
			"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment=test",
		}[k]
		return v, ok
	}, tracing.Options{Version: "test", Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) }) // after the server's shutdown
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	yaml = strings.ReplaceAll(yaml, "{{base}}", "http://"+ln.Addr().String())
	cfg, err := config.Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		ln.Close()
		t.Fatalf("config: %v", err)
	}
	cfg.Shutdown.DrainWindow = config.Duration(100 * time.Millisecond)
	cfg.Shutdown.Timeout = config.Duration(10 * time.Second)
	if cfg.Management.AllowLoopback == nil {
		cfg.Management.AllowLoopback = new(true)
	}
	for _, f := range mutate {
		f(cfg)
	}
	if err := cfg.Validate(); err != nil {
		ln.Close()
		t.Fatalf("config: %v", err)
	}
	logs := &logBuffer{t: t}
	srv, err := New(cfg, Options{
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Engine:         ws.Options{Tick: 20 * time.Millisecond, CloseTimeout: time.Second},
		Listener:       ln,
		TracerProvider: p.TracerProvider(),
	})
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, srv: srv, base: "http://" + ln.Addr().String(), logs: logs, stop: cancel, done: make(chan error, 1)}
	go func() { e.done <- srv.Run(ctx) }()
	t.Cleanup(func() { e.shutdown() })
	return e
}

// traceparent is the W3C header naming s as the parent.
func (s recvSpan) traceparent() string { return "00-" + s.traceID + "-" + s.spanID + "-01" }

// header returns the headers of the backend's i-th request (-1: the
// last).
func header(b *backend, i int) http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i < 0 {
		i += len(b.headers)
	}
	return b.headers[i]
}

// checkAttrs fails the test for every attribute of want that s lacks.
func checkAttrs(t *testing.T, s recvSpan, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if s.attrs[k] != v {
			t.Errorf("span %q: %s = %q, want %q (attributes %v)", s.name, k, s.attrs[k], v, s.attrs)
		}
	}
}

// A real WebSocket client connects (with a traceparent of its own), is
// authorized by an HTTP authorizer, sends a message and is reached by a
// management POST carrying a traceparent; it closes. Every route
// invocation, the authorizer call and the management request arrive at
// the OTLP receiver as spans with their attributes, and the parent links
// hold: the HTTP backends received the traceparent of the span that
// called them, and the management span is the child of the caller's.
func TestTracingHTTP(t *testing.T) {
	rec := newOTLPReceiver(t)
	authz := newBackend(t)
	authz.setRespond(func(ev map[string]any) (int, string) {
		return 200, `{"principalId":"u1","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"` + ev["methodArn"].(string) + `"}]}}`
	})
	b := newBackend(t)
	e := startTraced(t, rec, backendAPI(b.srv.URL, `    auth:
      authorizer:
        integration: backend
        identitySources: [route.request.header.X-Token]
`), func(c *config.Config) {
		in := c.APIs[0].Integrations["backend"]
		in.URL = authz.srv.URL
		c.APIs[0].Integrations["authz"] = in
		c.APIs[0].Auth.Authorizer.Integration = "authz"
	})

	// The client's own trace: the handshake's spans are its children.
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	c := e.dial("test", &websocket.DialOptions{HTTPHeader: http.Header{
		"X-Token":     {"t"},
		"Traceparent": {"00-" + clientTrace + "-" + clientSpan + "-01"},
	}})
	connect := b.waitEvents("$connect", 1)[0]
	id := ctxField(connect, "connectionId")

	az := rec.wait("authorizer connect", nil)
	if az.traceID != clientTrace || az.parent != clientSpan || az.kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("authorizer span %+v: want a client span, child of the handshake's traceparent", az)
	}
	checkAttrs(t, az, map[string]string{"switchboard.authorizer": "connect", "switchboard.integration": "authz",
		"switchboard.connection_id": id, "switchboard.outcome": "ok", "switchboard.stage": "test"})
	if got := header(authz, 0).Get("Traceparent"); got != az.traceparent() {
		t.Errorf("the authorizer got traceparent %q, want %q", got, az.traceparent())
	}

	cs := rec.wait("route $connect", nil)
	if cs.traceID != clientTrace || cs.parent != clientSpan {
		t.Errorf("$connect span %+v: want a child of the handshake's traceparent", cs)
	}
	checkAttrs(t, cs, map[string]string{"switchboard.route": "$connect", "switchboard.connection_id": id,
		"switchboard.integration": "backend", "switchboard.integration.type": "http",
		"switchboard.outcome": "ok", "switchboard.status": "200", "switchboard.api": "testapi",
		"switchboard.request_id": ctxField(connect, "requestId")})
	if got := header(b, 0).Get("Traceparent"); got != cs.traceparent() {
		t.Errorf("$connect backend got traceparent %q, want %q", got, cs.traceparent())
	}

	// A message: a new trace (a message has no caller's context), whose
	// route span is the backend's parent.
	before := time.Now().Unix()
	write(t, c, `{"action":"anything","n":1}`)
	msg := b.waitEvents("$default", 1)[0]
	ms := rec.wait("route $default", nil)
	after := time.Now().Unix()
	if ms.parent != "" || ms.traceID == clientTrace || ms.kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("$default span %+v: want a root client span of a new trace", ms)
	}
	checkAttrs(t, ms, map[string]string{"switchboard.route": "$default", "switchboard.connection_id": id,
		"switchboard.integration.type": "http", "switchboard.outcome": "ok", "switchboard.status": "200",
		"switchboard.request_id": ctxField(msg, "requestId")})
	if got := header(b, 1).Get("Traceparent"); got != ms.traceparent() {
		t.Errorf("$default backend got traceparent %q, want %q", got, ms.traceparent())
	}
	if secs, err := strconv.ParseInt(ms.traceID[:8], 16, 64); err != nil || secs < before || secs > after {
		t.Errorf("trace id %s does not start with the epoch seconds %x to %x (X-Ray compatible ids)", ms.traceID, before, after)
	}

	// A failing backend (a plain 500 is a failed call): the span's status
	// is an error.
	b.setRespond(func(map[string]any) (int, string) { return 500, "" })
	write(t, c, `{"action":"anything","n":2}`)
	if m := readJSON(t, c); m["message"] != "Internal server error" {
		t.Fatalf("the failed route answered %v", m)
	}
	fail := rec.wait("route $default", func(s recvSpan) bool { return s.attrs["switchboard.outcome"] == "error" })
	if fail.status != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("failed route span %+v: want status error", fail)
	}
	b.setRespond(nil)

	// A management POST with the caller's traceparent.
	const mgmtTrace = "0af7651916cd43dd8448eb211c80319c"
	const mgmtSpan = "b7ad6b7169203331"
	req, _ := http.NewRequest(http.MethodPost, e.base+"/test/@connections/"+id, strings.NewReader("hi"))
	req.Header.Set("Traceparent", "00-"+mgmtTrace+"-"+mgmtSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST @connections: %d", resp.StatusCode)
	}
	if _, got := read(t, c); string(got) != "hi" {
		t.Fatalf("the client got %q", got)
	}
	mg := rec.wait("POST /{stage}/@connections/{connectionId}", nil)
	if mg.traceID != mgmtTrace || mg.parent != mgmtSpan || mg.kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("management span %+v: want a server span, child of the request's traceparent", mg)
	}
	checkAttrs(t, mg, map[string]string{"http.request.method": "POST", "http.route": "/{stage}/@connections/{connectionId}",
		"http.response.status_code": "200", "switchboard.stage": "test"})
	if strings.Contains(mg.name, id) {
		t.Errorf("management span name %q contains the connection id", mg.name)
	}
	// A management error without a traceparent: a root span, status 410.
	req, _ = http.NewRequest(http.MethodGet, e.base+"/test/@connections/AAAAAAAAAAAAAAAA", nil)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	gone := rec.wait("GET /{stage}/@connections/{connectionId}", nil)
	if gone.parent != "" || gone.attrs["http.response.status_code"] != fmt.Sprint(resp.StatusCode) || resp.StatusCode < 400 {
		t.Errorf("GET of an unknown connection: %d, span %+v", resp.StatusCode, gone)
	}

	c.Close(websocket.StatusNormalClosure, "")
	ds := rec.wait("route $disconnect", nil)
	checkAttrs(t, ds, map[string]string{"switchboard.connection_id": id, "switchboard.outcome": "ok", "switchboard.attempt": "1"})
	evs := b.waitEvents("$disconnect", 1)
	h := header(b, -1)
	if ctxField(evs[0], "connectionId") != id || h.Get("Traceparent") != ds.traceparent() {
		t.Errorf("$disconnect backend got traceparent %q, want %q", h.Get("Traceparent"), ds.traceparent())
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !rec.services["switchboard-test"] {
		t.Errorf("service.name of the spans: %v, want switchboard-test (OTEL_SERVICE_NAME)", rec.services)
	}
}

// xray is the X-Amzn-Trace-Id naming s as the parent.
func (s recvSpan) xray() string {
	return "Root=1-" + s.traceID[:8] + "-" + s.traceID[8:] + ";Parent=" + s.spanID + ";Sampled=1"
}

// A lambda integration (the Invoke API of a fake Lambda endpoint) gets the
// X-Amzn-Trace-Id of each route span: Root from its trace id, Parent its
// span id.
func TestTracingLambda(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "dummy")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	empty := t.TempDir() + "/none"
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)

	var mu sync.Mutex
	traces := map[string]string{} // X-Amzn-Trace-Id by route key
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev struct {
			RequestContext struct{ RouteKey string } `json:"requestContext"`
		}
		if err := json.Unmarshal(b, &ev); err != nil || r.URL.Path != "/2015-03-31/functions/chat/invocations" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		traces[ev.RequestContext.RouteKey] = r.Header.Get("X-Amzn-Trace-Id")
		mu.Unlock()
		fmt.Fprint(w, `{"statusCode":200,"body":"ok"}`)
	}))
	defer fake.Close()
	rec := newOTLPReceiver(t)
	e := startTraced(t, rec, fmt.Sprintf(`
apis:
  - id: lam
    stage: lam
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: fn}
      $default: {integration: fn, routeResponseSelectionExpression: $default}
    integrations:
      fn:
        type: lambda
        timeout: 5s
        lambda: {functionName: chat, region: us-east-1, endpoint: %s}
`, fake.URL))
	c := e.dial("lam", nil)
	write(t, c, "hello")
	if _, b := read(t, c); string(b) != "ok" {
		t.Fatalf("got %q", b)
	}
	for _, route := range []string{"$connect", "$default"} {
		s := rec.wait("route "+route, nil)
		checkAttrs(t, s, map[string]string{"switchboard.integration.type": "lambda", "switchboard.outcome": "ok"})
		mu.Lock()
		got := traces[route]
		mu.Unlock()
		if got != s.xray() {
			t.Errorf("%s: the Lambda Invoke call carried X-Amzn-Trace-Id %q, want %q", route, got, s.xray())
		}
	}
}

// A function integration's worker (an aws-lambda-go handler, run through
// the Lambda Runtime API) gets the route span as _X_AMZN_TRACE_ID of the
// invocation: the AWS SDK call it makes during that invocation
// (PostToConnection, which the SDK sends with X-Amzn-Trace-Id from
// _X_AMZN_TRACE_ID inside Lambda) is traced as a management request whose
// parent is that route span.
func TestTracingFunction(t *testing.T) {
	dir := goHandler(t)
	noAWSEnv(t)
	rec := newOTLPReceiver(t)
	e := startTraced(t, rec, functionAPI("provided", dir, "handler", ""), closedManagement)

	c := e.dial("fn", nil)
	write(t, c, "hello")
	if _, b := read(t, c); string(b) != "echo: hello" {
		t.Fatalf("got %q", b)
	}
	route := rec.wait("route $default", nil)
	checkAttrs(t, route, map[string]string{"switchboard.integration.type": "function", "switchboard.outcome": "ok"})
	post := rec.wait("POST /{stage}/@connections/{connectionId}", nil)
	if post.traceID != route.traceID || post.parent != route.spanID {
		t.Errorf("the handler's PostToConnection span is in trace %s under %s; want trace %s under the route span %s",
			post.traceID, post.parent, route.traceID, route.spanID)
	}
	checkAttrs(t, post, map[string]string{"http.response.status_code": "200", "switchboard.stage": "fn"})

	// A second invocation gets its own span as _X_AMZN_TRACE_ID, not the
	// first one's.
	write(t, c, "again")
	if _, b := read(t, c); string(b) != "echo: again" {
		t.Fatalf("got %q", b)
	}
	route2 := rec.wait("route $default", func(s recvSpan) bool { return s.spanID != route.spanID })
	rec.wait("POST /{stage}/@connections/{connectionId}", func(s recvSpan) bool {
		return s.traceID == route2.traceID && s.parent == route2.spanID
	})
}

// A namespace's authorizer integration: each SUBSCRIBE it is asked is an
// "authorizer channel" span whose traceparent the integration receives; a
// refusal is "denied", not an error. A built-in action is an internal
// route span.
func TestTracingChannelAuthorizerAndAction(t *testing.T) {
	rec := newOTLPReceiver(t)
	b := newBackend(t)
	b.setRespond(func(ev map[string]any) (int, string) {
		if body, _ := ev["body"].(string); strings.Contains(body, `"auth:no"`) {
			return 403, ""
		}
		return 200, ""
	})
	e := startTraced(t, rec, backendAPI(b.srv.URL, `    channels:
      namespaces:
        - pattern: "auth:*"
          subscribe: authorizer
          authorizer: backend
`), func(c *config.Config) {
		c.APIs[0].Routes["echo"] = config.Route{Action: &config.Action{Type: "echo"}}
	})
	c, hello := e.v1("test", nil)
	id := hello["connectionId"].(string)
	if r, _ := call(t, c, 1, `{"type":"subscribe","id":1,"channel":"auth:ok"}`); r["error"] != nil {
		t.Fatalf("allowed subscribe: %v", r)
	}
	ok := rec.wait("authorizer channel", func(s recvSpan) bool { return s.attrs["switchboard.outcome"] == "ok" })
	checkAttrs(t, ok, map[string]string{"switchboard.authorizer": "channel", "switchboard.route": "$subscribe",
		"switchboard.connection_id": id, "switchboard.integration": "backend", "switchboard.status": "200"})
	evs := b.eventsFor("$subscribe")
	if len(evs) != 1 {
		t.Fatalf("%d $subscribe events", len(evs))
	}
	if got := header(b, -1).Get("Traceparent"); got != ok.traceparent() {
		t.Errorf("the channel authorizer got traceparent %q, want %q", got, ok.traceparent())
	}
	if r, _ := call(t, c, 2, `{"type":"subscribe","id":2,"channel":"auth:no"}`); r["error"] == nil {
		t.Fatalf("denied subscribe: %v", r)
	}
	no := rec.wait("authorizer channel", func(s recvSpan) bool { return s.attrs["switchboard.outcome"] == "denied" })
	if no.status == tracepb.Status_STATUS_CODE_ERROR || no.attrs["switchboard.status"] != "403" {
		t.Errorf("denied span %+v: want status 403 and no error", no)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")

	raw := e.dial("test", nil)
	write(t, raw, `{"action":"echo","x":1}`)
	if _, got := read(t, raw); string(got) != `{"action":"echo","x":1}` {
		t.Fatalf("echo answered %q", got)
	}
	act := rec.wait("route echo", nil)
	if act.kind != tracepb.Span_SPAN_KIND_INTERNAL {
		t.Errorf("action span kind %v, want internal", act.kind)
	}
	checkAttrs(t, act, map[string]string{"switchboard.integration": "action:echo", "switchboard.integration.type": "action",
		"switchboard.outcome": "ok"})
}
