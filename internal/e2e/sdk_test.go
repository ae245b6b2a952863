package e2e

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// sdk returns the official AWS SDK for Go v2 management client pointed at
// node nd, with dummy credentials the nodes accept and no AWS
// configuration from the environment.
func sdk(t *testing.T, nd *node) *apigatewaymanagementapi.Client {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:           "us-east-1",
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(accessKeyID, accessKeySecret, "")),
		BaseEndpoint:     aws.String("http://" + nd.addr + "/" + stage),
		HTTPClient:       &http.Client{Transport: tr, Timeout: waitTimeout},
		RetryMaxAttempts: 1,
	})
}

// dial opens a raw WebSocket client on nd with tag, and returns it with
// its connection id (learnt from the backend's $connect).
func (c *testCluster) dial(nd *node, tag string) (*websocket.Conn, string) {
	t := c.t
	t.Helper()
	st := stage
	if c.stage != "" {
		st = c.stage
	}
	ws, _, err := websocket.Dial(ctx(t), "ws://"+nd.addr+"/"+st+"?tag="+tag, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", nd.name, err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws, c.backend.connectionID(t, tag)
}

// TestSDKAcrossNodes: the AWS SDK for Go v2, calling a node that does not
// hold the connection, gets the same answers as from the owner (point 3).
func TestSDKAcrossNodes(t *testing.T) {
	srv := redistest.StartServer(t)
	c := startCluster(t, 3, redisTarget{mode: "single", addrs: []string{srv.Addr}})
	ws, id := c.dial(c.nodes[0], "a")
	api := sdk(t, c.nodes[1])

	// Post through node 1 reaches the client on node 0.
	if _, err := api.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("hello from n1")}); err != nil {
		t.Fatalf("PostToConnection via a non-owner: %v", err)
	}
	_, got, err := ws.Read(ctx(t))
	if err != nil || string(got) != "hello from n1" {
		t.Fatalf("client read %q, %v", got, err)
	}

	// Get through node 2.
	info, err := sdk(t, c.nodes[2]).GetConnection(ctx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection via a non-owner: %v", err)
	}
	if info.ConnectedAt == nil || time.Since(*info.ConnectedAt) > time.Minute || info.Identity == nil || aws.ToString(info.Identity.SourceIp) != "127.0.0.1" {
		t.Errorf("GetConnection = %+v", info)
	}

	// An unknown id of a live node answers 410 through another node.
	_, other := c.dial(c.nodes[2], "b")
	if _, err := api.DeleteConnection(ctx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(other)}); err != nil {
		t.Fatalf("DeleteConnection via a non-owner: %v", err)
	}
	waitFor(t, "$disconnect of the deleted connection", func() bool { return len(c.backend.route("$disconnect", other)) == 1 })
	var gone *types.GoneException
	if _, err := api.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(other), Data: []byte("x")}); !errors.As(err, &gone) {
		t.Errorf("PostToConnection to a deleted connection: %v; want GoneException", err)
	}

	// Payload too large is the owner's verdict, carried back.
	var tooLarge *types.PayloadTooLargeException
	big := make([]byte, 200<<10)
	if _, err := api.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: big}); !errors.As(err, &tooLarge) {
		t.Errorf("PostToConnection of %d bytes: %v; want PayloadTooLargeException", len(big), err)
	}

	// kill -9 of the owner: the connection answers 410 within the lease,
	// and a survivor delivers its $disconnect exactly once.
	c.kill(c.nodes[0])
	waitFor(t, "GoneException for a dead node's connection", func() bool {
		_, err := api.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
		return errors.As(err, &gone)
	})
	waitFor(t, "$disconnect of the dead node's connection", func() bool { return len(c.backend.route("$disconnect", id)) >= 1 })
	d := c.backend.route("$disconnect", id)[0]
	if d.StatusCode != 1006 || d.Reason != "Switchboard node lost" {
		t.Errorf("$disconnect = %d %q; want 1006 \"Switchboard node lost\"", d.StatusCode, d.Reason)
	}
	// Exactly once: after every live node has had time to reap (it is
	// reaped once: the record is gone), there is still one.
	waitFor(t, "the dead node reaped", func() bool {
		out, _ := srv.Do("EXISTS", c.prefix+"{n:"+incarnationOf(t, id)+"}:conns")
		return out == "0"
	})
	if n := len(c.backend.route("$disconnect", id)); n != 1 {
		t.Errorf("%d $disconnect for the dead node's connection; want 1", n)
	}
}

// incarnationOf is the node incarnation a connection id carries.
func incarnationOf(t *testing.T, id string) string {
	t.Helper()
	inc, ok := cluster.IncarnationOf(id)
	if !ok {
		t.Fatalf("connection id %q carries no incarnation", id)
	}
	return inc
}
