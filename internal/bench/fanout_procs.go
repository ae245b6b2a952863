package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// workerProc is one fan-out worker process as the coordinator sees it.
// Only the coordinator's goroutine uses it (see childProc).
type workerProc struct {
	*childProc[workerReply]

	first, n int      // its connections' global indexes: first … first+n-1
	pusher   bool     // its connections speak Pusher (FanoutOptions.PusherKey, PusherWorkers)
	sources  []string // the local addresses it dials from
	cpu      int64    // its CPU time (ns) as of its last reply
	cpuSeen  int64    // cpu as of the last cpuDelta
}

// workerSet is the coordinator's side of all the workers.
type workerSet struct {
	procs     []*workerProc
	connected int
	failed    int
	firstErr  string
	firstDial int64 // unix ns
	lastSub   int64 // unix ns
	// byProtocol, when the workers are mixed, is the last report's
	// figures by protocol.
	byProtocol []ProtocolStep
}

// startWorkers starts opts.Workers worker processes and shares the
// connections and the source addresses among them. The set it returns,
// even with an error, must be stopped.
func startWorkers(opts FanoutOptions) (*workerSet, error) {
	ws := &workerSet{}
	for i := range opts.Workers {
		p, err := startWorker(i, opts)
		if err != nil {
			return ws, err
		}
		p.first, p.n, p.sources = shareOut(i, opts.Workers, opts.Connections, opts.Sources)
		p.pusher = opts.PusherKey != "" && (opts.PusherWorkers == 0 || i < opts.PusherWorkers)
		ws.procs = append(ws.procs, p)
	}
	return ws, nil
}

func startWorker(id int, opts FanoutOptions) (*workerProc, error) {
	cp, err := startChild[workerReply](id, opts.WorkerCommand, opts.WorkerEnv, opts.Stderr)
	if err != nil {
		return nil, err
	}
	return &workerProc{childProc: cp}, nil
}

// recv waits for the worker's next reply, which must be of type want.
func (p *workerProc) recv(ctx context.Context, want string) (workerReply, error) {
	r, err := p.next(ctx)
	if err != nil {
		return r, err
	}
	p.cpu = r.CPUUser + r.CPUSys
	if r.Type == "error" {
		return r, fmt.Errorf("worker %d: %s", p.id, r.Error)
	}
	if r.Type != want {
		return r, fmt.Errorf("worker %d answered %q, want %q", p.id, r.Type, want)
	}
	return r, nil
}

// all sends c to every worker (mk makes each one's command), then
// collects one reply of type want from each.
func (ws *workerSet) all(ctx context.Context, mk func(p *workerProc) workerCommand, want string) ([]workerReply, error) {
	for _, p := range ws.procs {
		if err := p.send(mk(p)); err != nil {
			return nil, err
		}
	}
	out := make([]workerReply, len(ws.procs))
	var firstErr error
	for i, p := range ws.procs {
		r, err := p.recv(ctx, want)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		out[i] = r
	}
	return out, firstErr
}

// connect has every worker open and subscribe its connections.
func (ws *workerSet) connect(ctx context.Context, opts FanoutOptions) error {
	deadline := time.Now().Add(opts.Timeout + time.Minute).UnixNano()
	names := opts.channelNames()
	rs, err := ws.all(ctx, func(p *workerProc) workerCommand {
		c := workerCommand{
			Cmd: cmdConnect, URL: opts.URLs[0], Sources: p.sources,
			Connections: p.n, First: p.first, Channels: names,
			Concurrency: opts.Concurrency, Loops: opts.Loops, Deadline: deadline,
		}
		if len(opts.URLs) > 1 {
			c.URL, c.URLs = "", slices.Clone(opts.URLs)
		}
		if p.pusher {
			c.Pusher = true
			if c.URL != "" {
				c.URL = pusherURL(mustParse(c.URL), opts.PusherKey).String()
			}
			for i, u := range c.URLs {
				c.URLs[i] = pusherURL(mustParse(u), opts.PusherKey).String()
			}
		}
		return c
	}, "ready")
	if err != nil {
		return err
	}
	for i, r := range rs {
		ws.connected += r.Connected
		ws.failed += r.Failed
		if ws.firstErr == "" && r.Error != "" {
			ws.firstErr = fmt.Sprintf("worker %d: %s", i, r.Error)
		}
		if r.FirstDialAt > 0 && (ws.firstDial == 0 || r.FirstDialAt < ws.firstDial) {
			ws.firstDial = r.FirstDialAt
		}
		ws.lastSub = max(ws.lastSub, r.LastSubscribedAt)
	}
	return nil
}

