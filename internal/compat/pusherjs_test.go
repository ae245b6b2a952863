package compat

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/testproc"
)

// TestPusherJS runs compat/pusher's Node tests (node --test): pusher-js
// 8.6.0 in Node and the pusher 5.3.4 server SDK against a real
// `switchboard serve` — the pusher-js integration checklist, presence with
// two sockets of one user, client events, cache channels, sign-in,
// webhooks checked by the SDK, and pusher-js's reaction to 4200 (drain and
// restart), 4001 and 4004. Their output is the failure message.
func TestPusherJS(t *testing.T) {
	node, npm := testproc.Node(t, "the Pusher compatibility tests")
	dir := compatDir(t)
	testproc.NpmCI(t, npm, dir)

	// The Node tests listen for the app's webhooks on this address.
	hookAddr := freeAddr(t)
	srv := startServer(t, "http://"+hookAddr+"/pusher/webhook")
	control := httptest.NewServer(srv.controlHandler())
	defer control.Close()

	host, port, _ := net.SplitHostPort(srv.addr)
	_, hookPort, _ := net.SplitHostPort(hookAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// One file at a time: the reconnect tests restart the server.
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "--test-reporter=spec", "test/")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SB_HOST="+host, "SB_PORT="+port, "SB_STAGE="+appStage, "SB_CONTROL_URL="+control.URL,
		"PUSHER_APP_ID="+appID, "PUSHER_KEY="+appKey, "PUSHER_SECRET="+appSecret,
		"PUSHER_QUOTA_KEY="+quotaKey, "PUSHER_QUOTA_SECRET="+quotaSecret, "PUSHER_CAP_KEY="+capKey, "PUSHER_WEBHOOK_PORT="+hookPort,
		"NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test in %s: %v\n%s", dir, err, out)
	}
	t.Logf("node --test:\n%s", out) // shown with -v: each test and its time
	if !regexp.MustCompile(`(?m)^ℹ pass [1-9]`).Match(out) || !regexp.MustCompile(`(?m)^ℹ fail 0$`).Match(out) {
		t.Fatalf("node --test passed without passing tests:\n%s", out)
	}
}
