// Package cli is the switchboard command line: it parses arguments and
// runs a subcommand. main only calls Run and maps its error to an exit
// code, so the whole command is testable in-process.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/switchboardhq/switchboard/internal/bench"
	"github.com/switchboardhq/switchboard/internal/buildinfo"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/tracing"
)

// ExitError carries a specific exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

type cli struct {
	Serve       serveCmd    `cmd:"" help:"Run the gateway (the seed chat API on 127.0.0.1:8080 when no config is given)."`
	Validate    validateCmd `cmd:"" help:"Check a configuration file and explain each mistake."`
	Bench       benchCmd    `cmd:"" help:"Measure a running server."`
	Client      clientCmd   `cmd:"" help:"Connect to a stage interactively: send lines, subscribe, print frames; reconnects and recovers on its own."`
	Version     versionCmd  `cmd:"" help:"Print the version, commit and build date."`
	Help        helpCmd     `cmd:"" help:"Show this help, or a command's (switchboard help serve)."`
	VersionFlag versionFlag `name:"version" help:"Print the version, commit and build date, and exit."`

	// The management API's commands (manage.go) and completion scripts
	// (completion.go).
	Send        sendCmd        `cmd:"" help:"Send a message to a connection, a channel, a user or every connection, through the management API."`
	Connections connectionsCmd `cmd:"" help:"List, describe and close connections, through the management API."`
	Channels    channelsCmd    `cmd:"" help:"A channel's members, presence and history, through the management API (there is no list of channels: the API has none)."`
	Completion  completionCmd  `cmd:"" help:"Print a shell completion script for bash, zsh or fish."`
}

// versionFlag is --version: it prints what the version command prints and
// stops, whatever else is on the command line.
type versionFlag bool

func (versionFlag) BeforeApply(kctx *kong.Context) error {
	fmt.Fprintln(kctx.Stdout, buildinfo.Get())
	kctx.Exit(0)
	return nil
}

type helpCmd struct {
	Command []string `arg:"" optional:"" help:"The command to explain."`
}

// Run prints the usage of the whole program or of one command, as --help
// does, on stdout with exit status 0.
func (h *helpCmd) Run(parser *kong.Kong) error {
	_, err := parser.Parse(append(append([]string{}, h.Command...), "--help"))
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	return nil
}

type benchCmd struct {
	Idle         benchIdleCmd         `cmd:"" help:"Open idle connections and report the server's memory per connection."`
	Fanout       benchFanoutCmd       `cmd:"" help:"Subscribe connections to a channel, publish to it at fixed rates and report deliveries/s and latency."`
	FanoutWorker benchFanoutWorkerCmd `cmd:"" name:"fanout-worker" hidden:"" help:"A worker process of bench fanout (started by it, speaks JSON lines on stdin/stdout)."`
	Forward      benchForwardCmd      `cmd:"" help:"Cluster: time management POSTs to a connection through the node that holds it and through another node (forwarded), and report the latency forwarding adds."`
	Manage       benchManageCmd       `cmd:"" help:"POST to a connection in a closed loop on keep-alive connections and compare with a no-op net/http server driven the same way."`
	NoopServer   benchNoopServerCmd   `cmd:"" name:"noop-server" hidden:"" help:"The no-op net/http server of bench manage (started by it; prints its address as JSON)."`
	Storm        benchStormCmd        `cmd:"" help:"Start a server, connect Go clients to it from several processes, restart the server and report how the clients come back (time, handshake rate, with or without jitter)."`
	StormWorker  benchStormWorkerCmd  `cmd:"" name:"storm-worker" hidden:"" help:"A worker process of bench storm (started by it, speaks JSON lines on stdin/stdout)."`
}

