package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
)

// Restart kinds of bench storm.
const (
	RestartTerm = "term" // SIGTERM: the server drains, clients get 1001
	RestartKill = "kill" // SIGKILL: the sockets are cut
)

// stormTick is how often the coordinator reads the new server's
// handshake counter, and the width of the timeline's buckets.
const stormTick = 100 * time.Millisecond

// serverStopWait bounds a server's exit after SIGINT at the end of a run
// before it is killed.
const serverStopWait = 10 * time.Second

// StormOptions configure a reconnect storm (`bench storm`): Storm starts
// the server itself from ServeConfig, connects Connections Go clients
// (package client) to it from Workers processes, restarts the server on
// the same port and measures how the clients come back.
type StormOptions struct {
	// ServeConfig is the server's configuration file (required). Its
	// listen address is fixed (a port, not :0) and it serves plain
	// WebSocket (no tls); the clients connect to the first API's stage.
	ServeConfig string
	// URL overrides the clients' endpoint (default ws://{listen}/{stage}).
	URL string
	// Metrics overrides the server's Prometheus endpoint (default
	// http://{metrics.listen, or listen}/metrics).
	Metrics string
	// Connections is how many clients connect (default 10000).
	Connections int
	// Workers is how many worker processes hold them (default 4).
	Workers int
	// Sources are the local addresses the clients dial from, shared among
	// the workers as bench fanout shares them (default: any).
	Sources []string
	// Concurrency bounds each worker's first dials in flight (default 64).
	Concurrency int
	// Jitter is JitterFull (default) or JitterNone.
	Jitter string
	// Restart is RestartTerm (default) or RestartKill.
	Restart string
	// MinDelay and MaxDelay are the clients' backoff bounds (defaults: the
	// client's, 250ms and 30s).
	MinDelay, MaxDelay time.Duration
	// V1 makes the clients speak switchboard.v1 instead of raw frames.
	V1 bool
	// Timeout bounds the whole run (default 5m); the clients not back by
	// then are reported as missing.
	Timeout time.Duration
	// ServerCommand runs the server (default: this executable with
	// "serve --config" ServeConfig).
	ServerCommand []string
	// ServerLog receives the servers' stdout and stderr (nil: discarded).
	ServerLog io.Writer
	// WorkerCommand runs one worker: a program and its arguments that end
	// up in RunStormWorker (default: this executable with "bench
	// storm-worker"). WorkerEnv is added to the workers' environment.
	WorkerCommand []string
	WorkerEnv     []string
	// Stderr receives the workers' stderr (default os.Stderr); Progress,
	// when set, a line per phase.
	Stderr, Progress io.Writer
}

