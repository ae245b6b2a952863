// Package servertest runs a Switchboard in-process for tests: the real
// server.New and Run on a loopback listener. Tests only.
package servertest

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/server"
)

// Server is a running Switchboard.
type Server struct {
	*server.Server
	// Addr is its listener's host:port.
	Addr string
	// Stop shuts it down and reports Run's error to the test; it is
	// idempotent and registered with t.Cleanup.
	Stop func()
}

// Start parses yaml (no environment: ${VAR} is an error), serves it on a
// free loopback port with o (its Listener is set here) and returns the
// running server.
func Start(t testing.TB, yaml string, o server.Options) *Server {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.Listener = ln
	srv, err := server.New(cfg, o)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return &Server{Server: srv, Addr: ln.Addr().String(), Stop: stop}
}
