package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/manage"
)

// noAWSEnv makes the test process's environment — Switchboard's — that of
// a machine with no AWS configuration: no AWS_* variable at all, and a HOME
// that is an empty directory (no ~/.aws). The variables come back when the
// test ends.
func noAWSEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restored at the end of the test
			os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", t.TempDir())
}

// testManagementKey is the API key the function tests' own management
// calls use: management.allowLoopback is off in them, so that every call a
// handler makes must be verified.
const testManagementKey = "function-test-key-0123456789abcdef"

// closedManagement turns development mode off and gives the test its own
// API key: the handlers' SDK calls must then be verified with SigV4 by
// their generated keys.
func closedManagement(c *config.Config) {
	c.Management.AllowLoopback = new(false)
	c.Management.APIKeys = []config.APIKey{{Name: "test", Key: testManagementKey}}
}

// manageWithKey is e.manageJSON with the test's API key.
func (e *env) manageWithKey(method, path string, want int) map[string]any {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("x-api-key", testManagementKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %v (%v), want %d", method, path, resp.StatusCode, m, err, want)
	}
	return m
}

// workerPrincipals returns the principals of the management calls made
// from the stage, and fails the test if any was admitted otherwise than by
// a generated key or the test's API key.
func (e *env) workerPrincipals(stage string) []string {
	e.t.Helper()
	var out []string
	for _, l := range e.logs.lines("management call") {
		p, _ := l["principal"].(string)
		switch {
		case l["stage"] != stage || l["status"] == float64(403):
		case p == "test":
		case strings.HasPrefix(p, manage.GeneratedKeyPrefix):
			out = append(out, p)
		default:
			e.t.Errorf("a management call was admitted as %q: %v", p, l)
		}
	}
	return out
}

var (
	goHandlerOnce sync.Once
	goHandlerDir  string
	goHandlerErr  error
)

// goHandler builds ./lambdago into a function directory (once per
// test binary): an aws-lambda-go handler, as deployed to provided.al2023.
func goHandler(t *testing.T) string {
	t.Helper()
	goHandlerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-lambdago-")
		if err != nil {
			goHandlerErr = err
			return
		}
		goHandlerDir = dir
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), "./lambdago").CombinedOutput()
		if err != nil {
			goHandlerErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if goHandlerErr != nil {
		t.Fatal(goHandlerErr)
	}
	return goHandlerDir
}

// functionAPI is an API whose every route calls one function integration;
// the function's WEBSOCKET_ENDPOINT is the server's own management
// endpoint.
func functionAPI(runtime, dir, handler string, extra string) string {
	return fmt.Sprintf(`
apis:
  - id: fn
    stage: fn
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: fn}
      $disconnect: {integration: fn}
      sendMessage: {integration: fn}
      $default: {integration: fn}
    integrations:
      fn:
        type: function
        timeout: 10s
        maxConcurrency: 2
        function:
          runtime: %s
          directory: %s
          handler: %s
          environment: {WEBSOCKET_ENDPOINT: "{{base}}/fn"}
%s`, runtime, dir, handler, extra)
}

// A Go handler built with aws-lambda-go, run by Switchboard through the
// Lambda Runtime API: $connect, a message answered with PostToConnection
// through the AWS SDK, a crash answered as AWS does and survived, and
// $disconnect.
//
// It runs as on a machine with no AWS configuration and with development
// mode off: the handler's SDK signs with the generated key, which the
// management API verifies.
func TestFunctionGoHandler(t *testing.T) {
	dir := goHandler(t) // built with the real HOME (the Go caches are there)
	noAWSEnv(t)
	e := startServer(t, functionAPI("provided", dir, "handler", ""), closedManagement)

	c := e.dial("fn", nil)
	write(t, c, "hello")
	if _, b := read(t, c); string(b) != "echo: hello" {
		t.Fatalf("got %q", b)
	}
	write(t, c, "crash")
	if m := readJSON(t, c); m["message"] != "Internal server error" {
		t.Fatalf("a crashed handler answered %v", m)
	}
	write(t, c, "again")
	if _, b := read(t, c); string(b) != "echo: again" {
		t.Fatalf("after the crash: %q", b)
	}
	id := e.manageWithKey("GET", "/fn/@connections", 200)["connections"].([]any)[0].(map[string]any)["connectionId"].(string)
	c.Close(websocket.StatusNormalClosure, "bye")
	waitFor(t, "the handler's $disconnect line in the log", func() bool {
		return e.logs.contains("disconnected " + id + " code 1000")
	})
	waitFor(t, "the handler's two PostToConnection calls admitted with its generated key", func() bool {
		return len(e.workerPrincipals("fn")) == 2
	})
}

