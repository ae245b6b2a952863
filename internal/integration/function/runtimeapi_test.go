package function

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
)

// fakeRuntime is a worker that only publishes its Runtime API address
// (in the file "api" of its directory) and waits: the test speaks the
// Runtime API in its place.
var fakeRuntime = []string{"/bin/sh", "-c", `echo "$AWS_LAMBDA_RUNTIME_API" > api.tmp && mv api.tmp api && exec sleep 30`}

// newFakeFunction starts a function on fakeRuntime.
func newFakeFunction(t *testing.T, cfg Config) (*testFunction, string) {
	t.Helper()
	dir := t.TempDir()
	cfg.Directory, cfg.Command = dir, fakeRuntime
	return newFunction(t, cfg, Options{}), dir
}

// runtimeAPI waits for the fake runtime in dir to publish its address and
// returns the API's base URL.
func runtimeAPIURL(t *testing.T, dir string) string {
	t.Helper()
	var addr []byte
	waitFor(t, "the fake runtime", func() bool {
		var err error
		addr, err = os.ReadFile(filepath.Join(dir, "api"))
		return err == nil
	})
	os.Remove(filepath.Join(dir, "api"))
	return "http://" + strings.TrimSpace(string(addr)) + "/2018-06-01/runtime"
}

type apiReply struct {
	status int
	header http.Header
	body   []byte
}

func apiDo(t *testing.T, method, url string, body []byte, header http.Header) apiReply {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiReply{resp.StatusCode, resp.Header, b}
}

// wantReply checks a reply's status and exact JSON body.
func wantReply(t *testing.T, what string, r apiReply, status int, body string) {
	t.Helper()
	if r.status != status || string(r.body) != body || (body != "" && r.header.Get("Content-Type") != "application/json") {
		t.Errorf("%s: %d %s (%s), want %d %s", what, r.status, r.body, r.header.Get("Content-Type"), status, body)
	}
}

type invokeResult struct {
	resp *event.Response
	err  error
}

func goInvoke(f *testFunction, req *event.Request) chan invokeResult {
	c := make(chan invokeResult, 1)
	go func() {
		resp, err := f.Invoke(context.Background(), req)
		c <- invokeResult{resp, err}
	}()
	return c
}

const invalidRequestID = `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`

