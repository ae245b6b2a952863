package admin_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/redistest"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
	"github.com/switchboardhq/switchboard/internal/testproc"
)

// TestNodesClustered: two nodes on one real Redis. The console of node a
// lists both nodes from the registry (itself marked) and finds a client
// connected to node b: the views read cluster-wide.
func TestNodesClustered(t *testing.T) {
	rs := redistest.StartServer(t)
	be := newBackend(t)
	start := func(name string) *servertest.Server {
		internal := testproc.FreeAddr(t)
		cfg := consoleConfig(be.URL) + fmt.Sprintf(`
cluster:
  nodeId: %s
  lease: 2s
  leaseRenewal: 500ms
  redis: {mode: single, addresses: ["127.0.0.1:%d"], commandTimeout: 1s}
  internal: {listen: %s, advertise: %s, secret: console-cluster-secret-0123456789abcdef}
`, name, rs.Port(), internal, internal)
		return servertest.Start(t, cfg, server.Options{})
	}
	a, b := start("node-a"), start("node-b")
	ws := dial(t, b.Addr)
	ws.await(t, `"subscribed"`)
	id := be.lastConnected()

	op := newOperator(t, "http://"+a.Addr+"/admin/")
	op.signIn(consoleKey)
	code, body := op.do(http.MethodGet, "api/nodes", "", nil)
	if code != http.StatusOK || !strings.Contains(body, `"clustered":true`) ||
		!strings.Contains(body, `"id":"node-a"`) || !strings.Contains(body, `"id":"node-b"`) || strings.Count(body, `"self":true`) != 1 {
		t.Fatalf("nodes: %d %s", code, body)
	}
	if i := strings.Index(body, `"id":"node-a"`); !strings.Contains(body[i:min(i+200, len(body))], `"self":true`) {
		t.Fatalf("node-a is not marked as this node: %s", body)
	}
	code, body = op.do(http.MethodGet, "api/connections?stage=prod&field=user&q=alice", "", nil)
	if code != http.StatusOK || !strings.Contains(body, id) {
		t.Fatalf("a's console does not find b's client: %d %s", code, body)
	}
	code, body = op.do(http.MethodGet, "api/channels?stage=prod", "", nil)
	if code != http.StatusOK || !strings.Contains(body, `"channel":"room:lobby","members":1`) {
		t.Fatalf("channels: %d %s", code, body)
	}
	// An action on b's client from a's console is forwarded to b.
	if code, body := op.do(http.MethodPost, "api/manage/prod/@connections/"+id, "across nodes", map[string]string{"X-CSRF-Token": op.csrf}); code != http.StatusOK {
		t.Fatalf("send: %d %s", code, body)
	}
	ws.await(t, `"type":"message"`, "across nodes")
}
