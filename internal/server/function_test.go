package server

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/config"
)

// lambdaEnv gives the test process — and so the function workers, which
// inherit these variables — dummy AWS credentials and a region, with
// every other source of AWS configuration turned off.
func lambdaEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "dummy")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
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
func TestFunctionGoHandler(t *testing.T) {
	lambdaEnv(t)
	e := startServer(t, functionAPI("provided", goHandler(t), "handler", ""))

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
	id := e.manageJSON("GET", "/fn/@connections", "", 200)["connections"].([]any)[0].(map[string]any)["connectionId"].(string)
	c.Close(websocket.StatusNormalClosure, "bye")
	waitFor(t, "the handler's $disconnect line in the log", func() bool {
		return e.logs.contains("disconnected " + id + " code 1000")
	})
}

// The recipe's Node.js chat handler (examples/lambda-chat), unmodified:
// @aws-sdk/client-apigatewaymanagementapi posts every message to every
// connection it keeps.
func TestFunctionLambdaChatExample(t *testing.T) {
	lambdaEnv(t)
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
	e := startServer(t, functionAPI("nodejs", dir, "index.handler", `          minWorkers: 1
`), func(c *config.Config) {
		// One worker: the example keeps its connection table in memory.
		in := c.APIs[0].Integrations["fn"]
		in.MaxConcurrency = 1
		c.APIs[0].Integrations["fn"] = in
	})
	alice := e.dial("fn", nil)
	bob := e.dial("fn", nil)
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
}

// Shutting the server down leaves no worker process behind.
func TestFunctionNoOrphans(t *testing.T) {
	lambdaEnv(t)
	e := startServer(t, functionAPI("provided", goHandler(t), "handler", `          minWorkers: 2
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
