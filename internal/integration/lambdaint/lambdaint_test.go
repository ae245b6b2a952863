package lambdaint

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
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

// newClient returns an HTTP client whose idle connections are closed when
// the test ends, so no connection goroutine outlives it.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// newIntegration sets up the AWS environment and builds an integration on
// a client of the test's.
func newIntegration(t *testing.T, cfg Config) *Integration {
	t.Helper()
	setAWSEnv(t)
	in, err := New(context.Background(), "test", cfg, newClient(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return in
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

func TestInvokeSendsEvent(t *testing.T) {
	got := make(chan invocation, 1)
	f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
		got <- inv
		io.WriteString(w, `{"statusCode":200}`)
	})
	in := newIntegration(t, Config{FunctionName: "chat-handler", Endpoint: f.URL()})

	for _, req := range []*event.Request{
		event.Connect(testConn, time.UnixMilli(1705751697419), "R1koeHsUtjMFbRw=", []event.HeaderField{{Name: "Host", Value: "example.com"}}, []event.QueryParam{{Name: "a", Value: "b"}}),
		testMessage(`{"action":"chat","text":"héllo <b>"}`),
		event.Disconnect(testConn, time.UnixMilli(1705751708326), event.NewID(), 1001, "", "example.com"),
	} {
		if _, err := in.Invoke(context.Background(), req); err != nil {
			t.Fatalf("%s: Invoke: %v", req.EventType(), err)
		}
		inv := <-got
		if inv.Function != "chat-handler" || inv.Qualifier != "" {
			t.Errorf("%s: function %q qualifier %q", req.EventType(), inv.Function, inv.Qualifier)
		}
		if want := req.AppendJSON(nil); !bytes.Equal(inv.Event, want) {
			t.Errorf("%s: event\n got %s\nwant %s", req.EventType(), inv.Event, want)
		}
		if it := inv.Header.Get("X-Amz-Invocation-Type"); it != "RequestResponse" {
			t.Errorf("%s: X-Amz-Invocation-Type %q", req.EventType(), it)
		}
		if lt := inv.Header.Get("X-Amz-Log-Type"); lt != "" {
			t.Errorf("%s: X-Amz-Log-Type %q, want none", req.EventType(), lt)
		}
	}
}

func TestInvokeResponses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		want    *event.Response
		wantErr string
	}{
		{
			name:    "proxy response",
			payload: `{"statusCode":201,"headers":{"Sec-WebSocket-Protocol":"chat"},"multiValueHeaders":null,"body":"{\"ok\":true}","isBase64Encoded":false}`,
			want:    &event.Response{StatusCode: 201, Headers: map[string]string{"Sec-WebSocket-Protocol": "chat"}, Body: []byte(`{"ok":true}`), Proxy: true},
		},
		{
			name: "proxy response with an error status", payload: `{"statusCode":500,"body":"Failed to connect"}`,
			want: &event.Response{StatusCode: 500, Body: []byte("Failed to connect"), Proxy: true},
		},
		{
			name: "proxy response base64", payload: `{"statusCode":200,"body":"AAEC","isBase64Encoded":true}`,
			want: &event.Response{StatusCode: 200, Body: []byte{0, 1, 2}, IsBase64Encoded: true, Proxy: true},
		},
		{name: "plain object", payload: `{"ok":true}`, want: &event.Response{StatusCode: 200, Body: []byte(`{"ok":true}`)}},
		{name: "plain string", payload: `"hello"`, want: &event.Response{StatusCode: 200, Body: []byte(`"hello"`)}},
		{name: "plain number", payload: `42`, want: &event.Response{StatusCode: 200, Body: []byte(`42`)}},
		{name: "null", payload: `null`, want: &event.Response{StatusCode: 200}},
		{name: "null with whitespace", payload: " null\n", want: &event.Response{StatusCode: 200}},
		{name: "empty", payload: ``, want: &event.Response{StatusCode: 200}},
		{name: "malformed proxy", payload: `{"statusCode":200,"body":{"a":1}}`, wantErr: `invoke fn: backend response: body is an object, want a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLambda(t, answerJSON(tc.payload))
			in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL()})
			resp, err := in.Invoke(context.Background(), testMessage("x"))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || !errors.Is(err, event.ErrMalformedResponse) {
					t.Fatalf("err = %v, want %s...", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if len(resp.Body) == 0 {
				resp.Body = nil
			}
			if diff := cmp.Diff(tc.want, resp); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestInvokeFunctionError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		payload  string
		wantErr  string
		timedOut bool // FunctionError.TimedOut; never ErrTimeout (a function error)
	}{
		{
			name:    "thrown error",
			payload: `{"errorType":"TypeError","errorMessage":"Cannot read properties of undefined (reading 'id')","trace":["TypeError: Cannot read ...","    at Runtime.handler (/var/task/index.js:3:20)"]}`,
			wantErr: `invoke fn: function error (Unhandled): TypeError: Cannot read properties of undefined (reading 'id')`,
		},
		{
			name:    "runtime exit",
			payload: `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 2b1c Error: Runtime exited with error: exit status 1"}`,
			wantErr: `invoke fn: function error (Unhandled): Runtime.ExitError: RequestId: 2b1c Error: Runtime exited with error: exit status 1`,
		},
		{
			name:    "message only",
			payload: `{"errorMessage":"boom"}`,
			wantErr: `invoke fn: function error (Unhandled): boom`,
		},
		{
			name:    "not an error object",
			payload: `Internal failure`,
			wantErr: `invoke fn: function error (Unhandled); payload starts "Internal failure"`,
		},
		{
			name:     "lambda timeout",
			payload:  `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: 9f1e Error: Task timed out after 3.00 seconds"}`,
			wantErr:  `invoke fn: function error (Unhandled): Sandbox.Timedout: RequestId: 9f1e Error: Task timed out after 3.00 seconds`,
			timedOut: true,
		},
		{
			name:     "lambda timeout, older runtime",
			payload:  `{"errorMessage":"2024-01-20T11:21:48.326Z 9f1e Task timed out after 3.00 seconds"}`,
			wantErr:  `invoke fn: function error (Unhandled): 2024-01-20T11:21:48.326Z 9f1e Task timed out after 3.00 seconds`,
			timedOut: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLambda(t, answerFunctionError(tc.payload))
			in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL()})
			resp, err := in.Invoke(context.Background(), testMessage("x"))
			if err == nil {
				t.Fatalf("Invoke = %+v, want an error", resp)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("err = %q\nwant  %q", err, tc.wantErr)
			}
			var ferr *FunctionError
			if !errors.As(err, &ferr) || ferr.Kind != "Unhandled" {
				t.Errorf("err = %v, want a *FunctionError of kind Unhandled", err)
			}
			if errors.Is(err, integration.ErrTimeout) {
				t.Errorf("err = %v wraps ErrTimeout; a function error must not", err)
			}
			if ferr != nil && ferr.TimedOut() != tc.timedOut {
				t.Errorf("TimedOut() = %v, want %v", ferr.TimedOut(), tc.timedOut)
			}
		})
	}
}

