package bench

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ManageOptions configure a management POST throughput measurement: a
// closed loop of POST /{stage}/@connections/{id} on keep-alive
// connections, against a running Switchboard and, interleaved round by
// round, against a no-op net/http server (the floor) driven by the same
// client code, and optionally against the frame floor: the no-op server
// that also writes each post to a WebSocket connection, as a frame.
type ManageOptions struct {
	// URL is the Switchboard endpoint with its stage
	// (http://host:port/stage). Required.
	URL string
	// Auth: APIKey is sent as "Authorization: Bearer"; AccessKeyID and
	// SecretAccessKey sign every request with SigV4 (the AWS SDK for Go
	// v2's signer, service execute-api, Region). Without either the
	// requests carry no credentials (a loopback server in development
	// mode).
	APIKey          string
	AccessKeyID     string
	SecretAccessKey string
	Region          string
	// Connections is how many keep-alive client connections post, each
	// one request at a time (closed loop). Default 16.
	Connections int
	// Receivers is how many WebSocket connections the posts go to, in
	// turn; the bench reads and discards what they receive. Default 1.
	Receivers int
	// Size is the POST body in bytes (a JSON string). Default 64.
	Size int
	// Requests bounds each round's requests; Duration its time. A round
	// ends at whichever comes first. Defaults 200,000 and 5s.
	Requests int
	Duration time.Duration
	// Rounds is how many rounds each target gets, alternating
	// switchboard, floor, switchboard, ... Default 3.
	Rounds int
	// Warmup is a round per target, not reported, before the first.
	// Default 1s (0 after applyDefaults means none: pass a negative value).
	Warmup time.Duration
	// ServerPID, when set (Linux), is the Switchboard's process id: each
	// round then reports the CPU time the server used per request, as
	// it does for the floor, whose process the bench starts.
	ServerPID int
	// NoFloor skips the no-op server (switchboard only).
	NoFloor bool
	// FrameFloor adds a third target, the frame floor (RunNoopServer
	// with deliver): what a server that does nothing but read the post
	// and write it to a WebSocket connection reaches on the same cores.
	FrameFloor bool
	// FloorCommand runs the no-op server: a program and arguments that end
	// up in RunNoopServer. Default: this executable with
	// "bench noop-server". Tests run their own binary.
	FloorCommand []string
	// Stderr receives the no-op server's standard error. Default os.Stderr.
	Stderr io.Writer
	// Progress, when set, receives a line per round.
	Progress io.Writer

	stage string
	host  string
}

func (o *ManageOptions) applyDefaults() error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "ws") || u.Host == "" {
		return fmt.Errorf("url %q: want http://host:port/stage", o.URL)
	}
	o.stage, _, _ = strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if o.stage == "" {
		return fmt.Errorf("url %q: the path must name the stage, as in http://host:port/production", o.URL)
	}
	o.host = u.Host
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return errors.New("give both the access key id and the secret access key, or neither")
	}
	if o.APIKey != "" && o.AccessKeyID != "" {
		return errors.New("give an API key or an access key, not both")
	}
	o.Region = cmp.Or(o.Region, "us-east-1")
	o.Connections = cmp.Or(o.Connections, 16)
	o.Receivers = cmp.Or(o.Receivers, 1)
	o.Size = cmp.Or(o.Size, 64)
	o.Requests = cmp.Or(o.Requests, 200000)
	o.Duration = cmp.Or(o.Duration, 5*time.Second)
	o.Rounds = cmp.Or(o.Rounds, 3)
	o.Warmup = cmp.Or(o.Warmup, time.Second)
	if o.Connections < 1 || o.Receivers < 1 || o.Size < 2 || o.Requests < 1 || o.Rounds < 1 || o.Duration <= 0 {
		return errors.New("connections, receivers, requests, rounds and duration must be positive, size at least 2")
	}
	if o.AccessKeyID != "" && max(o.Duration, o.Warmup) > 4*time.Minute {
		// Each round signs its requests once; the server accepts a
		// signature for 5 minutes around its date.
		return errors.New("with SigV4, a round (duration, warmup) may last at most 4m: its requests are signed once, when it starts")
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	return nil
}

