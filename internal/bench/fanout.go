package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxPerWorker bounds the connections of one worker process: the
// open-files limit is 20,000 per process, and a worker needs a few more
// descriptors than connections.
const maxPerWorker = 18000

// FanoutOptions configure a fan-out measurement. The zero value of each
// field means the default given.
type FanoutOptions struct {
	// URL is the WebSocket endpoint (ws://host:port/stage). Required,
	// unless URLs is given.
	URL string
	// URLs, instead of URL, are the endpoints of several nodes of one
	// cluster, all with the same stage: connection i goes to
	// URLs[i % len(URLs)] (round robin), and the figures are also
	// reported per node.
	URLs []string
	// Manage is the management API's base URL; publications are POSTed to
	// {Manage}/{stage}/@channels/{channel}. Default: http:// and the host
	// of URL (of URLs[0] with several nodes): every publication goes
	// through that one node, unless PublishRoundRobin.
	Manage string
	// PublishRoundRobin sends publication i through node i % len(URLs)'s
	// management API (http:// and the host of each URL) instead of
	// Manage.
	PublishRoundRobin bool
	// Metrics is the server's Prometheus endpoint. Default: /metrics on
	// the host of URL.
	Metrics string
	// NodeMetrics are the nodes' Prometheus endpoints, one per URLs entry.
	// Default: /metrics on each URL's host.
	NodeMetrics []string
	// Redis, when set, are redis-server addresses (host:port, no
	// authentication) whose INFO commandstats and cpu are read before and
	// after each step: the step then reports Redis commands and CPU per
	// publication (redisinfo.go).
	Redis []string
	// APIKey, when set, is sent as "Authorization: Bearer <APIKey>" to the
	// management API.
	APIKey string
	// PusherKey, when set, makes the subscribers Pusher connections of the
	// app with that key: they connect to ws://host:port/app/{key}?protocol=7
	// on the host of each URL (whose path still names the stage of the
	// API the app maps to, for the management API) and subscribe to the
	// channel(s) as public Pusher channels.
	PusherKey string
	// PusherAppID and PusherSecret, with PusherKey, send the publications
	// through the Pusher HTTP API instead of the management API: POST
	// {Manage}/apps/{id}/events, signed with the app's key and secret
	// (reference pusher-channels.md §12.2), event name "bench".
	PusherAppID  string
	PusherSecret string
	// PusherWorkers, with PusherKey, makes only the first PusherWorkers
	// workers' connections Pusher connections and the others'
	// switchboard.v1, on the same channel(s): each step then also reports
	// the latency of each protocol's deliveries, measured on the same
	// publications (FanoutStep.Protocols). 0: every worker's are Pusher.
	PusherWorkers int
	// Connections is how many subscribers to open. Default 1000.
	Connections int
	// Workers is how many worker processes hold the connections. Default
	// one per 9,000 connections; at most 18,000 connections per worker.
	Workers int
	// Sources are the local addresses to dial from, given to the workers
	// in turn (each gives about 28,000 ephemeral ports).
	Sources []string
	// Channel names the channel; with Channels > 1 the channels are
	// Channel-0 … Channel-(k-1), the subscribers spread evenly over them
	// and the publications sent to each in turn. Default "bench".
	Channel string
	// Channels is how many channels. Default 1.
	Channels int
	// Rates are the publication rates, per second, of the steps, run in
	// order on the same connections. Default one step at 10/s.
	Rates []float64
	// Duration is how long each step publishes. Default 10s.
	Duration time.Duration
	// Size is the size of each publication's body in bytes. Default 100.
	Size int
	// Settle is how long to wait after the last subscription before
	// reading the server's memory. Default 3s.
	Settle time.Duration
	// Grace is how long a step waits, after its last publication, for
	// deliveries still on their way. Default 5s.
	Grace time.Duration
	// Timeout bounds the whole measurement. Default 5m.
	Timeout time.Duration
	// Concurrency bounds the handshakes in flight per worker. Default 64.
	Concurrency int
	// Loops is the number of event loops per worker. Default 1.
	Loops int
	// InFlight bounds the publications in flight. Default 512.
	InFlight int

	// WorkerCommand runs one worker: a program and its arguments that end
	// up in RunFanoutWorker. Default: this executable with
	// "bench fanout-worker". Tests run their own binary.
	WorkerCommand []string
	// WorkerEnv is added to the workers' environment.
	WorkerEnv []string
	// Stderr receives the workers' standard error. Default os.Stderr.
	Stderr io.Writer
	// Progress, when set, receives a line per phase as the run goes.
	Progress io.Writer
	// OnSetup and OnStep, when set, are called with the connection
	// figures and with each step's as soon as they are known.
	OnSetup func(FanoutSetup)
	OnStep  func(FanoutStep)
}

