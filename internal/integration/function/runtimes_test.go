package function

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeBootstrap is a minimal Runtime API client standing in for the
// nodejs package's bootstrap: it answers every event with what it sees.
const nodeBootstrap = `
const api = "http://" + process.env.AWS_LAMBDA_RUNTIME_API + "/2018-06-01/runtime";
for (;;) {
  const next = await fetch(api + "/invocation/next");
  const id = next.headers.get("lambda-runtime-aws-request-id");
  const event = await next.json();
  console.log("node got " + event.body);
  const body = JSON.stringify({
    handler: process.env._HANDLER,
    executionEnv: process.env.AWS_EXECUTION_ENV,
    taskRoot: process.env.LAMBDA_TASK_ROOT,
    runtimeDir: process.env.LAMBDA_RUNTIME_DIR,
    script: process.argv[1],
    cwd: process.cwd(),
    message: event.body,
  });
  await fetch(api + "/invocation/" + id + "/response", {method: "POST", body: JSON.stringify({statusCode: 200, body})});
}
`

func TestNodejsRuntime(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		skipOrFail(t, "node not in PATH")
	}
	dir := t.TempDir()
	f := newFunction(t, Config{Runtime: RuntimeNodejs, Directory: dir, Handler: "index.handler"}, Options{bootstrap: []byte(nodeBootstrap)})
	out := f.call(t, `{"text":"hi"}`)
	script := filepath.Join(f.tmpDir, "bootstrap.mjs")
	if out["handler"] != "index.handler" || out["taskRoot"] != dir || out["cwd"] != dir || out["runtimeDir"] != f.tmpDir ||
		out["script"] != script || out["message"] != `{"text":"hi"}` {
		t.Errorf("node saw %v", out)
	}
	if env, _ := out["executionEnv"].(string); !strings.HasPrefix(env, "AWS_Lambda_nodejs") || !strings.HasSuffix(env, ".x") {
		t.Errorf("AWS_EXECUTION_ENV = %q", env)
	}
	waitFor(t, "node's output", func() bool { return len(f.logs.find(`node got {"text":"hi"}`)) == 1 })
	f.call(t, `{"text":"again"}`)
	if n := f.workerCount(); n != 1 {
		t.Errorf("%d workers, want 1", n)
	}
	pids := f.workerPIDs()
	if err := f.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bootstrap left behind: %v", err)
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("node %d survived Close", pid)
		}
	}
}

// noBytecode keeps Python from writing __pycache__ into testdata.
var noBytecode = map[string]string{"PYTHONDONTWRITEBYTECODE": "1"}

func TestPythonRuntime(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		skipOrFail(t, "python3 not in PATH")
	}
	dir, err := filepath.Abs("testdata/python")
	if err != nil {
		t.Fatal(err)
	}
	f := newFunction(t, Config{Runtime: RuntimePython, Directory: dir, Handler: "app.handler", Name: "py", Timeout: 10 * time.Second,
		Environment: noBytecode}, Options{})
	req := message(`{"text":"hello"}`)
	resp, err := f.Invoke(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	out := decode(t, resp.Body)
	if id, _ := out["requestId"].(string); len(id) != 36 || out["arn"] != "arn:aws:lambda:us-east-1:000000000000:function:py" ||
		out["functionName"] != "py" || out["text"] != "hello" {
		t.Errorf("python saw %v", out)
	}
	if ms, _ := out["remaining"].(float64); ms < 8000 || ms > 10000 {
		t.Errorf("remaining time %vms, want about 10000", ms)
	}
	if env, _ := out["executionEnv"].(string); !strings.HasPrefix(env, "AWS_Lambda_python3.") {
		t.Errorf("AWS_EXECUTION_ENV = %q", env)
	}
	waitFor(t, "python's output", func() bool {
		l := f.logs.find("python says hello")
		return len(l) == 1 && l[0].Attrs["requestId"] == req.RequestID()
	})

	_, err = f.invoke(t, `{"action":"error"}`)
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "ValueError" || fe.Message != "bad value" || !strings.Contains(string(fe.StackTrace), "app.py") {
		t.Errorf("error: %v (%+v)", err, fe)
	}
	_, err = f.invoke(t, `{"action":"unserializable"}`)
	if !errors.As(err, &fe) || fe.Type != "Runtime.MarshalError" {
		t.Errorf("unserializable: %v", err)
	}
	if n := f.workerCount(); n != 1 {
		t.Errorf("%d workers, want 1: errors must not cost the worker", n)
	}
}

func TestPythonInitErrors(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		skipOrFail(t, "python3 not in PATH")
	}
	dir, err := filepath.Abs("testdata/python")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ handler, want string }{
		{"missing.handler", `Runtime.ImportModuleError: Unable to import module 'missing': No module named 'missing'`},
		{"app.nope", `Runtime.HandlerNotFound: Handler 'nope' missing on module 'app'`},
		{"nodot", `Runtime.MalformedHandlerName: Bad handler 'nodot': not enough values to unpack (expected 2, got 1)`},
	} {
		f := newFunction(t, Config{Runtime: RuntimePython, Directory: dir, Handler: tc.handler, Timeout: 10 * time.Second, Environment: noBytecode}, Options{})
		_, err := f.invoke(t, `{}`)
		if err == nil || err.Error() != `function "fn": `+tc.want {
			t.Errorf("%s: err = %v, want %s", tc.handler, err, tc.want)
		}
	}
}

// skipOrFail skips a test whose interpreter is missing, except in CI
// (.ci/run installs node and python3), where a missing one is a failure.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + " (CI must have it)")
	}
	t.Skip(why)
}
