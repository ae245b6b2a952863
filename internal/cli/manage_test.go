package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/internal/testproc"
)

// bin is the switchboard binary, built once by TestMain.
var bin string

func TestMain(m *testing.M) { testproc.Main(m, &bin, "../../cmd/switchboard") }

// Credentials of manageConfig.
const (
	cliAPIKey    = "cli-test-api-key-0123456789"
	cliAccessKey = "AKIDCLITEST0000001"
	cliSecret    = "cli-test-secret-key-0123456789"
)

// manageConfig serves stage "test" on listen; its $connect backend
// names each connection's user from ?u=; room:* keeps history.
func manageConfig(listen, backend string) string {
	return fmt.Sprintf(`listen: %s
management:
  apiKeys:
    - name: cli
      key: %s
  accessKeys:
    - id: %s
      secret: %s
apis:
  - id: app
    stage: test
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: backend}
      $disconnect: {integration: backend}
      $default: {action: {type: echo}}
    integrations:
      backend: {type: http, url: "%s"}
    channels:
      namespaces:
        - pattern: "room:*"
          history: {size: 100, ttl: 10m}
        - pattern: "*"
`, listen, cliAPIKey, cliAccessKey, cliSecret, backend)
}

// connectBackend is the $connect and $disconnect integration: it records
// each ?tag='s connection id and the ids whose $disconnect came.
type connectBackend struct {
	mu           sync.Mutex
	ids          map[string]string
	disconnected map[string]bool
}