func (o *FanoutOptions) applyDefaults() error {
	switch {
	case o.URL != "" && len(o.URLs) > 0:
		return errors.New("give URL or URLs, not both")
	case len(o.URLs) == 0:
		o.URLs = []string{o.URL}
	case len(o.URLs) == 1:
		o.URL = o.URLs[0]
	}
	var stage string
	for i, raw := range o.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("url %q: want ws://host:port/stage", raw)
		}
		st, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if st == "" {
			return fmt.Errorf("url %q: the path must name the stage, as in ws://host:port/production", raw)
		}
		if i > 0 && st != stage {
			return fmt.Errorf("url %q: stage %q, but %q has %q: every node must serve the same stage", raw, st, o.URLs[0], stage)
		}
		stage = st
	}
	if len(o.URLs) > 1 && o.Metrics != "" {
		return errors.New("with several URLs, give NodeMetrics (one per URL), not Metrics")
	}
	if len(o.NodeMetrics) == 0 && o.Metrics != "" {
		o.NodeMetrics = []string{o.Metrics}
	}
	if len(o.NodeMetrics) == 0 {
		for _, raw := range o.URLs {
			o.NodeMetrics = append(o.NodeMetrics, "http://"+mustParse(raw).Host+"/metrics")
		}
	}
	if len(o.NodeMetrics) != len(o.URLs) {
		return fmt.Errorf("%d metrics endpoints for %d URLs: give one per URL", len(o.NodeMetrics), len(o.URLs))
	}
	o.Metrics = o.NodeMetrics[0]
	if o.PublishRoundRobin && o.Manage != "" {
		return errors.New("give Manage or PublishRoundRobin, not both")
	}
	o.Manage = strings.TrimSuffix(cmp.Or(o.Manage, "http://"+mustParse(o.URLs[0]).Host), "/")
	if (o.PusherAppID != "") != (o.PusherSecret != "") {
		return errors.New("give the Pusher app id and secret together")
	}
	if o.PusherWorkers < 0 || o.PusherWorkers > o.Workers || (o.PusherWorkers > 0 && o.PusherKey == "") {
		return fmt.Errorf("pusher workers %d: want 0 to the number of workers (%d), with the Pusher key", o.PusherWorkers, o.Workers)
	}
	if o.PusherAppID != "" && o.PusherKey == "" {
		return errors.New("publishing through the Pusher HTTP API needs the app's key too")
	}
	o.Connections = cmp.Or(o.Connections, 1000)
	o.Workers = cmp.Or(o.Workers, (o.Connections+8999)/9000)
	if o.Connections < 1 || o.Workers < 1 {
		return errors.New("connections and workers must be positive")
	}
	if per := (o.Connections + o.Workers - 1) / o.Workers; per > maxPerWorker {
		return fmt.Errorf("%d connections per worker exceed the open-files limit; use at least %d workers",
			per, (o.Connections+maxPerWorker-1)/maxPerWorker)
	}
	if o.Workers > o.Connections {
		o.Workers = o.Connections
	}
	if len(o.Sources) == 0 {
		o.Sources = []string{""}
	}
	o.Channel = cmp.Or(o.Channel, "bench")
	o.Channels = cmp.Or(o.Channels, 1)
	if o.Channels < 1 || o.Channels > o.Connections {
		return fmt.Errorf("channels %d: want 1 to the number of connections", o.Channels)
	}
	if len(o.Rates) == 0 {
		o.Rates = []float64{10}
	}
	for _, r := range o.Rates {
		if !(r > 0 && r <= 1e6) {
			return fmt.Errorf("rate %g: want more than 0 and at most 1,000,000 per second", r)
		}
	}
	o.Duration = cmp.Or(o.Duration, 10*time.Second)
	o.Size = cmp.Or(o.Size, 100)
	o.Settle = cmp.Or(o.Settle, 3*time.Second)
	o.Grace = cmp.Or(o.Grace, 5*time.Second)
	o.Timeout = cmp.Or(o.Timeout, 5*time.Minute)
	o.Concurrency = cmp.Or(o.Concurrency, 64)
	o.Loops = cmp.Or(o.Loops, 1)
	o.InFlight = cmp.Or(o.InFlight, 512)
	if len(o.WorkerCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this executable to run the workers: %w", err)
		}
		o.WorkerCommand = []string{exe, "bench", "fanout-worker"}
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	return nil
}