func TestInvokeThrottled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(http.ResponseWriter)
	}{
		{"type in the header", func(w http.ResponseWriter) {
			w.Header().Set("X-Amzn-Errortype", "TooManyRequestsException")
			writeErrorBody(w, http.StatusTooManyRequests, map[string]string{
				"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
			})
		}},
		{"__type in the body", func(w http.ResponseWriter) {
			writeErrorBody(w, http.StatusTooManyRequests, map[string]string{"__type": "TooManyRequestsException", "message": "Rate Exceeded."})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) { tc.write(w) })
			in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL()})
			_, err := in.Invoke(context.Background(), testMessage("x"))
			var tmr *types.TooManyRequestsException
			if !errors.As(err, &tmr) || errors.Is(err, integration.ErrTimeout) {
				t.Fatalf("err = %v, want a TooManyRequestsException, not a timeout", err)
			}
			for _, want := range []string{"invoke fn: ", "StatusCode: 429", "TooManyRequestsException: Rate Exceeded."} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to contain %q", err, want)
				}
			}
			if n := f.calls.Load(); n != 1 {
				t.Errorf("the fake saw %d calls, want 1 (no retries)", n)
			}
		})
	}
}

func TestInvokeOtherAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		status   int
		typ, msg string
	}{
		{404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:fn"},
		{403, "AccessDeniedException", "User is not authorized to perform: lambda:InvokeFunction"},
		{500, "ServiceException", "internal"},
		{502, "SomethingNew", "an error type the SDK does not know"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
				writeAPIError(w, tc.status, tc.typ, tc.msg)
			})
			in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL()})
			_, err := in.Invoke(context.Background(), testMessage("x"))
			if err == nil || errors.Is(err, integration.ErrTimeout) ||
				!strings.HasPrefix(err.Error(), "invoke fn: ") || !strings.Contains(err.Error(), tc.typ+": "+tc.msg) ||
				!strings.Contains(err.Error(), "StatusCode: "+strconv.Itoa(tc.status)) {
				t.Fatalf("err = %v, want invoke fn: ... %d ... %s: %s", err, tc.status, tc.typ, tc.msg)
			}
			if n := f.calls.Load(); n != 1 {
				t.Errorf("the fake saw %d calls, want 1 (no retries)", n)
			}
		})
	}
}