func newConnectBackend(t *testing.T) (*connectBackend, string) {
	b := &connectBackend{ids: map[string]string{}, disconnected: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Query          map[string]string `json:"queryStringParameters"`
			RequestContext struct {
				RouteKey     string `json:"routeKey"`
				ConnectionID string `json:"connectionId"`
			} `json:"requestContext"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			// Not a test failure: the cleanup kills the server, which may
			// be in the middle of sending a $disconnect. An event the test
			// waits for and never gets fails it where it waits.
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev.RequestContext.RouteKey {
		case "$connect":
			b.ids[ev.Query["tag"]] = ev.RequestContext.ConnectionID
			if u := ev.Query["u"]; u != "" {
				fmt.Fprintf(w, `{"statusCode":200,"headers":{"X-Switchboard-User":%q,"X-Switchboard-Info":"{\"name\":\"%s\"}"}}`, u, u)
			}
		case "$disconnect":
			b.disconnected[ev.RequestContext.ConnectionID] = true
		}
	}))
	t.Cleanup(srv.Close)
	return b, srv.URL
}

func (b *connectBackend) id(tag string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[tag]
}

func (b *connectBackend) gotDisconnect(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.disconnected[id]
}

// manageServer is `switchboard serve` running manageConfig.
type manageServer struct {
	addr     string
	endpoint string
	b        *connectBackend
}

func startManageServer(t *testing.T) *manageServer {
	t.Helper()
	b, backendURL := newConnectBackend(t)
	addr := testproc.FreeAddr(t)
	cfg := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(cfg, []byte(manageConfig(addr, backendURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Stderr = &stderr
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	})
	waitFor(t, "the server's /readyz", func() bool {
		select {
		case <-exited:
			t.Fatalf("server exited:\n%s", stderr.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return &manageServer{addr: addr, endpoint: "http://" + addr + "/test", b: b}
}

// cleanEnv is the environment without the variables the commands read,
// so that the developer's own AWS or Switchboard settings do not leak in.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "SWITCHBOARD_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// cliResult is what a run of the binary printed and its exit code.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with args, stdin and extra environment.
func runCLI(t *testing.T, stdin []byte, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Env = &stdout, &stderr, cleanEnv(env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", args, err)
	}
	return res
}

// ok runs the binary and fails the test unless it exits 0.
func (s *manageServer) ok(t *testing.T, stdin []byte, args ...string) cliResult {
	t.Helper()
	res := runCLI(t, stdin, []string{"SWITCHBOARD_ENDPOINT=" + s.endpoint, "SWITCHBOARD_API_KEY=" + cliAPIKey}, args...)
	if res.code != 0 {
		t.Fatalf("switchboard %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res
}

// rawConn is a raw WebSocket client.
type rawConn struct {
	t  *testing.T
	c  *websocket.Conn
	id string
}

func (s *manageServer) dial(t *testing.T, tag, user string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://%s/test?tag=%s&u=%s", s.addr, tag, user), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	id := s.b.id(tag)
	if id == "" {
		t.Fatalf("no $connect for %s", tag)
	}
	return &rawConn{t: t, c: c, id: id}
}

func (c *rawConn) read() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read on %s: %v", c.id, err)
	}
	return string(b)
}

// table parses an aligned table: its header's columns start where each
// row's cells do. It returns the rows as maps from column to cell.
func table(t *testing.T, out string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	header := lines[0]
	var starts []int
	var names []string
	for i := 0; i < len(header); {
		j := strings.Index(header[i:], "  ")
		name := header[i:]
		if j >= 0 {
			name = header[i : i+j]
		}
		starts, names = append(starts, i), append(names, name)
		if j < 0 {
			break
		}
		i += j
		for i < len(header) && header[i] == ' ' {
			i++
		}
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		row := map[string]string{}
		for k, s := range starts {
			if s > 0 && (len(l) <= s || l[s-1] != ' ' || l[s] == ' ') {
				t.Fatalf("column %s does not start at %d in %q:\n%s", names[k], s, l, out)
			}
			end := len(l)
			if k+1 < len(starts) {
				end = starts[k+1]
			}
			row[names[k]] = strings.TrimSpace(l[s:end])
		}
		rows = append(rows, row)
	}
	return rows
}

func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	return v
}

// The real binary against a real server with real WebSocket clients:
// send to a connection, a channel, a user and everyone (argument and
// stdin, API key and SigV4); list, get and kick; channels info, presence
// and history; json and table outputs.
func TestManageCommands(t *testing.T) {
	s := startManageServer(t)
	a1, a2, b := s.dial(t, "a1", "alice"), s.dial(t, "a2", "alice"), s.dial(t, "b", "bob")

	// A switchboard.v1 client in room:a.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pubs := make(chan client.Publication, 16)
	v1, err := client.Dial(ctx, "ws://"+s.addr+"/test?tag=v1&u=carol", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	if _, err := v1.Subscribe(ctx, "room:a", func(p client.Publication) { pubs <- p }, client.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	carol := s.b.id("v1")

	t.Run("send to a connection", func(t *testing.T) {
		res := s.ok(t, nil, "send", "--connection", a1.id, "hello a1")
		if got := a1.read(); got != "hello a1" {
			t.Fatalf("a1 got %q", got)
		}
		if rows := table(t, res.stdout); len(rows) != 1 || rows[0]["RECIPIENTS"] != "1" {
			t.Fatalf("table: %q", res.stdout)
		}
		// Every byte of stdin, the trailing newline too; "-" is stdin.
		msg := []byte("line 1\nline 2\n")
		s.ok(t, msg, "send", "--connection", b.id)
		if got := b.read(); got != string(msg) {
			t.Fatalf("b got %q", got)
		}
		s.ok(t, []byte("dash"), "send", "--connection", b.id, "-")
		if got := b.read(); got != "dash" {
			t.Fatalf("b got %q", got)
		}
	})

	t.Run("send to a channel, signed", func(t *testing.T) {
		res := runCLI(t, []byte(`{"n":1}`), []string{"AWS_ACCESS_KEY_ID=" + cliAccessKey, "AWS_SECRET_ACCESS_KEY=" + cliSecret, "AWS_REGION=eu-west-1"},
			"send", "--endpoint", s.endpoint, "--channel", "room:a", "-o", "json")
		if res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		got := decode[map[string]any](t, res.stdout)
		if got["channel"] != "room:a" || got["recipients"] != 1.0 || got["offset"] != 1.0 || got["epoch"] == "" {
			t.Fatalf("json: %s", res.stdout)
		}
		select {
		case p := <-pubs:
			if string(p.Data) != `{"n":1}` || p.Offset != 1 {
				t.Fatalf("v1 client got %+v", p)
			}
		case <-ctx.Done():
			t.Fatal("the v1 client got no publication")
		}
		// With the flags instead of the environment, in a table.
		res = runCLI(t, nil, nil, "send", "--endpoint", s.endpoint, "--access-key", cliAccessKey, "--secret-key", cliSecret, "--channel", "room:a", "second")
		if rows := table(t, res.stdout); res.code != 0 || len(rows) != 1 || rows[0]["RECIPIENTS"] != "1" || rows[0]["OFFSET"] != "2" || rows[0]["EPOCH"] == "-" {
			t.Fatalf("exit %d, table %q, stderr %s", res.code, res.stdout, res.stderr)
		}
		if p := <-pubs; string(p.Data) != "second" {
			t.Fatalf("v1 client got %+v", p)
		}
	})

	t.Run("send to a user and to everyone", func(t *testing.T) {
		res := s.ok(t, nil, "send", "--user", "alice", "-o", "json", "for alice")
		if got := decode[map[string]any](t, res.stdout); got["user"] != "alice" || got["recipients"] != 2.0 {
			t.Fatalf("json: %s", res.stdout)
		}
		for _, c := range []*rawConn{a1, a2} {
			if got := c.read(); got != "for alice" {
				t.Fatalf("%s got %q", c.id, got)
			}
		}
		res = s.ok(t, nil, "send", "--all", "--exclude", a2.id, "everyone")
		if rows := table(t, res.stdout); rows[0]["RECIPIENTS"] != "3" {
			t.Fatalf("table: %q", res.stdout)
		}
		for _, c := range []*rawConn{a1, b} {
			if got := c.read(); got != "everyone" {
				t.Fatalf("%s got %q", c.id, got)
			}
		}
	})

	t.Run("connections", func(t *testing.T) {
		res := s.ok(t, nil, "connections", "list", "-o", "json", "--all", "--limit", "1")
		page := decode[struct {
			Connections []struct {
				ID       string `json:"connectionId"`
				Identity struct {
					SourceIP string `json:"sourceIp"`
				} `json:"identity"`
			} `json:"connections"`
		}](t, res.stdout)
		var ids []string
		for _, c := range page.Connections {
			ids = append(ids, c.ID)
		}
		for _, id := range []string{a1.id, a2.id, b.id, carol} {
			if !slices.Contains(ids, id) {
				t.Fatalf("list lacks %s: %s", id, res.stdout)
			}
		}
		res = s.ok(t, nil, "connections", "list", "--limit", "2")
		rows := table(t, res.stdout)
		if len(rows) != 2 || rows[0]["SOURCE IP"] != "127.0.0.1" || rows[0]["CONNECTION ID"] != a1.id || !strings.HasPrefix(res.stderr, "more: --cursor ") {
			t.Fatalf("list --limit 2: %q, stderr %q", res.stdout, res.stderr)
		}
		cursor := strings.Fields(res.stderr)[2]
		res = s.ok(t, nil, "connections", "list", "--limit", "2", "--cursor", cursor)
		if rows := table(t, res.stdout); len(rows) != 2 || rows[0]["CONNECTION ID"] != b.id {
			t.Fatalf("second page: %q", res.stdout)
		}

		res = s.ok(t, nil, "connections", "get", "-o", "json", "--", b.id)
		if got := decode[map[string]any](t, res.stdout); got["connectionId"] != b.id || got["connectedAt"] == nil {
			t.Fatalf("get: %s", res.stdout)
		}
		res = s.ok(t, nil, "connections", "get", "--", a1.id, b.id)
		if rows := table(t, res.stdout); len(rows) != 2 || rows[1]["CONNECTION ID"] != b.id || rows[1]["CONNECTED AT"] == "-" {
			t.Fatalf("get two: %q", res.stdout)
		}
	})

	t.Run("channels", func(t *testing.T) {
		res := s.ok(t, nil, "channels", "info", "room:a")
		if rows := table(t, res.stdout); len(rows) != 1 || rows[0]["MEMBERS"] != "1" || rows[0]["PRESENCE"] != "on" || rows[0]["OFFSET"] != "2" {
			t.Fatalf("info: %q", res.stdout)
		}
		res = s.ok(t, nil, "channels", "presence", "room:a", "-o", "json")
		got := decode[struct {
			Members  int `json:"members"`
			Presence []struct {
				ConnectionID string          `json:"connectionId"`
				User         string          `json:"user"`
				Info         json.RawMessage `json:"info"`
			} `json:"presence"`
		}](t, res.stdout)
		var info bytes.Buffer
		if len(got.Presence) == 1 {
			_ = json.Compact(&info, got.Presence[0].Info)
		}
		if got.Members != 1 || len(got.Presence) != 1 || got.Presence[0].ConnectionID != carol || got.Presence[0].User != "carol" || info.String() != `{"name":"carol"}` {
			t.Fatalf("presence: %s", res.stdout)
		}
		res = s.ok(t, nil, "channels", "presence", "room:a")
		if rows := table(t, res.stdout); len(rows) != 1 || rows[0]["USER"] != "carol" || rows[0]["INFO"] != `{"name":"carol"}` {
			t.Fatalf("presence table: %q", res.stdout)
		}

		res = s.ok(t, nil, "channels", "history", "room:a")
		rows := table(t, res.stdout)
		if len(rows) != 2 || rows[0]["OFFSET"] != "1" || rows[0]["DATA"] != `{"n":1}` || rows[1]["DATA"] != "second" || !strings.Contains(res.stderr, "offset 2") {
			t.Fatalf("history: %q, stderr %q", res.stdout, res.stderr)
		}
		res = s.ok(t, nil, "channels", "history", "room:a", "--since", "1", "-o", "json")
		h := decode[struct {
			Epoch        string           `json:"epoch"`
			Offset       uint64           `json:"offset"`
			Publications []map[string]any `json:"publications"`
		}](t, res.stdout)
		if h.Offset != 2 || h.Epoch == "" || len(h.Publications) != 1 || h.Publications[0]["text"] != "second" {
			t.Fatalf("history json: %s", res.stdout)
		}
		// A stale epoch: the API's ConflictException.
		res = runCLI(t, nil, []string{"SWITCHBOARD_API_KEY=" + cliAPIKey}, "channels", "history", "room:a", "--endpoint", s.endpoint, "--since", "1", "--epoch", "stale")
		if res.code != 1 || !strings.Contains(res.stderr, "ConflictException") {
			t.Fatalf("stale epoch: exit %d, %s", res.code, res.stderr)
		}
	})

	t.Run("kick", func(t *testing.T) {
		res := s.ok(t, nil, "connections", "kick", "--", b.id)
		if rows := table(t, res.stdout); len(rows) != 1 || rows[0]["CLOSED"] != b.id {
			t.Fatalf("kick: %q", res.stdout)
		}
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _, err := b.c.Read(rctx)
		if code := websocket.CloseStatus(err); code != websocket.StatusNormalClosure {
			t.Fatalf("b: %v, want close 1000", err)
		}
		waitFor(t, "b's $disconnect", func() bool { return s.b.gotDisconnect(b.id) })
		res = runCLI(t, nil, []string{"SWITCHBOARD_API_KEY=" + cliAPIKey}, "connections", "get", "--endpoint", s.endpoint, "--", b.id)
		if res.code != 1 || !strings.Contains(res.stderr, "GoneException: The connection is gone") || !strings.Contains(res.stderr, "(HTTP 410)") {
			t.Fatalf("get after kick: exit %d, %s", res.code, res.stderr)
		}
	})
}

// Mistakes: a wrong key, no key, an unreachable server, bad flags. Each
// says what is wrong and exits non-zero (1 for the call, 2 for the
// command line).
func TestManageCommandErrors(t *testing.T) {
	s := startManageServer(t)
	ep := "--endpoint=" + s.endpoint
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want []string // in stderr
	}{
		{"wrong API key", nil, []string{"connections", "list", ep, "--api-key", "not-the-key-0123456789"}, 1,
			[]string{"switchboard: ForbiddenException: Invalid API key: it is not one of management.apiKeys (HTTP 403)"}},
		{"wrong secret", []string{"AWS_ACCESS_KEY_ID=" + cliAccessKey, "AWS_SECRET_ACCESS_KEY=wrong-secret-0123456789"}, []string{"send", "--all", ep, "x"}, 1,
			[]string{"ForbiddenException: The request signature we calculated does not match"}},
		{"unknown access key", nil, []string{"send", "--all", ep, "--access-key", "AKIDUNKNOWN0000001", "--secret-key", cliSecret, "x"}, 1,
			[]string{"ForbiddenException: The security token included in the request is invalid."}},
		{"no credentials", nil, []string{"channels", "info", "room:a", ep}, 1,
			[]string{"ForbiddenException: Missing Authentication Token", "give --api-key or SWITCHBOARD_API_KEY"}},
		{"API key wins over an access key", []string{"SWITCHBOARD_API_KEY=" + cliAPIKey, "AWS_ACCESS_KEY_ID=AKIDUNKNOWN0000001", "AWS_SECRET_ACCESS_KEY=x0123456789abcdef"}, []string{"connections", "list", ep}, 0, nil},
		{"stage not served", []string{"SWITCHBOARD_API_KEY=" + cliAPIKey}, []string{"connections", "list", "--endpoint", "http://" + s.addr + "/nope"}, 1,
			[]string{"ForbiddenException: Forbidden (HTTP 403)", "is the stage of --endpoint"}},
		{"unreachable", nil, []string{"connections", "list", "--endpoint", "http://127.0.0.1:1/test"}, 1,
			[]string{"connection refused", "is switchboard serving at --endpoint http://127.0.0.1:1/test?"}},
		{"no target", nil, []string{"send", ep, "x"}, 2, []string{"give a target: --connection ID, --channel CHANNEL, --user USER or --all"}},
		{"two targets", nil, []string{"send", ep, "--all", "--user", "u", "x"}, 2, []string{"--user and --all can't be used together"}},
		{"exclude without channel", nil, []string{"send", ep, "--user", "u", "--exclude", "x", "x"}, 2, []string{"--exclude applies to --channel and --all only"}},
		{"secret alone", []string{"AWS_SECRET_ACCESS_KEY=" + cliSecret}, []string{"send", ep, "--all", "x"}, 2, []string{"--secret-key (or AWS_SECRET_ACCESS_KEY) needs --access-key"}},
		{"no stage", nil, []string{"send", "--endpoint", "http://" + s.addr, "--all", "x"}, 2, []string{"--endpoint", "has no stage: want http(s)://host/{stage}"}},
		{"bad output", nil, []string{"connections", "list", ep, "-o", "yaml"}, 2, []string{`--output must be one of "table","json" but got "yaml"`}},
		{"bad limit", nil, []string{"connections", "list", ep, "--limit", "0"}, 2, []string{"--limit 0: give 1 to 1000"}},
		{"all and cursor", nil, []string{"channels", "presence", "room:a", ep, "--all", "--cursor", "x"}, 2, []string{"--all starts from the first page: drop --cursor"}},
		{"no id", nil, []string{"connections", "kick", ep}, 2, []string{`expected "<id> ..."`}},
		{"bad shell", nil, []string{"completion", "tcsh"}, 2, []string{`must be one of "bash","zsh","fish"`}},
		// Connection ids are base64url: one in 64 starts with "-". A flag
		// takes it as its value; a positional one needs -- before it.
		{"id with a hyphen, flag", []string{"SWITCHBOARD_API_KEY=" + cliAPIKey}, []string{"send", ep, "--connection", "-yAoP4U96VFB7zA=", "x"}, 1,
			[]string{"GoneException"}},
		{"id with a hyphen, after --", []string{"SWITCHBOARD_API_KEY=" + cliAPIKey}, []string{"connections", "get", ep, "--", "-yAoP4U96VFB7zA="}, 1,
			[]string{"GoneException"}},
		{"id with a hyphen, positional", []string{"SWITCHBOARD_API_KEY=" + cliAPIKey}, []string{"connections", "kick", ep, "-yAoP4U96VFB7zA="}, 2,
			[]string{"unknown flag -y", "if -yAoP4U96VFB7zA= is a connection id, put -- before it: switchboard connections get -- -yAoP4U96VFB7zA="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, nil, tc.env, tc.args...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", res.code, tc.code, res.stdout, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Fatalf("stderr lacks %q:\n%s", w, res.stderr)
				}
			}
			if tc.code != 0 && res.stdout != "" && tc.code == 1 {
				t.Fatalf("a failed call printed on stdout: %q", res.stdout)
			}
		})
	}
}

// The message on stdin must come from a pipe or a file: a terminal
// would wait for input nobody knows is expected.
func TestSendReadsStdin(t *testing.T) {
	s := &sendCmd{}
	data, err := s.message(strings.NewReader("a\x00b\n"), 4)
	if err != nil || string(data) != "a\x00b\n" {
		t.Fatalf("message = %q, %v", data, err)
	}
	_, err = s.message(strings.NewReader("12345"), 4)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 {
		t.Fatalf("too large: %v", err)
	}
	if tty, err := os.Open("/dev/tty"); err == nil {
		defer tty.Close()
		if _, err := s.message(tty, 4); err == nil || !strings.Contains(err.Error(), "pipe it on stdin") {
			t.Fatalf("terminal: %v", err)
		}
	}
}
