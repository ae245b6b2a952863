package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// lifecycleEnv is a running server whose context can be cancelled with a
// cause (server.ErrTerminated is SIGTERM) and whose configuration "file"
// is held in memory for Reload.
type lifecycleEnv struct {
	*env
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	file   string // the YAML Reload reads
}

func (e *lifecycleEnv) setFile(yaml string) {
	e.mu.Lock()
	e.file = yaml
	e.mu.Unlock()
}

func startLifecycle(t *testing.T, yaml string, opts ...func(*Options)) *lifecycleEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	le := &lifecycleEnv{file: yaml}
	load := func() (*config.Config, error) {
		le.mu.Lock()
		y := strings.ReplaceAll(le.file, "{{base}}", "http://"+ln.Addr().String())
		le.mu.Unlock()
		cfg, err := config.Parse("test.yaml", []byte(y), func(string) (string, bool) { return "", false })
		if err != nil {
			return nil, err
		}
		cfg.Shutdown.DrainWindow = config.Duration(100 * time.Millisecond)
		cfg.Shutdown.Timeout = config.Duration(10 * time.Second)
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		ln.Close()
		t.Fatalf("config: %v", err)
	}
	logs := &logBuffer{t: t}
	level := new(slog.LevelVar) // log.level, as the CLI sets it
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	o := Options{
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})),
		Engine:   ws.Options{Tick: 20 * time.Millisecond, CloseTimeout: time.Second},
		Listener: ln,
		Load:     load,
		LogLevel: level,
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := New(cfg, o)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	le.cancel = cancel
	le.env = &env{t: t, srv: srv, base: "http://" + ln.Addr().String(), logs: logs,
		stop: func() { cancel(nil) }, done: make(chan error, 1)}
	go func() { le.done <- srv.Run(ctx) }()
	t.Cleanup(func() { le.shutdown() })
	return le
}

// waitRun waits for Run to return (without stopping it) and reports its
// error; the cleanup's shutdown then has nothing left to do.
func (e *lifecycleEnv) waitRun() error {
	e.t.Helper()
	var err error
	e.once.Do(func() {
		select {
		case err = <-e.done:
		case <-time.After(20 * time.Second):
			e.t.Fatal("Run did not return")
		}
	})
	return err
}

func (e *env) status(path string) int {
	e.t.Helper()
	resp, err := http.Get(e.base + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (e *env) metricsText() string {
	e.t.Helper()
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// On SIGTERM, /readyz fails for shutdown.readinessDelay while new
// connections are still accepted and served; then the drain closes every
// connection with 1001 and delivers each $disconnect. The delay (10 min)
// is ended by the test once it has seen what it waits for.
func TestReadinessDelayThenDrain(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) == "twoway" {
			return 200, "pong"
		}
		return 200, ""
	})
	e := startLifecycle(t, "shutdown: {readinessDelay: 10m}\n"+backendAPI(b.srv.URL, ""))
	before := e.dial("test", nil)
	if s := e.status("/readyz"); s != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM: %d", s)
	}

	e.cancel(ErrTerminated)
	waitFor(t, "/readyz 503", func() bool { return e.status("/readyz") == http.StatusServiceUnavailable })
	if s := e.status("/healthz"); s != http.StatusOK {
		t.Errorf("/healthz during the readiness delay: %d, want 200 (alive)", s)
	}
	// The listener still accepts and serves: a new handshake succeeds and
	// its messages are routed.
	during := e.dial("test", nil)
	write(t, during, `{"action":"twoway"}`)
	if _, got := read(t, during); string(got) != "pong" {
		t.Fatalf("reply during the readiness delay: %q", got)
	}
	write(t, before, `{"action":"twoway"}`)
	if _, got := read(t, before); string(got) != "pong" {
		t.Fatalf("reply on an older connection during the readiness delay: %q", got)
	}
	if e.logs.contains(`"msg":"shutting down"`) {
		t.Fatal("the drain started during the readiness delay")
	}

	if !e.srv.SkipReadinessDelay() {
		t.Fatal("SkipReadinessDelay: not in the delay")
	}
	for _, c := range []*websocket.Conn{before, during} {
		if code := closeStatus(t, c); code != websocket.StatusGoingAway {
			t.Errorf("close code %d, want 1001", code)
		}
	}
	if err := e.waitRun(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	evs := b.eventsFor("$disconnect")
	if len(evs) != 2 {
		t.Fatalf("%d $disconnect events, want 2", len(evs))
	}
	for _, ev := range evs {
		if code := ctxField(ev, "disconnectStatusCode"); code != "1001" {
			t.Errorf("$disconnect status %s, want 1001", code)
		}
	}
	if len(e.logs.lines("not ready: /readyz answers 503 until the drain starts; new connections are still accepted")) != 1 {
		t.Error("no log line for the readiness delay")
	}
}