type benchForwardCmd struct {
	Owner   string        `required:"" help:"WebSocket endpoint (ws://host:port/stage) of the node that holds the test connection; its management API is http:// and its host." placeholder:"URL"`
	Other   string        `required:"" help:"WebSocket endpoint of another node of the same cluster, same stage: POSTs there are forwarded to the owner." placeholder:"URL"`
	APIKey  string        `name:"api-key" env:"SWITCHBOARD_BENCH_API_KEY" help:"Management API key, sent as a bearer token (not needed from loopback by default)." placeholder:"KEY"`
	Posts   int           `short:"n" default:"2000" help:"Timed POSTs to each node; they alternate between the nodes, one at a time."`
	Warmup  int           `default:"200" help:"Untimed POSTs to each node first."`
	Size    int           `default:"100" help:"Bytes of each POST's body."`
	Timeout time.Duration `default:"2m" help:"Bound on the whole run."`
	JSON    bool          `name:"json" help:"Print the result as one JSON object instead of text."`
}

func (b *benchForwardCmd) Run(ctx context.Context, e *env) error {
	res, err := bench.Forward(ctx, bench.ForwardOptions{
		Owner: b.Owner, Other: b.Other, APIKey: b.APIKey,
		Posts: b.Posts, Warmup: b.Warmup, Size: b.Size, Timeout: b.Timeout,
	})
	if err != nil {
		return err
	}
	if b.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintln(e.stdout, res)
	return nil
}

type benchIdleCmd struct {
	URL         []string      `default:"ws://127.0.0.1:8080/production" help:"WebSocket endpoint. For a cluster, repeat it or separate with commas, one per node: connections go to the nodes round robin and memory is also given per node."`
	Metrics     []string      `help:"The server's Prometheus endpoint, one per --url (default: /metrics on the host of each --url)." placeholder:"URL"`
	Connections int           `short:"n" default:"10000" help:"Idle connections to open (at most about 18000 per process: the open-files limit)."`
	Sources     []string      `default:"127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5" help:"Local addresses to dial from, in turn."`
	Concurrency int           `default:"64" help:"Handshakes in flight."`
	Settle      time.Duration `default:"3s" help:"Wait after the last connection before reading memory."`
	Message     bool          `help:"Send one 1 KiB text message per connection after the handshake."`
	Deflate     bool          `help:"Offer permessage-deflate (the API must enable compression); with --message the message goes compressed."`
	Redis       []string      `help:"redis-server addresses (host:port, no password) whose used_memory is read before and after: what a cluster keeps in Redis per connection." placeholder:"ADDR"`
	PusherKey   string        `name:"pusher-key" help:"Open Pusher connections of the app with this key instead (ws://host:port/app/{key}?protocol=7 on the host of --url), each reading connection_established." placeholder:"KEY"`
	Channel     string        `help:"With --pusher-key: subscribe each connection to this public channel and wait for subscription_succeeded." placeholder:"NAME"`
}

func (b *benchIdleCmd) Run(ctx context.Context, e *env) error {
	o := bench.IdleOptions{
		Connections: b.Connections,
		Sources:     b.Sources, Concurrency: b.Concurrency, Settle: b.Settle, Message: b.Message, Deflate: b.Deflate,
		Redis: b.Redis, PusherKey: b.PusherKey, Channel: b.Channel,
	}
	if len(b.URL) == 1 {
		o.URL = b.URL[0]
		if len(b.Metrics) == 1 {
			o.Metrics = b.Metrics[0]
		}
	} else {
		o.URLs, o.NodeMetrics = b.URL, b.Metrics
	}
	res, err := bench.Idle(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, res)
	return nil
}

