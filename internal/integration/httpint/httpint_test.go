package httpint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/integration"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testConn = &event.Connection{
	ID: "R1kmxc2VNjMCFIA=", APIID: "api", Stage: "prod", DomainName: "example.com",
	ConnectedAt: time.UnixMilli(1705751697419),
	Identity:    event.Identity{SourceIP: "203.0.113.7", UserAgent: "ua/1"},
}

func testMessage(body string) *event.Request {
	return event.Message(testConn, time.UnixMilli(1705751708326), event.NewID(), event.NewID(), "chat", []byte(body), false)
}

// newServer starts an httptest server that is closed when the test ends,
// after the client's idle connections.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(testLogWriter{t}, "backend: ", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// testLogWriter routes a server's log to t.Logf.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Logf("%s", bytes.TrimSuffix(p, []byte("\n")))
	return len(p), nil
}

// newIntegration builds an integration on its own transport, released when
// the test ends.
func newIntegration(t *testing.T, cfg Config) *Integration {
	t.Helper()
	i, err := New("test", cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(i.CloseIdleConnections)
	return i
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInvokeSendsEventAndHeaders(t *testing.T) {
	type received struct {
		method, path, host string
		header             http.Header
		body               []byte
	}
	got := make(chan received, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.URL.RequestURI(), r.Host, r.Header.Clone(), b}
		w.WriteHeader(http.StatusNoContent)
	})
	i := newIntegration(t, Config{
		URL:     srv.URL + "/hook?x=1",
		Headers: map[string]string{"authorization": "Bearer s3cret", "Host": "backend.internal"},
	})

	for _, req := range []*event.Request{
		event.Connect(testConn, time.UnixMilli(1705751697419), "R1koeHsUtjMFbRw=", []event.HeaderField{{Name: "Host", Value: "example.com"}}, []event.QueryParam{{Name: "a", Value: "b"}}),
		testMessage(`{"action":"chat","text":"héllo <b>"}`),
		event.Disconnect(testConn, time.UnixMilli(1705751708326), event.NewID(), 1001, "", "example.com"),
	} {
		resp, err := i.Invoke(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: Invoke: %v", req.EventType(), err)
		}
		if resp.StatusCode != http.StatusNoContent || resp.Proxy {
			t.Errorf("%s: response %+v", req.EventType(), resp)
		}
		r := <-got
		if r.method != http.MethodPost || r.path != "/hook?x=1" || r.host != "backend.internal" {
			t.Errorf("%s: %s %s Host %s", req.EventType(), r.method, r.path, r.host)
		}
		if want := req.AppendJSON(nil); !bytes.Equal(r.body, want) {
			t.Errorf("%s: body\n got %s\nwant %s", req.EventType(), r.body, want)
		}
		for k, want := range map[string]string{
			"Content-Type":        "application/json",
			"Authorization":       "Bearer s3cret",
			"X-Switchboard-Route": req.RouteKey(),
			"X-Switchboard-Event": req.EventType(),
			"X-Amzn-Requestid":    req.RequestID(),
		} {
			if got := r.header.Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("%s: header %s = %q, want %q", req.EventType(), k, got, want)
			}
		}
	}
}

