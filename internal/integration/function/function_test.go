package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/integration"
)

func TestRoundTrip(t *testing.T) {
	f := newFunction(t, Config{}, Options{})

	connect := event.Connect(testConn, time.Now(), event.NewID(), []event.HeaderField{{Name: "Host", Value: "example.com"}}, nil)
	resp, err := f.Invoke(context.Background(), connect)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if resp.StatusCode != 200 || !resp.Proxy {
		t.Fatalf("connect: %+v", resp)
	}

	req := message(`{"action":"echo","text":"héllo"}`)
	resp, err = f.Invoke(context.Background(), req)
	if err != nil {
		t.Fatalf("message: %v", err)
	}
	out := decode(t, resp.Body)
	if out["body"] != `{"action":"echo","text":"héllo"}` || out["routeKey"] != "chat" ||
		out["connectionId"] != testConn.ID || out["requestId"] != req.RequestID() {
		t.Errorf("echo: %v", out)
	}
	again := f.call(t, `{"action":"echo"}`)
	if again["pid"] != out["pid"] {
		t.Errorf("second call ran on pid %v, first on %v: the warm worker was not reused", again["pid"], out["pid"])
	}
	if n := f.workerCount(); n != 1 {
		t.Errorf("%d workers, want 1", n)
	}
	if n := f.counter(outcomeOK); n != 3 {
		t.Errorf("ok invocations = %v, want 3", n)
	}
	if n := f.coldStarts(); n != 1 {
		t.Errorf("cold starts = %v, want 1", n)
	}
	if n := f.histogramCount(f.m.FunctionInitSeconds); n != 1 {
		t.Errorf("init observations = %d, want 1", n)
	}
	if n := f.histogramCount(f.m.FunctionSeconds); n != 3 {
		t.Errorf("duration observations = %d, want 3", n)
	}
	if g := f.gauge(); g != 1 {
		t.Errorf("workers gauge = %v, want 1", g)
	}
}

func TestLambdaContext(t *testing.T) {
	f := newFunction(t, Config{Name: "chat-fn", Memory: 256, Timeout: 7 * time.Second}, Options{Env: envOf(map[string]string{"PATH": os.Getenv("PATH")})})
	before := time.Now()
	out := f.call(t, `{"action":"context"}`)
	if id, _ := out["awsRequestId"].(string); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("awsRequestId %q is not a v4 UUID", id)
	}
	if arn := out["invokedFunctionArn"]; arn != "arn:aws:lambda:us-east-1:000000000000:function:chat-fn" {
		t.Errorf("invokedFunctionArn = %v", arn)
	}
	after := time.Now()
	// The deadline is the invocation's start plus the timeout: between
	// before+7s and after+7s, whatever the call's start-up took (bounds by
	// causality, not by a guess at the machine's speed; deadlineMs is
	// truncated to the millisecond).
	deadline := time.UnixMilli(int64(out["deadlineMs"].(float64)))
	if lo, hi := before.Add(7*time.Second).Truncate(time.Millisecond), after.Add(7*time.Second); deadline.Before(lo) || deadline.After(hi) {
		t.Errorf("deadline %v is not within [%v, %v]: the call's start plus 7s", deadline, lo, hi)
	}
	for k, want := range map[string]any{
		"functionName": "chat-fn", "functionVersion": "$LATEST", "memoryLimitInMB": float64(256), "logGroupName": "/aws/lambda/chat-fn",
	} {
		if out[k] != want {
			t.Errorf("%s = %v, want %v", k, out[k], want)
		}
	}
	if s, _ := out["logStreamName"].(string); !regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`).MatchString(s) {
		t.Errorf("logStreamName %q", s)
	}
	if s, _ := out["traceId"].(string); !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`).MatchString(s) {
		t.Errorf("traceId %q", s)
	}
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// With credentials: environment, the AWS credential variables of
// Switchboard's environment reach the workers; function.environment
// overrides them.
func TestEnvironment(t *testing.T) {
	dir := handlerDir(t)
	f := newFunction(t, Config{
		Credentials: CredentialsEnvironment,
		Handler:     "my.handler",
		Environment: map[string]string{"FOO": "bar", "AWS_ACCESS_KEY_ID": "from-config", "AWS_REGION": "eu-west-3", "LANG": "C.UTF-8"},
	}, Options{Env: envOf(map[string]string{
		"PATH":                  os.Getenv("PATH"),
		"HOME":                  "/home/switchboard",
		"AWS_REGION":            "ap-south-1",
		"AWS_ACCESS_KEY_ID":     "AKIAFROMENV",
		"AWS_SECRET_ACCESS_KEY": "secret",
		"NODE_PATH":             "/np",
		"SWITCHBOARD_SECRET":    "must not leak",
	})})
	env := f.call(t, `{"action":"env"}`)
	want := map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"LANG":                            "C.UTF-8",
		"TZ":                              ":UTC",
		"HOME":                            "/home/switchboard",
		"AWS_REGION":                      "eu-west-3",
		"AWS_DEFAULT_REGION":              "eu-west-3",
		"AWS_ACCESS_KEY_ID":               "from-config",
		"AWS_SECRET_ACCESS_KEY":           "secret",
		"NODE_PATH":                       "/np",
		"FOO":                             "bar",
		"LAMBDA_TASK_ROOT":                dir,
		"LAMBDA_RUNTIME_DIR":              dir,
		"_HANDLER":                        "my.handler",
		"AWS_LAMBDA_FUNCTION_NAME":        "fn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/fn",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"(cwd)":                           dir,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_STREAM_NAME", "_X_AMZN_TRACE_ID"} {
		if env[k] == "" {
			t.Errorf("%s is not set", k)
		}
		want[k] = ""
	}
	for k := range env {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected variable %s=%v", k, env[k])
		}
	}
	if !strings.HasPrefix(env["AWS_LAMBDA_RUNTIME_API"].(string), "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %v", env["AWS_LAMBDA_RUNTIME_API"])
	}
}