func TestInvokeWrongSecret(t *testing.T) {
	f := newFakeLambda(t, answerJSON(`{"statusCode":200}`))
	in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL()})
	if _, err := in.Invoke(context.Background(), testMessage("x")); err != nil {
		t.Fatalf("with the right secret: %v", err)
	}

	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	in, err := New(context.Background(), "wrong", Config{FunctionName: "fn", Endpoint: f.URL()}, newClient(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.Invoke(context.Background(), testMessage("x"))
	if err == nil || !strings.Contains(err.Error(), "StatusCode: 403") || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("err = %v, want a 403 InvalidSignatureException", err)
	}
	if n, r := f.calls.Load(), f.rejected.Load(); n != 1 || r != 1 {
		t.Errorf("fake: %d calls accepted, %d rejected; want 1 and 1", n, r)
	}
}

func TestInvokeTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL(), Timeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := in.Invoke(context.Background(), testMessage("x"))
	if !errors.Is(err, integration.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if want := "invoke fn: no response within 100ms: integration timed out"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Invoke returned after %v, want about 100ms", d)
	}
}

func TestInvokeParentCancelled(t *testing.T) {
	arrived := make(chan struct{})
	f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
		close(arrived)
		<-r.Context().Done()
	})
	in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL(), Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := in.Invoke(ctx, testMessage("x"))
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
}

func TestInvokeConcurrencyBound(t *testing.T) {
	var inFlight, maxSeen atomic.Int32
	release := make(chan struct{})
	f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
		n := inFlight.Add(1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		io.WriteString(w, `{"statusCode":200}`)
	})
	in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL(), MaxConcurrency: 2})

	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			_, err := in.Invoke(context.Background(), testMessage("x"))
			errs <- err
		})
	}
	waitFor(t, "2 calls in flight", func() bool { return inFlight.Load() == 2 })
	// Give a third call the chance to arrive if the bound leaked.
	time.Sleep(100 * time.Millisecond)
	if n := inFlight.Load(); n != 2 {
		t.Errorf("%d calls in flight, want 2", n)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Invoke: %v", err)
		}
	}
	if m := maxSeen.Load(); m != 2 {
		t.Errorf("the fake saw up to %d concurrent calls, want 2", m)
	}
	if n := f.calls.Load(); n != 5 {
		t.Errorf("the fake handled %d calls, want 5", n)
	}
}

// TestInvokeSlotWaitCountsAgainstTimeout: a call that cannot get a slot
// times out like one that got no response.
func TestInvokeSlotWaitCountsAgainstTimeout(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, `null`)
	})
	in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL(), MaxConcurrency: 1, Timeout: 5 * time.Second})
	first := make(chan error, 1)
	go func() {
		_, err := in.Invoke(context.Background(), testMessage("x"))
		first <- err
	}()
	<-arrived

	short := *in
	short.timeout = 50 * time.Millisecond // same semaphore and client
	_, err := short.Invoke(context.Background(), testMessage("y"))
	if !errors.Is(err, integration.ErrTimeout) || err.Error() != "invoke fn: no free slot within 50ms (1 calls in flight): integration timed out" {
		t.Errorf("err = %v, want a slot timeout", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first call: %v", err)
	}
}

