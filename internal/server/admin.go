package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/switchboardhq/switchboard/internal/admin"
	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/config"
)

// adminServer is the admin console (config admin) and, with admin.listen,
// the listener of its own that serves it (with /metrics and pprof when
// asked for).
type adminServer struct {
	console *admin.Console
	sampler *admin.Sampler
	http    *http.Server // nil: the console is on the main listener
	ln      net.Listener
}

// newAdmin builds the console of cfg.Admin (nil when it is off) and opens
// its listener when it has one.
func (s *Server) newAdmin(cfg *config.Config, log *slog.Logger) (*adminServer, error) {
	if !cfg.Admin.Enabled {
		return nil, nil
	}
	self := cluster.Node{ID: hostname(), StartedAt: time.Now()}
	var nodes func(context.Context) ([]cluster.Node, error)
	if s.cluster != nil {
		reg := s.cluster.node.Registry()
		self = reg.Self()
		nodes = reg.Nodes
	}
	a := &adminServer{sampler: admin.NewSampler(s.registry)}
	a.console = admin.New(admin.Options{
		Config:  s.cfg.Load,
		Data:    s.gateway,
		Manage:  s.manage,
		Sampler: a.sampler,
		Nodes:   nodes,
		Self:    self,
		Logger:  log,
		Now:     s.now,
	})
	if cfg.Admin.Listen == "" {
		return a, nil
	}
	ln, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin.listen on %s: %w", cfg.Admin.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle(a.console.Prefix(), a.console)
	mux.Handle(a.console.Prefix()+"/", a.console)
	if cfg.Admin.Metrics {
		mux.Handle("/metrics", s.metrics)
	}
	if cfg.Admin.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	a.ln = ln
	a.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return a, nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "this node"
	}
	return h
}

// AdminAddr is the address of the admin listener (admin.listen), or nil
// when the console is off or on the main listener.
func (s *Server) AdminAddr() net.Addr {
	if s.admin == nil || s.admin.ln == nil {
		return nil
	}
	return s.admin.ln.Addr()
}

// startAdmin starts sampling and the admin listener; the returned
// function stops both.
func (s *Server) startAdmin(cfg *config.Config) (stop func()) {
	a := s.admin
	if a == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.sampler.Run(ctx) }()
	where := s.Addr().String()
	if a.http != nil {
		where = a.ln.Addr().String()
		go func() { _ = a.http.Serve(a.ln) }()
	}
	s.log.Info("serving admin console", "addr", where, "path", a.console.Prefix()+"/",
		"metrics", cfg.Admin.Metrics, "pprof", cfg.Admin.Pprof)
	if cfg.Admin.Development {
		s.log.Warn("ADMIN CONSOLE IS OPEN WITHOUT CREDENTIALS (admin.development: true): anyone who reaches " + where + a.console.Prefix() + "/ can read and act on every connection and channel; remove admin.development and sign in with a management API key outside a laptop")
	}
	return func() {
		cancel()
		<-done
		if a.http != nil {
			_ = a.http.Close()
		}
	}
}