// realAWSEnv is a Switchboard environment holding a value for every
// variable that could give a worker the operator's AWS identity.
func realAWSEnv() map[string]string {
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": "/home/operator"}
	for _, k := range PassThroughEnv {
		env[k] = "real-" + strings.ToLower(k)
	}
	return env
}

// By default (credentials: generated) a worker gets the generated key
// pair and none of Switchboard's AWS credential or configuration
// variables, whatever they hold; without a generated pair, no credentials
// at all.
func TestEnvironmentGeneratedCredentials(t *testing.T) {
	creds := &Credentials{AccessKeyID: "SBWKGENERATED0000000", SecretAccessKey: "generated/secret+0123456789abcdefghijklm"}
	for _, tt := range []struct {
		name  string
		mode  string
		creds *Credentials
	}{
		{"default", "", creds},
		{"generated", CredentialsGenerated, creds},
		{"generated, none given", CredentialsGenerated, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFunction(t, Config{Credentials: tt.mode}, Options{Env: envOf(realAWSEnv()), Credentials: tt.creds})
			env := f.call(t, `{"action":"env"}`)
			for k, v := range env {
				if s, _ := v.(string); strings.Contains(s, "real-") {
					t.Errorf("%s=%q comes from Switchboard's AWS variables", k, s)
				}
			}
			for _, k := range PassThroughEnv {
				if _, ok := env[k]; ok && k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY" {
					t.Errorf("%s is set: %v", k, env[k])
				}
			}
			if tt.creds == nil {
				if _, ok := env["AWS_ACCESS_KEY_ID"]; ok {
					t.Errorf("AWS_ACCESS_KEY_ID = %v, want none", env["AWS_ACCESS_KEY_ID"])
				}
				if f.logs.find("function workers get no AWS credentials") == nil {
					t.Error("no log line says the workers get no credentials")
				}
				return
			}
			if env["AWS_ACCESS_KEY_ID"] != creds.AccessKeyID || env["AWS_SECRET_ACCESS_KEY"] != creds.SecretAccessKey {
				t.Errorf("credentials %v / %v, want the generated pair", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
			}
			if env["AWS_REGION"] != "us-east-1" {
				t.Errorf("AWS_REGION = %v", env["AWS_REGION"])
			}
			logs := f.logs.find("function workers get generated AWS credentials")
			if len(logs) != 1 || logs[0].Level != slog.LevelInfo || logs[0].Attrs["accessKeyId"] != creds.AccessKeyID {
				t.Errorf("start log %+v", logs)
			}
			for _, r := range f.logs.find("") {
				for _, v := range r.Attrs {
					if strings.Contains(v, creds.SecretAccessKey) {
						t.Errorf("log %q shows the secret", r.Msg)
					}
				}
			}
		})
	}
}

