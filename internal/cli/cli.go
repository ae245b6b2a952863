// Package cli is the switchboard command line: it parses arguments and
// runs a subcommand. main only calls Run and maps its error to an exit
// code, so the whole command is testable in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/server"
)

// ExitError carries a specific exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

type cli struct {
	Serve    serveCmd    `cmd:"" help:"Run the gateway (the seed chat API on :8080 when no config is given)."`
	Validate validateCmd `cmd:"" help:"Check a configuration file and explain each mistake."`
	Version  versionCmd  `cmd:"" help:"Print the version."`
}

type env struct {
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
}

// Run runs the command line args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("switchboard"),
		kong.Description("A self-hosted WebSocket gateway with the AWS API Gateway WebSocket model."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(int) {}),
		kong.UsageOnError(),
	)
	if err != nil {
		return err
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if kctx.Command() == "" || kctx.Error != nil { // --help
		return nil
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	return kctx.Run(&env{stdout: stdout, stderr: stderr, getenv: os.LookupEnv})
}

type serveCmd struct {
	Config string `short:"c" help:"YAML configuration file." type:"existingfile" placeholder:"FILE"`
	Listen string `short:"l" help:"Listen address, such as :8080 or 127.0.0.1:9000 (overrides the file and SWITCHBOARD_LISTEN)." placeholder:"ADDR"`
}

func (s *serveCmd) Run(ctx context.Context, e *env) error {
	cfg, err := loadConfig(s.Config, e.getenv)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if s.Listen != "" {
		cfg.Listen = s.Listen
		if err := cfg.Validate(); err != nil {
			return &ExitError{Code: 1, Err: fmt.Errorf("--listen: %w", err)}
		}
	}
	log := newLogger(e.stderr, cfg.Log)
	srv, err := server.New(cfg, server.Options{Logger: log})
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process
	}()
	return srv.Run(ctx)
}

type validateCmd struct {
	File string `arg:"" help:"The configuration file to check." type:"path"`
}

func (v *validateCmd) Run(e *env) error {
	cfg, err := loadConfig(v.File, e.getenv)
	if err != nil {
		fmt.Fprintln(e.stdout, err)
		return &ExitError{Code: 1, Err: errors.New("configuration is not valid")}
	}
	fmt.Fprintf(e.stdout, "%s: ok — listen %s, %d API(s)\n", v.File, cfg.Listen, len(cfg.APIs))
	for _, a := range cfg.APIs {
		fmt.Fprintf(e.stdout, "  %s: /%s, %d route(s), %d integration(s)\n", a.ID, a.Stage, len(a.Routes), len(a.Integrations))
	}
	return nil
}

type versionCmd struct{}

func (versionCmd) Run(e *env) error {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintln(e.stdout, "switchboard", v)
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
		var ve *config.ValidationError
		if errors.As(err, &ve) && path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	return cfg, nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