func (o *StormOptions) defaults() error {
	if o.ServeConfig == "" {
		return errors.New("no server configuration: give the file the storm's server runs with")
	}
	cfg, err := config.Load(o.ServeConfig, os.LookupEnv)
	if err != nil {
		return err
	}
	if cfg.TLS != nil {
		return errors.New("the server configuration terminates TLS: bench storm dials plain ws://")
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil || port == "" || port == "0" {
		return fmt.Errorf("listen %q: bench storm restarts the server on the same address: give a fixed port", cfg.Listen)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	listen := net.JoinHostPort(host, port)
	if o.URL == "" {
		if len(cfg.APIs) == 0 {
			return errors.New("the server configuration has no API to connect to")
		}
		o.URL = "ws://" + listen + "/" + cfg.APIs[0].Stage
	}
	if o.Metrics == "" {
		m := listen
		if cfg.Metrics.Listen != "" {
			mh, mp, err := net.SplitHostPort(cfg.Metrics.Listen)
			if err != nil {
				return fmt.Errorf("metrics.listen %q: %w", cfg.Metrics.Listen, err)
			}
			if mh == "" || mh == "0.0.0.0" || mh == "::" {
				mh = "127.0.0.1"
			}
			m = net.JoinHostPort(mh, mp)
		}
		o.Metrics = "http://" + m + "/metrics"
	}
	o.Connections = cmp.Or(o.Connections, 10000)
	o.Workers = cmp.Or(o.Workers, 4)
	if o.Connections < 1 || o.Workers < 1 {
		return errors.New("connections and workers must be positive")
	}
	if per := (o.Connections + o.Workers - 1) / o.Workers; per > maxPerWorker {
		return fmt.Errorf("%d connections per worker exceed the open-files limit; use at least %d workers",
			per, (o.Connections+maxPerWorker-1)/maxPerWorker)
	}
	o.Workers = min(o.Workers, o.Connections)
	if len(o.Sources) == 0 {
		o.Sources = []string{""}
	}
	for _, s := range o.Sources {
		if s != "" && net.ParseIP(s) == nil {
			return fmt.Errorf("source %q is not an IP address", s)
		}
	}
	o.Concurrency = cmp.Or(o.Concurrency, 64)
	o.Jitter = cmp.Or(o.Jitter, JitterFull)
	if o.Jitter != JitterFull && o.Jitter != JitterNone {
		return fmt.Errorf("jitter %q: want %s or %s", o.Jitter, JitterFull, JitterNone)
	}
	o.Restart = cmp.Or(o.Restart, RestartTerm)
	if o.Restart != RestartTerm && o.Restart != RestartKill {
		return fmt.Errorf("restart %q: want %s or %s", o.Restart, RestartTerm, RestartKill)
	}
	o.MinDelay = cmp.Or(o.MinDelay, 250*time.Millisecond)
	o.MaxDelay = cmp.Or(o.MaxDelay, 30*time.Second)
	if o.MinDelay < 0 || o.MaxDelay < o.MinDelay {
		return fmt.Errorf("backoff %v to %v: want 0 < min ≤ max", o.MinDelay, o.MaxDelay)
	}
	o.Timeout = cmp.Or(o.Timeout, 5*time.Minute)
	if len(o.ServerCommand) == 0 || len(o.WorkerCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this executable to run the server and the workers: %w", err)
		}
		if len(o.ServerCommand) == 0 {
			o.ServerCommand = []string{exe, "serve", "--config", o.ServeConfig}
		}
		if len(o.WorkerCommand) == 0 {
			o.WorkerCommand = []string{exe, "bench", "storm-worker"}
		}
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	return nil
}

// StormResult is what a reconnect storm measured. Times are in
// milliseconds from the restart's signal, read on this machine's clock by
// the coordinator and the workers alike.
type StormResult struct {
	URL         string   `json:"url"`
	Mode        string   `json:"mode"` // raw or switchboard.v1
	Connections int      `json:"connections"`
	Workers     int      `json:"workers"`
	Sources     []string `json:"sources,omitempty"`
	Jitter      string   `json:"jitter"`
	Restart     string   `json:"restart"`
	MinDelayMs  float64  `json:"minDelayMs"`
	MaxDelayMs  float64  `json:"maxDelayMs"`

	Connected      int     `json:"connected"` // clients connected before the restart
	Failed         int     `json:"failed"`    // first dials that failed
	FirstError     string  `json:"firstError,omitempty"`
	ConnectSeconds float64 `json:"connectSeconds"`

	DownMs      float64 `json:"downMs"`      // the old server exited
	StartMs     float64 `json:"startMs"`     // the new server was started
	UpMs        float64 `json:"upMs"`        // the new server first answered /metrics
	Dropped     int     `json:"dropped"`     // clients whose connection was lost
	FirstDropMs float64 `json:"firstDropMs"` // the first and last loss, as the clients saw them
	LastDropMs  float64 `json:"lastDropMs"`
	Back        int     `json:"back"`      // clients connected again to the new server
	Missing     int     `json:"missing"`   // Connected − Back: not back at the timeout
	AllBackMs   float64 `json:"allBackMs"` // the last client back (when Missing is 0)
	BackP50Ms   float64 `json:"backP50Ms"`
	BackP90Ms   float64 `json:"backP90Ms"`
	BackP99Ms   float64 `json:"backP99Ms"`

	// The clients' handshakes after the signal, by outcome (stormReply).
	Attempts  uint64 `json:"attempts"`
	Upgraded  uint64 `json:"upgraded"`
	Refused   uint64 `json:"refused"`
	Rejected  uint64 `json:"rejected"`
	Errors    uint64 `json:"errors"`
	FirstFail string `json:"firstFail,omitempty"`

	// ServerConnects is the new server's switchboard_connects_total by
	// outcome at the end; the peaks are of its handshakes, all outcomes,
	// between two scrapes (per 100 ms when they were further apart) and
	// over 10 consecutive scrapes (per second when further apart).
	ServerConnects map[string]float64 `json:"serverConnects"`
	PeakPer100ms   float64            `json:"peakPer100ms"`
	PeakPerSecond  float64            `json:"peakPerSecond"`
	// AcceptSpanMs bounds the time the new server took to accept the
	// clients that came back: from its last scrape with no handshake
	// accepted (or its start) to its first with all of them. A server
	// too busy to answer a scrape every 100 ms makes the peaks averages
	// over longer intervals; Back/AcceptSpanMs is then the better figure:
	// its accept rate was at least that, on average.
	AcceptSpanMs float64 `json:"acceptSpanMs"`
	// ReconnectsPer100ms[i] is how many clients came back between
	// i·100 ms and (i+1)·100 ms after the signal.
	ReconnectsPer100ms []int `json:"reconnectsPer100ms"`
	// ServerSamples are the scrapes of the new server.
	ServerSamples []StormSample `json:"serverSamples"`
	LoadAverage   float64       `json:"loadAverage"` // 1-minute, at the end
}

// StormSample is one scrape of the new server: its handshakes so far.
type StormSample struct {
	AtMs       float64 `json:"atMs"`
	Handshakes float64 `json:"handshakes"` // all outcomes
	Accepted   float64 `json:"accepted"`
}

// Storm runs a reconnect storm (see StormOptions). The result is filled
// as far as the run got, also with an error.
func Storm(ctx context.Context, opts StormOptions) (StormResult, error) {
	if err := opts.defaults(); err != nil {
		return StormResult{}, err
	}
	res := StormResult{
		URL: opts.URL, Mode: "raw", Connections: opts.Connections, Workers: opts.Workers, Jitter: opts.Jitter,
		Restart: opts.Restart, MinDelayMs: ms(opts.MinDelay), MaxDelayMs: ms(opts.MaxDelay),
	}
	if opts.V1 {
		res.Mode = "switchboard.v1"
	}
	if !slices.Equal(opts.Sources, []string{""}) {
		res.Sources = opts.Sources
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	progress := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}
	u := mustParse(opts.URL)
	// A server already there would answer for the one this run starts.
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return res, fmt.Errorf("%s is taken: bench storm runs the server itself (%w)", u.Host, err)
	}
	ln.Close()

	srv, err := startServer(opts)
	if err != nil {
		return res, err
	}
	defer func() { srv.stop() }()
	if err := srv.waitReady(ctx, "http://"+u.Host+"/readyz"); err != nil {
		return res, err
	}

	var ws []*childProc[stormReply]
	defer func() {
		stopChildren(ws, stormCommand{Cmd: stormStop}, func(p *childProc[stormReply]) *childProc[stormReply] { return p })
	}()
	deadline := time.Now().Add(opts.Timeout + time.Minute).UnixNano()
	var cmds []stormCommand
	for i := range opts.Workers {
		p, err := startChild[stormReply](i, opts.WorkerCommand, opts.WorkerEnv, opts.Stderr)
		if err != nil {
			return res, err
		}
		ws = append(ws, p)
		_, n, sources := shareOut(i, opts.Workers, opts.Connections, opts.Sources)
		cmds = append(cmds, stormCommand{
			Cmd: stormConnect, URL: opts.URL, Sources: sources, Connections: n, Concurrency: opts.Concurrency,
			Jitter: opts.Jitter, MinDelay: opts.MinDelay, MaxDelay: opts.MaxDelay, V1: opts.V1, Deadline: deadline,
		})
	}
	progress("connecting %d clients from %d workers to %s", opts.Connections, opts.Workers, opts.URL)
	began := time.Now()
	rs, err := stormAll(ctx, ws, func(i int) stormCommand { return cmds[i] }, "ready")
	if err != nil {
		return res, err
	}
	res.ConnectSeconds = time.Since(began).Seconds()
	for i, r := range rs {
		res.Connected += r.Connected
		res.Failed += r.Failed
		if res.FirstError == "" && r.Error != "" {
			res.FirstError = fmt.Sprintf("worker %d: %s", i, r.Error)
		}
	}
	if res.Connected == 0 {
		return res, fmt.Errorf("no client connected: %s", res.FirstError)
	}
	progress("%d connected (%d failed) in %.1f s; restarting the server (%s)", res.Connected, res.Failed, res.ConnectSeconds, opts.Restart)
	if _, err := stormAll(ctx, ws, func(int) stormCommand { return stormCommand{Cmd: stormArm} }, "armed"); err != nil {
		return res, err
	}

	// The restart: signal, wait for the exit, start again at once.
	sig := syscall.SIGTERM
	if opts.Restart == RestartKill {
		sig = syscall.SIGKILL
	}
	t0 := time.Now()
	if err := srv.cmd.Process.Signal(sig); err != nil {
		return res, fmt.Errorf("signal the server: %w", err)
	}
	select {
	case <-srv.exited:
	case <-ctx.Done():
		return res, fmt.Errorf("waiting for the server to exit after %s: %w", opts.Restart, ctx.Err())
	}
	res.DownMs = msSince(t0, time.Now())
	started := time.Now()
	srv, err = startServer(opts)
	if err != nil {
		return res, fmt.Errorf("restart: %w", err)
	}
	res.StartMs = msSince(t0, started)
	sc := startScraper(ctx, opts.Metrics, t0)

	until := deadlineOf(ctx)
	rs, err = stormAll(ctx, ws, func(int) stormCommand {
		return stormCommand{Cmd: stormWait, Since: started.UnixNano(), Until: until.UnixNano()}
	}, "back")
	var back []int64
	for _, r := range rs {
		res.Dropped += r.Dropped
		back = append(back, r.Back...)
		if r.FirstDrop > 0 && (res.FirstDropMs == 0 || msSince(t0, time.Unix(0, r.FirstDrop)) < res.FirstDropMs) {
			res.FirstDropMs = msSince(t0, time.Unix(0, r.FirstDrop))
		}
		if r.LastDrop > 0 {
			res.LastDropMs = max(res.LastDropMs, msSince(t0, time.Unix(0, r.LastDrop)))
		}
		res.Attempts += r.Attempts
		res.Upgraded += r.Upgraded
		res.Refused += r.Refused
		res.Rejected += r.Rejected
		res.Errors += r.Errors
		res.FirstFail = cmp.Or(res.FirstFail, r.FirstFail)
	}
	slices.Sort(back)
	res.Back, res.Missing = len(back), res.Connected-len(back)
	if len(back) > 0 {
		at := func(q float64) float64 {
			return msSince(t0, time.Unix(0, back[min(len(back)-1, int(math.Ceil(q*float64(len(back))))-1)]))
		}
		res.BackP50Ms, res.BackP90Ms, res.BackP99Ms, res.AllBackMs = at(0.5), at(0.9), at(0.99), at(1)
		res.ReconnectsPer100ms = make([]int, int(msSince(t0, time.Unix(0, back[len(back)-1]))/ms(stormTick))+1)
		for _, b := range back {
			res.ReconnectsPer100ms[int(msSince(t0, time.Unix(0, b))/ms(stormTick))]++
		}
	}
	// The server counts a handshake when it has written its 101: wait for
	// it to have counted every client that is back (a tick at least, at
	// most a second), then take the last reading.
	samples := sc.stopWhen(func(s StormSample) bool { return s.Accepted >= float64(len(back)) }, time.Second)
	res.ServerSamples = samples
	res.ServerConnects = sc.outcomes()
	res.UpMs = sc.upMs()
	res.PeakPer100ms, res.PeakPerSecond = peaks(samples, res.StartMs)
	res.AcceptSpanMs = acceptSpan(samples, res.StartMs, res.Back)
	res.LoadAverage = loadAverage()
	if err != nil {
		return res, err
	}
	if res.Missing > 0 {
		return res, fmt.Errorf("%d of %d clients were not back within the timeout", res.Missing, res.Connected)
	}
	progress("all %d back %.0f ms after the signal", res.Back, res.AllBackMs)
	return res, nil
}

// stormAll sends each worker its command (mk(i)) and collects one reply of
// type want from each.
func stormAll(ctx context.Context, ws []*childProc[stormReply], mk func(i int) stormCommand, want string) ([]stormReply, error) {
	for i, p := range ws {
		if err := p.send(mk(i)); err != nil {
			return nil, err
		}
	}
	out := make([]stormReply, len(ws))
	var firstErr error
	for i, p := range ws {
		r, err := p.next(ctx)
		switch {
		case err != nil:
		case r.Type == "error":
			err = fmt.Errorf("worker %d: %s", p.id, r.Error)
		case r.Type != want:
			err = fmt.Errorf("worker %d answered %q, want %q", p.id, r.Type, want)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		out[i] = r
	}
	return out, firstErr
}

// serverProc is a server child process.
type serverProc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when it exited
}

// startServer starts the server (and does not wait for it).
func startServer(opts StormOptions) (*serverProc, error) {
	cmd := exec.Command(opts.ServerCommand[0], opts.ServerCommand[1:]...)
	if opts.ServerLog != nil {
		cmd.Stdout, cmd.Stderr = opts.ServerLog, opts.ServerLog
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	s := &serverProc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	return s, nil
}

// waitReady polls the server's /readyz until it answers 200.
func (s *serverProc) waitReady(ctx context.Context, readyURL string) error {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, readyURL, nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-s.exited:
			t.Stop()
			return fmt.Errorf("the server exited (%v) before it was ready", s.cmd.ProcessState)
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the server to be ready: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// stop ends the server: SIGINT (a drain without the readiness delay),
// then SIGKILL after serverStopWait.
func (s *serverProc) stop() {
	if s == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(serverStopWait)
	defer t.Stop()
	select {
	case <-s.exited:
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// scraper reads the new server's handshake counter every stormTick.
type scraper struct {
	t0     time.Time
	url    string
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	last   map[string]float64
	series []StormSample
	seen   chan StormSample // each sample, for stopWhen; dropped when nobody waits
}

func startScraper(ctx context.Context, metricsURL string, t0 time.Time) *scraper {
	s := &scraper{t0: t0, url: metricsURL, stop: make(chan struct{}), done: make(chan struct{}), seen: make(chan StormSample)}
	go func() {
		defer close(s.done)
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		tick := time.NewTicker(stormTick)
		defer tick.Stop()
		for {
			if m, err := scrapeConnects(ctx, hc, s.url); err == nil {
				sm := StormSample{AtMs: msSince(t0, time.Now()), Accepted: m["accepted"]}
				for _, v := range m {
					sm.Handshakes += v
				}
				s.mu.Lock()
				s.last = m
				s.series = append(s.series, sm)
				s.mu.Unlock()
				select {
				case s.seen <- sm:
				default:
				}
			}
			select {
			case <-tick.C:
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return s
}

// stopWhen waits until a sample satisfies ok, or for wait, then stops the
// scraper and returns its samples.
func (s *scraper) stopWhen(ok func(StormSample) bool, wait time.Duration) []StormSample {
	s.mu.Lock()
	met := len(s.series) > 0 && ok(s.series[len(s.series)-1])
	s.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	for !met {
		select {
		case sm := <-s.seen:
			met = ok(sm)
		case <-t.C:
			met = true
		case <-s.done:
			met = true
		}
	}
	close(s.stop)
	<-s.done
	return s.series
}

// outcomes is the last reading by outcome.
func (s *scraper) outcomes() map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// upMs is when the first scrape answered (0 when none did).
func (s *scraper) upMs() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.series) == 0 {
		return 0
	}
	return s.series[0].AtMs
}

// peaks are the busiest 100 ms and second of handshakes in the samples of
// a server started at startMs (its counter was 0 then).
func peaks(samples []StormSample, startMs float64) (per100ms, perSecond float64) {
	prev := StormSample{AtMs: startMs}
	pts := append([]StormSample{prev}, samples...)
	for i := 1; i < len(pts); i++ {
		// A longer interval (a late scrape) gives its average per 100 ms;
		// a shorter one (a scrape right after a late one) its count, not
		// its rate scaled up: a burst of 50 in 5 ms is not 1,000 per 100 ms.
		dt := pts[i].AtMs - pts[i-1].AtMs
		per100ms = max(per100ms, (pts[i].Handshakes-pts[i-1].Handshakes)*ms(stormTick)/max(dt, ms(stormTick)))
	}
	// The busiest second: the largest increase over 10 consecutive
	// intervals (or over all of them when there are fewer), per second.
	const k = int(time.Second / stormTick)
	for i := range pts {
		j := min(i+k, len(pts)-1)
		if dt := pts[j].AtMs - pts[i].AtMs; dt > 0 && j > i {
			perSecond = max(perSecond, (pts[j].Handshakes-pts[i].Handshakes)*1000/max(dt, 1000))
		}
		if j == len(pts)-1 {
			break
		}
	}
	return per100ms, perSecond
}

// acceptSpan is how long the server started at startMs took to accept n
// handshakes, at most, as its scrapes show (0 when they never showed n).
func acceptSpan(samples []StormSample, startMs float64, n int) float64 {
	from := startMs
	for _, s := range samples {
		if s.Accepted == 0 {
			from = s.AtMs
		}
		if s.Accepted >= float64(n) {
			return s.AtMs - from
		}
	}
	return 0
}

// deadlineOf is ctx's deadline (Storm's ctx always has one).
func deadlineOf(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Hour)
	}
	return d
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func msSince(t0, t time.Time) float64 { return ms(t.Sub(t0)) }

// String is the human summary: the figures and the timeline of clients
// coming back.
func (r StormResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reconnect storm: %d %s clients (%d workers) at %s; restart %s, jitter %s, backoff %v…%v\n",
		r.Connections, r.Mode, r.Workers, r.URL, r.Restart, r.Jitter, time.Duration(r.MinDelayMs*1e6), time.Duration(r.MaxDelayMs*1e6))
	fmt.Fprintf(&b, "connected %d (failed %d) in %.1f s\n", r.Connected, r.Failed, r.ConnectSeconds)
	fmt.Fprintf(&b, "from the signal: old server gone %.0f ms, new one started %.0f ms, answering %.0f ms; drops seen %.0f…%.0f ms (%d clients)\n",
		r.DownMs, r.StartMs, r.UpMs, r.FirstDropMs, r.LastDropMs, r.Dropped)
	if r.Missing == 0 {
		fmt.Fprintf(&b, "all %d back after %.0f ms (p50 %.0f, p90 %.0f, p99 %.0f ms)\n", r.Back, r.AllBackMs, r.BackP50Ms, r.BackP90Ms, r.BackP99Ms)
	} else {
		fmt.Fprintf(&b, "%d back, %d MISSING at the timeout\n", r.Back, r.Missing)
	}
	fmt.Fprintf(&b, "new server's handshakes: peak %.0f per 100 ms, %.0f per second; by outcome %v\n", r.PeakPer100ms, r.PeakPerSecond, r.ServerConnects)
	if r.AcceptSpanMs > 0 {
		fmt.Fprintf(&b, "it accepted the %d within %.0f ms (at least %.0f per second on average)\n", r.Back, r.AcceptSpanMs, float64(r.Back)*1000/r.AcceptSpanMs)
	}
	fmt.Fprintf(&b, "clients' handshakes after the signal: %d (upgraded %d, refused %d, rejected %d, errors %d)", r.Attempts, r.Upgraded, r.Refused, r.Rejected, r.Errors)
	if r.FirstFail != "" {
		fmt.Fprintf(&b, "; first failure: %s", r.FirstFail)
	}
	fmt.Fprintf(&b, "\nload average %.2f\n", r.LoadAverage)
	b.WriteString(timeline(r.ReconnectsPer100ms))
	return b.String()
}

// timeline draws the clients coming back by 100 ms (by wider buckets when
// there are more than 50), one line per bucket with any.
func timeline(per100ms []int) string {
	if len(per100ms) == 0 {
		return ""
	}
	k := (len(per100ms) + 49) / 50
	var buckets []int
	top := 0
	for i := 0; i < len(per100ms); i += k {
		n := 0
		for _, c := range per100ms[i:min(i+k, len(per100ms))] {
			n += c
		}
		buckets = append(buckets, n)
		top = max(top, n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "clients back per %d ms after the signal:\n", 100*k)
	for i, n := range buckets {
		if n == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %6.1f s %6d %s\n", float64(i*k)/10, n, strings.Repeat("#", max(1, n*40/top)))
	}
	return b.String()
}
