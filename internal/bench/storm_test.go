package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/testproc"
)

// stormConfig is a server for the storm tests: %s is its listen address.
// The drain is short so that the term runs are too.
const stormConfig = `listen: %s
log: {level: warn}
shutdown: {readinessDelay: 0s, drainWindow: 300ms, timeout: 10s}
apis:
  - id: storm
    stage: storm
    routeSelectionExpression: $request.body.action
`

// stormOptions runs the real server and this test binary as the workers.
func stormOptions(t *testing.T) StormOptions {
	t.Helper()
	file := filepath.Join(t.TempDir(), "storm.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, stormConfig, testproc.FreeAddr(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	return StormOptions{
		ServeConfig: file, ServerCommand: []string{switchboardBin, "serve", "--config", file},
		WorkerCommand: []string{os.Args[0]}, WorkerEnv: []string{stormWorkerEnv + "=1"},
		Stderr: testLog{t}, ServerLog: testLog{t},
		Connections: 300, Workers: 2, Sources: []string{"127.0.0.2", "127.0.0.3"},
		MinDelay: 20 * time.Millisecond, MaxDelay: time.Second, Timeout: 2 * time.Minute,
	}
}

// TestStorm restarts a real server under 300 clients in 2 workers, both
// ways, with and without jitter, and checks that every client came back
// and that the counts agree (no times are compared).
func TestStorm(t *testing.T) {
	for _, restart := range []string{RestartTerm, RestartKill} {
		for _, jitter := range []string{JitterFull, JitterNone} {
			t.Run(restart+"/"+jitter, func(t *testing.T) {
				o := stormOptions(t)
				o.Restart, o.Jitter = restart, jitter
				res, err := Storm(context.Background(), o)
				if err != nil {
					t.Fatalf("%v\n%s", err, res)
				}
				checkStorm(t, res, 300)
			})
		}
	}
}

