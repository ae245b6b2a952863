package nodejs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const runtimePrefix = "/2018-06-01/runtime"

// fakeRuntime is a Lambda Runtime API on loopback: GET .../invocation/next
// serves the queued invocations one by one, and every POST (responses,
// errors, init errors, and anything a handler sends it) is recorded in
// arrival order.
type fakeRuntime struct {
	srv    *httptest.Server
	events chan invocation
	posts  chan runtimePost
}

// invocation is one event served by /next.
type invocation struct {
	id       string
	body     string
	deadline time.Time
	header   map[string]string // added to the /next response
}

// runtimePost is one recorded POST.
type runtimePost struct {
	path   string
	header http.Header
	body   []byte
}

func newFakeRuntime(t *testing.T) *fakeRuntime {
	t.Helper()
	rt := &fakeRuntime{events: make(chan invocation, 16), posts: make(chan runtimePost, 64)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+runtimePrefix+"/invocation/next", rt.next)
	mux.HandleFunc("POST /", rt.record)
	rt.srv = httptest.NewServer(mux)
	t.Cleanup(rt.srv.Close)
	return rt
}

func (rt *fakeRuntime) next(w http.ResponseWriter, r *http.Request) {
	select {
	case inv := <-rt.events:
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:chat")
		for k, v := range inv.header {
			h.Set(k, v)
		}
		_, _ = io.WriteString(w, inv.body)
	case <-r.Context().Done():
	}
}

func (rt *fakeRuntime) record(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rt.posts <- runtimePost{path: r.URL.Path, header: r.Header.Clone(), body: body}
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// addr is AWS_LAMBDA_RUNTIME_API: host:port, no scheme.
func (rt *fakeRuntime) addr() string { return strings.TrimPrefix(rt.srv.URL, "http://") }

// invoke queues an event with a deadline 30 s away.
func (rt *fakeRuntime) invoke(id, body string, header map[string]string) {
	rt.events <- invocation{id: id, body: body, deadline: time.Now().Add(30 * time.Second), header: header}
}

// waitPost returns the next recorded POST, failing the test after within.
func (rt *fakeRuntime) waitPost(t *testing.T, within time.Duration) runtimePost {
	t.Helper()
	select {
	case p := <-rt.posts:
		return p
	case <-time.After(within):
		t.Fatalf("no POST to the Runtime API within %v", within)
		return runtimePost{}
	}
}

// call invokes once and returns the POST that answers it.
func (rt *fakeRuntime) call(t *testing.T, id, body string) runtimePost {
	t.Helper()
	rt.invoke(id, body, nil)
	return rt.waitPost(t, 10*time.Second)
}

// worker is one `node bootstrap.mjs` process.
type worker struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	exited chan struct{}
	err    error // set before exited is closed
}

// startWorker writes files into a fresh LAMBDA_TASK_ROOT and the bootstrap
// next to it, and runs node on it against rt with handler as _HANDLER. The
// process is killed when the test ends.
func startWorker(t *testing.T, rt *fakeRuntime, files map[string]string, handler string, env ...string) *worker {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not in PATH: the Node.js bootstrap tests need Node.js 18 or later")
	}
	root := t.TempDir()
	for name, src := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bootstrap := filepath.Join(t.TempDir(), "bootstrap.mjs")
	if err := os.WriteFile(bootstrap, Bootstrap, 0o644); err != nil {
		t.Fatal(err)
	}

	w := &worker{exited: make(chan struct{})}
	w.cmd = exec.Command(node, bootstrap)
	w.cmd.Dir = root
	w.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_RUNTIME_API=" + rt.addr(),
		"LAMBDA_TASK_ROOT=" + root,
		"_HANDLER=" + handler,
		"AWS_LAMBDA_FUNCTION_NAME=chat",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/chat",
		"AWS_LAMBDA_LOG_STREAM_NAME=2024/01/01/[$LATEST]0123456789abcdef",
	}, env...)
	w.cmd.Stdout = io.MultiWriter(&w.stdout, logWriter{t, "stdout"})
	w.cmd.Stderr = logWriter{t, "stderr"}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	go func() {
		w.err = w.cmd.Wait()
		close(w.exited)
	}()
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.exited
	})
	return w
}

