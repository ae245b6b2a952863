package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/redistest"
	"github.com/switchboardhq/switchboard/internal/testproc"
)

// bin is the switchboard binary TestMain builds once.
var bin string

func TestMain(m *testing.M) { testproc.Main(m, &bin, "../../cmd/switchboard", redistest.CloseShared) }

// waitTimeout bounds every wait for an event.
const waitTimeout = 20 * time.Second

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Access key pair every node accepts for SigV4 on stage prod.
const (
	accessKeyID     = "AKIDEXAMPLECLUSTER01"
	accessKeySecret = "cluster-test-secret-0123456789"
	internalSecret  = "cluster-internal-secret-0123456789abcdef"
	stage           = "prod"
)

// event is what the backend recorded of one route invocation.
type event struct {
	Route        string
	ConnectionID string
	RequestID    string
	EventType    string
	StatusCode   int
	Reason       string
	Body         string
	Tag          string // the tag query parameter of the handshake
	Node         string // the node that called: the backend URL's path is /<node name>
}

// backend is the HTTP integration of every node: it answers 200 and
// records each event, so tests can wait for $connect and $disconnect.
type backend struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []event
}

func newBackend(t testing.TB) *backend {
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			RequestContext struct {
				RouteKey             string `json:"routeKey"`
				ConnectionID         string `json:"connectionId"`
				RequestID            string `json:"requestId"`
				EventType            string `json:"eventType"`
				DisconnectStatusCode int    `json:"disconnectStatusCode"`
				DisconnectReason     string `json:"disconnectReason"`
			} `json:"requestContext"`
			Body  string            `json:"body"`
			Query map[string]string `json:"queryStringParameters"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		c := e.RequestContext
		b.mu.Lock()
		b.events = append(b.events, event{c.RouteKey, c.ConnectionID, c.RequestID, c.EventType, c.DisconnectStatusCode, c.DisconnectReason, e.Body, e.Query["tag"], strings.TrimPrefix(r.URL.Path, "/")})
		b.mu.Unlock()
		// A handshake's user and channels query parameters become the
		// $connect response's X-Switchboard-User and X-Switchboard-Channels.
		if c.RouteKey == "$connect" {
			if u := e.Query["user"]; u != "" {
				w.Header().Set("X-Switchboard-User", u)
			}
			if ch := e.Query["channels"]; ch != "" {
				w.Header().Set("X-Switchboard-Channels", ch)
			}
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// route returns the recorded events of route for connection id.
func (b *backend) route(route, id string) []event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []event
	for _, e := range b.events {
		if e.Route == route && e.ConnectionID == id {
			out = append(out, e)
		}
	}
	return out
}

// connectionID returns the id of the connection opened with tag, once its
// $connect reached the backend.
func (b *backend) connectionID(t testing.TB, tag string) string {
	t.Helper()
	var id string
	waitFor(t, "$connect of "+tag, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.events {
			if e.Route == "$connect" && e.Tag == tag {
				id = e.ConnectionID
				return true
			}
		}
		return false
	})
	return id
}

// nodeConfig is the YAML of one node. %[1]s listen, %[2]s backend URL,
// %[3]s Redis mode, %[4]s Redis addresses (YAML list), %[5]s advertise,
// %[6]s node id, %[7]s key prefix.
const nodeConfig = `
listen: %[1]s
management:
  allowLoopback: false
  accessKeys:
    - id: ` + accessKeyID + `
      secret: ` + accessKeySecret + `
shutdown:
  drainWindow: 200ms
  timeout: 10s
apis:
  - id: chat
    stage: ` + stage + `
    routeSelectionExpression: $request.body.action
    routes:
      $connect:    {integration: be}
      $disconnect: {integration: be}
      $default:    {integration: be}
      say:         {action: {type: broadcast, channel: $request.body.room}}
      enter:       {action: {type: join, channel: $request.body.room}}
      shout:       {action: {type: broadcast}}
    integrations:
      be:
        type: http
        url: %[2]s
    channels:
      namespaces:
        - pattern: "room:*"
          subscribe: allow
          publish: subscribers
          joinLeave: true
          history:
            size: 1000
        - pattern: "*"
          subscribe: allow
          publish: subscribers
cluster:
  nodeId: %[6]s
  lease: 2s
  leaseRenewal: 500ms
  redis:
    mode: %[3]s
    addresses: %[4]s
    keyPrefix: "%[7]s"
    commandTimeout: 1s
  internal:
    # The loopback address freeAddr found free, not every interface on its
    # port (the default): a wildcard bind also collides with other
    # processes' connections that use the port as their local one.
    listen: %[5]s
    advertise: %[5]s
    secret: ` + internalSecret + `
`

// node is one switchboard process.
type node struct {
	name     string
	addr     string // public listener host:port
	internal string // internal endpoint host:port
	file     string
	cmd      *exec.Cmd
	log      *syncBuffer
	done     chan struct{} // closed when the process has exited
	exitErr  error
}

// syncBuffer is a log sink safe for the process's writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cluster is N nodes on one Redis and one backend.
type testCluster struct {
	t       *testing.T
	nodes   []*node
	backend *backend
	prefix  string
	stage   string // the stage clients dial; the const stage when ""
	// editConfig, when set, edits each node's YAML before it starts.
	editConfig func(yaml string) string
}

// redisTarget says where the nodes' Redis is.
type redisTarget struct {
	mode  string // single or cluster
	addrs []string
}

// freeAddr is testproc.FreeAddr.
func freeAddr(t testing.TB) string { return testproc.FreeAddr(t) }

// startCluster starts n nodes and waits until each answers /readyz.
func startCluster(t *testing.T, n int, r redisTarget) *testCluster {
	t.Helper()
	return startClusterWith(t, n, r, clusterOptions{})
}

// clusterOptions change what startClusterWith starts.
type clusterOptions struct {
	// redisFor is where node i reaches Redis (nil: r for every node), e.g.
	// through a redistest.Proxy.
	redisFor func(i int) redisTarget
	// config edits each node's YAML (nil: nodeConfig as is).
	config func(yaml string) string
}

// startClusterWith is startCluster with options.
func startClusterWith(t *testing.T, n int, r redisTarget, o clusterOptions) *testCluster {
	t.Helper()
	c := &testCluster{t: t, backend: newBackend(t), prefix: fmt.Sprintf("e2e%d:", time.Now().UnixNano()), editConfig: o.config}
	for i := range n {
		ri := r
		if o.redisFor != nil {
			ri = o.redisFor(i)
		}
		c.nodes = append(c.nodes, c.startNode(fmt.Sprintf("n%d", i), ri))
	}
	for _, nd := range c.nodes {
		c.waitReady(nd)
	}
	return c
}

func (c *testCluster) startNode(name string, r redisTarget) *node {
	t := c.t
	t.Helper()
	nd := &node{name: name, addr: freeAddr(t), internal: freeAddr(t), log: &syncBuffer{}, done: make(chan struct{})}
	addrs, _ := json.Marshal(r.addrs)
	yaml := fmt.Sprintf(nodeConfig, nd.addr, c.backend.srv.URL+"/"+name, r.mode, addrs, nd.internal, name, c.prefix)
	if c.editConfig != nil {
		yaml = c.editConfig(yaml)
	}
	nd.file = filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(nd.file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	nd.cmd = exec.Command(bin, "serve", "--config", nd.file)
	nd.cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true", "SWITCHBOARD_MANAGEMENT_API_KEYS=e2e:"+apiKey)
	c.launch(nd)
	return nd
}

// launch starts nd.cmd with its output in nd.log, and kills it when the
// test ends (printing the log's tail if the test failed).
func (c *testCluster) launch(nd *node) {
	t := c.t
	t.Helper()
	nd.cmd.Stdout = nd.log
	nd.cmd.Stderr = nd.log
	if err := nd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		nd.exitErr = nd.cmd.Wait()
		close(nd.done)
	}()
	t.Cleanup(func() {
		nd.cmd.Process.Kill()
		<-nd.done
		if t.Failed() {
			t.Logf("log of node %s:\n%s", nd.name, tailLines(nd.log.String(), 60))
		}
	})
}

// apiKey is a management API key the tests add to every node through
// SWITCHBOARD_MANAGEMENT_API_KEYS, for the calls the AWS SDK has no
// operation for (channels).
const apiKey = "e2e-api-key-0123456789abcdef"

// manage sends one management API request to addr with the API key and
// fails the test unless the status is want; it returns the body.
func manage(t testing.TB, addr, method, path string, body []byte, want int) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s; want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (c *testCluster) waitReady(nd *node) {
	c.t.Helper()
	waitFor(c.t, "node "+nd.name+" ready", func() bool {
		select {
		case <-nd.done:
			c.t.Fatalf("node %s exited: %v\n%s", nd.name, nd.exitErr, tailLines(nd.log.String(), 40))
		default:
		}
		resp, err := http.Get("http://" + nd.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// kill ends a node with SIGKILL and waits for the process to exit.
func (c *testCluster) kill(nd *node) {
	nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.done
}

// terminate sends SIGTERM and waits for a clean exit.
func (c *testCluster) terminate(nd *node) {
	c.t.Helper()
	nd.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-nd.done:
	case <-time.After(waitTimeout):
		c.t.Fatalf("node %s did not exit after SIGTERM", nd.name)
	}
	if nd.exitErr != nil {
		c.t.Errorf("node %s exited with %v after SIGTERM", nd.name, nd.exitErr)
	}
}

// ctx bounds one call.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return c
}
