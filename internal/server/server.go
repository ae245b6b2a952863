// Package server assembles a Switchboard process: one HTTP listener whose
// router sends each request to the WebSocket handshake of an API
// (/{stage}), the management API (/{stage}/@connections...), the demo page
// (/, /favicon.ico and the client it loads, unless http.demo is false),
// the management API's OpenAPI document (/openapi.yaml, /openapi.json),
// health checks
// (/healthz, /readyz) or metrics (/metrics, or on a listener of its own
// with metrics.listen), the admin console (internal/admin, at admin.path
// or on admin.listen with /metrics and pprof), the configuration reload
// (Reload, on SIGHUP) and the phased shutdown that drains it all, after a
// readiness delay on SIGTERM.
//
// Concurrency: a Server is started once with Run; its router, Reload and
// SkipReadinessDelay are safe for concurrent use. Reloads are serialized;
// the configuration in force is behind an atomic pointer.
package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboardhq/switchboard/internal/buildinfo"
	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/frontend"
	"github.com/switchboardhq/switchboard/internal/frontend/pusher"
	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/integration/function"
	"github.com/switchboardhq/switchboard/internal/integration/httpint"
	"github.com/switchboardhq/switchboard/internal/manage"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/rawhead"
	"github.com/switchboardhq/switchboard/internal/tlsreload"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// Options are what New needs besides the configuration.
type Options struct {
	Logger *slog.Logger
	// Engine tunes the WebSocket engine (tests use a short Tick).
	Engine ws.Options
	// Listener, when set, is served instead of listening on Config.Listen.
	Listener net.Listener
	// Now is the clock of event timestamps; default time.Now.
	Now func() time.Time
	// Load reads the configuration again for Reload (the CLI's --config
	// file, with the command line's overrides); nil when there is no file
	// (the seed configuration), and Reload then has nothing to do.
	Load func() (*config.Config, error)
	// LogLevel, when set, is the level of Logger, which Reload sets to
	// log.level (the only log setting a reload changes).
	LogLevel *slog.LevelVar
	// TracerProvider traces route invocations, authorizer calls and
	// management requests (package tracing builds it from the OTEL_*
	// variables); nil: no tracing. The caller owns it (flush, shutdown).
	TracerProvider trace.TracerProvider
}

// closeFrontends stops the front-ends of a server New gives up on.
func (s *Server) closeFrontends() {
	for _, f := range s.frontends {
		_ = f.Shutdown(context.Background())
	}
}

// ErrTerminated is the cause (context.WithCancelCause) with which the CLI
// cancels Run's context on SIGTERM: Run then keeps serving, with /readyz
// failing, for shutdown.readinessDelay before it drains. Any other cause
// (SIGINT, a test) drains at once.
var ErrTerminated = errors.New("terminated")

// Server is one Switchboard process.
type Server struct {
	// frontends are the protocol front-ends (decision 0025) and routes
	// their path prefixes; pusher is the Pusher one, nil without apps.
	frontends []frontend.Frontend
	routes    []frontend.Route
	pusher    *pusher.Frontend

	log      *slog.Logger
	registry *prometheus.Registry
	gateway  *gateway.Gateway
	manage   *manage.Handler
	metrics  http.Handler
	demo     []byte // nil when http.demo is false
	http     *http.Server
	quiet    quietConns // http's connections that have sent no request
	ln       net.Listener
	certs    *tlsreload.Reloader // nil without tls
	m        *metrics.Metrics
	now      func() time.Time
	load     func() (*config.Config, error) // nil: nothing to reload
	level    *slog.LevelVar                 // nil: the level cannot change

	// cfg is the configuration in force: the one New was given, then what
	// each reload applied of its file (config.ApplyReload).
	cfg      atomic.Pointer[config.Config]
	reloadMu sync.Mutex // one reload at a time

	// notReady fails /readyz during the readiness delay; skipDelay ends
	// the delay early (SkipReadinessDelay).
	notReady  atomic.Bool
	skipDelay chan struct{}
	skipOnce  sync.Once

	// workerKeys are the access keys generated for function workers:
	// apart from the configured management keys, in memory only, and
	// kept by every management Auth this server builds (manageAuth), so
	// a reload that replaces the configured keys keeps them.
	workerKeys *manage.GeneratedKeys

	// metricsHTTP serves /metrics on metricsLn when metrics.listen is
	// set (both nil otherwise).
	metricsHTTP *http.Server
	metricsLn   net.Listener

	// cluster is this node's membership of a cluster; nil on a lone node.
	cluster *clusterNode

	// admin is the admin console; nil when admin.enabled is false.
	admin *adminServer
}