// exitCode waits for the process to end on its own and returns its code.
func (w *worker) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-w.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("node did not exit within 10s")
	}
	var ee *exec.ExitError
	if errors.As(w.err, &ee) {
		return ee.ExitCode()
	}
	if w.err != nil {
		t.Fatalf("wait: %v", w.err)
	}
	return 0
}

// alive reports whether the process is still running.
func (w *worker) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// waitLine polls stdout until a line matches re.
func (w *worker) waitLine(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	var line string
	waitFor(t, "a stdout line matching "+re.String(), func() bool {
		for _, l := range strings.Split(w.stdout.String(), "\n") {
			if re.MatchString(l) {
				line = l
				return true
			}
		}
		return false
	})
	return line
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logWriter routes the worker's output to t.Logf.
type logWriter struct {
	t    *testing.T
	name string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, bytes.TrimSuffix(p, []byte("\n")))
	return len(p), nil
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rapidError is the body of an error POST.
type rapidError struct {
	ErrorType    string   `json:"errorType"`
	ErrorMessage string   `json:"errorMessage"`
	Trace        []string `json:"trace"`
}

func wantResponse(t *testing.T, p runtimePost, id, body string) {
	t.Helper()
	if want := runtimePrefix + "/invocation/" + id + "/response"; p.path != want {
		t.Fatalf("POST %s (body %s), want %s", p.path, p.body, want)
	}
	if string(p.body) != body {
		t.Errorf("response body %s, want %s", p.body, body)
	}
}

func wantError(t *testing.T, p runtimePost, path, errorType, message string) rapidError {
	t.Helper()
	if p.path != path {
		t.Fatalf("POST %s (body %s), want %s", p.path, p.body, path)
	}
	var e rapidError
	if err := json.Unmarshal(p.body, &e); err != nil {
		t.Fatalf("error body %s: %v", p.body, err)
	}
	if e.ErrorType != errorType {
		t.Errorf("errorType %q, want %q (body %s)", e.ErrorType, errorType, p.body)
	}
	if !strings.Contains(e.ErrorMessage, message) {
		t.Errorf("errorMessage %q, want it to contain %q", e.ErrorMessage, message)
	}
	if got := p.header.Get("Lambda-Runtime-Function-Error-Type"); got != errorType {
		t.Errorf("Lambda-Runtime-Function-Error-Type %q, want %q", got, errorType)
	}
	if ct := p.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	return e
}

func TestESMAsyncHandler(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(t)
	w := startWorker(t, rt, map[string]string{
		"index.mjs": `
console.log("cold start");
export const handler = async (event, context) => {
  console.log("got", event.n);
  console.warn("two\nlines");
  return { statusCode: 200, body: JSON.stringify({ n: event.n, id: context.awsRequestId }) };
};`,
	}, "index.handler")

	for i, id := range []string{"req-1", "req-2"} {
		p := rt.call(t, id, `{"n":`+strconv.Itoa(i)+`}`)
		wantResponse(t, p, id, `{"statusCode":200,"body":"{\"n\":`+strconv.Itoa(i)+`,\"id\":\"`+id+`\"}"}`)
	}

	// AWS's text format: time, request id, level, message; a message's
	// newlines become '\r' so that one console call is one line.
	w.waitLine(t, regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tundefined\tINFO\tcold start$`))
	w.waitLine(t, regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\treq-1\tINFO\tgot 0$`))
	w.waitLine(t, regexp.MustCompile(`\treq-2\tWARN\ttwo\rlines$`))
}