// ManageRound is one round against one target.
type ManageRound struct {
	Target    string  `json:"target"` // "switchboard", "floor" or "frame-floor"
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
	P50       float64 `json:"p50ms"`
	P99       float64 `json:"p99ms"`
	// ResponseBytes is the size of one response (status line, headers,
	// body) as read.
	ResponseBytes int `json:"responseBytes"`
	// Delivered is how many messages the receivers got during the round
	// (switchboard and the frame floor).
	Delivered uint64 `json:"delivered,omitempty"`
	// Load1 is the 1-minute load average at the round's end (Linux).
	Load1 float64 `json:"load1,omitempty"`
	// ServerCPU is the target's CPU time (user + system) per request in
	// microseconds, ClientCPU the bench's own (posting and, against
	// Switchboard, reading the deliveries); 0 when unknown (Linux only;
	// Switchboard's needs ServerPID).
	ServerCPU float64 `json:"serverCpuUs,omitempty"`
	ClientCPU float64 `json:"clientCpuUs,omitempty"`
}

func (r ManageRound) String() string {
	s := fmt.Sprintf("%-11s %8.0f req/s  p50 %.3f ms  p99 %.3f ms  CPU/request server %.1f µs, bench %.1f µs  (%d requests, %d errors, %.1fs, response %d B, load %.2f)",
		r.Target, r.PerSecond, r.P50, r.P99, r.ServerCPU, r.ClientCPU, r.Requests, r.Errors, r.Seconds, r.ResponseBytes, r.Load1)
	if r.Target != "floor" {
		s += fmt.Sprintf(", %d delivered", r.Delivered)
	}
	return s
}

// ManageResult is the whole measurement.
type ManageResult struct {
	Connections int           `json:"connections"`
	Receivers   int           `json:"receivers"`
	Size        int           `json:"size"`
	Auth        string        `json:"auth"`
	Rounds      []ManageRound `json:"rounds"`
	// Median requests/s of each target and their ratio; the spread is
	// the lowest and highest round.
	Switchboard, Floor        float64
	SwitchboardMin, SwitchMax float64
	FloorMin, FloorMax        float64
	Ratio                     float64
	RatioMin, RatioMax        float64
	// The frame floor (with FrameFloor): its median requests/s and
	// spread, Switchboard's ratio to it, and its own ratio to the floor
	// (what delivering a frame costs on these cores).
	FrameFloor, FrameFloorMin, FrameFloorMax float64
	FrameRatio, FrameRatioMin, FrameRatioMax float64
	FrameFloorRatio                          float64
	// Median CPU time per request (µs) of each target, 0 when unknown.
	SwitchboardCPU, FloorCPU, FrameFloorCPU float64
}