//go:embed demo/index.html
var demoFS embed.FS

//go:embed demo/favicon.svg
var favicon []byte

// demoClient is the TypeScript client's browser build (clients/js), which
// the demo page loads from demoClientPath: a committed copy, so that the
// binary builds without npm (`make demo-js` refreshes it; internal/jsclient
// TestDemoBundleFresh fails while it differs from a fresh build).
//
//go:embed demo/switchboard.min.js
var demoClient []byte

// demoClientPath is under _switchboard, a stage no API may take.
const demoClientPath = "/_switchboard/switchboard.min.js"

// demoClientETag lets a browser revalidate the bundle (it is served with
// no-cache, so a new binary's bundle is picked up at once).
var demoClientETag = func() string {
	sum := sha256.Sum256(demoClient)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// New builds a server from a validated configuration and opens its
// listener, so Addr is known before Run.
func New(cfg *config.Config, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := gateway.Check(cfg); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(
		// go_gc_heap_live_bytes: the heap the last GC found live, without
		// garbage (switchboard bench reads it for memory per connection).
		collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)}),
	), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	if err := buildinfo.Register(reg, buildinfo.Get()); err != nil {
		return nil, err
	}
	eo := o.Engine
	if eo.Driver == "" && cfg.Transport.Driver != "auto" {
		eo.Driver = cfg.Transport.Driver
	}
	if eo.Loops == 0 {
		eo.Loops = cfg.Transport.Loops
	}
	workerKeys := manage.NewGeneratedKeys()
	var cn *clusterNode
	var seams cluster.Seams
	if cfg.Cluster != nil {
		var err error
		if cn, seams, err = joinCluster(cfg, o.Logger, reg); err != nil {
			return nil, err
		}
	}
	// Protocol front-ends (decision 0025): their codecs go into every hub;
	// they are built once the gateway exists, and hear its membership
	// events through fe.
	var codecs []hub.Codec
	var fe atomic.Pointer[pusher.Frontend]
	var onMembership func(stage, channel string, ev hub.MembershipEvent)
	if len(cfg.Pusher.Apps) > 0 {
		codecs = append(codecs, pusher.Codec{})
		onMembership = func(stage, channel string, ev hub.MembershipEvent) {
			if f := fe.Load(); f != nil {
				f.OnMembership(stage, channel, ev)
			}
		}
	}
	gw, err := gateway.New(gateway.Options{
		Codecs:       codecs,
		OnMembership: onMembership,
		Cluster:      seams,
		FunctionCredentials: func(stage, _ string) (function.Credentials, func(), error) {
			k, err := workerKeys.Generate(stage)
			if err != nil {
				return function.Credentials{}, nil, err
			}
			return function.Credentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret}, func() { workerKeys.Revoke(k.ID) }, nil
		},
		Config:     cfg,
		Engine:     eo,
		HTTPClient: &http.Client{Transport: httpint.NewTransport()},
		Logger:     o.Logger,
		Metrics:    m,
		Now:        o.Now,
		TLS:        cfg.TLS != nil,

		TracerProvider: o.TracerProvider,
	})
	if err != nil {
		cn.close()
		return nil, err
	}
	if cn != nil {
		if err := cn.serve(gw.Local()); err != nil {
			_ = gw.Shutdown(context.Background())
			cn.close()
			return nil, err
		}
	}
	s := &Server{
		log:        o.Logger,
		registry:   reg,
		gateway:    gw,
		metrics:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		m:          m,
		load:       o.Load,
		level:      o.LogLevel,
		now:        o.Now,
		skipDelay:  make(chan struct{}),
		workerKeys: workerKeys,
		cluster:    cn,
	}
	s.cfg.Store(cfg)
	s.manage = manage.NewHandler(gw, s.manageAuth(cfg), o.Logger)
	s.manage.SetTracerProvider(o.TracerProvider)
	if len(cfg.Pusher.Apps) > 0 {
		p, err := pusher.New(pusher.Options{Config: cfg, Core: gw, Codec: hub.FirstFrontEnd,
			Registerer: reg, Logger: o.Logger, Now: o.Now})
		if err != nil {
			_ = gw.Shutdown(context.Background())
			cn.close()
			return nil, err
		}
		fe.Store(p)
		s.pusher = p
		s.frontends = append(s.frontends, p)
		s.routes = append(s.routes, p.Routes()...)
	}
	if cfg.HTTP.DemoEnabled() {
		if s.demo, err = renderDemo(cfg); err != nil {
			_ = gw.Shutdown(context.Background())
			cn.close()
			s.closeFrontends()
			return nil, err
		}
	}

	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			_ = gw.Shutdown(context.Background())
			cn.close()
			s.closeFrontends()
			return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	if t := cfg.TLS; t != nil {
		// Certificates are read now and again whenever the files change.
		// HTTP/1.1 only: a WebSocket handshake needs a connection to hijack.
		if s.certs, err = tlsreload.New(t.CertFile, t.KeyFile, o.Logger, t.ReloadInterval.Std()); err != nil {
			ln.Close()
			_ = gw.Shutdown(context.Background())
			cn.close()
			s.closeFrontends()
			return nil, fmt.Errorf("tls: %w", err)
		}
		ln = tlsListener(ln, &tls.Config{
			GetCertificate: s.certs.GetCertificate,
			MinVersion:     tls.VersionTLS12,
			NextProtos:     []string{"http/1.1"},
		})
	}
	s.ln = rawhead.Listener(ln)
	if addr := cfg.Metrics.Listen; addr != "" {
		if s.metricsLn, err = net.Listen("tcp", addr); err != nil {
			ln.Close()
			_ = gw.Shutdown(context.Background())
			cn.close()
			s.closeFrontends()
			return nil, fmt.Errorf("metrics.listen on %s: %w", addr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.metrics)
		s.metricsHTTP = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		}
	}
	if s.admin, err = s.newAdmin(cfg, o.Logger); err != nil {
		s.ln.Close()
		if s.metricsLn != nil {
			s.metricsLn.Close()
		}
		_ = gw.Shutdown(context.Background())
		cn.close()
		s.closeFrontends()
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cmp.Or(cfg.HTTP.ReadHeaderTimeout.Std(), 10*time.Second),
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    netHTTPMaxHeaderBytes(cmp.Or(cfg.HTTP.MaxHeaderBytes.Int(), 16<<10)),
		ConnContext:       rawhead.ConnContext,
		ConnState:         s.quiet.track,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// manageAuth is who may call the management API under cfg: its
// configured keys, and the keys generated for function workers, which a
// new configuration keeps.
func (s *Server) manageAuth(cfg *config.Config) manage.Auth {
	auth := manage.Auth{AllowLoopback: cfg.Management.LoopbackAllowed(), Now: s.now, Generated: s.workerKeys}
	for _, k := range cfg.Management.APIKeys {
		auth.APIKeys = append(auth.APIKeys, manage.Key{Name: k.Name, Secret: k.Key, Stages: k.Stages})
	}
	for _, k := range cfg.Management.AccessKeys {
		auth.AccessKeys = append(auth.AccessKeys, manage.AccessKey{ID: k.ID, Secret: k.Secret, Stages: k.Stages})
	}
	return auth
}

// netHTTPSlack is what net/http reads past http.Server.MaxHeaderBytes
// before it answers 431 (its "bufio slop").
const netHTTPSlack = 4096

// netHTTPMaxHeaderBytes is the http.Server.MaxHeaderBytes that makes the
// largest accepted request head exactly n bytes (config allows n from
// 8KiB, so the result is positive; 0 would mean net/http's 1 MB).
func netHTTPMaxHeaderBytes(n int) int { return max(n-netHTTPSlack, 1) }

// Addr is the listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// MetricsAddr is the address of the metrics listener (metrics.listen),
// or nil when /metrics is on the main listener.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// Gateway returns the gateway (for tests and the CLI).
func (s *Server) Gateway() *gateway.Gateway { return s.gateway }

// Run serves until ctx is cancelled, then shuts down in phases: readiness
// fails and new handshakes are refused, the listener closes, open
// connections get 1001 over the drain window and their $disconnect
// events are delivered, all within the shutdown timeout. It returns nil
// after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if s.certs != nil {
		defer s.certs.Close()
	}
	s.log.Info("listening", "addr", s.Addr().String(), "driver", s.gateway.Driver(), "apis", len(s.gateway.APIs()), "tls", s.certs != nil)
	wsScheme, httpScheme := "ws://", "http://"
	if s.certs != nil {
		wsScheme, httpScheme = "wss://", "https://"
	}
	for _, a := range s.gateway.APIs() {
		s.log.Info("serving API", "api", a.ID(), "websocket", wsScheme+s.Addr().String()+"/"+a.Stage(),
			"management", httpScheme+s.Addr().String()+"/"+a.Stage()+"/@connections")
	}
	if s.cfg.Load().Management.LoopbackAllowed() {
		s.log.Warn("management API admits loopback clients without credentials (development mode; requests with a proxy header such as X-Forwarded-For excluded); set management.allowLoopback: false and configure accessKeys or apiKeys in production (docs/SECURITY.md)")
	}
	if s.metricsHTTP != nil {
		// Served until Run returns, so the drain can be watched.
		s.log.Info("serving metrics", "addr", s.metricsLn.Addr().String(), "path", "/metrics")
		go func() { _ = s.metricsHTTP.Serve(s.metricsLn) }()
		defer s.metricsHTTP.Close()
	}
	defer s.cluster.close()
	defer s.startAdmin(s.cfg.Load())()
	var lost <-chan struct{}
	if s.cluster != nil {
		lost = s.cluster.node.Registry().Lost()
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	select {
	case err := <-errc:
		_ = s.gateway.Shutdown(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-lost:
		return s.leaseLost(errc)
	case <-ctx.Done():
	}

	cfg := s.cfg.Load()
	if d := cfg.Shutdown.Readiness(); d > 0 && errors.Is(context.Cause(ctx), ErrTerminated) {
		s.readinessDelay(d)
		cfg = s.cfg.Load()
	}
	s.log.Info("shutting down", "timeout", cfg.Shutdown.Timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Timeout.Std())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.gateway.Shutdown(sctx) }() // refuses handshakes at once
	// Shutdown closes the listener first, then waits for requests in
	// flight; the sweep closes the connections that never sent one.
	stopSweep := s.quiet.sweep(sctx, quietGrace, 100*time.Millisecond, func(n int) {
		s.log.Debug("closed connections that sent no request", "count", n)
	})
	herr := s.http.Shutdown(sctx) // stops accepting; waits for plain requests
	stopSweep()
	if errors.Is(herr, context.DeadlineExceeded) {
		s.log.Warn("shutdown timeout reached with HTTP requests still in flight; closing their connections", "timeout", cfg.Shutdown.Timeout.String())
	}
	gerr := <-done
	for _, f := range s.frontends { // their webhooks, after the connections' last events
		if err := f.Shutdown(sctx); err != nil {
			s.log.Warn("front-end shutdown", "frontend", f.Name(), "error", err.Error())
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if herr != nil && !errors.Is(herr, context.DeadlineExceeded) {
		return herr
	}
	if herr != nil {
		_ = s.http.Close()
	}
	s.log.Info("shut down")
	return gerr
}

// ErrLeaseLost is what Run returns when this node lost its cluster lease.
var ErrLeaseLost = errors.New("cluster: this node lost its lease (Redis unreachable for longer than cluster.lease); its sockets were closed with 1012 and the surviving nodes deliver their $disconnect events. Exiting, so that a supervisor restarts the node under a new incarnation")

// leaseLost ends Run after the lease was lost: the gateway has closed
// every socket without $disconnect (a survivor delivers them), so there is
// nothing to drain; the process exits with an error so that its
// supervisor starts a new incarnation (decision 0024 §6.2, as built).
func (s *Server) leaseLost(errc <-chan error) error {
	s.notReady.Store(true)
	s.log.Error("cluster lease lost; closing this node")
	_ = s.http.Close()
	<-errc
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Load().Shutdown.Timeout.Std())
	defer cancel()
	_ = s.gateway.Shutdown(ctx)
	for _, f := range s.frontends {
		_ = f.Shutdown(ctx)
	}
	return ErrLeaseLost
}

// readinessDelay fails /readyz for d while everything else goes on as
// before — new connections are accepted and served — so that a load
// balancer stops sending clients here before the listener closes. A
// second signal (SkipReadinessDelay) ends it early.
func (s *Server) readinessDelay(d time.Duration) {
	s.notReady.Store(true)
	s.log.Info("not ready: /readyz answers 503 until the drain starts; new connections are still accepted", "readinessDelay", d.String())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.skipDelay:
		s.log.Info("readiness delay cut short by a second signal")
	}
}