type benchFanoutCmd struct {
	URL           []string      `default:"ws://127.0.0.1:8080/production" help:"WebSocket endpoint; its first path segment is the stage. For a cluster, repeat it or separate with commas, one per node (same stage): connections go to the nodes round robin and the figures are also given per node."`
	Manage        string        `help:"Management API base URL; publications go to {manage}/{stage}/@channels/{channel} (default: http:// and the host of the first --url: every publication goes through that node)." placeholder:"URL"`
	RoundRobin    bool          `name:"publish-round-robin" help:"Send publication i through node i mod N's management API (http:// and the host of each --url) instead of one node."`
	Metrics       []string      `help:"The server's Prometheus endpoint, one per --url (default: /metrics on the host of each --url)." placeholder:"URL"`
	Redis         []string      `help:"redis-server addresses (host:port, no password) whose INFO commandstats and cpu are read around each step, to report Redis commands and CPU per publication; repeat or separate with commas (every master of a Redis Cluster)." placeholder:"ADDR"`
	APIKey        string        `name:"api-key" env:"SWITCHBOARD_BENCH_API_KEY" help:"Management API key, sent as a bearer token (not needed from loopback by default)." placeholder:"KEY"`
	PusherKey     string        `name:"pusher-key" help:"Subscribe Pusher connections of the app with this key instead (ws://host:port/app/{key}?protocol=7 on the host of each --url, whose path still names the stage of the app's API), to the channel(s) as public channels." placeholder:"KEY"`
	PusherAppID   string        `name:"pusher-app-id" help:"With --pusher-key and --pusher-secret: publish through the Pusher HTTP API (POST {manage}/apps/{id}/events, signed) instead of the management API." placeholder:"ID"`
	PusherSecret  string        `name:"pusher-secret" env:"SWITCHBOARD_BENCH_PUSHER_SECRET" help:"The Pusher app's secret, to sign the HTTP API requests." placeholder:"SECRET"`
	PusherWorkers int           `name:"pusher-workers" help:"With --pusher-key: only the first N workers' connections are Pusher, the others' switchboard.v1, on the same channel; each step also gives each protocol's latency for the same publications (0: all Pusher)." placeholder:"N"`
	Connections   int           `short:"n" default:"5000" help:"Subscribers to open."`
	Workers       int           `help:"Worker processes holding the connections, at most 18000 each (default: one per 9000)."`
	Sources       []string      `default:"127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5" help:"Local addresses to dial from, shared among the workers in turn."`
	Channel       string        `default:"bench" help:"Channel name (with --channels k > 1: name-0 … name-(k-1))."`
	Channels      int           `default:"1" help:"Channels; the subscribers are spread evenly and the publications go to each in turn."`
	Rate          []float64     `default:"10" help:"Publications per second; repeat or separate with commas for several steps, run in order on the same connections."`
	Duration      time.Duration `default:"10s" help:"Publishing time of each step."`
	Size          int           `default:"100" help:"Bytes of each publication's body."`
	Settle        time.Duration `default:"3s" help:"Wait after the last subscription before reading memory."`
	Grace         time.Duration `default:"5s" help:"Wait after a step's last publication for deliveries still on their way."`
	Timeout       time.Duration `default:"5m" help:"Bound on the whole run."`
	Concurrency   int           `default:"64" help:"Handshakes in flight per worker."`
	Loops         int           `default:"1" help:"Event loops per worker."`
	InFlight      int           `default:"512" help:"Publications in flight."`
	JSON          bool          `name:"json" help:"Print the result as one JSON object instead of text."`
}

func (b *benchFanoutCmd) Run(ctx context.Context, e *env) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := bench.FanoutOptions{
		Manage: b.Manage, PublishRoundRobin: b.RoundRobin, Redis: b.Redis, APIKey: b.APIKey,
		PusherKey: b.PusherKey, PusherAppID: b.PusherAppID, PusherSecret: b.PusherSecret, PusherWorkers: b.PusherWorkers,
		Connections: b.Connections, Workers: b.Workers, Sources: b.Sources,
		Channel: b.Channel, Channels: b.Channels, Rates: b.Rate,
		Duration: b.Duration, Size: b.Size, Settle: b.Settle, Grace: b.Grace, Timeout: b.Timeout,
		Concurrency: b.Concurrency, Loops: b.Loops, InFlight: b.InFlight,
		Stderr: e.stderr, Progress: e.stderr,
	}
	if len(b.URL) == 1 {
		opts.URL = b.URL[0]
	} else {
		opts.URLs = b.URL
	}
	if len(b.Metrics) == 1 && len(b.URL) == 1 {
		opts.Metrics = b.Metrics[0]
	} else {
		opts.NodeMetrics = b.Metrics
	}
	if !b.JSON {
		opts.OnSetup = func(s bench.FanoutSetup) { fmt.Fprintf(e.stdout, "%s\n\n", s) }
		opts.OnStep = func(s bench.FanoutStep) { fmt.Fprintf(e.stdout, "%s\n\n", s) }
	}
	res, err := bench.Fanout(ctx, opts)
	if b.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(res); encErr != nil && err == nil {
			err = encErr
		}
	}
	return err
}