func (r ManageResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d client connections, %d receivers, %d-byte bodies, auth %s\n", r.Connections, r.Receivers, r.Size, r.Auth)
	for _, rd := range r.Rounds {
		b.WriteString(rd.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "switchboard median %.0f req/s (%.0f–%.0f)\n", r.Switchboard, r.SwitchboardMin, r.SwitchMax)
	if r.Floor > 0 {
		fmt.Fprintf(&b, "floor       median %.0f req/s (%.0f–%.0f)\n", r.Floor, r.FloorMin, r.FloorMax)
		fmt.Fprintf(&b, "ratio       %.2f× the floor (per-round pairs %.2f–%.2f)\n", r.Ratio, r.RatioMin, r.RatioMax)
	}
	if r.FrameFloor > 0 {
		fmt.Fprintf(&b, "frame floor median %.0f req/s (%.0f–%.0f), %.2f× the floor\n", r.FrameFloor, r.FrameFloorMin, r.FrameFloorMax, r.FrameFloorRatio)
		fmt.Fprintf(&b, "ratio       %.2f× the frame floor (per-round pairs %.2f–%.2f)\n", r.FrameRatio, r.FrameRatioMin, r.FrameRatioMax)
	}
	if r.SwitchboardCPU > 0 && r.FloorCPU > 0 {
		fmt.Fprintf(&b, "server CPU per request: switchboard %.1f µs, floor %.1f µs (%.2f×)", r.SwitchboardCPU, r.FloorCPU, r.SwitchboardCPU/r.FloorCPU)
		if r.FrameFloorCPU > 0 {
			fmt.Fprintf(&b, ", frame floor %.1f µs", r.FrameFloorCPU)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Manage runs the measurement.
func Manage(ctx context.Context, o ManageOptions) (ManageResult, error) {
	if err := o.applyDefaults(); err != nil {
		return ManageResult{}, err
	}
	res := ManageResult{Connections: o.Connections, Receivers: o.Receivers, Size: o.Size, Auth: "none"}
	switch {
	case o.APIKey != "":
		res.Auth = "api-key"
	case o.AccessKeyID != "":
		res.Auth = "sigv4"
	}
	recv, err := openReceivers(ctx, o)
	if err != nil {
		return res, err
	}
	defer recv.close()

	targets := []string{"switchboard"}
	floors := map[string]*noopProcess{}
	recvOf := map[string]*receivers{"switchboard": recv}
	if !o.NoFloor {
		floor, err := startNoop(ctx, o, false)
		if err != nil {
			return res, err
		}
		defer floor.stop()
		targets = append(targets, "floor")
		floors["floor"] = floor
	}
	if o.FrameFloor {
		ff, err := startNoop(ctx, o, true)
		if err != nil {
			return res, err
		}
		defer ff.stop()
		fr, err := openFloorReceivers(ctx, o, ff.addr)
		if err != nil {
			return res, err
		}
		defer fr.close()
		targets = append(targets, "frame-floor")
		floors["frame-floor"] = ff
		recvOf["frame-floor"] = fr
	}
	hostOf := func(t string) string {
		if p := floors[t]; p != nil {
			return p.addr
		}
		return o.host
	}
	pidOf := func(t string) int {
		if p := floors[t]; p != nil {
			return p.cmd.Process.Pid
		}
		return o.ServerPID
	}
	if o.Warmup > 0 {
		for _, t := range targets {
			if _, err := manageRound(ctx, o, t, hostOf(t), pidOf(t), recv.ids, recvOf[t], o.Warmup); err != nil {
				return res, fmt.Errorf("warmup against %s: %w", t, err)
			}
		}
	}
	for i := range o.Rounds {
		for _, t := range targets {
			if i%2 == 1 {
				// Alternate which target goes first, so that neither always
				// follows the other.
				t = targets[len(targets)-1-slices.Index(targets, t)]
			}
			rd, err := manageRound(ctx, o, t, hostOf(t), pidOf(t), recv.ids, recvOf[t], o.Duration)
			if err != nil {
				return res, fmt.Errorf("round %d against %s: %w", i+1, t, err)
			}
			res.Rounds = append(res.Rounds, rd)
			if o.Progress != nil {
				fmt.Fprintln(o.Progress, rd)
			}
		}
	}
	res.summarize()
	return res, nil
}

func (r *ManageResult) summarize() {
	rate := map[string][]float64{}
	cpu := map[string][]float64{}
	for _, rd := range r.Rounds {
		rate[rd.Target] = append(rate[rd.Target], rd.PerSecond)
		if rd.ServerCPU != 0 {
			cpu[rd.Target] = append(cpu[rd.Target], rd.ServerCPU)
		}
	}
	sb, fl, ff := rate["switchboard"], rate["floor"], rate["frame-floor"]
	r.Switchboard, r.SwitchboardMin, r.SwitchMax = medianSpread(sb)
	r.SwitchboardCPU, _, _ = medianSpread(cpu["switchboard"])
	r.FloorCPU, _, _ = medianSpread(cpu["floor"])
	r.FrameFloorCPU, _, _ = medianSpread(cpu["frame-floor"])
	if len(fl) > 0 {
		r.Floor, r.FloorMin, r.FloorMax = medianSpread(fl)
		r.Ratio = r.Switchboard / r.Floor
		r.RatioMin, r.RatioMax = pairSpread(sb, fl)
	}
	if len(ff) > 0 {
		r.FrameFloor, r.FrameFloorMin, r.FrameFloorMax = medianSpread(ff)
		r.FrameRatio = r.Switchboard / r.FrameFloor
		r.FrameRatioMin, r.FrameRatioMax = pairSpread(sb, ff)
		if r.Floor > 0 {
			r.FrameFloorRatio = r.FrameFloor / r.Floor
		}
	}
}

// pairSpread is the lowest and highest ratio a[i]/b[i] of the per-round
// pairs (round i of one target against round i of the other).
func pairSpread(a, b []float64) (lo, hi float64) {
	for i := range min(len(a), len(b)) {
		q := a[i] / b[i]
		if i == 0 || q < lo {
			lo = q
		}
		hi = max(hi, q)
	}
	return lo, hi
}

func medianSpread(v []float64) (med, lo, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return med, s[0], s[len(s)-1]
}

// manageRound drives one target for d or o.Requests requests: posts to
// the connections ids (Switchboard's: the floors get the same bytes),
// whose deliveries recv counts (nil for the floor, which delivers
// nothing).
func manageRound(ctx context.Context, o ManageOptions, target, host string, pid int, ids []string, recv *receivers, d time.Duration) (ManageRound, error) {
	reqs, err := buildRequests(o, host, ids)
	if err != nil {
		return ManageRound{}, err
	}
	rd := ManageRound{Target: target}
	var deliveredBefore uint64
	if recv != nil {
		deliveredBefore = recv.delivered.Load()
	}
	var (
		budget  atomic.Int64
		errs    atomic.Uint64
		mu      sync.Mutex
		hist    Histogram
		firstEr error
		respLen atomic.Int64
		wg      sync.WaitGroup
	)
	budget.Store(int64(o.Requests))
	conns := make([]net.Conn, o.Connections)
	for i := range conns {
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", host)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return rd, err
		}
		conns[i] = c
	}
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	serverCPU0, clientCPU0 := pidCPU(pid), pidCPU(os.Getpid())
	start := time.Now()
	for i, c := range conns {
		wg.Go(func() {
			defer c.Close()
			req := reqs[i%len(reqs)]
			br := bufio.NewReaderSize(c, 4096)
			var h Histogram
			for rctx.Err() == nil && budget.Add(-1) >= 0 {
				t0 := time.Now()
				if _, err := c.Write(req); err != nil {
					errs.Add(1)
					mu.Lock()
					firstEr = cmp.Or(firstEr, err)
					mu.Unlock()
					break
				}
				status, n, err := readResponse(br)
				h.Record(int64(time.Since(t0)))
				if err != nil || status != http.StatusOK {
					errs.Add(1)
					mu.Lock()
					firstEr = cmp.Or(firstEr, err, fmt.Errorf("status %d", status))
					mu.Unlock()
					if err != nil {
						break
					}
					continue
				}
				respLen.Store(int64(n))
			}
			mu.Lock()
			hist.Merge(&h)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	serverCPU1, clientCPU1 := pidCPU(pid), pidCPU(os.Getpid())
	rd.Requests = hist.Count()
	rd.Errors = errs.Load()
	rd.Seconds = elapsed.Seconds()
	rd.PerSecond = float64(rd.Requests-rd.Errors) / rd.Seconds
	rd.P50 = float64(hist.Quantile(0.50)) / 1e6
	rd.P99 = float64(hist.Quantile(0.99)) / 1e6
	rd.ResponseBytes = int(respLen.Load())
	rd.Load1 = max(loadAverage(), 0) // -1 (unknown) is left out of the JSON
	if n := float64(rd.Requests); n > 0 {
		if pid > 0 && serverCPU0 >= 0 && serverCPU1 >= 0 {
			rd.ServerCPU = (serverCPU1 - serverCPU0).Seconds() * 1e6 / n
		}
		if clientCPU0 >= 0 && clientCPU1 >= 0 {
			rd.ClientCPU = (clientCPU1 - clientCPU0).Seconds() * 1e6 / n
		}
	}
	if recv != nil {
		// Wait (bounded) for the deliveries still on their way.
		want := deliveredBefore + rd.Requests - rd.Errors
		for deadline := time.Now().Add(2 * time.Second); recv.delivered.Load() < want && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		rd.Delivered = recv.delivered.Load() - deliveredBefore
	}
	if rd.Errors > 0 && rd.Errors*100 > rd.Requests {
		return rd, fmt.Errorf("%d of %d requests failed: first %v", rd.Errors, rd.Requests, firstEr)
	}
	return rd, nil
}

// readResponse reads one HTTP/1.1 response with a Content-Length (or no
// body) and returns its status and size in bytes.
func readResponse(br *bufio.Reader) (status, n int, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, n, err
	}
	n += len(line)
	if len(line) < 12 || !strings.HasPrefix(string(line[:5]), "HTTP/") {
		return 0, n, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, n, fmt.Errorf("bad status line %q", line)
	}
	length := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return status, n, err
		}
		n += len(line)
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && strings.EqualFold(string(line[:15]), "Content-Length:") {
			if length, err = strconv.Atoi(strings.TrimSpace(string(line[15:]))); err != nil {
				return status, n, fmt.Errorf("bad Content-Length %q", line)
			}
		}
	}
	if length > 0 {
		if _, err := br.Discard(length); err != nil {
			return status, n, err
		}
		n += length
	}
	return status, n, nil
}

// buildRequests returns one raw request per receiver, signed now when the
// options ask for SigV4 (a signature is valid for 5 minutes either side
// of its date, as the server checks; every round signs anew).
func buildRequests(o ManageOptions, host string, ids []string) ([][]byte, error) {
	body := `"` + strings.Repeat("x", o.Size-2) + `"`
	out := make([][]byte, 0, len(ids))
	for _, id := range ids {
		// The Host header names the Switchboard even when the floor is
		// the target, so both get the same bytes.
		req, err := http.NewRequest(http.MethodPost, "http://"+o.host+"/"+o.stage+"/@connections/"+url.PathEscape(id), strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "switchboard-bench")
		if err := authorize(req, o, []byte(body)); err != nil {
			return nil, err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.EscapedPath(), o.host, len(body))
		keys := make([]string, 0, len(req.Header))
		for k := range req.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			for _, v := range req.Header[k] {
				fmt.Fprintf(&b, "%s: %s\r\n", k, v)
			}
		}
		b.WriteString("\r\n")
		b.WriteString(body)
		out = append(out, []byte(b.String()))
	}
	_ = host
	return out, nil
}

// pidCPU is the CPU time (user + system) process pid has used, from
// /proc/pid/stat (Linux; clock ticks of 1/100 s, as USER_HZ is on every
// Linux this runs on); -1 when unknown.
func pidCPU(pid int) time.Duration {
	if pid <= 0 || runtime.GOOS != "linux" {
		return -1
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name, in parentheses, may hold spaces: count the
	// fields after its closing parenthesis (state is field 3).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// noopProcess is the no-op server, a child process.
type noopProcess struct {
	cmd  *exec.Cmd
	addr string
}

func startNoop(ctx context.Context, o ManageOptions, deliver bool) (*noopProcess, error) {
	args := o.FloorCommand
	if len(args) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args = []string{exe, "bench", "noop-server"}
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = os.Environ()
	if deliver {
		cmd.Env = append(cmd.Env, NoopDeliverEnv+"=1")
	} else {
		cmd.Env = append(cmd.Env, NoopDeliverEnv+"=0")
	}
	cmd.Stderr = o.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the no-op server: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("no-op server: reading its address: %w", err)
	}
	var hello struct{ Addr string }
	if err := json.Unmarshal([]byte(line), &hello); err != nil || hello.Addr == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("no-op server: unexpected first line %q", line)
	}
	return &noopProcess{cmd: cmd, addr: hello.Addr}, nil
}

func (p *noopProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