// SkipReadinessDelay ends the readiness delay now, or skips it if the
// shutdown has begun but the delay not yet, and reports whether it did;
// the drain then starts at once. It reports false once the drain has
// begun (or a skip was already asked for).
func (s *Server) SkipReadinessDelay() bool {
	if s.gateway.Draining() {
		return false
	}
	skipped := false
	s.skipOnce.Do(func() { close(s.skipDelay); skipped = true })
	return skipped
}

// ServeHTTP routes a request by its escaped path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	switch path {
	case "/":
		s.serveDemo(w, r)
		return
	case "/healthz":
		_, _ = w.Write([]byte("ok\n"))
		return
	case "/readyz":
		if s.notReady.Load() || s.gateway.Draining() || s.gateway.LeaseLost() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
		return
	case "/metrics":
		if s.metricsHTTP != nil { // served on metrics.listen instead
			http.NotFound(w, r)
			return
		}
		s.metrics.ServeHTTP(w, r)
		return
	case "/favicon.ico":
		s.serveFavicon(w, r)
		return
	case demoClientPath:
		s.serveDemoAsset(w, r, demoClient, "text/javascript; charset=utf-8", "no-cache", demoClientETag)
		return
	case manage.OpenAPIYAMLPath, manage.OpenAPIJSONPath: // no secret in it: no credentials
		manage.ServeOpenAPI(w, r)
		return
	}
	if s.admin != nil && s.admin.http == nil && s.admin.console.Owns(path) {
		s.admin.console.ServeHTTP(w, r)
		return
	}
	if rt, ok := frontend.Match(s.routes, path); ok {
		rt.Handler.ServeHTTP(w, r)
		return
	}
	if manage.IsManagementPath(path) {
		s.manage.ServeEscaped(w, r, path)
		return
	}
	stage := strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/") // a trailing slash is accepted, as on AWS
	if a := s.gateway.API(stage); a != nil {
		s.gateway.ServeWebSocket(w, r, a)
		return
	}
	http.NotFound(w, r)
}