// channelNames are the channels of a run.
func (o *FanoutOptions) channelNames() []string {
	if o.Channels == 1 {
		return []string{o.Channel}
	}
	names := make([]string, o.Channels)
	for i := range names {
		names[i] = o.Channel + "-" + strconv.Itoa(i)
	}
	return names
}

// FanoutResult is what a fan-out measurement found.
type FanoutResult struct {
	Setup FanoutSetup   `json:"setup"`
	Steps []FanoutStep  `json:"steps"`
	Opts  FanoutSummary `json:"options"`
}

// FanoutSummary repeats the options that shape the figures.
type FanoutSummary struct {
	URL      string   `json:"url"`
	Protocol string   `json:"protocol"`       // the subscribers': switchboard.v1 or pusher
	Publish  string   `json:"publish"`        // through the management API or the Pusher HTTP API
	URLs     []string `json:"urls,omitempty"` // with several nodes
	Manage   []string `json:"manage"`         // where the publications went, in turn
	Workers  int      `json:"workers"`
	Channels int      `json:"channels"`
	Size     int      `json:"size"`
	Duration float64  `json:"durationSeconds"`
}

// FanoutSetup is the connection phase: how fast the subscribers came, and
// what they cost the server. Memory figures are the server's own, from its
// /metrics, before the first connection and Settle after the last.
type FanoutSetup struct {
	Protocol         string  `json:"protocol"`    // switchboard.v1 or pusher
	Connections      int     `json:"connections"` // subscribed
	Failed           int     `json:"failed"`
	FirstError       string  `json:"firstError,omitempty"`
	Workers          int     `json:"workers"`
	Channels         int     `json:"channels"`
	ConnectSeconds   float64 `json:"connectSeconds"` // first dial to last subscription reply
	ConnectsPerSec   float64 `json:"connectsPerSec"`
	RSSBefore        float64 `json:"rssBefore"` // bytes
	RSSAfter         float64 `json:"rssAfter"`
	HeapMetric       string  `json:"heapMetric"` // what HeapBefore/After are: live heap after a GC, or heap in use (heap.go)
	HeapBefore       float64 `json:"heapBefore"`
	HeapAfter        float64 `json:"heapAfter"`
	GoroutinesBefore float64 `json:"goroutinesBefore"`
	GoroutinesAfter  float64 `json:"goroutinesAfter"`
	ToolCPUSeconds   float64 `json:"toolCpuSeconds"` // workers and coordinator, connecting
	// Nodes, with several URLs, are each node's share; the memory and
	// goroutine figures above are then their sums.
	Nodes []NodeSetup `json:"nodes,omitempty"`
}

// NodeSetup is one node's connections and memory, from its /metrics.
type NodeSetup struct {
	URL              string  `json:"url"`
	Connections      int     `json:"connections"` // subscribed to it
	RSSBefore        float64 `json:"rssBefore"`
	RSSAfter         float64 `json:"rssAfter"`
	HeapMetric       string  `json:"heapMetric"`
	HeapBefore       float64 `json:"heapBefore"`
	HeapAfter        float64 `json:"heapAfter"`
	GoroutinesBefore float64 `json:"goroutinesBefore"`
	GoroutinesAfter  float64 `json:"goroutinesAfter"`
}

// String formats one node's setup for people.
func (n NodeSetup) String() string {
	return fmt.Sprintf("  %s: %d connections\n  %s\n  %s\n  goroutines %.0f -> %.0f",
		n.URL, n.Connections,
		memLine("server RSS", n.RSSBefore, n.RSSAfter, n.Connections, ""),
		heapLine(n.HeapMetric, n.HeapBefore, n.HeapAfter, n.Connections),
		n.GoroutinesBefore, n.GoroutinesAfter)
}

