package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboardhq/switchboard/internal/bench"
)

type benchStormCmd struct {
	ServeConfig string        `name:"serve-config" required:"" type:"existingfile" help:"Configuration of the server the storm starts (this binary's serve) and restarts; its listen address needs a fixed port, and the clients connect to its first API." placeholder:"FILE"`
	ServeLog    string        `name:"serve-log" type:"path" help:"Append the servers' output to this file (default: discarded)." placeholder:"FILE"`
	URL         string        `help:"The clients' endpoint (default: ws://{listen}/{first API's stage} of the configuration)." placeholder:"URL"`
	Metrics     string        `help:"The server's Prometheus endpoint (default: /metrics on metrics.listen, or on listen)." placeholder:"URL"`
	Connections int           `short:"n" default:"10000" help:"Go clients to connect."`
	Workers     int           `default:"4" help:"Worker processes holding the clients."`
	Sources     []string      `default:"127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5" help:"Local addresses to dial from, shared among the workers in turn."`
	Concurrency int           `default:"64" help:"First dials in flight per worker."`
	Restart     string        `default:"term" enum:"term,kill" help:"How the server is restarted: term (SIGTERM: it drains, the clients get 1001) or kill (SIGKILL)."`
	Jitter      string        `default:"full" enum:"full,none" help:"The clients' backoff: full (the client's default: attempt n waits a random time in [0, min(max, min·2ⁿ))) or none (exactly min(max, min·2ⁿ))."`
	MinDelay    time.Duration `name:"min-delay" default:"250ms" help:"The clients' MinDelay."`
	MaxDelay    time.Duration `name:"max-delay" default:"30s" help:"The clients' MaxDelay."`
	V1          bool          `name:"v1" help:"The clients speak switchboard.v1 instead of raw frames."`
	Timeout     time.Duration `default:"5m" help:"Bound on the whole run."`
	JSON        bool          `name:"json" help:"Print the result as one JSON object instead of text."`
}

func (b *benchStormCmd) Run(ctx context.Context, e *env) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := bench.StormOptions{
		ServeConfig: b.ServeConfig, URL: b.URL, Metrics: b.Metrics,
		Connections: b.Connections, Workers: b.Workers, Sources: b.Sources, Concurrency: b.Concurrency,
		Restart: b.Restart, Jitter: b.Jitter, MinDelay: b.MinDelay, MaxDelay: b.MaxDelay, V1: b.V1,
		Timeout: b.Timeout, Stderr: e.stderr, Progress: e.stderr,
	}
	if b.ServeLog != "" {
		f, err := os.OpenFile(b.ServeLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		opts.ServerLog = f
	}
	res, err := bench.Storm(ctx, opts)
	if b.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(res); encErr != nil && err == nil {
			err = encErr
		}
		return err
	}
	if res.Connected > 0 {
		fmt.Fprint(e.stdout, res)
	}
	return err
}

type benchStormWorkerCmd struct{}

func (benchStormWorkerCmd) Run(ctx context.Context, e *env) error {
	return bench.RunStormWorker(ctx, os.Stdin, e.stdout)
}