// With credentials: environment, every AWS credential variable
// Switchboard has reaches the workers (and the generated pair, if any, is
// not used), and a warning at start names the variables, not their values.
func TestEnvironmentPassThrough(t *testing.T) {
	f := newFunction(t, Config{Credentials: CredentialsEnvironment}, Options{
		Env:         envOf(realAWSEnv()),
		Credentials: &Credentials{AccessKeyID: "SBWKUNUSED", SecretAccessKey: "unused"},
	})
	env := f.call(t, `{"action":"env"}`)
	for _, k := range PassThroughEnv {
		if want := "real-" + strings.ToLower(k); env[k] != want {
			t.Errorf("%s = %v, want %q", k, env[k], want)
		}
	}
	if env["HOME"] != "/home/operator" {
		t.Errorf("HOME = %v", env["HOME"])
	}
	logs := f.logs.find("function workers get Switchboard's own AWS credentials")
	if len(logs) != 1 || logs[0].Level != slog.LevelWarn || logs[0].Attrs["function"] != "fn" {
		t.Fatalf("start warning %+v", logs)
	}
	if !strings.Contains(logs[0].Attrs["passed"], "AWS_SECRET_ACCESS_KEY") || strings.Contains(logs[0].Attrs["passed"], "real-") {
		t.Errorf("passed = %q", logs[0].Attrs["passed"])
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	f := newFunction(t, Config{}, Options{Env: envOf(map[string]string{"PATH": os.Getenv("PATH"), "AWS_DEFAULT_REGION": "ignored"})})
	env := f.call(t, `{"action":"env"}`)
	if env["AWS_REGION"] != "us-east-1" || env["AWS_DEFAULT_REGION"] != "us-east-1" {
		t.Errorf("region %v / %v, want us-east-1", env["AWS_REGION"], env["AWS_DEFAULT_REGION"])
	}
	if home, _ := env["HOME"].(string); home != f.tmpDir {
		t.Errorf("HOME = %q, want the function's temporary directory %q", home, f.tmpDir)
	}
	if _, ok := env["AWS_EXECUTION_ENV"]; ok {
		t.Errorf("AWS_EXECUTION_ENV set for a provided runtime")
	}
}

func TestTimeout(t *testing.T) {
	f := newFunction(t, Config{Timeout: 500 * time.Millisecond}, Options{})
	pid := f.call(t, `{"action":"pid"}`)["pid"].(float64)

	start := time.Now()
	_, err := f.invoke(t, `{"action":"sleep","ms":5000}`)
	if !errors.Is(err, integration.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if want := `function "fn": Task timed out after 0.50 seconds: integration timed out`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timed out after %v", d)
	}
	waitFor(t, "the timed-out worker to be killed", func() bool { return processGone(int(pid)) && groupGone(int(pid)) })

	if next := f.call(t, `{"action":"pid"}`)["pid"].(float64); next == pid {
		t.Errorf("the next call ran on the killed worker's pid %v", pid)
	}
	if n := f.counter(outcomeTimeout); n != 1 {
		t.Errorf("timeout invocations = %v, want 1", n)
	}
	if len(f.logs.find("function timed out")) != 1 {
		t.Errorf("no log of the timeout")
	}
}

func TestWaitTimeout(t *testing.T) {
	// A runtime that never asks for work keeps the only worker slot.
	f := newFunction(t, Config{Timeout: 400 * time.Millisecond, MaxConcurrency: 1, Command: []string{"/bin/sh", "-c", "exec sleep 30"}}, Options{})
	start := time.Now()
	_, err := f.invoke(t, `{"action":"pid"}`)
	if !errors.Is(err, integration.ErrTimeout) ||
		err.Error() != `function "fn": no worker free within 400ms (1 workers, 0 busy, maxConcurrency 1): integration timed out` {
		t.Errorf("err = %v, want a wait timeout", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Errorf("timed out after %v", d)
	}
	if n := f.counter(outcomeTimeout); n != 1 {
		t.Errorf("timeout invocations = %v, want 1", n)
	}
}

func TestCrash(t *testing.T) {
	f := newFunction(t, Config{}, Options{})
	pid := f.call(t, `{"action":"pid"}`)["pid"].(float64)

	_, err := f.invoke(t, `{"action":"crash","code":2}`)
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Runtime.ExitError" || fe.Message != "Runtime exited with error: exit status 2" {
		t.Fatalf("err = %v, want Runtime.ExitError", err)
	}
	if want := `function "fn": Runtime.ExitError: Runtime exited with error: exit status 2`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	waitFor(t, "the crashed worker to be reaped", func() bool { return processGone(int(pid)) && f.workerCount() == 0 })

	if next := f.call(t, `{"action":"pid"}`)["pid"].(float64); next == pid {
		t.Errorf("the next call ran on the crashed pid")
	}
	if n := f.counter(outcomeCrash); n != 1 {
		t.Errorf("crash invocations = %v, want 1", n)
	}
	if n := f.coldStarts(); n != 2 {
		t.Errorf("cold starts = %v, want 2", n)
	}
}

func TestFunctionError(t *testing.T) {
	f := newFunction(t, Config{}, Options{})
	pid := f.call(t, `{"action":"pid"}`)["pid"]

	_, err := f.invoke(t, `{"action":"error","message":"boom"}`)
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "errorString" || fe.Message != "boom" {
		t.Fatalf("err = %v, want errorString: boom", err)
	}
	if err.Error() != `function "fn": errorString: boom` {
		t.Errorf("err = %q", err)
	}
	if errors.Is(err, integration.ErrTimeout) {
		t.Error("a function error is not a timeout")
	}
	if again := f.call(t, `{"action":"pid"}`)["pid"]; again != pid {
		t.Errorf("the worker did not survive a function error: pid %v then %v", pid, again)
	}

	// aws-lambda-go reports a panic, with its stack, then exits.
	_, err = f.invoke(t, `{"action":"panic","message":"kaput"}`)
	if !errors.As(err, &fe) || fe.Message != "kaput" || len(fe.StackTrace) == 0 {
		t.Fatalf("panic: err = %v (%+v)", err, fe)
	}
	f.call(t, `{"action":"pid"}`)
	if n := f.counter(outcomeError); n != 2 {
		t.Errorf("error invocations = %v, want 2", n)
	}
}

func TestResults(t *testing.T) {
	f := newFunction(t, Config{}, Options{})

	resp, err := f.invoke(t, `{"action":"plain","text":"hello"}`)
	if err != nil || resp.StatusCode != 200 || resp.Proxy || string(resp.Body) != `"hello"` {
		t.Errorf("plain: %+v, %v", resp, err)
	}
	resp, err = f.invoke(t, `{"action":"null"}`)
	if err != nil || resp.StatusCode != 200 || len(resp.Body) != 0 {
		t.Errorf("null: %+v, %v", resp, err)
	}
	_, err = f.invoke(t, fmt.Sprintf(`{"action":"big","size":%d}`, MaxResponseBytes))
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Function.ResponseSizeTooLarge" {
		t.Errorf("big: err = %v, want Function.ResponseSizeTooLarge", err)
	}
	// Exactly the limit, JSON quotes included, passes.
	resp, err = f.invoke(t, fmt.Sprintf(`{"action":"big","size":%d}`, MaxResponseBytes-2))
	if err != nil || len(resp.Body) != MaxResponseBytes {
		t.Errorf("6 MiB result: %v", err)
	}
}