type benchFanoutWorkerCmd struct{}

func (benchFanoutWorkerCmd) Run(ctx context.Context, e *env) error {
	return bench.RunFanoutWorker(ctx, os.Stdin, e.stdout)
}

type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
}

// exitRequest is how kong's help flag asks to stop: Run turns it back
// into a return value instead of exiting the process.
type exitRequest struct{ code int }

// Run runs the command line args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("switchboard"),
		kong.Description("A self-hosted WebSocket gateway with the AWS API Gateway WebSocket model."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest{code}) }),
		kong.UsageOnError(),
		// Connection ids are base64url: one in 64 starts with "-", and
		// `send --connection -yAo…=` must take it as the flag's value.
		kong.WithHyphenPrefixedParameters(true),
	)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		// No command: the usage (on stderr, as a mistake) and exit
		// status 2, instead of kong's bare "expected one of".
		kctx, perr := kong.Trace(parser, nil)
		if perr == nil {
			kctx.Stdout = stderr
			_ = kctx.PrintUsage(false)
		}
		return &ExitError{Code: 2, Err: errors.New("no command given; run `switchboard serve` to start the gateway, or `switchboard help` for the commands")}
	}
	defer func() {
		if r := recover(); r != nil {
			req, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			if req.code != 0 {
				err = &ExitError{Code: req.code, Err: errors.New("invalid arguments")}
			}
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		if id := hyphenID(args); id != "" && strings.HasPrefix(err.Error(), "unknown flag -") {
			err = fmt.Errorf("%w (if %s is a connection id, put -- before it: switchboard connections get -- %s)", err, id, id)
		}
		return &ExitError{Code: 2, Err: err}
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.Bind(parser)
	return kctx.Run(&env{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.LookupEnv})
}

// hyphenID returns the first argument that looks like a connection id
// starting with "-" (one in 64 does: they are base64url), which kong takes
// for a cluster of short flags; "" when there is none.
func hyphenID(args []string) string {
	for _, a := range args {
		if a == "--" {
			return ""
		}
		if len(a) >= 12 && a[0] == '-' && a[1] != '-' {
			return a
		}
	}
	return ""
}

type serveCmd struct {
	Config string `short:"c" help:"YAML configuration file." type:"existingfile" placeholder:"FILE"`
	Listen string `short:"l" help:"Listen address, such as :8080 or 127.0.0.1:9000 (overrides the file and SWITCHBOARD_LISTEN)." placeholder:"ADDR"`
}

func (s *serveCmd) Run(ctx context.Context, e *env) error {
	// Signals are caught from the start: SIGHUP's default action would
	// kill the process (exit 129, no drain) if it came before Notify.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	cfg, err := s.load(e.getenv)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	level := new(slog.LevelVar)
	log := newLogger(e.stderr, cfg.Log, level)
	// Tracing comes from the OTEL_* variables only (docs/configuration.md,
	// "Tracing"), as every OpenTelemetry SDK reads them; off by default.
	tp, err := tracing.FromEnv(e.getenv, tracing.Options{Version: buildinfo.Get().Version})
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("tracing: %w", err)}
	}
	if tp.Enabled() {
		log.Info("tracing", "export", tp.Describe())
	}
	defer func() {
		// The spans of the drain go out before the process ends.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			log.Warn("tracing: exporting the last spans failed", "error", err.Error())
		}
	}()
	o := server.Options{Logger: log, LogLevel: level, TracerProvider: tp.TracerProvider()}
	if s.Config != "" {
		o.Load = func() (*config.Config, error) { return s.load(e.getenv) }
	}
	srv, err := server.New(cfg, o)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go handleSignals(sigs, done, srv, cancel, log)
	return srv.Run(ctx)
}

// load reads the configuration (the file, or the seed configuration) and
// applies the command line's overrides.
func (s *serveCmd) load(getenv func(string) (string, bool)) (*config.Config, error) {
	cfg, err := loadConfig(s.Config, getenv)
	if err != nil {
		return nil, err
	}
	if s.Listen != "" {
		cfg.Listen = s.Listen
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("--listen: %w", err)
		}
	}
	return cfg, nil
}

