package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/server"
)

// syncBuf is the command's stdout, read by the test while it runs.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClientCommand: `switchboard client` against the seed configuration,
// in switchboard.v1 (subscribe, publish, presence, ping, a bad command) and
// raw mode (the seed chat's broadcast), ending at /quit and at the end of
// input.
func TestClientCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(config.Default(), server.Options{Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	t.Cleanup(func() { stop(); <-done })
	url := "ws://" + ln.Addr().String() + "/production"

	run := func(cmd *clientCmd, script ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		in, w := io.Pipe()
		out := &syncBuf{}
		res := make(chan error, 1)
		go func() { res <- cmd.Run(ctx, &env{stdin: in, stdout: out, stderr: io.Discard}) }()
		// Each line after the previous one's output, so that the
		// transcript's order is fixed.
		for _, step := range script {
			line, want, _ := strings.Cut(step, " => ")
			if _, err := io.WriteString(w, line+"\n"); err != nil {
				t.Fatalf("write %q: %v\n%s", line, err, out.String())
			}
			for !strings.Contains(out.String(), want) {
				if ctx.Err() != nil {
					t.Fatalf("after %q: no %q in\n%s", line, want, out.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		w.Close()
		if err := <-res; err != nil {
			t.Fatalf("client: %v\n%s", err, out.String())
		}
		return out.String()
	}

	out := run(&clientCmd{URL: url, Subscribe: []string{"room:a"}},
		`/pub room:a {"x":1} => room:a: {"x":1}`,
		`/presence room:a => > 1 members`,
		`/ping => > pong in`,
		`/bogus => ! unknown command /bogus`,
		`/unsub room:a => * room:a unsubscribed`,
		`/pub room:a 2 => ! switchboard: 403 not allowed to publish`, // the seed lets subscribers publish
		`/quit => * closed`,
	)
	if !strings.Contains(out, "* connected ") || !strings.Contains(out, "* room:a subscribed") {
		t.Fatalf("transcript:\n%s", out)
	}
	out = run(&clientCmd{URL: url, Raw: true},
		`{"action":"sendMessage","message":"hi"} => < {"message":"hi"`)
	if !strings.HasPrefix(out, "* connected\n") || !strings.HasSuffix(out, "* closed\n") {
		t.Fatalf("raw transcript:\n%s", out)
	}
}