func TestConcurrencyScaling(t *testing.T) {
	f := newFunction(t, Config{MaxConcurrency: 3}, Options{})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		pids = map[float64]int{}
	)
	stop := make(chan struct{})
	maxWorkers := 0
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				if n := int(f.gauge()); n > maxWorkers {
					maxWorkers = n
				}
			}
		}
	}()
	for range 6 {
		wg.Go(func() {
			out := f.call(t, `{"action":"sleep","ms":400}`)
			mu.Lock()
			pids[out["pid"].(float64)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	if len(pids) != 3 {
		t.Errorf("6 calls ran on %d workers (%v), want 3", len(pids), pids)
	}
	if maxWorkers != 3 {
		t.Errorf("workers gauge peaked at %d, want 3", maxWorkers)
	}
	if n := f.coldStarts(); n != 3 {
		t.Errorf("cold starts = %v, want 3", n)
	}
	if n := f.counter(outcomeOK); n != 6 {
		t.Errorf("ok = %v, want 6", n)
	}
}

func TestMinWorkersAndIdleTimeout(t *testing.T) {
	f := newFunction(t, Config{MinWorkers: 1, MaxConcurrency: 3, IdleTimeout: 300 * time.Millisecond}, Options{})
	waitFor(t, "the warm worker to be ready", func() bool { return f.histogramCount(f.m.FunctionInitSeconds) == 1 })
	if n := f.coldStarts(); n != 0 {
		t.Errorf("cold starts = %v after New, want 0", n)
	}
	f.call(t, `{"action":"pid"}`)
	if n := f.coldStarts(); n != 0 {
		t.Errorf("cold starts = %v, want 0: the warm worker should take the call", n)
	}

	var wg sync.WaitGroup
	pids := make(chan float64, 3)
	for range 3 {
		wg.Go(func() { pids <- f.call(t, `{"action":"sleep","ms":300}`)["pid"].(float64) })
	}
	wg.Wait()
	close(pids)
	if g := f.gauge(); g != 3 {
		t.Errorf("workers gauge = %v, want 3", g)
	}
	waitFor(t, "the idle workers above minWorkers to stop", func() bool { return f.workerCount() == 1 && f.gauge() == 1 })
	gone := 0
	for pid := range pids {
		if processGone(int(pid)) {
			gone++
		}
	}
	if gone != 2 {
		t.Errorf("%d of the 3 workers are gone, want 2", gone)
	}
	// Well past the idle timeout the last one stays.
	time.Sleep(500 * time.Millisecond)
	if n := f.workerCount(); n != 1 {
		t.Errorf("%d workers, want minWorkers (1)", n)
	}
}

func TestMinWorkersReplaced(t *testing.T) {
	f := newFunction(t, Config{MinWorkers: 2}, Options{})
	waitFor(t, "2 warm workers", func() bool { return f.histogramCount(f.m.FunctionInitSeconds) == 2 })
	if _, err := f.invoke(t, `{"action":"crash","code":1}`); err == nil {
		t.Fatal("crash: no error")
	}
	waitFor(t, "a replacement", func() bool { return f.histogramCount(f.m.FunctionInitSeconds) == 3 && f.workerCount() == 2 })
}

func TestOutputLogged(t *testing.T) {
	f := newFunction(t, Config{}, Options{})
	req := message(`{"action":"log","text":"marker-1","size":20000}`)
	if _, err := f.Invoke(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the output lines", func() bool {
		return len(f.logs.find("after marker-1")) == 1 && len(f.logs.find("err marker-1")) == 1
	})

	out := f.logs.find("out marker-1 ")
	if len(out) != 1 {
		t.Fatalf("stdout line logged %d times", len(out))
	}
	awsID := strings.TrimPrefix(out[0].Msg, "out marker-1 ")
	if r := out[0]; r.Level != slog.LevelInfo || r.Attrs["function"] != "fn" || r.Attrs["api"] != "api1" ||
		r.Attrs["worker"] != "1" || r.Attrs["requestId"] != req.RequestID() || r.Attrs["awsRequestId"] != awsID {
		t.Errorf("stdout record %+v", r)
	}
	errs := f.logs.find("err marker-1")
	if len(errs) != 1 || errs[0].Level != slog.LevelWarn || errs[0].Attrs["requestId"] != req.RequestID() {
		t.Errorf("stderr records %+v", errs)
	}
	long := f.logs.find("long xxx")
	if len(long) != 1 || len(long[0].Msg) != maxLineBytes || long[0].Attrs["truncated"] != "true" {
		t.Errorf("long line: %d records, first %d bytes, attrs %v", len(long), len(long[0].Msg), long[0].Attrs)
	}
}

func TestCloseWaitsForRunningInvocations(t *testing.T) {
	f := newFunction(t, Config{MaxConcurrency: 2}, Options{})
	f.call(t, `{"action":"pid"}`)
	done := make(chan error, 1)
	go func() {
		_, err := f.invoke(t, `{"action":"sleep","ms":300}`)
		done <- err
	}()
	waitFor(t, "the call to run", func() bool { return f.running() == 1 })
	pids := f.workerPIDs()
	if err := f.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("the running call failed: %v", err)
	}
	for _, pid := range pids {
		if !processGone(pid) || !groupGone(pid) {
			t.Errorf("worker %d survived Close", pid)
		}
	}
	if _, err := f.invoke(t, `{"action":"pid"}`); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close: %v, want ErrClosed", err)
	}
	if _, err := os.Stat(f.tmpDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory left behind: %v", err)
	}
}