// handleSignals turns signals into actions until done: SIGHUP reloads the
// configuration (never stopping the server); the first SIGTERM or SIGINT
// starts the shutdown (SIGTERM with the readiness delay); a second one
// during the readiness delay ends the delay; any other later one kills the
// process at once, as the signal's default action does.
func handleSignals(sigs <-chan os.Signal, done <-chan struct{}, srv *server.Server, cancel context.CancelCauseFunc, log *slog.Logger) {
	stopping := false
	for {
		var sig os.Signal
		select {
		case <-done:
			return
		case sig = <-sigs:
		}
		switch {
		case sig == syscall.SIGHUP:
			log.Info("SIGHUP: reloading the configuration")
			go func() { _ = srv.Reload() }() // logs and counts its outcome
		case !stopping:
			stopping = true
			log.Info("signal received; shutting down", "signal", sig.String())
			cause := errors.New("interrupted")
			if sig == syscall.SIGTERM {
				cause = server.ErrTerminated
			}
			cancel(cause)
		case srv.SkipReadinessDelay():
		default:
			log.Warn("second signal during shutdown; exiting at once", "signal", sig.String())
			signal.Reset(sig)
			if s, ok := sig.(syscall.Signal); ok {
				_ = syscall.Kill(os.Getpid(), s)
			}
			return
		}
	}
}

type validateCmd struct {
	File string `arg:"" help:"The configuration file to check." type:"path"`
}

func (v *validateCmd) Run(e *env) error {
	cfg, err := loadConfig(v.File, e.getenv)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// Not a mistake in a configuration but no configuration to
		// check: reported as an error like any other.
		return &ExitError{Code: 1, Err: err}
	}
	if err != nil {
		fmt.Fprintln(e.stdout, err)
		return &ExitError{Code: 1, Err: errors.New("configuration is not valid")}
	}
	fmt.Fprintf(e.stdout, "%s: ok — listen %s, %d API(s)\n", v.File, cfg.Listen, len(cfg.APIs))
	for _, a := range cfg.APIs {
		fmt.Fprintf(e.stdout, "  %s: /%s, %d route(s), %d integration(s)\n", a.ID, a.Stage, len(a.Routes), len(a.Integrations))
	}
	for _, p := range cfg.Pusher.Apps {
		// Never the secret.
		fmt.Fprintf(e.stdout, "  pusher app %s: key %s, channels of API %s, /app/%s and /apps/%s\n", p.ID, p.Key, p.API, p.Key, p.ID)
	}
	if cl := cfg.Cluster; cl != nil {
		fmt.Fprintf(e.stdout, "  cluster: Redis %s at %s, internal endpoint %s\n",
			cl.Redis.Mode, strings.Join(cl.Redis.Addresses, ", "), cl.Internal.Advertise)
	}
	return nil
}

type versionCmd struct{}

func (versionCmd) Run(e *env) error {
	fmt.Fprintln(e.stdout, buildinfo.Get())
	return nil
}

// loadConfig loads path, or the seed configuration when path is empty,
// and checks what the gateway compiles (expressions, templates).
func loadConfig(path string, getenv func(string) (string, bool)) (*config.Config, error) {
	var cfg *config.Config
	var err error
	if path == "" {
		cfg, err = config.Parse("seed configuration", []byte(config.SeedYAML), getenv)
	} else {
		cfg, err = config.Load(path, getenv)
	}
	if err != nil {
		return nil, err
	}
	if err := gateway.Check(cfg); err != nil {
		name := path
		if name == "" {
			name = "seed configuration"
		}
		var ve *config.ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		lines := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			lines[i] = name + ": " + p.String()
		}
		return nil, errors.New(strings.Join(lines, "\n"))
	}
	return cfg, nil
}

// newLogger returns the logger of c, whose level is level (set to
// c.Level here; a reload may change it).
func newLogger(w io.Writer, c config.Log, level *slog.LevelVar) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.Level))
	level.Set(l)
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