func TestInvokeQualifier(t *testing.T) {
	got := make(chan invocation, 1)
	f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
		got <- inv
		io.WriteString(w, `null`)
	})
	in := newIntegration(t, Config{FunctionName: "fn", Qualifier: "live", Endpoint: f.URL()})
	if _, err := in.Invoke(context.Background(), testMessage("x")); err != nil {
		t.Fatal(err)
	}
	if inv := <-got; inv.Function != "fn" || inv.Qualifier != "live" {
		t.Errorf("function %q qualifier %q, want fn and live", inv.Function, inv.Qualifier)
	}

	// Errors name the qualifier.
	f = newFakeLambda(t, answerFunctionError(`{"errorType":"Error","errorMessage":"x"}`))
	in = newIntegration(t, Config{FunctionName: "fn", Qualifier: "live", Endpoint: f.URL()})
	_, err := in.Invoke(context.Background(), testMessage("x"))
	if err == nil || !strings.HasPrefix(err.Error(), "invoke fn:live: ") {
		t.Errorf("err = %v, want invoke fn:live: ...", err)
	}
}

// TestInvokeFunctionARN: the region of a full ARN is used to sign the
// request, over the environment's.
func TestInvokeFunctionARN(t *testing.T) {
	const fnARN = "arn:aws:lambda:eu-west-3:123456789012:function:chat:prod"
	got := make(chan invocation, 1)
	f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
		got <- inv
		io.WriteString(w, `{"statusCode":200,"body":"ok"}`)
	}, withRegion("eu-west-3"))
	in := newIntegration(t, Config{FunctionName: fnARN, Endpoint: f.URL()}) // AWS_REGION is us-east-1
	if in.client.Options().Region != "eu-west-3" {
		t.Errorf("client region %q, want eu-west-3", in.client.Options().Region)
	}
	resp, err := in.Invoke(context.Background(), testMessage("x"))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if string(resp.Body) != "ok" {
		t.Errorf("body %q", resp.Body)
	}
	inv := <-got
	if inv.Function != fnARN || inv.Qualifier != "" {
		t.Errorf("function %q qualifier %q, want the ARN and none", inv.Function, inv.Qualifier)
	}
	if auth := inv.Header.Get("Authorization"); !strings.Contains(auth, "/eu-west-3/lambda/aws4_request") {
		t.Errorf("Authorization %q not scoped to eu-west-3", auth)
	}

	// An explicit region wins over the environment's too.
	f = newFakeLambda(t, answerJSON(`null`), withRegion("ap-south-2"))
	in = newIntegration(t, Config{FunctionName: "chat", Region: "ap-south-2", Endpoint: f.URL()})
	if _, err := in.Invoke(context.Background(), testMessage("x")); err != nil {
		t.Fatalf("Invoke with Region: %v", err)
	}
}

// TestEndpointOverride: the requests go to Config.Endpoint, a path in it
// included; without it the client has no endpoint override (the SDK
// resolves AWS's regional one).
func TestEndpointOverride(t *testing.T) {
	got := make(chan invocation, 1)
	f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
		got <- inv
		io.WriteString(w, `{"statusCode":204}`)
	}, func(f *fakeLambda) { f.prefix = "/lambda-proxy" })
	in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL()})
	resp, err := in.Invoke(context.Background(), testMessage("x"))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if resp.StatusCode != 204 {
		t.Errorf("status %d, want 204", resp.StatusCode)
	}
	if inv := <-got; inv.Function != "fn" {
		t.Errorf("function %q", inv.Function)
	}

	in = newIntegration(t, Config{FunctionName: "fn"})
	if ep := in.client.Options().BaseEndpoint; ep != nil {
		t.Errorf("BaseEndpoint %q without Endpoint, want nil", *ep)
	}
}

func TestInvokeOversizedEvent(t *testing.T) {
	f := newFakeLambda(t, answerJSON(`null`))
	in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL()})
	overhead := len(testMessage("").AppendJSON(nil))

	// Exactly at the limit: sent.
	req := testMessage(strings.Repeat("x", MaxPayloadBytes-overhead))
	if n := len(req.AppendJSON(nil)); n != MaxPayloadBytes {
		t.Fatalf("event is %d bytes, want %d", n, MaxPayloadBytes)
	}
	if _, err := in.Invoke(context.Background(), req); err != nil {
		t.Fatalf("event at the limit: %v", err)
	}

	// One byte over: refused without a call.
	_, err := in.Invoke(context.Background(), testMessage(strings.Repeat("x", MaxPayloadBytes-overhead+1)))
	if !errors.Is(err, ErrRequestTooLarge) || err.Error() != "invoke fn: event larger than 6 MiB (Lambda's synchronous payload limit): 6291457 bytes" {
		t.Fatalf("err = %v, want ErrRequestTooLarge", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("the fake saw %d calls, want 1", n)
	}
}