func TestCommonJSCallbackWaitsForEmptyEventLoop(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(t)
	startWorker(t, rt, map[string]string{
		// No package.json: index.js is CommonJS.
		"index.js": `
const http = require("node:http");
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
exports.handler = function (event, context, callback) {
  if (event.noWait) context.callbackWaitsForEmptyEventLoop = false;
  // The timer keeps the event loop busy after the callback.
  setTimeout(() => {
    http.request({ host, port, path: "/probe", method: "POST" }, (res) => res.resume()).end(event.tag);
  }, event.delay);
  callback(null, { tag: event.tag });
};`,
	}, "index.handler")

	// Waiting (the default): the response is posted only once the timer and
	// its request are done.
	rt.invoke("req-1", `{"tag":"wait","delay":200}`, nil)
	if p := rt.waitPost(t, 10*time.Second); p.path != "/probe" || string(p.body) != "wait" {
		t.Fatalf("first POST %s %s, want the handler's /probe", p.path, p.body)
	}
	wantResponse(t, rt.waitPost(t, 10*time.Second), "req-1", `{"tag":"wait"}`)

	// callbackWaitsForEmptyEventLoop = false: the response is posted at
	// once, although a 60 s timer is pending.
	rt.invoke("req-2", `{"tag":"nowait","delay":60000,"noWait":true}`, nil)
	wantResponse(t, rt.waitPost(t, 5*time.Second), "req-2", `{"tag":"nowait"}`)
	// And the worker takes the next invocation while the timer runs.
	rt.invoke("req-3", `{"tag":"again","delay":60000,"noWait":true}`, nil)
	wantResponse(t, rt.waitPost(t, 5*time.Second), "req-3", `{"tag":"again"}`)
}

func TestContext(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(t)
	startWorker(t, rt, map[string]string{
		// A nested export path in a .cjs file: "app.handlers.context" is
		// module "app", property path "handlers.context".
		"app.cjs": `
exports.handlers = {
  context: async (event, context) => ({
    awsRequestId: context.awsRequestId,
    remaining: context.getRemainingTimeInMillis(),
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    invokedFunctionArn: context.invokedFunctionArn,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    identity: context.identity,
    clientContext: context.clientContext,
    legacy: [typeof context.done, typeof context.succeed, typeof context.fail],
    traceId: process.env._X_AMZN_TRACE_ID,
  }),
};`,
	}, "app.handlers.context")

	type contextResult struct {
		AWSRequestID                   string         `json:"awsRequestId"`
		Remaining                      float64        `json:"remaining"`
		FunctionName                   string         `json:"functionName"`
		FunctionVersion                string         `json:"functionVersion"`
		MemoryLimitInMB                any            `json:"memoryLimitInMB"`
		LogGroupName                   string         `json:"logGroupName"`
		LogStreamName                  string         `json:"logStreamName"`
		InvokedFunctionArn             string         `json:"invokedFunctionArn"`
		CallbackWaitsForEmptyEventLoop bool           `json:"callbackWaitsForEmptyEventLoop"`
		Identity                       map[string]any `json:"identity"`
		ClientContext                  map[string]any `json:"clientContext"`
		Legacy                         []string       `json:"legacy"`
		TraceID                        *string        `json:"traceId"`
	}
	decode := func(p runtimePost) contextResult {
		t.Helper()
		var r contextResult
		if err := json.Unmarshal(p.body, &r); err != nil {
			t.Fatalf("POST %s %s: %v", p.path, p.body, err)
		}
		return r
	}

	trace := "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
	rt.invoke("8476a536-e9f4-11e8-9739-2dfe598c3fcd", `{}`, map[string]string{
		"Lambda-Runtime-Trace-Id":         trace,
		"Lambda-Runtime-Cognito-Identity": `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`,
		"Lambda-Runtime-Client-Context":   `{"custom":{"k":"v"}}`,
	})
	p := rt.waitPost(t, 10*time.Second)
	if want := runtimePrefix + "/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response"; p.path != want {
		t.Fatalf("POST %s %s, want %s", p.path, p.body, want)
	}
	got := decode(p)
	if got.Remaining <= 20000 || got.Remaining > 30000 {
		t.Errorf("getRemainingTimeInMillis() = %v, want about 30000", got.Remaining)
	}
	got.Remaining = 0
	want := contextResult{
		AWSRequestID:                   "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
		FunctionName:                   "chat",
		FunctionVersion:                "$LATEST",
		MemoryLimitInMB:                "256", // a string, as on AWS
		LogGroupName:                   "/aws/lambda/chat",
		LogStreamName:                  "2024/01/01/[$LATEST]0123456789abcdef",
		InvokedFunctionArn:             "arn:aws:lambda:us-east-1:123456789012:function:chat",
		CallbackWaitsForEmptyEventLoop: true,
		Identity:                       map[string]any{"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"},
		ClientContext:                  map[string]any{"custom": map[string]any{"k": "v"}},
		Legacy:                         []string{"function", "function", "function"},
		TraceID:                        &trace,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("context (-want +got):\n%s", diff)
	}

	// The next invocation has no trace header: _X_AMZN_TRACE_ID is removed,
	// and identity and clientContext are undefined.
	got = decode(rt.call(t, "req-2", `{}`))
	if got.TraceID != nil || got.Identity != nil || got.ClientContext != nil {
		t.Errorf("second invocation: traceId %v, identity %v, clientContext %v; want all absent",
			got.TraceID, got.Identity, got.ClientContext)
	}
}