// counts are the workers' counters, summed.
type counts struct {
	perChannel []int  // live subscribers by channel
	perNode    []int  // live subscribers by node
	received   uint64 // deliveries since the last report
}

// count reports the live subscribers by channel and by node, and the
// deliveries since the last report.
func (ws *workerSet) count(ctx context.Context) (counts, error) {
	var c counts
	rs, err := ws.all(ctx, func(*workerProc) workerCommand { return workerCommand{Cmd: cmdCount} }, "count")
	if err != nil {
		return c, err
	}
	for _, r := range rs {
		if c.perChannel == nil {
			c.perChannel = make([]int, len(r.PerChannel))
		}
		if c.perNode == nil {
			c.perNode = make([]int, len(r.PerNode))
		}
		for i, n := range r.PerChannel {
			c.perChannel[i] += n
		}
		for i, n := range r.PerNode {
			if i < len(c.perNode) {
				c.perNode[i] += n
			}
		}
		c.received += r.Received
	}
	return c, nil
}

// report collects the workers' figures since the last report, merged, and
// resets them; deliveries published before floor (unix ns) will count as
// stale.
func (ws *workerSet) report(ctx context.Context, floor int64) (workerReply, error) {
	rs, err := ws.all(ctx, func(*workerProc) workerCommand { return workerCommand{Cmd: cmdReport, Floor: floor} }, "stats")
	if err != nil {
		return workerReply{}, err
	}
	ws.byProtocol = nil
	sum := workerReply{Type: "stats", Histogram: &Histogram{}}
	var errs []string
	first := true
	for i, r := range rs {
		sum.Received += r.Received
		sum.Lost += r.Lost
		sum.Other += r.Other
		sum.Stale += r.Stale
		sum.Errors += r.Errors
		if r.Histogram != nil {
			sum.Histogram.Merge(r.Histogram)
		}
		if sum.NodeReceived == nil && len(r.NodeReceived) > 0 {
			sum.NodeReceived = make([]uint64, len(r.NodeReceived))
			sum.NodeHists = make([]*Histogram, len(r.NodeReceived))
			for j := range sum.NodeHists {
				sum.NodeHists[j] = &Histogram{}
			}
		}
		for j := range min(len(r.NodeReceived), len(sum.NodeReceived), len(r.NodeHists)) {
			sum.NodeReceived[j] += r.NodeReceived[j]
			if r.NodeHists[j] != nil {
				sum.NodeHists[j].Merge(r.NodeHists[j])
			}
		}
		if ws.procs[i].n > 0 {
			if first || r.PerConnMin < sum.PerConnMin {
				sum.PerConnMin = r.PerConnMin
			}
			first = false
		}
		sum.PerConnMax = max(sum.PerConnMax, r.PerConnMax)
		if r.Error != "" {
			errs = append(errs, fmt.Sprintf("worker %d: %s", i, r.Error))
		}
	}
	sum.Error = strings.Join(errs, "; ")
	if ws.mixed() {
		for _, proto := range []string{"switchboard.v1", "pusher"} {
			ps := ProtocolStep{Protocol: proto}
			h := &Histogram{}
			for i, r := range rs {
				if ws.procs[i].pusher != (proto == "pusher") {
					continue
				}
				ps.Subscribers += ws.procs[i].n
				ps.Received += r.Received
				if r.Histogram != nil {
					h.Merge(r.Histogram)
				}
			}
			ps.Latency = latencies(h)
			ws.byProtocol = append(ws.byProtocol, ps)
		}
	}
	return sum, nil
}

// mixed reports whether some workers hold Pusher connections and others
// switchboard.v1 connections.
func (ws *workerSet) mixed() bool {
	var pusher, v1 bool
	for _, p := range ws.procs {
		pusher = pusher || p.pusher
		v1 = v1 || !p.pusher
	}
	return pusher && v1
}

// cpuDelta is the workers' CPU time, in ns, since the last call, as of
// their last replies.
func (ws *workerSet) cpuDelta() int64 {
	var d int64
	for _, p := range ws.procs {
		d += p.cpu - p.cpuSeen
		p.cpuSeen = p.cpu
	}
	return d
}

// stop asks every worker to close its connections and exit, and kills
// those that do not within workerStopWait.
func (ws *workerSet) stop() {
	if ws == nil {
		return
	}
	stopChildren(ws.procs, workerCommand{Cmd: cmdStop}, func(p *workerProc) *childProc[workerReply] { return p.childProc })
	ws.procs = nil
}