// NodeStep is one node's share of a step (several URLs).
type NodeStep struct {
	URL         string    `json:"url"`
	Subscribers int       `json:"subscribers"`
	Received    uint64    `json:"received"`  // deliveries to its subscribers
	PerSecond   float64   `json:"perSecond"` // received ÷ the step's Seconds
	Latency     Latencies `json:"latency"`
	ServerCPU   float64   `json:"serverCpu"` // cores, over the step's WallSeconds
	// CPUPerDelivery is the node's CPU time per delivery to its own
	// subscribers, in µs (0 when unknown).
	CPUPerDelivery float64 `json:"cpuMicrosPerDelivery"`
}

// String formats one node's step for people.
func (n NodeStep) String() string {
	return fmt.Sprintf("  %s: %d subscribers, %d received (%.0f/s), CPU %.2f cores (%.2fµs per delivery)\n    latency %s",
		n.URL, n.Subscribers, n.Received, n.PerSecond, n.ServerCPU, n.CPUPerDelivery, n.Latency)
}

// RSSPerConn is the server's resident memory per subscribed connection, in
// bytes.
func (s FanoutSetup) RSSPerConn() float64 {
	return (s.RSSAfter - s.RSSBefore) / float64(max(s.Connections, 1))
}

// HeapPerConn is the server's heap growth per subscribed connection, in
// bytes; ok is false when the heap did not grow (heap.go).
func (s FanoutSetup) HeapPerConn() (perConn float64, ok bool) {
	return heapPerConn(s.HeapBefore, s.HeapAfter, s.Connections)
}

// String formats the setup for people.
func (s FanoutSetup) String() string {
	n := float64(max(s.Connections, 1))
	str := fmt.Sprintf(`connections      %d %s subscribed to %d channel(s) by %d worker(s), %d failed, in %.2fs (%.0f/s)
%s
%s
goroutines       %.0f -> %.0f: %.3f per connection
tool CPU         %.2fs to connect`,
		s.Connections, cmp.Or(s.Protocol, "switchboard.v1"), s.Channels, s.Workers, s.Failed, s.ConnectSeconds, s.ConnectsPerSec,
		memLine("server RSS", s.RSSBefore, s.RSSAfter, s.Connections, ""),
		heapLine(s.HeapMetric, s.HeapBefore, s.HeapAfter, s.Connections),
		s.GoroutinesBefore, s.GoroutinesAfter, (s.GoroutinesAfter-s.GoroutinesBefore)/n,
		s.ToolCPUSeconds)
	if len(s.Nodes) > 0 {
		str += "\nper node"
		for _, n := range s.Nodes {
			str += "\n" + n.String()
		}
	}
	if s.FirstError != "" {
		str += "\nfirst error      " + s.FirstError
	}
	return str
}