func TestCloseKillsEverything(t *testing.T) {
	f := newFunction(t, Config{MaxConcurrency: 4, MinWorkers: 1}, Options{})
	spawned := f.call(t, `{"action":"spawn"}`)
	child := int(spawned["child"].(float64))
	if processGone(child) {
		t.Fatal("the spawned child is not running")
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := f.invoke(t, `{"action":"sleep","ms":30000}`)
			errs <- err
		}()
	}
	// The spawning worker takes one of them.
	waitFor(t, "3 running calls", func() bool { return f.running() == 3 })
	pids := f.workerPIDs()
	if len(pids) != 3 {
		t.Fatalf("%d workers, want 3", len(pids))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := f.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	for range 3 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Errorf("running call: %v, want ErrClosed", err)
		}
	}
	for _, pid := range append(pids, child) {
		if !processGone(pid) {
			t.Errorf("process %d survived Close", pid)
		}
	}
	for _, pid := range pids {
		if !groupGone(pid) {
			t.Errorf("process group %d survived Close", pid)
		}
	}
	// Idempotent: a second Close reports the first one's result.
	if err := f.Close(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Close = %v", err)
	}
}

func TestInitError(t *testing.T) {
	f := newFunction(t, Config{Environment: map[string]string{"TEST_INIT_ERROR": "bad config"}}, Options{})
	for i := range 2 {
		_, err := f.invoke(t, `{"action":"pid"}`)
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != "Runtime.TestInitError" || fe.Message != "bad config" {
			t.Fatalf("call %d: err = %v, want the init error", i, err)
		}
	}
	waitFor(t, "the failed workers to exit", func() bool { return f.workerCount() == 0 })
	if n := f.counter(outcomeError); n != 2 {
		t.Errorf("error invocations = %v, want 2", n)
	}
	if len(f.logs.find("function failed to initialize")) != 2 {
		t.Error("init errors not logged")
	}
}

