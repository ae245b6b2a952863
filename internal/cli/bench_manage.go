package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboardhq/switchboard/internal/bench"
)

type benchManageCmd struct {
	URL             string        `default:"http://127.0.0.1:8080/production" help:"Switchboard endpoint; its first path segment is the stage."`
	APIKey          string        `name:"api-key" env:"SWITCHBOARD_BENCH_API_KEY" help:"Management API key, sent as a bearer token." placeholder:"KEY"`
	AccessKeyID     string        `name:"access-key-id" env:"AWS_ACCESS_KEY_ID" help:"Sign every POST with SigV4 (the AWS SDK's signer) with this access key." placeholder:"ID"`
	SecretAccessKey string        `name:"secret-access-key" env:"AWS_SECRET_ACCESS_KEY" help:"The access key's secret." placeholder:"SECRET"`
	Region          string        `default:"us-east-1" help:"Region of the SigV4 credential scope."`
	Connections     int           `short:"n" default:"16" help:"Keep-alive client connections, each one request at a time (closed loop)."`
	Receivers       int           `default:"1" help:"WebSocket connections the posts go to, in turn (read and drained by the bench)."`
	Size            int           `default:"64" help:"Bytes of each POST body."`
	Requests        int           `default:"200000" help:"Bound on each round's requests."`
	Duration        time.Duration `default:"5s" help:"Bound on each round's time."`
	Rounds          int           `default:"3" help:"Rounds per target, alternating Switchboard and the no-op floor(s)."`
	Warmup          time.Duration `default:"1s" help:"An unreported round per target first (negative: none)."`
	PID             int           `name:"pid" help:"The Switchboard's process id: report its CPU time per request (Linux)."`
	NoFloor         bool          `name:"no-floor" help:"Drive Switchboard only, without the no-op net/http server."`
	FrameFloor      bool          `name:"frame-floor" help:"Also drive the frame floor: the no-op server that writes each post to a WebSocket connection, as a frame (what delivering costs on these cores)."`
	JSON            bool          `name:"json" help:"Print the result as one JSON object instead of text."`
}

func (b *benchManageCmd) Run(ctx context.Context, e *env) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := bench.Manage(ctx, bench.ManageOptions{
		URL: b.URL, APIKey: b.APIKey, AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey, Region: b.Region,
		Connections: b.Connections, Receivers: b.Receivers, Size: b.Size, Requests: b.Requests, Duration: b.Duration,
		Rounds: b.Rounds, Warmup: b.Warmup, ServerPID: b.PID, NoFloor: b.NoFloor, FrameFloor: b.FrameFloor, Stderr: e.stderr, Progress: e.stderr,
	})
	if b.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(res); encErr != nil && err == nil {
			err = encErr
		}
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, res)
	return nil
}

type benchNoopServerCmd struct {
	Deliver bool `env:"SWITCHBOARD_BENCH_NOOP_DELIVER" help:"Serve the frame floor: accept WebSocket upgrades and write each post to one, as a frame."`
}

func (b benchNoopServerCmd) Run(ctx context.Context, e *env) error {
	return bench.RunNoopServer(ctx, e.stdout, b.Deliver)
}