// FanoutStep is one publishing step at a fixed rate.
type FanoutStep struct {
	Rate        float64 `json:"rate"`    // publications per second, scheduled
	Seconds     float64 `json:"seconds"` // publishing time
	Subscribers int     `json:"subscribers"`

	Publications int       `json:"publications"` // scheduled
	Sent         int       `json:"sent"`         // answered 2xx
	Failed       int       `json:"failed"`       // answered otherwise or not at all
	Overloaded   int       `json:"overloaded"`   // waited for a free slot: the publisher fell behind
	Skipped      int       `json:"skipped"`      // not sent: too many were waiting
	PublishLag   Latencies `json:"publishLag"`   // due time to the start of the POST

	Expected   uint64  `json:"expected"` // deliveries: sent × the channel's subscribers
	Received   uint64  `json:"received"`
	Missing    uint64  `json:"missing"`    // expected − received, when positive
	Stale      uint64  `json:"stale"`      // deliveries of the step before, arriving late
	Other      uint64  `json:"other"`      // messages that were not pubs
	PerSecond  float64 `json:"perSecond"`  // received ÷ Seconds
	PerConnMin uint64  `json:"perConnMin"` // pubs received by the least served connection
	PerConnMax uint64  `json:"perConnMax"`
	LostConns  int     `json:"lostConnections"`
	Errors     uint64  `json:"errors"` // client-side protocol errors

	Latency Latencies `json:"latency"` // due time to receipt

	WallSeconds        float64 `json:"wallSeconds"`        // publishing and waiting for the last deliveries
	ServerCPU          float64 `json:"serverCpu"`          // cores: the server's CPU seconds ÷ WallSeconds
	ToolCPU            float64 `json:"toolCpu"`            // cores, workers and coordinator
	WorkersCPU         float64 `json:"workersCpu"`         // cores
	CoordinatorCPU     float64 `json:"coordinatorCpu"`     // cores
	ServerCPUAvailable bool    `json:"serverCpuAvailable"` // the server exports process_cpu_seconds_total
	// CPUPressure is the share of WallSeconds in which some runnable task
	// of the machine waited for a CPU (Linux PSI, /proc/pressure/cpu);
	// -1 when unknown. Much above 0, the server and the tool were short
	// of CPU (or other work on the machine took it) and the latencies
	// include waiting for a CPU.
	CPUPressure float64 `json:"cpuPressure"`
	FirstError  string  `json:"firstError,omitempty"`
	// LoadAverage is the machine's 1-minute load average at the step's
	// end (/proc/loadavg; -1 when unknown).
	LoadAverage float64 `json:"loadAverage"`
	// Nodes, with several URLs, are each node's share; ServerCPU is then
	// their sum.
	Nodes []NodeStep `json:"nodes,omitempty"`
	// Redis, with FanoutOptions.Redis, is what the Redis servers did.
	Redis *RedisStep `json:"redis,omitempty"`
	// Protocols, with some workers speaking Pusher and others
	// switchboard.v1 (FanoutOptions.PusherWorkers), are each protocol's
	// deliveries of the same publications.
	Protocols []ProtocolStep `json:"protocols,omitempty"`
}

// ProtocolStep is one protocol's share of a step.
type ProtocolStep struct {
	Protocol    string    `json:"protocol"` // switchboard.v1 or pusher
	Subscribers int       `json:"subscribers"`
	Received    uint64    `json:"received"`
	Latency     Latencies `json:"latency"`
}

// Latencies summarise a Histogram, in milliseconds.
type Latencies struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

func latencies(h *Histogram) Latencies {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return Latencies{
		Count: h.Count(),
		P50:   ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Mean: ms(h.Mean()),
	}
}

func (l Latencies) String() string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)",
		fmtMillis(l.P50), fmtMillis(l.P90), fmtMillis(l.P99), fmtMillis(l.P999), fmtMillis(l.Max), fmtMillis(l.Mean))
}