func TestInitExit(t *testing.T) {
	f := newFunction(t, Config{Environment: map[string]string{"TEST_INIT_EXIT": "3"}}, Options{})
	_, err := f.invoke(t, `{"action":"pid"}`)
	if err == nil || err.Error() != `function "fn": Runtime.ExitError: Runtime exited with error: exit status 3` {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingBootstrap(t *testing.T) {
	f := newFunction(t, Config{Command: []string{"no-such-bootstrap"}, MinWorkers: 1}, Options{})
	_, err := f.invoke(t, `{"action":"pid"}`)
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Runtime.InvalidEntrypoint" || !strings.Contains(fe.Message, "no-such-bootstrap") {
		t.Fatalf("err = %v, want Runtime.InvalidEntrypoint", err)
	}
	// Keeping minWorkers warm backs off instead of spinning.
	time.Sleep(500 * time.Millisecond)
	if n := len(f.logs.find("cannot start worker")); n > 3 {
		t.Errorf("%d start attempts in 500ms", n)
	}
}

func TestSlowInit(t *testing.T) {
	f := newFunction(t, Config{Environment: map[string]string{"TEST_INIT_SLEEP_MS": "200"}}, Options{})
	f.call(t, `{"action":"pid"}`)
	if h := metricValue(f.m.FunctionInitSeconds.WithLabelValues("api1", "fn").(prometheus.Metric)).GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() < 0.2 {
		t.Errorf("init: %d observations, sum %vs; want 1 of at least 0.2s", h.GetSampleCount(), h.GetSampleSum())
	}
}

func TestInvokeCancelled(t *testing.T) {
	f := newFunction(t, Config{MaxConcurrency: 1}, Options{})
	f.call(t, `{"action":"pid"}`)
	busy := make(chan error, 1)
	go func() {
		_, err := f.invoke(t, `{"action":"sleep","ms":300}`)
		busy <- err
	}()
	waitFor(t, "the worker to be busy", func() bool { return f.running() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, err := f.Invoke(ctx, message(`{"action":"pid"}`))
		queued <- err
	}()
	waitFor(t, "the call to queue", func() bool { return f.queued() == 1 })
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Errorf("queued call: %v, want Canceled", err)
	}
	if err := <-busy; err != nil {
		t.Errorf("busy call: %v", err)
	}
	if n := f.queued(); n != 0 {
		t.Errorf("%d calls left in the queue", n)
	}

	// A running call whose caller gives up goes on; the worker is then
	// free again.
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := f.Invoke(ctx, message(`{"action":"sleep","ms":300}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	f.call(t, `{"action":"pid"}`)
	if n := f.counter(outcomeOK); n != 4 {
		t.Errorf("ok = %v, want 4 (the abandoned call counts when it ends)", n)
	}
}

func TestNewValidates(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/file"
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Directory: dir}, `function integration "x": runtime is required: provided, nodejs or python`},
		{Config{Runtime: "java", Directory: dir}, `function integration "x": runtime "java": want provided, nodejs or python`},
		{Config{Runtime: "provided"}, `function integration "x": directory is required`},
		{Config{Runtime: "provided", Directory: "rel"}, `function integration "x": directory "rel" is not absolute`},
		{Config{Runtime: "provided", Directory: file}, `function integration "x": directory "` + file + `" is not a directory`},
		{Config{Runtime: "provided", Directory: dir + "/missing"}, `function integration "x": directory: stat ` + dir + `/missing: no such file or directory`},
		{Config{Runtime: "nodejs", Directory: dir}, `function integration "x": handler is required for runtime nodejs (for example "index.handler")`},
		{Config{Runtime: "python", Directory: dir, Handler: "a.b", Command: []string{"x"}}, `function integration "x": command is only for runtime provided`},
		{Config{Runtime: "provided", Directory: dir, Memory: 64}, `function integration "x": memory 64 MB: want 128 to 10240`},
		{Config{Runtime: "provided", Directory: dir, Timeout: -1}, `function integration "x": timeout -1ns is negative; use 0 for the default (29s)`},
		{Config{Runtime: "provided", Directory: dir, MaxConcurrency: -1}, `function integration "x": maxConcurrency -1 is negative; use 0 for the default (4)`},
		{Config{Runtime: "provided", Directory: dir, MinWorkers: 5}, `function integration "x": minWorkers 5: want 0 to maxConcurrency (4)`},
		{Config{Runtime: "provided", Directory: dir, IdleTimeout: -1}, `function integration "x": idleTimeout -1ns is negative; use 0 for the default (5m)`},
		{Config{Runtime: "provided", Directory: dir, Name: "a:b"}, `function integration "x": name "a:b": want a non-empty Lambda function name without ':', '/' or spaces`},
		{Config{Runtime: "provided", Directory: dir, Environment: map[string]string{"_HANDLER": "x"}}, `function integration "x": environment: _HANDLER is set by the Lambda runtime and cannot be configured`},
		{Config{Runtime: "provided", Directory: dir, Environment: map[string]string{"A=B": "x"}}, `function integration "x": environment: "A=B" is not a valid variable name`},
		{Config{Runtime: "provided", Directory: dir, Credentials: "env"}, `function integration "x": credentials "env": want generated or environment`},
	} {
		_, err := New("x", tc.cfg, Options{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}

	f, err := New("x", Config{Runtime: "provided", Directory: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	c := f.cfg
	if c.Name != "x" || c.Timeout != 29*time.Second || c.MaxConcurrency != 4 || c.Memory != 128 || c.IdleTimeout != 5*time.Minute ||
		len(c.Command) != 1 || c.Command[0] != "bootstrap" || f.exe != dir+"/bootstrap" {
		t.Errorf("defaults: %+v exe %s", c, f.exe)
	}
	if f.Name() != "x" {
		t.Errorf("Name() = %q", f.Name())
	}
	if _, err := New("x", Config{Runtime: "nodejs", Directory: dir, Handler: "index.handler"}, Options{Env: envOf(map[string]string{"PATH": dir})}); err == nil ||
		!strings.Contains(err.Error(), "node not found in PATH") {
		t.Errorf("nodejs without node: %v", err)
	}
}

func TestRuntimeVersion(t *testing.T) {
	for _, tc := range []struct{ runtime, out, want string }{
		{RuntimeNodejs, "v20.11.1\n", "20.x"},
		{RuntimeNodejs, "v22.0.0", "22.x"},
		{RuntimeNodejs, "garbage", ""},
		{RuntimePython, "Python 3.12.1\n", "3.12"},
		{RuntimePython, "Python 3.9", "3.9"},
		{RuntimePython, "Python", ""},
	} {
		if got := runtimeVersion(tc.runtime, tc.out); got != tc.want {
			t.Errorf("runtimeVersion(%s, %q) = %q, want %q", tc.runtime, tc.out, got, tc.want)
		}
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return out
}