func (s *Server) serveDemo(w http.ResponseWriter, r *http.Request) {
	s.serveDemoAsset(w, r, s.demo, "text/html; charset=utf-8", "no-cache", "")
}

// serveFavicon serves the demo page's icon (an SVG), so that browsers
// asking for /favicon.ico get it instead of a 404.
func (s *Server) serveFavicon(w http.ResponseWriter, r *http.Request) {
	s.serveDemoAsset(w, r, favicon, "image/svg+xml", "max-age=86400", "")
}

// serveDemoAsset answers GET and HEAD with body, or 404 when the demo page
// is off (http.demo: false). With an etag, a request that has it in
// If-None-Match gets 304.
func (s *Server) serveDemoAsset(w http.ResponseWriter, r *http.Request, body []byte, contentType, cacheControl, etag string) {
	if s.demo == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", cacheControl)
	if etag != "" {
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(body)
}

// renderDemo fills the demo page with the first API's stage.
func renderDemo(cfg *config.Config) ([]byte, error) {
	if len(cfg.APIs) == 0 {
		return []byte("<!doctype html><title>Switchboard</title><p>Switchboard is running with no APIs configured.</p>\n"), nil
	}
	t, err := template.ParseFS(demoFS, "demo/index.html")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ Stage string }{cfg.APIs[0].Stage}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