func fmtMillis(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 1000:
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

// String formats the step for people.
func (s FanoutStep) String() string {
	server, pressure := "n/a", "n/a"
	if s.ServerCPUAvailable {
		server = fmt.Sprintf("%.2f cores", s.ServerCPU)
	}
	if s.CPUPressure >= 0 {
		pressure = fmt.Sprintf("%.0f%%", 100*s.CPUPressure)
	}
	str := fmt.Sprintf(`rate %g/s for %gs to %d subscribers
publications     %d sent, %d failed, %d waited for a slot, %d skipped; publisher lag p99 %s max %s
deliveries       %d expected, %d received: %.0f/s; %d missing, %d stale, %d other
per connection   %d to %d pubs; %d connection(s) lost, %d protocol error(s)
latency          %s
CPU              server %s, tool %.2f cores (workers %.2f, coordinator %.2f) over %.1fs; CPU pressure %s; load average %.2f`,
		s.Rate, s.Seconds, s.Subscribers,
		s.Sent, s.Failed, s.Overloaded, s.Skipped, fmtMillis(s.PublishLag.P99), fmtMillis(s.PublishLag.Max),
		s.Expected, s.Received, s.PerSecond, s.Missing, s.Stale, s.Other,
		s.PerConnMin, s.PerConnMax, s.LostConns, s.Errors,
		s.Latency,
		server, s.ToolCPU, s.WorkersCPU, s.CoordinatorCPU, s.WallSeconds, pressure, s.LoadAverage)
	if s.Redis != nil {
		str += "\n" + s.Redis.String()
	}
	if len(s.Protocols) > 0 {
		str += "\nper protocol"
		for _, p := range s.Protocols {
			str += fmt.Sprintf("\n  %s: %d subscribers, %d received\n    latency %s", p.Protocol, p.Subscribers, p.Received, p.Latency)
		}
	}
	if len(s.Nodes) > 0 {
		str += "\nper node"
		for _, n := range s.Nodes {
			str += "\n" + n.String()
		}
	}
	if s.FirstError != "" {
		str += "\nfirst error      " + s.FirstError
	}
	return str
}

// Fanout measures fan-out: it opens opts.Connections subscribers in worker
// processes, reads the server's memory, then for each rate publishes to
// the channel(s) through the management API for opts.Duration and
// measures every delivery's latency from its due time.
func Fanout(ctx context.Context, opts FanoutOptions) (FanoutResult, error) {
	if err := opts.applyDefaults(); err != nil {
		return FanoutResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	res := FanoutResult{Opts: FanoutSummary{
		URL: opts.URLs[0], Workers: opts.Workers, Channels: opts.Channels,
		Size: opts.Size, Duration: opts.Duration.Seconds(),
	}}
	if len(opts.URLs) > 1 {
		res.Opts.URLs = opts.URLs
	}
	res.Opts.Protocol, res.Opts.Publish = "switchboard.v1", "management API"
	if opts.PusherKey != "" {
		res.Opts.Protocol = "pusher"
		if opts.PusherWorkers > 0 && opts.PusherWorkers < opts.Workers {
			res.Opts.Protocol = fmt.Sprintf("pusher (%d workers) and switchboard.v1 (%d)", opts.PusherWorkers, opts.Workers-opts.PusherWorkers)
		}
	}
	if opts.PusherAppID != "" {
		res.Opts.Publish = "Pusher HTTP API"
	}
	progress := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}
	before, err := scrapeAll(ctx, opts.NodeMetrics)
	if err != nil {
		return res, err
	}
	s := &res.Setup
	s.Workers, s.Channels, s.Protocol = opts.Workers, opts.Channels, res.Opts.Protocol

	ws, err := startWorkers(opts)
	defer ws.stop()
	if err != nil {
		return res, err
	}
	progress("connecting %d subscribers with %d worker(s) to %d node(s)", opts.Connections, len(ws.procs), len(opts.URLs))
	cpu0 := coordinatorCPU()
	if err := ws.connect(ctx, opts); err != nil {
		return res, err
	}
	s.Connections, s.Failed, s.FirstError = ws.connected, ws.failed, ws.firstErr
	s.ConnectSeconds = float64(ws.lastSub-ws.firstDial) / 1e9
	if s.ConnectSeconds > 0 {
		s.ConnectsPerSec = float64(s.Connections) / s.ConnectSeconds
	}
	s.ToolCPUSeconds = float64(ws.cpuDelta()+coordinatorCPU()-cpu0) / 1e9
	if s.Failed > 0 {
		if opts.OnSetup != nil {
			opts.OnSetup(*s)
		}
		return res, fmt.Errorf("%d connections failed, the first with: %s", s.Failed, s.FirstError)
	}
	progress("%d subscribed in %.2fs; settling for %s", s.Connections, s.ConnectSeconds, opts.Settle)
	open, err := scrapeAll(ctx, opts.NodeMetrics) // the GC count once every connection is open
	if err != nil {
		return res, err
	}
	select {
	case <-time.After(opts.Settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	after, err := scrapeAll(ctx, opts.NodeMetrics)
	if err != nil {
		return res, err
	}
	if len(opts.URLs) == 1 {
		s.RSSBefore, s.RSSAfter = before[0]["process_resident_memory_bytes"], after[0]["process_resident_memory_bytes"]
		s.HeapMetric, s.HeapBefore, s.HeapAfter = heapFigure(before[0], open[0], after[0])
		s.GoroutinesBefore, s.GoroutinesAfter = before[0]["go_goroutines"], after[0]["go_goroutines"]
	} else {
		c, err := ws.count(ctx)
		if err != nil {
			return res, err
		}
		var metrics []string
		for i, u := range opts.URLs {
			n := NodeSetup{URL: u, Connections: c.perNode[i]}
			n.RSSBefore, n.RSSAfter = before[i]["process_resident_memory_bytes"], after[i]["process_resident_memory_bytes"]
			n.HeapMetric, n.HeapBefore, n.HeapAfter = heapFigure(before[i], open[i], after[i])
			n.GoroutinesBefore, n.GoroutinesAfter = before[i]["go_goroutines"], after[i]["go_goroutines"]
			s.Nodes = append(s.Nodes, n)
			s.RSSBefore += n.RSSBefore
			s.RSSAfter += n.RSSAfter
			s.HeapBefore += n.HeapBefore
			s.HeapAfter += n.HeapAfter
			s.GoroutinesBefore += n.GoroutinesBefore
			s.GoroutinesAfter += n.GoroutinesAfter
			if !slices.Contains(metrics, n.HeapMetric) {
				metrics = append(metrics, n.HeapMetric)
			}
		}
		s.HeapMetric = strings.Join(metrics, " / ") + " (summed over the nodes)"
	}
	if opts.OnSetup != nil {
		opts.OnSetup(*s)
	}

	stage, _, _ := strings.Cut(strings.TrimPrefix(mustParse(opts.URLs[0]).Path, "/"), "/")
	names := opts.channelNames()
	manage := []string{opts.Manage}
	if opts.PublishRoundRobin {
		manage = manage[:0]
		for _, u := range opts.URLs {
			manage = append(manage, "http://"+mustParse(u).Host)
		}
	}
	res.Opts.Manage = manage
	pub := &publisher{
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConns:        opts.InFlight,
			MaxIdleConnsPerHost: opts.InFlight,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}, Timeout: 30 * time.Second},
		urls:     make([][]string, len(names)),
		apiKey:   opts.APIKey,
		size:     opts.Size,
		inFlight: opts.InFlight,
	}
	defer pub.client.CloseIdleConnections()
	for i, name := range names {
		for _, m := range manage {
			pub.urls[i] = append(pub.urls[i], m+"/"+url.PathEscape(stage)+"/@channels/"+url.PathEscape(name))
		}
	}
	if opts.PusherAppID != "" {
		pub.pusher = &pusherPublisher{appID: opts.PusherAppID, key: opts.PusherKey, secret: opts.PusherSecret, channels: names, bases: manage}
	}
	for i, rate := range opts.Rates {
		progress("step %d of %d: %g publications/s for %s", i+1, len(opts.Rates), rate, opts.Duration)
		st, err := runStep(ctx, opts, ws, pub, rate)
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, st)
		if opts.OnStep != nil {
			opts.OnStep(st)
		}
	}
	return res, nil
}