// checkStorm checks a run's figures against each other.
func checkStorm(t *testing.T, res StormResult, n int) {
	t.Helper()
	if res.Connected != n || res.Failed != 0 || res.Dropped != n || res.Back != n || res.Missing != 0 {
		t.Fatalf("connected %d failed %d dropped %d back %d missing %d, want %d of each but 0 failed and missing (%s)",
			res.Connected, res.Failed, res.Dropped, res.Back, res.Missing, n, res.FirstError)
	}
	sum := 0
	for _, c := range res.ReconnectsPer100ms {
		sum += c
	}
	if sum != n || res.ReconnectsPer100ms[len(res.ReconnectsPer100ms)-1] == 0 {
		t.Fatalf("timeline %v: %d clients back, want %d and the last bucket not empty", res.ReconnectsPer100ms, sum, n)
	}
	if res.Attempts != res.Upgraded+res.Refused+res.Rejected+res.Errors {
		t.Fatalf("handshakes: %d attempts but %d upgraded + %d refused + %d rejected + %d errors",
			res.Attempts, res.Upgraded, res.Refused, res.Rejected, res.Errors)
	}
	// Every client back made a handshake with the new server, which
	// counted it; the server counted no handshake a client did not make.
	accepted := res.ServerConnects["accepted"]
	// (A client can give up on a handshake the server accepted: its
	// DialTimeout counts it among the errors.)
	if res.Upgraded < uint64(n) || accepted < float64(n) || accepted > float64(res.Upgraded+res.Errors) {
		t.Fatalf("%d clients back, %d handshakes upgraded, the new server accepted %v", n, res.Upgraded, res.ServerConnects)
	}
	total := 0.0
	for _, v := range res.ServerConnects {
		total += v
	}
	last := res.ServerSamples[len(res.ServerSamples)-1]
	if last.Handshakes != total || last.Accepted != accepted || res.PeakPer100ms <= 0 || res.PeakPerSecond <= 0 {
		t.Fatalf("last sample %+v, outcomes %v, peaks %v and %v", last, res.ServerConnects, res.PeakPer100ms, res.PeakPerSecond)
	}
	if res.AcceptSpanMs <= 0 {
		t.Fatalf("accept span %v", res.AcceptSpanMs)
	}
	if res.BackP50Ms > res.BackP90Ms || res.BackP90Ms > res.BackP99Ms || res.BackP99Ms > res.AllBackMs {
		t.Fatalf("quantiles out of order: %v %v %v %v", res.BackP50Ms, res.BackP90Ms, res.BackP99Ms, res.AllBackMs)
	}
	if s := res.String(); !strings.Contains(s, fmt.Sprintf("all %d back after", n)) || !strings.Contains(s, "clients back per") {
		t.Fatalf("summary:\n%s", s)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back StormResult
	if err := json.Unmarshal(b, &back); err != nil || back.Back != n || len(back.ServerSamples) != len(res.ServerSamples) {
		t.Fatalf("JSON round trip: %v, %+v", err, back)
	}
}

// TestStormV1 runs the clients in switchboard.v1 (a kill, no jitter).
func TestStormV1(t *testing.T) {
	o := stormOptions(t)
	o.Connections, o.V1, o.Restart, o.Jitter = 100, true, RestartKill, JitterNone
	res, err := Storm(context.Background(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	if res.Mode != "switchboard.v1" {
		t.Fatalf("mode %q", res.Mode)
	}
	checkStorm(t, res, 100)
}

func TestStormOptionErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, yaml string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", fmt.Sprintf(stormConfig, "127.0.0.1:1"))
	for _, c := range []struct {
		o    StormOptions
		want string
	}{
		{StormOptions{}, "no server configuration"},
		{StormOptions{ServeConfig: filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{StormOptions{ServeConfig: write("port0.yaml", fmt.Sprintf(stormConfig, "127.0.0.1:0"))}, "fixed port"},
		{StormOptions{ServeConfig: write("noapi.yaml", "listen: 127.0.0.1:1\n")}, "no API"},
		{StormOptions{ServeConfig: good, Jitter: "some"}, `jitter "some"`},
		{StormOptions{ServeConfig: good, Restart: "hup"}, `restart "hup"`},
		{StormOptions{ServeConfig: good, MinDelay: time.Second, MaxDelay: time.Millisecond}, "backoff"},
		{StormOptions{ServeConfig: good, Connections: 40000, Workers: 1}, "at least 3 workers"},
		{StormOptions{ServeConfig: good, Sources: []string{"localhost"}}, "not an IP address"},
	} {
		_, err := Storm(context.Background(), c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.o, err, c.want)
		}
	}
	// The port is taken: the run would measure someone else's server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := write("taken.yaml", fmt.Sprintf(stormConfig, ln.Addr()))
	if _, err := Storm(context.Background(), StormOptions{ServeConfig: taken}); err == nil || !strings.Contains(err.Error(), "is taken") {
		t.Fatalf("taken port: %v", err)
	}
}

// TestTopSource checks the arithmetic of JitterNone: the client's delay
// time.Duration(Float64()·d) is d, or d − 1 ns, for every d the backoff
// can have (up to 2⁵³ ns, 104 days).
func TestTopSource(t *testing.T) {
	r := rand.New(topSource{})
	f := r.Float64()
	if f >= 1 || f != float64(1<<53-1)/(1<<53) {
		t.Fatalf("Float64 = %v, want the largest float64 below 1", f)
	}
	ds := []time.Duration{1, 2, 3, time.Millisecond, 250 * time.Millisecond, time.Second, 30 * time.Second, time.Hour, 1<<53 - 1, 1 << 53}
	for range 1000 {
		ds = append(ds, time.Duration(rand.Int64N(1<<53)))
	}
	for _, d := range ds {
		got := time.Duration(r.Float64() * float64(d))
		if got != d && got != d-1 {
			t.Fatalf("d = %d: delay %d, want d or d−1", d, got)
		}
	}
}

func TestPeaks(t *testing.T) {
	// Started at 50 ms; scrapes every 100 ms, one late (200 ms: its
	// average counts) and one right after another (5 ms: its count, not
	// 20 times it).
	samples := []StormSample{{AtMs: 150, Handshakes: 10}, {AtMs: 250, Handshakes: 110}, {AtMs: 450, Handshakes: 310},
		{AtMs: 550, Handshakes: 320}, {AtMs: 555, Handshakes: 430}}
	p100, p1s := peaks(samples, 50)
	if p100 != 110 || p1s != 430 {
		t.Fatalf("peaks %v per 100 ms, %v per second, want 110 and 430", p100, p1s)
	}
	// Over 10 intervals: the busiest second of a longer run.
	var long []StormSample
	for i := range 30 {
		n := 0.0
		if i > 0 {
			n = long[i-1].Handshakes
		}
		if i >= 10 && i < 20 {
			n += 50
		} else {
			n++
		}
		long = append(long, StormSample{AtMs: float64(100 * (i + 1)), Handshakes: n})
	}
	if p100, p1s := peaks(long, 0); p100 != 50 || p1s != 500 {
		t.Fatalf("long run: peaks %v per 100 ms, %v per second, want 50 and 500", p100, p1s)
	}
	if p100, p1s := peaks(nil, 0); p100 != 0 || p1s != 0 {
		t.Fatalf("no samples: %v %v", p100, p1s)
	}
}

func TestAcceptSpan(t *testing.T) {
	samples := []StormSample{{AtMs: 100}, {AtMs: 300, Accepted: 0}, {AtMs: 1300, Accepted: 40}, {AtMs: 2300, Accepted: 100}, {AtMs: 2400, Accepted: 100}}
	if got := acceptSpan(samples, 50, 100); got != 2000 {
		t.Fatalf("span %v, want 2000 (from 300 to 2300 ms)", got)
	}
	if got := acceptSpan(samples[2:], 50, 100); got != 2250 {
		t.Fatalf("span %v, want 2250 (from the start)", got)
	}
	if got := acceptSpan(samples, 50, 101); got != 0 {
		t.Fatalf("span %v, want 0: never all", got)
	}
}

func TestTimeline(t *testing.T) {
	s := timeline([]int{0, 0, 5, 10})
	if !strings.Contains(s, "per 100 ms") || !strings.Contains(s, "0.2 s      5") || strings.Contains(s, "0.0 s") {
		t.Fatalf("timeline:\n%s", s)
	}
	long := make([]int, 120)
	long[119] = 1
	if s := timeline(long); !strings.Contains(s, "per 300 ms") || !strings.Contains(s, "11.7 s") {
		t.Fatalf("long timeline:\n%s", s)
	}
}
