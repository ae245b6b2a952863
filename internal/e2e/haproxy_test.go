package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// TestHAProxyExample runs examples/cluster as its README says: one
// redis-server, three nodes from the one shared switchboard.yaml, haproxy
// with the example's haproxy.cfg in front. Clients connected through
// haproxy land on different nodes, a publication through haproxy reaches
// them all, and a node draining on SIGTERM is taken out of rotation by its
// /readyz while the others keep serving.
func TestHAProxyExample(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("haproxy is not installed; .ci/run installs it")
		}
		t.Skip("haproxy is not installed (apt-get install haproxy)")
	}
	srv := redistest.StartServer(t)
	be := newBackend(t)
	dir, _ := filepath.Abs("../../examples/cluster")

	env := append(os.Environ(),
		"REDIS_ADDRESS="+srv.Addr,
		"BACKEND_URL="+be.srv.URL,
		"SWITCHBOARD_ACCESS_KEY_ID="+accessKeyID,
		"SWITCHBOARD_SECRET_ACCESS_KEY="+accessKeySecret,
		"SWITCHBOARD_CLUSTER_SECRET="+internalSecret,
		"SWITCHBOARD_MANAGEMENT_API_KEYS=e2e:"+apiKey,
	)
	tc := &testCluster{t: t, backend: be, stage: "production"}
	var addrs []string
	for i := 1; i <= 3; i++ {
		nd := &node{name: fmt.Sprintf("node-%d", i), addr: freeAddr(t), internal: freeAddr(t), log: &syncBuffer{}, done: make(chan struct{})}
		nd.cmd = exec.Command(bin, "serve", "--config", filepath.Join(dir, "switchboard.yaml"))
		nd.cmd.Env = append(env,
			"SWITCHBOARD_LISTEN="+nd.addr,
			"SWITCHBOARD_CLUSTER_NODE_ID="+nd.name,
			"SWITCHBOARD_CLUSTER_ADVERTISE="+nd.internal,
		)
		tc.launch(nd)
		tc.nodes = append(tc.nodes, nd)
		addrs = append(addrs, nd.addr)
	}
	for _, nd := range tc.nodes {
		tc.waitReady(nd)
	}
	// Each node's incarnation, from a connection made to it directly.
	incs := make([]string, len(tc.nodes))
	for i, nd := range tc.nodes {
		_, id := tc.dial(nd, "direct-"+nd.name)
		incs[i] = incarnationOf(t, id)
	}

	front := freeAddr(t)
	hp := exec.Command(haproxy, "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	hp.Env = append(os.Environ(), "SB_FRONT="+front, "SB_NODE1="+addrs[0], "SB_NODE2="+addrs[1], "SB_NODE3="+addrs[2])
	hlog := &syncBuffer{}
	hp.Stdout, hp.Stderr = hlog, hlog
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hp.Process.Kill()
		hp.Wait()
		if t.Failed() {
			t.Logf("haproxy:\n%s", tailLines(hlog.String(), 30))
		}
	})
	waitFor(t, "haproxy up with three nodes", func() bool {
		resp, err := http.Get("http://" + front + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// Six clients through haproxy: leastconn spreads them over the nodes.
	ids := map[string]*websocket.Conn{}
	owners := map[string]bool{}
	for i := range 6 {
		tag := fmt.Sprintf("h%d", i)
		ws, _, err := websocket.Dial(ctx(t), "ws://"+front+"/production?tag="+tag, nil)
		if err != nil {
			t.Fatalf("dial through haproxy: %v", err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		id := be.connectionID(t, tag)
		ids[id] = ws
		owners[incarnationOf(t, id)] = true
	}
	if len(owners) < 2 {
		t.Errorf("six connections through haproxy landed on %d node(s); want them spread", len(owners))
	}

	// Every client joins room:lobby and gets one publication, all through
	// haproxy (management calls go to any node).
	for id := range ids {
		manage(t, front, http.MethodPut, "/production/@channels/room:lobby/connections/"+id, nil, 204)
	}
	manage(t, front, http.MethodPost, "/production/@channels/room:lobby", []byte("hello, lobby"), 200)
	for id, ws := range ids {
		_, got, err := ws.Read(ctx(t))
		if err != nil || string(got) != "hello, lobby" {
			t.Fatalf("client %s read %q, %v", id, got, err)
		}
	}

	// SIGTERM one node: haproxy marks it down on /readyz during the
	// readiness delay; new connections all land on the other two.
	drained := tc.nodes[0]
	drained.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "haproxy to stop sending to the draining node", func() bool {
		return strings.Contains(hlog.String(), "Server nodes/n1 is DOWN")
	})
	for i := range 4 {
		tag := fmt.Sprintf("after%d", i)
		ws, _, err := websocket.Dial(ctx(t), "ws://"+front+"/production?tag="+tag, nil)
		if err != nil {
			t.Fatalf("dial through haproxy after the drain began: %v", err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		id := be.connectionID(t, tag)
		if incarnationOf(t, id) == incs[0] {
			t.Errorf("connection %s went to the draining node", id)
		}
	}
}