func mustParse(s string) *url.URL {
	u, _ := url.Parse(s) // checked by applyDefaults
	return u
}

// runStep publishes at rate for opts.Duration, waits for the deliveries,
// and collects the workers' figures.
func runStep(ctx context.Context, opts FanoutOptions, ws *workerSet, pub *publisher, rate float64) (FanoutStep, error) {
	st := FanoutStep{Rate: rate, Seconds: opts.Duration.Seconds()}
	c0, err := ws.count(ctx)
	if err != nil {
		return st, err
	}
	for _, n := range c0.perChannel {
		st.Subscribers += n
	}
	var redis0 redisSample
	if len(opts.Redis) > 0 {
		if redis0, err = readRedisAll(ctx, opts.Redis); err != nil {
			return st, err
		}
	}
	ws.cpuDelta()
	serverCPU0, serverCPUOK := scrapeCPUs(ctx, opts.NodeMetrics)
	cpu0 := coordinatorCPU()
	stall0, stallOK := cpuStall()
	start := time.Now()

	ps := pub.run(ctx, rate, opts.Duration)
	st.Publications, st.Sent, st.Failed = ps.scheduled, ps.sent, ps.failed
	st.Overloaded, st.Skipped = ps.overloaded, ps.skipped
	st.PublishLag = latencies(&ps.lag)
	for ch, n := range ps.okPerChannel {
		st.Expected += uint64(n) * uint64(c0.perChannel[ch])
	}
	// Wait for the deliveries still on their way, polling the workers.
	graceEnd := time.Now().Add(opts.Grace)
	for ctx.Err() == nil && time.Now().Before(graceEnd) {
		c, err := ws.count(ctx)
		if err != nil {
			return st, err
		}
		if c.received >= st.Expected {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	rep, err := ws.report(ctx, time.Now().UnixNano())
	if err != nil {
		return st, err
	}
	wall := time.Since(start).Seconds()
	st.WallSeconds = wall
	st.WorkersCPU = float64(ws.cpuDelta()) / 1e9 / wall
	st.CoordinatorCPU = float64(coordinatorCPU()-cpu0) / 1e9 / wall
	st.ToolCPU = st.WorkersCPU + st.CoordinatorCPU
	st.CPUPressure = -1
	if stall1, ok := cpuStall(); ok && stallOK {
		st.CPUPressure = (stall1 - stall0).Seconds() / wall
	}
	st.LoadAverage = loadAverage()
	serverCPU1, ok := scrapeCPUs(ctx, opts.NodeMetrics)
	if ok && serverCPUOK {
		st.ServerCPUAvailable = true
		for i := range serverCPU1 {
			st.ServerCPU += (serverCPU1[i] - serverCPU0[i]) / wall
		}
	}
	if len(opts.Redis) > 0 {
		redis1, err := readRedisAll(ctx, opts.Redis)
		if err != nil {
			return st, err
		}
		r := redisDelta(redis0, redis1, st.Sent)
		if r.ShardSubscribers, err = shardSubscribers(ctx, opts.Redis, opts.channelNames()); err != nil {
			return st, err
		}
		st.Redis = &r
	}
	st.Received, st.Stale, st.Other, st.Errors = rep.Received, rep.Stale, rep.Other, rep.Errors
	st.PerConnMin, st.PerConnMax, st.LostConns = rep.PerConnMin, rep.PerConnMax, rep.Lost
	if st.Expected > st.Received {
		st.Missing = st.Expected - st.Received
	}
	st.PerSecond = float64(st.Received) / st.Seconds
	st.Latency = latencies(rep.Histogram)
	st.Protocols = ws.byProtocol
	st.FirstError = cmp.Or(ps.firstErr, rep.Error)
	if len(opts.URLs) > 1 {
		for i, u := range opts.URLs {
			n := NodeStep{URL: u, Subscribers: c0.perNode[i]}
			if i < len(rep.NodeReceived) {
				n.Received = rep.NodeReceived[i]
				n.Latency = latencies(rep.NodeHists[i])
			}
			n.PerSecond = float64(n.Received) / st.Seconds
			if st.ServerCPUAvailable {
				n.ServerCPU = (serverCPU1[i] - serverCPU0[i]) / wall
				if n.Received > 0 {
					n.CPUPerDelivery = (serverCPU1[i] - serverCPU0[i]) * 1e6 / float64(n.Received)
				}
			}
			st.Nodes = append(st.Nodes, n)
		}
	}
	return st, nil
}

// scrapeAll reads each metrics endpoint.
func scrapeAll(ctx context.Context, urls []string) ([]map[string]float64, error) {
	out := make([]map[string]float64, len(urls))
	for i, u := range urls {
		m, err := scrape(ctx, u)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// scrapeCPUs reads every node's process_cpu_seconds_total; ok is false
// when one is missing.
func scrapeCPUs(ctx context.Context, urls []string) ([]float64, bool) {
	out := make([]float64, len(urls))
	for i, u := range urls {
		v, ok := scrapeCPU(ctx, u)
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// loadAverage is the machine's 1-minute load average, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return -1
	}
	return v
}

// scrapeCPU reads the server's process_cpu_seconds_total.
func scrapeCPU(ctx context.Context, metricsURL string) (float64, bool) {
	m, err := scrape(ctx, metricsURL)
	if err != nil {
		return 0, false
	}
	v, ok := m["process_cpu_seconds_total"]
	return v, ok
}

// cpuStall is the total time some task of the machine waited for a CPU
// (the "some" line of /proc/pressure/cpu).
func cpuStall() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	_, total, ok := strings.Cut(line, "total=")
	if !ok || !strings.HasPrefix(line, "some ") {
		return 0, false
	}
	us, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(us) * time.Microsecond, true
}

// coordinatorCPU is this process's CPU time, user and system, in ns.
func coordinatorCPU() int64 {
	u, s := processCPU()
	return u + s
}