func TestRuntimeAPIConformance(t *testing.T) {
	f, dir := newFakeFunction(t, Config{Timeout: 5 * time.Second})
	req := message(`{"action":"chat"}`)
	done := goInvoke(f, req)
	api := runtimeAPIURL(t, dir)

	r := apiDo(t, "GET", api+"/nope", nil, nil)
	wantReply(t, "unknown path", r, 404, `{"errorMessage":"No route for GET /2018-06-01/runtime/nope","errorType":"NotFound"}`)
	r = apiDo(t, "GET", api+"/invocation/x/response", nil, nil)
	if r.status != 404 {
		t.Errorf("GET on a POST endpoint: %d", r.status)
	}
	r = apiDo(t, "POST", api+"/invocation/0b2c4f62-0000-4000-8000-000000000000/response", []byte(`{}`), nil)
	wantReply(t, "response before any invocation", r, 400, invalidRequestID)

	before := time.Now()
	next := apiDo(t, "GET", api+"/invocation/next", nil, nil)
	after := time.Now()
	if next.status != 200 || next.header.Get("Content-Type") != "application/json" {
		t.Fatalf("next: %d %s", next.status, next.body)
	}
	if want := req.AppendJSON(nil); !bytes.Equal(next.body, want) {
		t.Errorf("event\n got %s\nwant %s", next.body, want)
	}
	id := next.header.Get("Lambda-Runtime-Aws-Request-Id")
	if len(id) != 36 {
		t.Errorf("request id %q", id)
	}
	ms, _ := strconv.ParseInt(next.header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	// The invocation starts when the worker asks for it: the deadline is
	// within that request's span plus 5s (truncated to the millisecond).
	if d, lo, hi := time.UnixMilli(ms), before.Add(5*time.Second).Truncate(time.Millisecond), after.Add(5*time.Second); d.Before(lo) || d.After(hi) {
		t.Errorf("deadline %v is not within [%v, %v]: the request's span plus 5s", d, lo, hi)
	}
	if arn := next.header.Get("Lambda-Runtime-Invoked-Function-Arn"); arn != "arn:aws:lambda:us-east-1:000000000000:function:fn" {
		t.Errorf("arn %q", arn)
	}
	if tr := next.header.Get("Lambda-Runtime-Trace-Id"); !strings.HasPrefix(tr, "Root=1-") || !strings.HasSuffix(tr, ";Sampled=0") {
		t.Errorf("trace id %q", tr)
	}
	for _, h := range []string{"Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity"} {
		if _, ok := next.header[h]; ok {
			t.Errorf("%s set", h)
		}
	}

	r = apiDo(t, "GET", api+"/invocation/next", nil, nil)
	wantReply(t, "next during an invocation", r, 403,
		`{"errorMessage":"State transition from invocation to next failed for runtime.","errorType":"InvalidStateTransition"}`)
	r = apiDo(t, "POST", api+"/invocation/"+id+"x/response", []byte(`{}`), nil)
	wantReply(t, "wrong id", r, 400, invalidRequestID)
	r = apiDo(t, "POST", api+"/init/error", []byte(`{}`), nil)
	wantReply(t, "init error after init", r, 403,
		`{"errorMessage":"State transition from ready to init error failed for runtime.","errorType":"InvalidStateTransition"}`)

	r = apiDo(t, "POST", api+"/invocation/"+id+"/response", []byte(`{"statusCode":201,"body":"hi"}`), nil)
	wantReply(t, "response", r, 202, `{"status":"OK"}`)
	res := <-done
	if res.err != nil || res.resp.StatusCode != 201 || string(res.resp.Body) != "hi" || !res.resp.Proxy {
		t.Errorf("Invoke: %+v, %v", res.resp, res.err)
	}
	r = apiDo(t, "POST", api+"/invocation/"+id+"/response", []byte(`{}`), nil)
	wantReply(t, "second response", r, 400, invalidRequestID)
	r = apiDo(t, "POST", api+"/invocation/"+id+"/error", []byte(`{}`), nil)
	wantReply(t, "error after the response", r, 400, invalidRequestID)

	// The worker is free again once it asks for work.
	done = goInvoke(f, message(`{"n":2}`))
	next = apiDo(t, "GET", api+"/invocation/next", nil, nil)
	id = next.header.Get("Lambda-Runtime-Aws-Request-Id")
	r = apiDo(t, "POST", api+"/invocation/"+id+"/response", []byte(`null`), nil)
	wantReply(t, "null response", r, 202, `{"status":"OK"}`)
	if res := <-done; res.err != nil || res.resp.StatusCode != 200 || len(res.resp.Body) != 0 {
		t.Errorf("null: %+v, %v", res.resp, res.err)
	}
	if n := f.workerCount(); n != 1 {
		t.Errorf("%d workers, want 1", n)
	}
}

func TestRuntimeAPIError(t *testing.T) {
	f, dir := newFakeFunction(t, Config{})
	done := goInvoke(f, message(`{}`))
	api := runtimeAPIURL(t, dir)

	next := apiDo(t, "GET", api+"/invocation/next", nil, nil)
	id := next.header.Get("Lambda-Runtime-Aws-Request-Id")
	r := apiDo(t, "POST", api+"/invocation/"+id+"/error",
		[]byte(`{"errorMessage":"bad input","errorType":"ValidationError","stackTrace":["at a","at b"]}`),
		http.Header{"Lambda-Runtime-Function-Error-Type": {"Unhandled"}})
	wantReply(t, "error", r, 202, `{"status":"OK"}`)
	res := <-done
	var fe *FunctionError
	if !errors.As(res.err, &fe) || fe.Type != "ValidationError" || fe.Message != "bad input" || string(fe.StackTrace) != `["at a","at b"]` {
		t.Fatalf("err = %v (%+v)", res.err, fe)
	}
	if res.err.Error() != `function "fn": ValidationError: bad input` {
		t.Errorf("err = %q", res.err)
	}

	// A body that is not AWS's error object: the header names the type.
	done = goInvoke(f, message(`{}`))
	next = apiDo(t, "GET", api+"/invocation/next", nil, nil)
	id = next.header.Get("Lambda-Runtime-Aws-Request-Id")
	apiDo(t, "POST", api+"/invocation/"+id+"/error", []byte("it broke\n"), http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.Custom"}})
	if res := <-done; res.err == nil || res.err.Error() != `function "fn": Runtime.Custom: it broke` {
		t.Errorf("err = %v", res.err)
	}
	if n := f.counter(outcomeError); n != 2 {
		t.Errorf("error invocations = %v, want 2", n)
	}
}

func TestRuntimeAPITooLarge(t *testing.T) {
	f, dir := newFakeFunction(t, Config{})
	done := goInvoke(f, message(`{}`))
	api := runtimeAPIURL(t, dir)
	next := apiDo(t, "GET", api+"/invocation/next", nil, nil)
	id := next.header.Get("Lambda-Runtime-Aws-Request-Id")
	r := apiDo(t, "POST", api+"/invocation/"+id+"/response", bytes.Repeat([]byte("x"), MaxResponseBytes+1), nil)
	wantReply(t, "oversized response", r, 413, `{"errorMessage":"Exceeded maximum allowed payload size (6291456 bytes).","errorType":"RequestEntityTooLarge"}`)
	res := <-done
	var fe *FunctionError
	if !errors.As(res.err, &fe) || fe.Type != "Function.ResponseSizeTooLarge" {
		t.Errorf("err = %v", res.err)
	}
}

// trailerBody sets the failure trailers at EOF, as aws-lambda-go does when
// a streamed response fails.
type trailerBody struct {
	r       io.Reader
	trailer http.Header
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.trailer.Set("Lambda-Runtime-Function-Error-Type", "Runtime.StreamError")
		b.trailer.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"reader failed","errorType":"Runtime.StreamError"}`)))
	}
	return n, err
}

func TestRuntimeAPIStreamFailure(t *testing.T) {
	f, dir := newFakeFunction(t, Config{})
	done := goInvoke(f, message(`{}`))
	api := runtimeAPIURL(t, dir)
	next := apiDo(t, "GET", api+"/invocation/next", nil, nil)
	id := next.header.Get("Lambda-Runtime-Aws-Request-Id")

	trailer := http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	req, _ := http.NewRequest("POST", api+"/invocation/"+id+"/response", io.NopCloser(&trailerBody{strings.NewReader("partial"), trailer}))
	req.Trailer = trailer
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Errorf("status %d", resp.StatusCode)
	}
	if res := <-done; res.err == nil || res.err.Error() != `function "fn": Runtime.StreamError: reader failed` {
		t.Errorf("err = %v", res.err)
	}
}

func TestRuntimeAPIInitError(t *testing.T) {
	f, dir := newFakeFunction(t, Config{})
	done := goInvoke(f, message(`{}`))
	api := runtimeAPIURL(t, dir)
	r := apiDo(t, "POST", api+"/init/error", []byte(`{"errorMessage":"Cannot find module 'index'","errorType":"Runtime.ImportModuleError"}`),
		http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.Unknown"}})
	wantReply(t, "init error", r, 202, `{"status":"OK"}`)
	res := <-done
	if res.err == nil || res.err.Error() != `function "fn": Runtime.ImportModuleError: Cannot find module 'index'` {
		t.Errorf("err = %v", res.err)
	}
	// The worker is stopped (its sleep ends with SIGTERM).
	waitFor(t, "the worker to stop", func() bool { return f.workerCount() == 0 })
	if n := f.counter(outcomeError); n != 1 {
		t.Errorf("error invocations = %v, want 1", n)
	}
}

func TestRuntimeAPINextDropped(t *testing.T) {
	f, dir := newFakeFunction(t, Config{MaxConcurrency: 1, MinWorkers: 1})
	api := runtimeAPIURL(t, dir)

	// A /next whose client gives up leaves the worker detached.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", api+"/invocation/next", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("next returned with no invocation")
	}
	waitFor(t, "the worker to be detached", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for w := range f.workers {
			return w.state == stateDetached
		}
		return false
	})

	// A second /next from that worker takes the next invocation.
	done := goInvoke(f, message(`{"n":1}`))
	waitFor(t, "the invocation to queue", func() bool { return f.queued() == 1 })
	next := apiDo(t, "GET", api+"/invocation/next", nil, nil)
	var ev struct{ Body string }
	if err := json.Unmarshal(next.body, &ev); err != nil || ev.Body != `{"n":1}` {
		t.Fatalf("event %s", next.body)
	}
	id := next.header.Get("Lambda-Runtime-Aws-Request-Id")
	apiDo(t, "POST", api+"/invocation/"+id+"/response", []byte(`"ok"`), nil)
	if res := <-done; res.err != nil || string(res.resp.Body) != `"ok"` {
		t.Errorf("Invoke: %+v, %v", res.resp, res.err)
	}
	if n := f.workerCount(); n != 1 {
		t.Errorf("%d workers, want 1", n)
	}
}

func TestParseFunctionError(t *testing.T) {
	for _, tc := range []struct {
		raw, header, typ, msg string
	}{
		{`{"errorMessage":"m","errorType":"T"}`, "H", "T", "m"},
		{`{"errorMessage":"m"}`, "H", "H", "m"},
		{`{"errorMessage":"m"}`, "", "Unhandled", "m"},
		{`{"errorType":"T"}`, "", "T", ""},
		{`not json`, "", "Unhandled", "not json"},
		{`{"other":1}`, "H", "H", `{"other":1}`},
		{``, "", "Unhandled", ""},
	} {
		fe := parseFunctionError([]byte(tc.raw), tc.header)
		if fe.Type != tc.typ || fe.Message != tc.msg {
			t.Errorf("parseFunctionError(%q, %q) = %q, %q; want %q, %q", tc.raw, tc.header, fe.Type, fe.Message, tc.typ, tc.msg)
		}
	}
	long := parseFunctionError([]byte(strings.Repeat("é", 5000)), "")
	if n := len([]rune(long.Message)); n != maxErrorMessageRune+1 {
		t.Errorf("long message kept %d runes", n)
	}
}