// TestResults covers the ways a handler settles an invocation.
func TestResults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		files   map[string]string
		handler string
		body    string // response body; empty when an error is wanted
		errType string
		errMsg  string
	}{
		{
			name:    "package.json type module makes index.js ESM",
			files:   map[string]string{"package.json": `{"type":"module"}`, "index.js": `export const handler = async () => "esm .js";`},
			handler: "index.handler",
			body:    `"esm .js"`,
		},
		{
			name: "index.js before index.mjs",
			files: map[string]string{
				"index.js":  `exports.handler = async () => "js";`,
				"index.mjs": `export const handler = async () => "mjs";`,
			},
			handler: "index.handler",
			body:    `"js"`,
		},
		{
			name: "index.mjs before index.cjs",
			files: map[string]string{
				"index.mjs": `export const handler = async () => "mjs";`,
				"index.cjs": `exports.handler = async () => "cjs";`,
			},
			handler: "index.handler",
			body:    `"mjs"`,
		},
		{
			name:    "module in a subdirectory",
			files:   map[string]string{"src/handlers/chat.mjs": `export const connect = async () => ({ statusCode: 200 });`},
			handler: "src/handlers/chat.connect",
			body:    `{"statusCode":200}`,
		},
		{
			name:    "undefined is sent as null",
			files:   map[string]string{"index.mjs": `export const handler = async () => {};`},
			handler: "index.handler",
			body:    `null`,
		},
		{
			name:    "a sync return value is ignored: the callback decides",
			files:   map[string]string{"index.js": `exports.handler = (event, context, callback) => { setTimeout(() => callback(null, "from callback"), 10); return "ignored"; };`},
			handler: "index.handler",
			body:    `"from callback"`,
		},
		{
			name:    "a sync handler that never calls back answers null",
			files:   map[string]string{"index.js": `exports.handler = (event) => "ignored";`},
			handler: "index.handler",
			body:    `null`,
		},
		{
			name:    "context.succeed",
			files:   map[string]string{"index.js": `exports.handler = (event, context) => { context.succeed({ legacy: true }); };`},
			handler: "index.handler",
			body:    `{"legacy":true}`,
		},
		{
			name:    "context.done",
			files:   map[string]string{"index.js": `exports.handler = (event, context) => { context.done(null, "done"); };`},
			handler: "index.handler",
			body:    `"done"`,
		},
		{
			name:    "only the first callback counts",
			files:   map[string]string{"index.js": `exports.handler = (event, context, callback) => { callback(null, 1); callback(null, 2); callback(new Error("late")); };`},
			handler: "index.handler",
			body:    `1`,
		},
		{
			name:    "async throw",
			files:   map[string]string{"index.mjs": `export const handler = async () => { throw new TypeError("boom"); };`},
			handler: "index.handler",
			errType: "TypeError", errMsg: "boom",
		},
		{
			name:    "sync throw",
			files:   map[string]string{"index.js": `exports.handler = () => { throw new RangeError("sync"); };`},
			handler: "index.handler",
			errType: "RangeError", errMsg: "sync",
		},
		{
			name:    "custom error name",
			files:   map[string]string{"index.mjs": `class ValidationError extends Error { name = "ValidationError"; } export const handler = async () => { throw new ValidationError("bad input"); };`},
			handler: "index.handler",
			errType: "ValidationError", errMsg: "bad input",
		},
		{
			name:    "rejection with a string",
			files:   map[string]string{"index.mjs": `export const handler = () => Promise.reject("nope");`},
			handler: "index.handler",
			errType: "string", errMsg: "nope",
		},
		{
			name:    "rejection with undefined",
			files:   map[string]string{"index.mjs": `export const handler = async () => { throw undefined; };`},
			handler: "index.handler",
			errType: "string", errMsg: "handled",
		},
		{
			name:    "rejection with an object",
			files:   map[string]string{"index.mjs": `export const handler = async () => { throw { code: 42 }; };`},
			handler: "index.handler",
			errType: "object", errMsg: "[object Object]",
		},
		{
			name:    "callback error",
			files:   map[string]string{"index.js": `exports.handler = (event, context, callback) => callback(new Error("cb"));`},
			handler: "index.handler",
			errType: "Error", errMsg: "cb",
		},
		{
			name:    "callback error string",
			files:   map[string]string{"index.js": `exports.handler = (event, context, callback) => callback("text");`},
			handler: "index.handler",
			errType: "string", errMsg: "text",
		},
		{
			name:    "context.fail",
			files:   map[string]string{"index.js": `exports.handler = (event, context) => context.fail(new Error("legacy"));`},
			handler: "index.handler",
			errType: "Error", errMsg: "legacy",
		},
		{
			name:    "a result JSON cannot encode",
			files:   map[string]string{"index.mjs": `export const handler = async () => ({ n: 1n });`},
			handler: "index.handler",
			errType: "Error", errMsg: "Unable to stringify response body",
		},
		{
			name:    "an async handler whose promise never settles",
			files:   map[string]string{"index.mjs": `export const handler = async () => { await new Promise(() => {}); };`},
			handler: "index.handler",
			errType: "Runtime.NodeJsExit", errMsg: "Promise that was never settled",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := newFakeRuntime(t)
			w := startWorker(t, rt, tc.files, tc.handler)
			// Twice: the worker goes on after a result or an error.
			for _, id := range []string{"req-1", "req-2"} {
				p := rt.call(t, id, `{"n":1}`)
				if tc.errType == "" {
					wantResponse(t, p, id, tc.body)
					continue
				}
				e := wantError(t, p, runtimePrefix+"/invocation/"+id+"/error", tc.errType, tc.errMsg)
				if e.Trace == nil {
					t.Errorf("trace missing from %s", p.body)
				}
			}
			if !w.alive() {
				t.Error("worker exited")
			}
		})
	}
}