func TestInvokeResponses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		ctype   string
		body    string
		want    *event.Response
		wantErr string
	}{
		{
			name: "proxy object", status: 200, ctype: "application/json",
			body: `{"statusCode":201,"headers":{"Sec-WebSocket-Protocol":"chat"},"body":"{\"ok\":true}"}`,
			want: &event.Response{StatusCode: 201, Headers: map[string]string{"Sec-WebSocket-Protocol": "chat"}, Body: []byte(`{"ok":true}`), Proxy: true},
		},
		{
			name: "proxy object base64", status: 200, body: `{"statusCode":200,"body":"AAEC","isBase64Encoded":true}`,
			want: &event.Response{StatusCode: 200, Body: []byte{0, 1, 2}, IsBase64Encoded: true, Proxy: true},
		},
		{
			name: "proxy 500 status inside HTTP 200", status: 200, body: `{"statusCode":500,"body":"boom"}`,
			want: &event.Response{StatusCode: 500, Body: []byte("boom"), Proxy: true},
		},
		{name: "plain text", status: 200, ctype: "text/plain", body: "hello", want: &event.Response{StatusCode: 200, Body: []byte("hello")}},
		{name: "plain 4xx", status: 403, ctype: "text/plain", body: "go away", want: &event.Response{StatusCode: 403, Body: []byte("go away")}},
		{name: "redirect not followed", status: 302, ctype: "text/plain", want: &event.Response{StatusCode: 302, Body: []byte{}}},
		{name: "plain 5xx", status: 503, ctype: "text/plain", body: "down", wantErr: "backend response: HTTP 503 Service Unavailable"},
		{name: "malformed proxy", status: 200, body: `{"statusCode":200,"headers":{"A":1}}`, wantErr: `backend response: headers["A"] is a number, want a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				if tc.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			i := newIntegration(t, Config{URL: srv.URL})
			resp, err := i.Invoke(context.Background(), testMessage("x"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "POST "+srv.URL+": ") {
					t.Fatalf("err = %v, want POST %s: ...%s...", err, srv.URL, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if !tc.want.Proxy {
				// Plain replies carry the HTTP headers; check a few, then
				// compare the rest.
				if resp.Header("Content-Type") != tc.ctype || resp.Header("Content-Length") == "" && tc.body != "" {
					t.Errorf("headers %v", resp.Headers)
				}
				resp.Headers, resp.MultiValueHeaders = nil, nil
			}
			if diff := cmp.Diff(tc.want, resp); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestInvokeTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	i := newIntegration(t, Config{URL: srv.URL, Timeout: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, err := i.Invoke(context.Background(), testMessage("x"))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, integration.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if want := "POST " + srv.URL + ": no response within 100ms: integration timed out"; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Invoke did not return after its timeout")
	}
}

func TestInvokeParentCancelled(t *testing.T) {
	arrived := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		// Reading the body to EOF lets net/http notice the client hanging
		// up and cancel r.Context().
		io.Copy(io.Discard, r.Body)
		close(arrived)
		<-r.Context().Done()
	})
	i := newIntegration(t, Config{URL: srv.URL, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := i.Invoke(ctx, testMessage("x"))
		done <- err
	}()
	<-arrived
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || errors.Is(err, integration.ErrTimeout) {
			t.Fatalf("err = %v, want context.Canceled and not ErrTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Invoke did not return after cancel")
	}

	// Already cancelled: no request is made.
	_, err := i.Invoke(ctx, testMessage("x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestInvokeOversizedBody(t *testing.T) {
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for _, tc := range []struct {
		name          string
		contentLength bool
		size          int
		wantErr       bool
	}{
		{"exactly 6 MiB", true, MaxResponseBytes, false},
		{"over, with Content-Length", true, MaxResponseBytes + 1, true},
		{"over, chunked", false, MaxResponseBytes + 1, true},
		{"far over, chunked", false, 4 * MaxResponseBytes, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(tc.size))
				}
				for n := tc.size; n > 0; {
					m := min(n, len(chunk))
					if _, err := w.Write(chunk[:m]); err != nil {
						return
					}
					n -= m
				}
			})
			i := newIntegration(t, Config{URL: srv.URL})
			resp, err := i.Invoke(context.Background(), testMessage("x"))
			if !tc.wantErr {
				if err != nil || len(resp.Body) != tc.size {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrResponseTooLarge) || err.Error() != "POST "+srv.URL+": backend response larger than 6 MiB" {
				t.Fatalf("err = %v, want ErrResponseTooLarge", err)
			}
		})
	}
}

func TestInvokeConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	i := newIntegration(t, Config{URL: "http://" + addr + "/hook"})
	_, err = i.Invoke(context.Background(), testMessage("x"))
	if err == nil || !strings.HasPrefix(err.Error(), "POST http://"+addr+"/hook: ") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v, want POST http://%s/hook: ... connection refused", err, addr)
	}
	if errors.Is(err, integration.ErrTimeout) {
		t.Error("connection refused reported as a timeout")
	}
}

func TestInvokeConcurrencyBound(t *testing.T) {
	var inFlight, maxSeen, total atomic.Int32
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		total.Add(1)
		io.WriteString(w, "ok")
	})
	i := newIntegration(t, Config{URL: srv.URL, MaxConcurrency: 3})

	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := i.Invoke(context.Background(), testMessage("x"))
			errs <- err
		})
	}
	waitFor(t, "3 requests in flight", func() bool { return inFlight.Load() == 3 })
	// Give a fourth request the chance to arrive if the bound leaked.
	time.Sleep(100 * time.Millisecond)
	if n := inFlight.Load(); n != 3 {
		t.Errorf("%d requests in flight, want 3", n)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Invoke: %v", err)
		}
	}
	if m := maxSeen.Load(); m != 3 {
		t.Errorf("server saw up to %d concurrent requests, want 3", m)
	}
	if n := total.Load(); n != 10 {
		t.Errorf("server handled %d requests, want 10", n)
	}
}

// TestInvokeSlotWaitCountsAgainstTimeout: a call that cannot get a slot
// times out like one that got no reply.
func TestInvokeSlotWaitCountsAgainstTimeout(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	})
	i := newIntegration(t, Config{URL: srv.URL, MaxConcurrency: 1, Timeout: 5 * time.Second})
	first := make(chan error, 1)
	go func() {
		_, err := i.Invoke(context.Background(), testMessage("x"))
		first <- err
	}()
	<-arrived

	short := newIntegrationSharingSem(i, 50*time.Millisecond)
	_, err := short.Invoke(context.Background(), testMessage("y"))
	if !errors.Is(err, integration.ErrTimeout) || !strings.Contains(err.Error(), "no free slot within 50ms (1 calls in flight)") {
		t.Errorf("err = %v, want a slot timeout", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first call: %v", err)
	}
}

// newIntegrationSharingSem returns a copy of i with another timeout and the
// same semaphore and client.
func newIntegrationSharingSem(i *Integration, timeout time.Duration) *Integration {
	c := *i
	c.timeout = timeout
	return &c
}

func TestInvokeReusesConnection(t *testing.T) {
	var conns atomic.Int32
	var fail atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "bad")
			return
		}
		io.WriteString(w, `{"statusCode":200,"body":"ok"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	// A shared client, as the server passes it.
	tr := NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	i, err := New("shared", Config{URL: srv.URL}, &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	for n := range 20 {
		body := strings.Repeat("m", n*1000) // various request sizes
		if _, err := i.Invoke(context.Background(), testMessage(body)); err != nil {
			t.Fatalf("call %d: %v", n, err)
		}
	}
	// Replies the gateway rejects must not cost a connection either.
	fail.Store(true)
	for range 3 {
		if _, err := i.Invoke(context.Background(), testMessage("x")); err == nil {
			t.Fatal("5xx reply accepted")
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("server saw %d connections for sequential calls, want 1", n)
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, `http integration "x": url is required`},
		{Config{URL: "ftp://h/"}, `http integration "x": url "ftp://h/": scheme must be http or https`},
		{Config{URL: "http:///path"}, `http integration "x": url "http:///path": no host`},
		{Config{URL: "http://u:pw@h/", Timeout: -1}, `http integration "x": timeout -1ns is negative; use 0 for the default (29s)`},
		{Config{URL: "http://h/", MaxConcurrency: -1}, `http integration "x": maxConcurrency -1 is negative; use 0 for the default (256)`},
		{Config{URL: "http://h/", Headers: map[string]string{"Bad Name": "v"}}, `http integration "x": headers: "Bad Name" is not a valid header name`},
		{Config{URL: "http://h/", Headers: map[string]string{"X-A": "v\r\nX-B: w"}}, `http integration "x": headers: the value of X-A contains a line break or NUL`},
		{Config{URL: "http://h/", Headers: map[string]string{"x-switchboard-route": "v"}}, `http integration "x": headers: x-switchboard-route is set by Switchboard on every request`},
		{Config{URL: "http://h/", Headers: map[string]string{"Content-Length": "1"}}, `http integration "x": headers: Content-Length is managed by the HTTP client`},
	} {
		_, err := New("x", tc.cfg, nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}

	i, err := New("x", Config{URL: "https://h/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if i.Name() != "x" || i.timeout != 29*time.Second || cap(i.sem) != 256 || i.own.MaxIdleConnsPerHost != 256 {
		t.Errorf("defaults: name %q timeout %v sem %d idle %d", i.Name(), i.timeout, cap(i.sem), i.own.MaxIdleConnsPerHost)
	}
	i, _ = New("x", Config{URL: "https://h/", MaxConcurrency: 1000}, nil)
	if i.own.MaxIdleConnsPerHost != 1000 {
		t.Errorf("MaxIdleConnsPerHost = %d, want 1000", i.own.MaxIdleConnsPerHost)
	}
	c := &http.Client{}
	i, _ = New("x", Config{URL: "https://h/"}, c)
	if i.client == c || i.client.CheckRedirect == nil || c.CheckRedirect != nil {
		t.Error("a client without CheckRedirect must be used through a non-redirecting copy")
	}
}

func TestNewTransport(t *testing.T) {
	tr := NewTransport()
	if tr.Proxy != nil || tr.DisableKeepAlives || tr.MaxIdleConnsPerHost != 256 || tr.TLSHandshakeTimeout == 0 || tr.IdleConnTimeout == 0 {
		t.Errorf("transport: %+v", tr)
	}
}

// TestInvokeBodiesIntact runs many concurrent calls over HTTP/1.1 and
// HTTP/2 and checks that every request body arrives intact: the pooled
// buffers are never shared by calls in flight.
func TestInvokeBodiesIntact(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto, func(t *testing.T) {
			var bad atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var ev struct {
					RequestContext struct{ RequestID string }
					Body           string
				}
				b, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(b, &ev); err != nil || ev.RequestContext.RequestID != r.Header.Get(HeaderRequestID) ||
					ev.Body != strings.Repeat(ev.RequestContext.RequestID, len(ev.Body)/16) || r.Proto != proto {
					bad.Add(1)
				}
				io.WriteString(w, ev.RequestContext.RequestID)
			}))
			tr := NewTransport()
			if proto == "HTTP/2.0" {
				srv.EnableHTTP2 = true
				srv.StartTLS()
				tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			t.Cleanup(tr.CloseIdleConnections)
			i, err := New("intact", Config{URL: srv.URL, MaxConcurrency: 8}, &http.Client{Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for n := range 100 {
				wg.Go(func() {
					rid := event.NewID()
					req := event.Message(testConn, time.Now(), rid, event.NewID(), "chat", []byte(strings.Repeat(rid, 1+n%7*300)), false)
					resp, err := i.Invoke(context.Background(), req)
					if err != nil {
						t.Errorf("Invoke: %v", err)
						return
					}
					if string(resp.Body) != rid {
						t.Errorf("reply %q to request %q", resp.Body, rid)
					}
				})
			}
			wg.Wait()
			if n := bad.Load(); n != 0 {
				t.Errorf("%d requests arrived corrupted or with the wrong protocol", n)
			}
		})
	}
}
