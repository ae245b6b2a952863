package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
)

// TestShutdownClosesSilentConnections: a connection that never sends a
// request (a browser's preconnect) does not hold the shutdown until its
// timeout. net/http alone waits 5 s for one; the timeout here is 4 s, so
// without the sweep the shutdown runs into it and says so.
func TestShutdownClosesSilentConnections(t *testing.T) {
	b := newBackend(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("test.yaml", []byte(backendAPI(b.srv.URL, "")), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Shutdown.DrainWindow = config.Duration(100 * time.Millisecond)
	cfg.Shutdown.Timeout = config.Duration(4 * time.Second)
	logs := &logBuffer{t: t}
	srv, err := New(cfg, Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitFor(t, "the server to hold the silent connection", func() bool {
		n := 0
		srv.quiet.conns.Range(func(any, any) bool { n++; return true })
		return n == 1
	})

	cancel()
	_ = silent.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the silent connection was not closed by the server: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if logs.contains("shutdown timeout reached") {
		t.Fatal("the shutdown waited for the silent connection until its timeout")
	}
	if !logs.contains("closed connections that sent no request") {
		t.Fatal("the sweep did not close the silent connection")
	}
}