func TestErrorTrace(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(t)
	w := startWorker(t, rt, map[string]string{
		"index.mjs": `export const handler = async () => { throw new Error("boom"); };`,
	}, "index.handler")
	e := wantError(t, rt.call(t, "req-1", `{}`), runtimePrefix+"/invocation/req-1/error", "Error", "boom")
	if len(e.Trace) < 2 || e.Trace[0] != "Error: boom" || !strings.Contains(e.Trace[1], "index.mjs") {
		t.Errorf("trace %q, want the stack lines", e.Trace)
	}
	// The runtime logs the error as AWS's does.
	w.waitLine(t, regexp.MustCompile(`\treq-1\tERROR\tInvoke Error \t\{"errorType":"Error","errorMessage":"boom"`))
}

func TestJSONLogFormat(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(t)
	w := startWorker(t, rt, map[string]string{
		"index.mjs": `export const handler = async () => { console.debug("hidden"); console.info("hello", 42); };`,
	}, "index.handler", "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=INFO")
	wantResponse(t, rt.call(t, "req-1", `{}`), "req-1", "null")
	line := w.waitLine(t, regexp.MustCompile(`"requestId":"req-1"`))
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	delete(got, "timestamp")
	if diff := cmp.Diff(map[string]any{"level": "INFO", "requestId": "req-1", "message": "hello 42"}, got); diff != "" {
		t.Errorf("log line (-want +got):\n%s", diff)
	}
	if strings.Contains(w.stdout.String(), "hidden") {
		t.Error("DEBUG line written with AWS_LAMBDA_LOG_LEVEL=INFO")
	}
}

func TestInitErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		files   map[string]string
		handler string
		errType string
		errMsg  string
	}{
		{
			name:    "missing module",
			files:   map[string]string{"other.mjs": `export const handler = async () => 1;`},
			handler: "index.handler",
			errType: "Runtime.ImportModuleError", errMsg: "Error: Cannot find module 'index'",
		},
		{
			name:    "ESM syntax error",
			files:   map[string]string{"index.mjs": `export const handler = ;`},
			handler: "index.handler",
			errType: "Runtime.UserCodeSyntaxError", errMsg: "SyntaxError: ",
		},
		{
			name:    "CommonJS syntax error",
			files:   map[string]string{"index.js": `exports.handler = function ( {`},
			handler: "index.handler",
			errType: "Runtime.UserCodeSyntaxError", errMsg: "SyntaxError: ",
		},
		{
			name:    "missing export",
			files:   map[string]string{"index.mjs": `export const other = async () => 1;`},
			handler: "index.handler",
			errType: "Runtime.HandlerNotFound", errMsg: "index.handler is undefined or not exported",
		},
		{
			name:    "export is not a function",
			files:   map[string]string{"index.mjs": `export const handler = 42;`},
			handler: "index.handler",
			errType: "Runtime.HandlerNotFound", errMsg: "index.handler is not a function",
		},
		{
			name:    "missing nested export",
			files:   map[string]string{"index.mjs": `export const handlers = {};`},
			handler: "index.handlers.chat",
			errType: "Runtime.HandlerNotFound", errMsg: "index.handlers.chat is undefined or not exported",
		},
		{
			name:    "no dot",
			files:   map[string]string{"index.mjs": `export const handler = async () => 1;`},
			handler: "index",
			errType: "Runtime.MalformedHandlerName", errMsg: "Bad handler",
		},
		{
			name:    "relative path",
			files:   map[string]string{"index.mjs": `export const handler = async () => 1;`},
			handler: "../index.handler",
			errType: "Runtime.MalformedHandlerName", errMsg: "is not a valid handler name",
		},
		{
			name:    "error thrown while loading",
			files:   map[string]string{"index.mjs": `throw new Error("no config"); export const handler = async () => 1;`},
			handler: "index.handler",
			errType: "Error", errMsg: "no config",
		},
		{
			name:    "ESM import of a missing package",
			files:   map[string]string{"index.mjs": `import "no-such-package-switchboard"; export const handler = async () => 1;`},
			handler: "index.handler",
			errType: "Error", errMsg: "Cannot find package 'no-such-package-switchboard'",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := newFakeRuntime(t)
			w := startWorker(t, rt, tc.files, tc.handler)
			wantError(t, rt.waitPost(t, 10*time.Second), runtimePrefix+"/init/error", tc.errType, tc.errMsg)
			if code := w.exitCode(t); code != 129 {
				t.Errorf("exit code %d, want 129", code)
			}
		})
	}
}

func TestUncaughtDuringInvocation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		files   map[string]string
		errType string
		errMsg  string
		code    int
	}{
		{
			name: "uncaught exception",
			files: map[string]string{"index.js": `
exports.handler = (event, context, callback) => {
  setTimeout(() => { throw new Error("late"); }, 10);
};`},
			errType: "Error", errMsg: "late", code: 129,
		},
		{
			name: "unhandled rejection",
			files: map[string]string{"index.mjs": `
export const handler = async () => {
  Promise.reject(new Error("lost"));
  await new Promise((resolve) => setTimeout(resolve, 30000));
  return "never";
};`},
			errType: "Runtime.UnhandledPromiseRejection", errMsg: "Error: lost", code: 128,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := newFakeRuntime(t)
			w := startWorker(t, rt, tc.files, "index.handler")
			wantError(t, rt.call(t, "req-1", `{}`), runtimePrefix+"/invocation/req-1/error", tc.errType, tc.errMsg)
			if code := w.exitCode(t); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
		})
	}
}

func TestRuntimeAPIGone(t *testing.T) {
	t.Parallel()
	rt := newFakeRuntime(t)
	w := startWorker(t, rt, map[string]string{
		"index.mjs": `export const handler = async () => 1;`,
	}, "index.handler")
	wantResponse(t, rt.call(t, "req-1", `{}`), "req-1", "1")
	// The worker waits in /next; closing the API's connections ends it.
	rt.srv.CloseClientConnections()
	if code := w.exitCode(t); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

// skipOrFail skips when node is missing, except in CI (.ci/run installs
// it), where that is a failure.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + " (CI must have it)")
	}
	t.Skip(why)
}