func TestInvokeOversizedResponse(t *testing.T) {
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for _, tc := range []struct {
		name          string
		contentLength bool
		size          int
		wantErr       bool
	}{
		{"exactly 6 MiB", true, MaxPayloadBytes, false},
		{"exactly 6 MiB, chunked", false, MaxPayloadBytes, false},
		{"over, with Content-Length", true, MaxPayloadBytes + 1, true},
		{"over, chunked", false, MaxPayloadBytes + 1, true},
		{"far over, chunked", false, 4 * MaxPayloadBytes, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLambda(t, func(w http.ResponseWriter, r *http.Request, inv invocation) {
				if tc.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(tc.size))
				}
				// A JSON string of tc.size bytes.
				w.Write([]byte(`"`))
				for n := tc.size - 2; n > 0; {
					m := min(n, len(chunk))
					if _, err := w.Write(chunk[:m]); err != nil {
						return
					}
					n -= m
				}
				w.Write([]byte(`"`))
			})
			in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL()})
			resp, err := in.Invoke(context.Background(), testMessage("x"))
			if !tc.wantErr {
				if err != nil || len(resp.Body) != tc.size {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrResponseTooLarge) || err.Error() != "invoke fn: function response larger than 6 MiB (Lambda's synchronous payload limit)" {
				t.Fatalf("err = %v, want ErrResponseTooLarge", err)
			}
		})
	}
}

// TestInvokeOwnTransport: without a client, New builds its own and
// CloseIdleConnections releases it.
func TestInvokeOwnTransport(t *testing.T) {
	setAWSEnv(t)
	f := newFakeLambda(t, answerJSON(`{"statusCode":200,"body":"hi"}`))
	in, err := New(context.Background(), "own", Config{FunctionName: "fn", Endpoint: f.URL(), MaxConcurrency: 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.CloseIdleConnections)
	if in.own == nil || in.own.MaxIdleConnsPerHost != 1000 || in.own.Proxy == nil {
		t.Fatalf("own transport %+v", in.own)
	}
	for range 3 {
		resp, err := in.Invoke(context.Background(), testMessage("x"))
		if err != nil || string(resp.Body) != "hi" {
			t.Fatalf("Invoke = %v, %v", resp, err)
		}
	}
}

// TestNewDoesNotContactTheNetwork: New makes no request, not even with the
// SDK's defaults mode "auto", which asks the instance metadata service for
// the region while loading.
func TestNewDoesNotContactTheNetwork(t *testing.T) {
	setAWSEnv(t)
	var hits atomic.Int32
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(imds.Close)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	t.Setenv("AWS_DEFAULTS_MODE", "auto")

	var requests atomic.Int32
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		requests.Add(1)
		return nil, errors.New("no network in this test")
	})}
	for _, c := range []*http.Client{client, nil} {
		in, err := New(context.Background(), "x", Config{FunctionName: "fn"}, c)
		if err != nil {
			t.Fatal(err)
		}
		in.CloseIdleConnections()
	}
	if n, m := requests.Load(), hits.Load(); n != 0 || m != 0 {
		t.Errorf("New made %d requests through the client and %d to the metadata service", n, m)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewValidates(t *testing.T) {
	setAWSEnv(t)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, `lambda integration "x": functionName is required`},
		{Config{FunctionName: "arn:aws:lambda"}, `lambda integration "x": functionName "arn:aws:lambda": arn: not enough sections`},
		{Config{FunctionName: "arn:aws:s3:us-east-1:123456789012:function:fn"}, `lambda integration "x": functionName "arn:aws:s3:us-east-1:123456789012:function:fn": service "s3" is not lambda`},
		{Config{FunctionName: "arn:aws:lambda::123456789012:function:fn"}, `lambda integration "x": functionName "arn:aws:lambda::123456789012:function:fn": the ARN has no region`},
		{Config{FunctionName: "arn:aws:lambda:us-east-1:123456789012:layer:fn"}, `lambda integration "x": functionName "arn:aws:lambda:us-east-1:123456789012:layer:fn": want arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`},
		{Config{FunctionName: "arn:aws:lambda:eu-west-1:123456789012:function:fn", Region: "us-east-1"}, `lambda integration "x": region "us-east-1" differs from the region of functionName "arn:aws:lambda:eu-west-1:123456789012:function:fn"; remove one`},
		{Config{FunctionName: "arn:aws:lambda:eu-west-1:123456789012:function:fn:v1", Qualifier: "v2"}, `lambda integration "x": qualifier "v2" differs from the qualifier of functionName "arn:aws:lambda:eu-west-1:123456789012:function:fn:v1"; remove one`},
		{Config{FunctionName: "fn", Endpoint: "localhost:4566"}, `lambda integration "x": endpoint "localhost:4566": scheme must be http or https`},
		{Config{FunctionName: "fn", Endpoint: "http:///path"}, `lambda integration "x": endpoint "http:///path": no host`},
		{Config{FunctionName: "fn", Timeout: -1}, `lambda integration "x": timeout -1ns is negative; use 0 for the default (29s)`},
		{Config{FunctionName: "fn", MaxConcurrency: -1}, `lambda integration "x": maxConcurrency -1 is negative; use 0 for the default (256)`},
	} {
		_, err := New(context.Background(), "x", tc.cfg, nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v\nwant %q", tc.cfg, err, tc.want)
		}
	}

	// Matching region and qualifier are fine.
	in, err := New(context.Background(), "x", Config{FunctionName: "arn:aws:lambda:eu-west-1:123456789012:function:fn:v1", Region: "eu-west-1", Qualifier: "v1"}, newClient(t))
	if err != nil {
		t.Fatal(err)
	}
	if in.Name() != "x" || in.timeout != 29*time.Second || cap(in.sem) != 256 || in.own != nil {
		t.Errorf("defaults: name %q timeout %v sem %d own %v", in.Name(), in.timeout, cap(in.sem), in.own)
	}

	// No region anywhere.
	t.Setenv("AWS_REGION", "")
	_, err = New(context.Background(), "x", Config{FunctionName: "fn"}, newClient(t))
	if want := `lambda integration "x": no region: set region, use a full function ARN as functionName, or set AWS_REGION`; err == nil || err.Error() != want {
		t.Errorf("New without a region = %v, want %q", err, want)
	}
}

func TestInvokeConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	in := newIntegration(t, Config{FunctionName: "fn", Endpoint: "http://" + addr})
	_, err = in.Invoke(context.Background(), testMessage("x"))
	if err == nil || !strings.HasPrefix(err.Error(), "invoke fn: ") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v, want invoke fn: ... connection refused", err)
	}
	if want := `invoke fn: Post "http://` + addr + `/2015-03-31/functions/fn/invocations": dial tcp ` + addr + `: connect: connection refused`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if errors.Is(err, integration.ErrTimeout) {
		t.Error("connection refused reported as a timeout")
	}
}

// TestRequestBodyHidesWriteTo: the SDK closes its request body when Do
// returns, and its body then answers WriteTo with io.EOF, which made
// net/http's write loop (still checking for bytes past Content-Length)
// close the connection under the response being read. limitedClient hands
// net/http a body without WriteTo.
func TestRequestBodyHidesWriteTo(t *testing.T) {
	f := newFakeLambda(t, answerJSON(`null`))
	setAWSEnv(t)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	var withWriteTo atomic.Int32
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if _, ok := r.Body.(io.WriterTo); ok {
			withWriteTo.Add(1)
		}
		return tr.RoundTrip(r)
	})}
	in, err := New(context.Background(), "x", Config{FunctionName: "fn", Endpoint: f.URL()}, client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Invoke(context.Background(), testMessage("x")); err != nil {
		t.Fatal(err)
	}
	if n := withWriteTo.Load(); n != 0 {
		t.Errorf("%d request bodies had WriteTo", n)
	}
}

// TestInvokeLargeResponsesBackToBack reads many large responses that the
// fake sends the moment it has read the request: without the fix above,
// a connection was torn down within a few dozen calls.
func TestInvokeLargeResponsesBackToBack(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	body := `"` + strings.Repeat("x", 256<<10) + `"`
	f := newFakeLambda(t, answerJSON(body))
	in := newIntegration(t, Config{FunctionName: "fn", Endpoint: f.URL()})
	for n := range 100 {
		resp, err := in.Invoke(context.Background(), testMessage("x"))
		if err != nil {
			t.Fatalf("call %d: %v", n, err)
		}
		if len(resp.Body) != len(body) {
			t.Fatalf("call %d: %d bytes", n, len(resp.Body))
		}
	}
}