// Without ErrTerminated (SIGINT, or readinessDelay 0) the drain starts at
// once: /readyz is never 503 with the listener open and idle.
func TestNoReadinessDelayOnInterrupt(t *testing.T) {
	e := startLifecycle(t, "shutdown: {readinessDelay: 10m}\n"+backendAPI("http://127.0.0.1:1/unused", ""))
	e.cancel(nil) // as SIGINT
	if err := e.waitRun(); err != nil {
		t.Fatal(err)
	}
	if e.logs.contains("not ready") {
		t.Error("the readiness delay ran on an interrupt")
	}
}

// Reload (SIGHUP) swaps routes and integrations under open connections: a
// call in flight finishes on the old integration, the next message goes
// to the new one, and the connection never closes. An invalid file is
// refused and the running configuration keeps serving; what needs a
// restart is named; the outcome is counted.
func TestReloadSwapsIntegrations(t *testing.T) {
	release := make(chan struct{})
	oldB, newB := newBackend(t), newBackend(t)
	oldB.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) == "twoway" && strings.Contains(ev["body"].(string), "slow") {
			<-release
		}
		return 200, "old"
	})
	newB.setRespond(func(map[string]any) (int, string) { return 200, "new" })
	e := startLifecycle(t, backendAPI(oldB.srv.URL, ""))
	c := e.dial("test", nil)
	slow := e.dial("test", nil)

	write(t, c, `{"action":"twoway"}`)
	if _, got := read(t, c); string(got) != "old" {
		t.Fatalf("before the reload: %q", got)
	}
	write(t, slow, `{"action":"twoway","x":"slow"}`)
	waitFor(t, "the slow call to reach the old backend", func() bool {
		for _, ev := range oldB.eventsFor("twoway") {
			if strings.Contains(ev["body"].(string), "slow") {
				return true
			}
		}
		return false
	})

	e.setFile("listen: 127.0.0.1:1\n" + backendAPI(newB.srv.URL, ""))
	if err := e.srv.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	write(t, c, `{"action":"twoway"}`)
	if _, got := read(t, c); string(got) != "new" {
		t.Fatalf("after the reload: %q, want the new backend's reply", got)
	}
	close(release)
	if _, got := read(t, slow); string(got) != "old" {
		t.Fatalf("the call in flight during the reload: %q, want the old backend's reply", got)
	}
	if len(e.logs.lines("listen address changed; restart to apply")) != 1 {
		t.Error("the listen change was not named as needing a restart")
	}
	if len(e.logs.lines("configuration reloaded")) != 1 {
		t.Error("no log line for the applied reload")
	}

	// An invalid file: refused with the loader's message, at ERROR; the
	// running configuration keeps serving.
	e.setFile(backendAPI(newB.srv.URL, "") + "    bogus: 1\n")
	err := e.srv.Reload()
	if err == nil {
		t.Fatal("an invalid file was applied")
	}
	refused := e.logs.lines("configuration reload refused; the running configuration keeps serving")
	if len(refused) != 1 || refused[0]["level"] != "ERROR" || refused[0]["error"] != err.Error() {
		t.Fatalf("refusal log: %v (error %q)", refused, err)
	}
	write(t, c, `{"action":"twoway"}`)
	if _, got := read(t, c); string(got) != "new" {
		t.Fatalf("after the refused reload: %q", got)
	}
	m := e.metricsText()
	for _, want := range []string{`switchboard_config_reloads_total{result="applied"} 1`, `switchboard_config_reloads_total{result="invalid"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	e.shutdown()
	if n := len(newB.eventsFor("$disconnect")); n != 2 {
		t.Errorf("%d $disconnect events on the new backend, want 2", n)
	}
	if n := len(oldB.eventsFor("$disconnect")); n != 0 {
		t.Errorf("%d $disconnect events on the replaced backend, want 0", n)
	}
}

// Without a configuration file there is nothing to reload: the seed
// configuration keeps serving, and the log says so.
func TestReloadWithoutFile(t *testing.T) {
	e := startServer(t, "")
	c := e.dial("production", nil)
	if err := e.srv.Reload(); err != ErrNothingToReload {
		t.Fatalf("Reload: %v", err)
	}
	write(t, c, `{"action":"sendMessage","message":"hi"}`)
	if m := readJSON(t, c); m["message"] != "hi" {
		t.Fatalf("after the reload: %v", m)
	}
	if !strings.Contains(e.metricsText(), `switchboard_config_reloads_total{result="skipped"} 1`) {
		t.Error("the skipped reload was not counted")
	}
}

// A reload that changes a function integration starts the new one and
// stops the old one's worker processes once its calls have ended; the
// connection stays open throughout.
func TestReloadReplacesFunctionWorkers(t *testing.T) {
	dir := goHandler(t) // before noAWSEnv moves HOME, and Go's caches with it
	noAWSEnv(t)
	file := func(version string) string {
		return "management: {allowLoopback: true}\n" + strings.Replace(functionAPI("provided", dir, "handler", ""),
			`environment: {WEBSOCKET_ENDPOINT: "{{base}}/fn"}`,
			`environment: {WEBSOCKET_ENDPOINT: "{{base}}/fn", VERSION: "`+version+`"}
          minWorkers: 1`, 1)
	}
	e := startLifecycle(t, file("1"))
	workers := `switchboard_function_workers{api="fn",function="fn"} 1`
	waitFor(t, "one warm worker", func() bool { return strings.Contains(e.metricsText(), workers) })
	c := e.dial("fn", nil)
	write(t, c, "hello")
	if _, b := read(t, c); string(b) != "echo: hello" {
		t.Fatalf("before the reload: %q", b)
	}

	e.setFile(file("2"))
	if err := e.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replaced function to close", func() bool {
		for _, l := range e.logs.lines("closed integration fn") {
			if l["why"] == "replaced by a configuration reload" {
				return true
			}
		}
		return false
	})
	// The old worker has exited; the new function keeps its warm one.
	waitFor(t, "one worker again", func() bool { return strings.Contains(e.metricsText(), workers) })
	write(t, c, "again")
	if _, b := read(t, c); string(b) != "echo: again" {
		t.Fatalf("after the reload: %q", b)
	}
}

// A file that is valid on its own but whose live part does not fit the
// running APIs (a key limited to a stage that only a restart would add) is
// refused: nothing changes, and the log says why and what needs a restart.
func TestReloadRefusesWhatCannotApply(t *testing.T) {
	b := newBackend(t)
	e := startLifecycle(t, "management: {apiKeys: [{name: k, key: key-0123456789abcdef}]}\n"+backendAPI(b.srv.URL, ""))
	e.setFile(`management: {apiKeys: [{name: k, key: other-0123456789abcdef, stages: [added]}]}
` + backendAPI(b.srv.URL, `  - id: added
    stage: added
    routeSelectionExpression: $request.body.action
`))
	if err := e.srv.Reload(); err == nil {
		t.Fatal("applied a key for a stage that is not served")
	}
	refused := e.logs.lines("configuration reload refused; the running configuration keeps serving")
	if len(refused) != 1 || !strings.Contains(refused[0]["error"].(string), "management.apiKeys[0].stages") ||
		!strings.Contains(refused[0]["restartRequired"].(string), "apis[added] (stage /added) was added; restart to apply") {
		t.Fatalf("refusal: %v", refused)
	}
	req, _ := http.NewRequest(http.MethodGet, e.base+"/test/@connections", nil)
	req.Header.Set("Authorization", "Bearer key-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the running key after the refused reload: %d, want 200", resp.StatusCode)
	}
}

// log.level changes with a reload: warn hides the info lines, info shows
// them again.
func TestReloadLogLevel(t *testing.T) {
	e := startLifecycle(t, "log: {level: warn}\n"+backendAPI("http://127.0.0.1:1/unused", ""))
	// Run logs its start-up lines before it serves: once /healthz
	// answers, they are written (or, at warn, dropped), and the reload
	// below cannot come first.
	resp, err := http.Get(e.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.setFile("log: {level: info}\n" + backendAPI("http://127.0.0.1:1/unused", ""))
	if err := e.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if len(e.logs.lines("listening")) != 0 || len(e.logs.lines("configuration reloaded")) != 1 {
		t.Fatal("log.level warn then info: want no start-up info line and the reload's info line")
	}
	e.setFile("log: {level: warn}\n" + backendAPI("http://127.0.0.1:1/unused", ""))
	if err := e.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := len(e.logs.lines("configuration reloaded")); n != 1 {
		t.Errorf("%d reload lines at info after log.level: warn, want 1 (the first)", n)
	}
}

// A reload that changes the JWT key and the origin allowlist applies to
// the next handshake: a token of the old key is refused (401), one of the
// new key accepted, the new origin admitted; a connection opened with the
// old key stays open and keeps working.
func TestReloadJWTKeyAndOrigins(t *testing.T) {
	const newSecret = "fedcba9876543210fedcba9876543210"
	b := newBackend(t)
	b.setRespond(func(ev map[string]any) (int, string) { return 200, "ok" })
	apiWith := func(secret, origin string) string {
		return backendAPI(b.srv.URL, `    auth:
      origins: ["`+origin+`"]
      jwt:
        keys: [{algorithm: HS256, secret: `+secret+`}]
`)
	}
	e := startLifecycle(t, apiWith(testJWTSecret, "https://old.example"))
	token := func(secret string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dialStatus := func(secret, origin string) int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, e.wsURL("test?token="+token(secret)), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if err != nil {
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			return resp.StatusCode
		}
		c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	open := e.dial("test?token="+token(testJWTSecret), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://old.example"}}})
	if s := dialStatus(newSecret, "https://old.example"); s != http.StatusUnauthorized {
		t.Fatalf("the new key before the reload: %d", s)
	}

	e.setFile(apiWith(newSecret, "https://new.example"))
	if err := e.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		secret, origin string
		want           int
	}{
		{testJWTSecret, "https://new.example", http.StatusUnauthorized},
		{newSecret, "https://new.example", http.StatusSwitchingProtocols},
		{newSecret, "https://old.example", http.StatusForbidden},
	} {
		if s := dialStatus(tc.secret, tc.origin); s != tc.want {
			t.Errorf("after the reload, key %.4s… origin %s: %d, want %d", tc.secret, tc.origin, s, tc.want)
		}
	}
	write(t, open, `{"action":"twoway"}`)
	if _, got := read(t, open); string(got) != "ok" {
		t.Fatalf("the connection opened with the old key: %q", got)
	}
}

// Limits change with a reload: a lower maxConnectionsPerIP counts the
// connections already open (the next handshake gets 429, none is closed),
// and a new messagesPerSecond applies to the next message of an open
// connection. The clock is frozen, so the bucket never refills.
func TestReloadLimits(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(ev map[string]any) (int, string) { return 200, "ok" })
	frozen := time.Now()
	e := startLifecycle(t, backendAPI(b.srv.URL, ""), func(o *Options) { o.Now = func() time.Time { return frozen } })
	c1, c2 := e.dial("test", nil), e.dial("test", nil)

	e.setFile(backendAPI(b.srv.URL, `    limits: {maxConnectionsPerIP: 2, messagesPerSecond: 1, messageBurst: 2}
`))
	if err := e.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, e.wsURL("test"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third connection from the IP after maxConnectionsPerIP: 2: %v %v, want 429", err, resp)
	}
	for range 2 { // the burst
		write(t, c1, `{"action":"twoway"}`)
		if _, got := read(t, c1); string(got) != "ok" {
			t.Fatalf("within the new burst: %q", got)
		}
	}
	write(t, c1, `{"action":"twoway"}`)
	if code := closeStatus(t, c1); code != websocket.StatusPolicyViolation {
		t.Fatalf("past the new message rate: close %d, want 1008", code)
	}
	write(t, c2, `{"action":"twoway"}`)
	if _, got := read(t, c2); string(got) != "ok" {
		t.Fatalf("the other connection: %q", got)
	}
	// c1 has closed: its place is free again.
	waitFor(t, "a place under maxConnectionsPerIP", func() bool {
		c, _, err := websocket.Dial(ctx, e.wsURL("test"), nil)
		if err != nil {
			return false
		}
		c.CloseNow()
		return true
	})
}

// A reload that switches compression on applies to connections opened
// after it: they negotiate permessage-deflate; the connection opened before
// keeps what it opened with and stays open.
func TestReloadCompression(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(ev map[string]any) (int, string) { return 200, "ok" })
	e := startLifecycle(t, backendAPI(b.srv.URL, ""))
	const offer = "permessage-deflate; client_max_window_bits"
	before, answer := dialRawDeflate(t, e.env, "test", offer)
	if answer != "" {
		t.Fatalf("compression off: answered %q", answer)
	}
	e.setFile(backendAPI(b.srv.URL, "    compression: {enabled: true}\n"))
	if err := e.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, answer := dialRawDeflate(t, e.env, "test", offer); answer != deflateAnswer {
		t.Fatalf("after the reload: Sec-WebSocket-Extensions %q, want %q", answer, deflateAnswer)
	}
	before.sendText([]byte(`{"action":"twoway"}`), false)
	if got, z := before.next(); string(got) != "ok" || z {
		t.Fatalf("the connection opened before the reload: %q (compressed %v), want ok, plain", got, z)
	}
}