// The recipe's Node.js chat handler (examples/lambda-chat), unmodified,
// with the example's own switchboard.yaml (only its port and directory
// adapted to the test): @aws-sdk/client-apigatewaymanagementapi posts every
// message to every connection it keeps. As on a machine with no AWS
// configuration, and with development mode off: its calls are verified
// with SigV4.
func TestFunctionLambdaChatExample(t *testing.T) {
	noAWSEnv(t)
	dir, err := filepath.Abs("../../examples/lambda-chat")
	if err != nil {
		t.Fatal(err)
	}
	_, errNode := exec.LookPath("node")
	_, errModules := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-apigatewaymanagementapi"))
	if errNode != nil || errModules != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs node and the example's npm packages (make test runs npm ci): %v %v", errNode, errModules)
		}
		t.Skipf("needs node and `npm ci --prefix examples/lambda-chat` (make test runs it): %v %v", errNode, errModules)
	}
	b, err := os.ReadFile(filepath.Join(dir, "switchboard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	yaml := string(b)
	for _, s := range []string{"http://127.0.0.1:8080", "directory: . "} {
		if !strings.Contains(yaml, s) {
			t.Fatalf("the example's switchboard.yaml has no %q any more; adapt the test", s)
		}
	}
	yaml = strings.ReplaceAll(yaml, "directory: . ", "directory: "+dir+" ")
	if strings.Contains(yaml, "allowLoopback:") {
		t.Error("the example sets management.allowLoopback; it needs no development mode")
	}
	e := startServer(t, strings.ReplaceAll(yaml, "http://127.0.0.1:8080", "{{base}}"), closedManagement)
	alice := e.dial("production", nil)
	bob := e.dial("production", nil)
	write(t, alice, `{"action":"sendMessage","message":"hello from alice"}`)
	for _, c := range []*websocket.Conn{alice, bob} {
		m := readJSON(t, c)
		if m["message"] != "hello from alice" || m["sender"] == nil || m["timestamp"] == nil {
			t.Fatalf("got %v", m)
		}
	}
	bob.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "bob's $disconnect", func() bool {
		return len(e.logs.lines("disconnect")) >= 1
	})
	write(t, alice, `{"action":"sendMessage","message":"still here"}`)
	if m := readJSON(t, alice); m["message"] != "still here" {
		t.Fatalf("got %v", m)
	}
	// The log line of a call is written after its response.
	waitFor(t, "the handler's three PostToConnection calls admitted with its generated key", func() bool {
		return len(e.workerPrincipals("production")) == 3
	})
}

// Shutting the server down leaves no worker process behind.
func TestFunctionNoOrphans(t *testing.T) {
	dir := goHandler(t)
	noAWSEnv(t)
	e := startServer(t, functionAPI("provided", dir, "handler", `          minWorkers: 2
`))
	var pids []int
	waitFor(t, "two workers", func() bool {
		pids = workerPIDs(t, goHandler(t))
		return len(pids) == 2
	})
	c := e.dial("fn", nil)
	write(t, c, "hi")
	read(t, c)
	e.shutdown()
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("worker %d still exists after shutdown", pid)
		}
	}
	if left := workerPIDs(t, goHandler(t)); len(left) > 0 {
		t.Errorf("workers left after shutdown: %v", left)
	}
}

// workerPIDs lists the processes running dir/bootstrap.
func workerPIDs(t *testing.T, dir string) []int {
	t.Helper()
	exe := filepath.Join(dir, "bootstrap")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && strings.TrimSuffix(target, " (deleted)") == exe {
			pids = append(pids, pid)
		}
	}
	return pids
}
