package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

// envMap returns an env lookup over m.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// minimal is the smallest valid file with one API; tests append to it.
const minimal = `apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
`

func TestSeedYAMLEqualsDefault(t *testing.T) {
	c, err := Parse("seed.yaml", []byte(SeedYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Default(), c); diff != "" {
		t.Errorf("Parse(SeedYAML) differs from Default() (-Default +Parse):\n%s", diff)
	}
}

// The quick start (serve without a file) runs in development mode, so it
// listens on this machine only.
func TestSeedListensOnLoopback(t *testing.T) {
	c, err := Parse("seed.yaml", []byte(SeedYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if ip, perr := netip.ParseAddr(host); err != nil || perr != nil || !ip.IsLoopback() || port != "8080" {
		t.Fatalf("seed listen %q, want a loopback address, port 8080", c.Listen)
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFullExample(t *testing.T) {
	const key = "admin-0123456789abcdef"
	c, err := Load(filepath.Join("testdata", "full.yaml"), envMap(map[string]string{"ADMIN_KEY": key}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:8080" || c.Log != (Log{"debug", "text"}) || c.Management.LoopbackAllowed() {
		t.Errorf("top level: %+v", c)
	}
	wantKeys := []APIKey{{Name: "backend", Key: key}, {Name: "ops", Key: "ops-0123456789abcdef"}}
	if diff := cmp.Diff(wantKeys, c.Management.APIKeys); diff != "" {
		t.Errorf("apiKeys (-want +got):\n%s", diff)
	}
	if len(c.APIs) != 2 {
		t.Fatalf("got %d APIs, want 2", len(c.APIs))
	}
	chat, games := c.APIs[0], c.APIs[1]
	if chat.Limits != games.Limits || games.Limits.MaxFrameBytes != 32<<10 {
		t.Errorf("limits anchor: chat %+v, games %+v", chat.Limits, games.Limits)
	}
	backend := chat.Integrations["backend"]
	if backend.URL != "http://localhost:3000/websocket" || backend.Headers["X-Shared-Secret"] != "change-me" {
		t.Errorf("backend integration: %+v", backend)
	}
	if got := games.RouteSelectionExpression; got != "${request.body.game}/${request.body.move}" {
		t.Errorf("route expression was changed: %q", got)
	}
	wantPayload := map[string]any{
		"message": "$request.body.message",
		"sender":  "${context.connectionId}",
		"at":      "$context.requestTimeEpoch",
		"tags":    []any{"chat", "2024-01-01"},
	}
	if diff := cmp.Diff(wantPayload, chat.Routes["sendMessage"].Action.Payload); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if chat.Disconnect != (Disconnect{5, Duration(500 * time.Millisecond)}) {
		t.Errorf("disconnect: %+v", chat.Disconnect)
	}
	yes, no := true, false
	wantChannels := Channels{
		MaxPerConnection: 64,
		MaxNameBytes:     200,
		Namespaces: []Namespace{
			{Pattern: "room:*", Subscribe: "allow", Publish: "subscribers", Presence: &yes, JoinLeave: true,
				History: History{Size: 100, TTL: Duration(10 * time.Minute), MetaTTL: Duration(48 * time.Hour), RecoveryLimit: 50}},
			{Pattern: "user:{user}", Subscribe: "user", Publish: "deny", Presence: &no},
			{Pattern: "private:*", Subscribe: "authorizer", Publish: "authorizer", Authorizer: "backend", Presence: &yes},
		},
	}
	if diff := cmp.Diff(wantChannels, chat.Channels); diff != "" {
		t.Errorf("channels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&Action{Type: "join", Channel: "room:${request.body.room}"}, chat.Routes["joinRoom"].Action); diff != "" {
		t.Errorf("join action (-want +got):\n%s", diff)
	}
	archive := chat.Integrations["archive"]
	wantArchive := Integration{Type: "lambda", Timeout: sec(10), MaxConcurrency: 64, MaxWaiting: 64, Lambda: Lambda{
		FunctionName: "123456789012:function:chat-archive", Qualifier: "live", Region: "eu-west-1", Endpoint: "http://localhost:4566",
	}}
	if diff := cmp.Diff(wantArchive, archive); diff != "" {
		t.Errorf("lambda integration (-want +got):\n%s", diff)
	}
	fnDir, err := filepath.Abs(filepath.Join("testdata", "fn"))
	if err != nil {
		t.Fatal(err)
	}
	wantBot := Integration{Type: "function", Timeout: sec(10), MaxConcurrency: 8, MaxWaiting: 8, Function: Function{
		Runtime:     "provided",
		Directory:   fnDir, // relative to the file, made absolute
		Handler:     "bot.handle",
		Command:     []string{"bootstrap", "--log-level", "debug"},
		Name:        "chat-bot",
		Memory:      256,
		Environment: map[string]string{"BOT_GREETING": "hello", "AWS_REGION": "eu-west-1"},
		MinWorkers:  1,
		IdleTimeout: Duration(10 * time.Minute),
		Credentials: "generated",
	}}
	if diff := cmp.Diff(wantBot, chat.Integrations["bot"]); diff != "" {
		t.Errorf("function integration (-want +got):\n%s", diff)
	}
	abs := func(rel string) string {
		t.Helper()
		p, err := filepath.Abs(filepath.Join("testdata", rel))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The tls files are relative to the file, made absolute.
	wantTLS := &TLS{CertFile: abs("tls/fullchain.pem"), KeyFile: abs("tls/privkey.pem"), ReloadInterval: sec(30)}
	if diff := cmp.Diff(wantTLS, c.TLS); diff != "" {
		t.Errorf("tls (-want +got):\n%s", diff)
	}
	if c.HTTP != (HTTP{ReadHeaderTimeout: sec(5), MaxHeaderBytes: 32 << 10, MaxConnections: 100000}) {
		t.Errorf("http: %+v", c.HTTP)
	}
	l := chat.Limits
	if got := [8]int{l.ConnectionsPerSecond, l.ConnectionBurst, l.ConnectionsPerSecondPerIP, l.MaxConnections,
		l.MaxConnectionsPerIP, l.MaxConnectionsPerUser, l.MessagesPerSecond, l.MessageBurst}; got != [8]int{500, 1000, 10, 50000, 100, 5, 20, 40} {
		t.Errorf("connection and message limits: %v", got)
	}
	edKey := "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAOv7ZaWSpWm+tLSlXIHDSkdYfl2L+RTwQFPoIW358cF0=\n-----END PUBLIC KEY-----\n"
	wantAuth := Auth{
		Origins: []string{"https://chat.example.com", "https://*.chat.example.com", "http://localhost:3000"},
		JWT: &JWT{
			Keys: []JWTKey{
				{ID: "hmac-1", Algorithm: "HS256", Secret: "0123456789abcdef0123456789abcdef"},
				{ID: "ed-1", Algorithm: "EdDSA", PublicKey: edKey},
				{ID: "es-1", Algorithm: "ES256", PublicKeyFile: abs("jwt/es256.pem")}, // relative to the file, made absolute
			},
			JWKSURL:           "https://auth.example.com/.well-known/jwks.json",
			JWKSRefresh:       Duration(30 * time.Minute),
			Algorithms:        []string{"RS256", "ES256"},
			Query:             "access_token",
			Header:            "X-Auth-Token",
			SubprotocolPrefix: "token.",
			Issuer:            "https://auth.example.com/",
			Audience:          []string{"chat", "chat-admin"},
			Leeway:            sec(60),
			UserClaim:         "uid",
			ContextClaims:     []string{"email", "roles"},
			Optional:          true,
		},
		Authorizer: &Authorizer{
			Integration:     "backend",
			IdentitySources: []string{"route.request.header.Authorization", "route.request.querystring.room"},
			CacheTTL:        Duration(5 * time.Minute),
		},
	}
	if diff := cmp.Diff(wantAuth, chat.Auth); diff != "" {
		t.Errorf("auth (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Auth{}, games.Auth); diff != "" {
		t.Errorf("auth of the second API (-want +got):\n%s", diff)
	}
	// Unset keys of the second API take their defaults.
	if games.Binary != "reject" || games.Integrations["engine"].Timeout != defaultIntegrationTimeout {
		t.Errorf("defaults of the second API: %+v", games)
	}
	if ns := games.Channels.Namespaces; games.Channels.MaxPerConnection != 128 || len(ns) != 1 || ns[0].Pattern != "*" {
		t.Errorf("default channels of the second API: %+v", games.Channels)
	}
}

// TestChannelsExample loads the channels example that
// docs/configuration.md shows.
func TestChannelsExample(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "channels.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := &c.APIs[0].Channels
	for _, tt := range []struct {
		channel, pattern, user string
	}{
		{"room:lobby", "room:*", ""},
		{"user:alice", "user:{user}", "alice"},
	} {
		ns, user, ok := ch.Lookup(tt.channel)
		if !ok || ns.Pattern != tt.pattern || user != tt.user {
			t.Errorf("Lookup(%q) = %+v, %q, %v", tt.channel, ns, user, ok)
		}
	}
	if _, _, ok := ch.Lookup("news"); ok {
		t.Error("a channel outside the namespaces was found")
	}
	room := ch.Namespaces[0]
	if room.History != (History{Size: 100, TTL: Duration(5 * time.Minute), MetaTTL: Duration(24 * time.Hour), RecoveryLimit: 100}) || !room.JoinLeave {
		t.Errorf("room namespace: %+v", room)
	}
	if ch.Namespaces[1].PresenceEnabled() {
		t.Error("presence of the user namespace is on")
	}
}

// TestIntegrationExamples loads the lambda and function examples that
// docs/configuration.md shows.
func TestIntegrationExamples(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "lambda.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Integration{Type: "lambda", Timeout: Duration(29 * time.Second), MaxConcurrency: 256, MaxWaiting: 256, Lambda: Lambda{
		FunctionName: "123456789012:function:chat-handler", Qualifier: "live", Region: "eu-west-1",
	}}
	if diff := cmp.Diff(want, c.APIs[0].Integrations["chat"]); diff != "" {
		t.Errorf("lambda.yaml (-want +got):\n%s", diff)
	}

	c, err = Load(filepath.Join("testdata", "function.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "chat"))
	if err != nil {
		t.Fatal(err)
	}
	want = Integration{Type: "function", Timeout: Duration(29 * time.Second), MaxConcurrency: 4, MaxWaiting: 4, Function: Function{
		Runtime:     "nodejs",
		Directory:   dir,
		Handler:     "index.handler",
		Name:        "chat",
		Memory:      128,
		Environment: map[string]string{"WEBSOCKET_ENDPOINT": "http://127.0.0.1:8080/production", "AWS_REGION": "us-east-1"},
		IdleTimeout: Duration(5 * time.Minute),
		Credentials: "generated",
	}}
	if diff := cmp.Diff(want, c.APIs[0].Integrations["chat"]); diff != "" {
		t.Errorf("function.yaml (-want +got):\n%s", diff)
	}
}

// TestFunctionDirectory checks where a relative function.directory is
// resolved: by Load against the file's directory (whatever the working
// directory), by Parse not at all.
func TestFunctionDirectory(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"conf/fn", "elsewhere"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := func(dir string) string {
		return minimal + "    integrations:\n      bot:\n        type: function\n        function:\n          runtime: nodejs\n          handler: index.handler\n          directory: " + dir + "\n"
	}
	write := func(name, data string) string {
		p := filepath.Join(root, "conf", name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dirOf := func(c *Config) string { return c.APIs[0].Integrations["bot"].Function.Directory }

	t.Chdir(filepath.Join(root, "elsewhere"))
	for _, tt := range []struct{ dir, want string }{
		{"fn", filepath.Join(root, "conf", "fn")},
		{"./fn/", filepath.Join(root, "conf", "fn")},
		{"../conf/fn", filepath.Join(root, "conf", "fn")},
		{filepath.Join(root, "elsewhere"), filepath.Join(root, "elsewhere")},
	} {
		// Loaded by an absolute path and by one relative to the working
		// directory.
		p := write("switchboard.yaml", file(tt.dir))
		for _, path := range []string{p, filepath.Join("..", "conf", "switchboard.yaml")} {
			c, err := Load(path, nil)
			if err != nil {
				t.Errorf("directory %q, Load(%q): %v", tt.dir, path, err)
				continue
			}
			if got := dirOf(c); got != tt.want {
				t.Errorf("directory %q, Load(%q): got %q, want %q", tt.dir, path, got, tt.want)
			}
		}
	}

	// The problem names the directory as resolved.
	p := write("missing.yaml", file("missing"))
	_, err := Load(p, nil)
	want := p + `:11: apis[0].integrations.bot.function.directory: "` + filepath.Join(root, "conf", "missing") +
		`" does not exist; create it or fix the path (a relative path is relative to the configuration file's directory)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}

	// Parse has no file: the directory stays as written, relative to the
	// working directory.
	t.Chdir(filepath.Join(root, "conf"))
	c, err := Parse("x.yaml", []byte(file("fn")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := dirOf(c); got != "fn" {
		t.Errorf("Parse: directory %q, want it as written (fn)", got)
	}
}

// TestIntegrationParseErrors pins the complete text of integration
// problems as Parse reports them, with their lines.
func TestIntegrationParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"    integrations:\n      chat:\n        type: lambda\n        url: http://x\n        lambda:\n          functionName: arn:aws:lambda:us-east-1:123456789012:function:chat\n          region: eu-west-1\n",
			`x.yaml: 2 problems:
  x.yaml:8: apis[0].integrations.chat.url: is only for type http; remove it (a lambda integration invokes lambda.functionName)
  x.yaml:11: apis[0].integrations.chat.lambda.region: "eu-west-1" is not the region of the ARN in functionName (us-east-1), where the function is; remove region (a full ARN carries its own) or fix one of them`},
		{"    integrations:\n      chat:\n        type: function\n        function:\n          runtime: nodejs\n          directory: .\n          environment:\n            AWS_LAMBDA_FUNCTION_NAME: chat\n",
			`x.yaml: 2 problems:
  x.yaml:8: apis[0].integrations.chat.function.handler: is required for runtime nodejs; write FILE.EXPORT, e.g. index.handler (the export handler of index.js or index.mjs)
  x.yaml:12: apis[0].integrations.chat.function.environment.AWS_LAMBDA_FUNCTION_NAME: AWS_LAMBDA_FUNCTION_NAME is a reserved Lambda variable, which Switchboard sets from function.name; set that instead and remove it here`},
		{"    integrations:\n      chat:\n        type: http\n        url: http://x\n        function:\n          runtime: nodejs\n",
			`x.yaml:9: apis[0].integrations.chat.function: is only for type function; remove it, or set type: function`},
		{"    integrations:\n      chat:\n        type: function\n        function:\n          runtime: nodejs\n          directory: .\n          handler: index.handler\n          memory: 64MB\n",
			`x.yaml:12: apis[0].integrations.chat.function.memory: want a whole number, got text "64MB"; write a number such as 64, without quotes`},
		{"    integrations:\n      chat:\n        type: function\n        function:\n          runtime: provided\n          directory: .\n          command: ./bootstrap\n",
			`x.yaml:11: apis[0].integrations.chat.function.command: want a list, got text "./bootstrap"; write each item on its own line starting with "- "`},
	}
	for _, tt := range tests {
		_, err := Parse("x.yaml", []byte(minimal+tt.in), nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q):\ngot  %v\nwant %s", tt.in, err, tt.want)
		}
	}
}

// TestRoundTrip checks that a config written back as YAML loads into the
// same config.
func TestRoundTrip(t *testing.T) {
	env := envMap(map[string]string{"ADMIN_KEY": "admin-0123456789abcdef"})
	for _, name := range []string{"full.yaml", "channels.yaml", "lambda.yaml", "function.yaml"} {
		c, err := Load(filepath.Join("testdata", name), env)
		if err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(name+" (marshalled)", out, nil)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		// Absent maps and lists are written as empty ones.
		if diff := cmp.Diff(c, again, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: round trip changed the config (-loaded +reloaded):\n%s", name, diff)
		}
	}
}

// TestChannelsParseErrors pins the complete text of channel problems as
// Parse reports them, with their lines.
func TestChannelsParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"    channels:\n      namespaces:\n        - pattern: room:{id}\n          subscribe: everyone\n",
			`x.yaml: 2 problems:
  x.yaml:7: apis[0].channels.namespaces[0].pattern: "room:{id}" contains '{' outside {user}; '{' and '}' may only appear as {user}, the placeholder for the connection's user id
  x.yaml:8: apis[0].channels.namespaces[0].subscribe: "everyone" is not a subscribe rule; use allow, deny, user or authorizer`},
		{"    channels:\n      namespaces:\n        - pattern: \"*\"\n        - pattern: \"room:*\"\n",
			`x.yaml:8: apis[0].channels.namespaces[1].pattern: "room:*" can never apply: apis[0].channels.namespaces[0] has pattern "*", which matches every channel first; move this namespace before it`},
		{"    channels:\n      namespaces:\n        - pattern: \"room:*\"\n          history: {ttl: 1m}\n",
			`x.yaml:8: apis[0].channels.namespaces[0].history.ttl: has no effect without history.size; set size to the number of publications each channel keeps, or remove ttl`},
		{"    channels:\n      namespaces:\n        - pattern: \"room:*\"\n          history: {size: 10, ttl: 5}\n",
			`x.yaml:8: apis[0].channels.namespaces[0].history.ttl: "5" is not a duration; write it with a unit, such as "30s" or "10m"`},
		{"    channels:\n      namespaces:\n        pattern: \"*\"\n",
			`x.yaml:7: apis[0].channels.namespaces: want a list, got a mapping; write each item on its own line starting with "- "`},
		{"    channels:\n      namespaces:\n        - pattern: \"*\"\n          presence: maybe\n",
			`x.yaml:8: apis[0].channels.namespaces[0].presence: want true or false, got text "maybe"; write true or false without quotes`},
		{"    routes:\n      join:\n        action: {type: join}\n",
			`x.yaml:7: apis[0].routes.join.action.channel: is required for type join; name the channel with a selection expression, e.g. channel: $request.body.room or channel: room:${request.body.room}`},
		{"    routes:\n      join:\n        action:\n          type: join\n          channel: room:$context.stage\n",
			`x.yaml:9: apis[0].routes.join.action.channel: "room:$context.stage" uses $context.stage; a channel can only use $request.body variables, such as $request.body.room (write \$ for a literal dollar sign)`},
	}
	for _, tt := range tests {
		_, err := Parse("x.yaml", []byte(minimal+tt.in), nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q):\ngot  %v\nwant %s", tt.in, err, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}

	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(path, []byte(minimal+"    binary: text\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, nil)
	want := path + `:5: apis[0].binary: "text" is not a binary frame mode; use reject or base64`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "apis[0].binary" {
		t.Errorf("errors.As(*ValidationError): %#v", ve)
	}
}

// TestParseErrors pins the complete text of representative errors: file,
// line, field path, problem and fix.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		env  map[string]string
		want string
	}{
		{"empty", "", nil,
			`x.yaml: no configuration; the file is empty. Start from the example in docs/configuration.md, or run without a file to get the default chat API`},
		{"only comments", "# listen: :8080\n\n", nil,
			`x.yaml: no configuration; the file is empty. Start from the example in docs/configuration.md, or run without a file to get the default chat API`},
		{"two documents", "listen: :1\n---\nlisten: :2\n", nil,
			`x.yaml:2: a second YAML document starts here; Switchboard reads one document per file: remove the "---" separator and merge the settings into the first document`},
		{"syntax", "log:\n  level: info\n    format: json\n", nil,
			`x.yaml:3: YAML syntax error on this line: mapping values are not allowed in this context`},
		{"tab", "log:\n\tlevel: info\n", nil,
			`x.yaml:2: YAML syntax error on this line: found character that cannot start any token (line 2 is indented with a tab; YAML needs spaces)`},
		{"not a mapping", "- listen\n", nil,
			`x.yaml:1: the file must be a mapping of settings (listen:, apis:, ...), not a list`},
		{"unknown key", minimal + "    rout: {}\n", nil,
			`x.yaml:5: apis[0]: unknown key "rout" (did you mean "routes"?)`},
		{"unknown key without suggestion", "log:\n  colour: true\n", nil,
			`x.yaml:2: log: unknown key "colour"; the keys here are level, format`},
		{"wrong kinds", "listen: [a]\nlog: x\napis: {a: 1}\n", nil, `x.yaml: 3 problems:
  x.yaml:1: listen: want text, got a list; if you meant text, put it in quotes
  x.yaml:2: log: want a mapping, got text "x"; write key: value pairs on the lines below, indented
  x.yaml:3: apis: want a list, got a mapping; write each item on its own line starting with "- "`},
		{"bad units", minimal + "    limits:\n      idleTimeout: 5\n      maxMessageBytes: 1x\n      inboundQueueMessages: \"64\"\n", nil, `x.yaml: 3 problems:
  x.yaml:6: apis[0].limits.idleTimeout: "5" is not a duration; write it with a unit, such as "30s" or "10m"
  x.yaml:7: apis[0].limits.maxMessageBytes: "1x" is not a size; write bytes as a number or with a unit such as "128KiB" or "1MiB"
  x.yaml:8: apis[0].limits.inboundQueueMessages: want a whole number, got text "64"; write a number such as 64, without quotes`},
		{"bool", "management:\n  allowLoopback: nope\n", nil,
			`x.yaml:2: management.allowLoopback: want true or false, got text "nope"; write true or false without quotes`},
		{"negative duration", "shutdown:\n  timeout: -1s\n", nil,
			`x.yaml:2: shutdown.timeout: "-1s" is negative; write a duration of zero or more`},
		{"duplicate key", minimal + "    stage: again\n", nil,
			`x.yaml:5: apis[0].stage: duplicate key "stage" (first at line 3); keep only one`},
		{"unset variable", "listen: ${ADDR}\n", nil,
			`x.yaml:1: listen: environment variable ADDR is not set; set it, or give a default with ${ADDR:-value}`},
		{"unset variable and unknown key together", "listen: ${ADDR}\nlogs: {}\n", nil, `x.yaml: 2 problems:
  x.yaml:1: listen: environment variable ADDR is not set; set it, or give a default with ${ADDR:-value}
  x.yaml:2: unknown key "logs" (did you mean "log"?)`},
		{"validation", minimal + "    routes:\n      sendMessage:\n        integration: chatt\n    integrations:\n      chat:\n        type: http\n        url: http://localhost:3000\n", nil,
			`x.yaml:7: apis[0].routes.sendMessage.integration: "chatt" is not defined in apis[0].integrations (defined: chat); fix the name or add the integration (did you mean "chat"?)`},
		{"validation of an absent field points at its parent", "apis:\n  - id: chat\n    routeSelectionExpression: $request.body.action\n", nil,
			`x.yaml:2: apis[0].stage: is required; set the first path segment clients connect to, e.g. stage: production`},
		{"validation sorted by line", "listen: nope\napis:\n  - id: a/b\n    stage: s\n    routeSelectionExpression: x\n", nil, `x.yaml: 3 problems:
  x.yaml:1: listen: "nope" is not host:port; write ":8080" to listen on every interface or "127.0.0.1:8080" for this machine only
  x.yaml:3: apis[0].id: "a/b" contains '/'; use only letters, digits, '-' and '_'
  x.yaml:5: apis[0].routeSelectionExpression: "x" is not a selection expression; write $request.body.action (the JSON field "action" of each message) or \$default (every message to the $default route)`},
		{"quoted map key in path", minimal + "    routes:\n      \"a.b\":\n        action: {type: shout}\n", nil,
			`x.yaml:7: apis[0].routes["a.b"].action.type: "shout" is not an action type; use broadcast, echo, join or leave`},
		{"alias that contains itself", minimal + "    routes:\n      a:\n        action:\n          type: broadcast\n          payload: &a [*a]\n", nil,
			`x.yaml: anchor 'a' value contains itself`},
		{"excessive aliasing", minimal + "    routes:\n      a:\n        action:\n          type: broadcast\n          payload:\n" + aliasBomb, nil,
			`x.yaml: the aliases (*name) in this file expand to 4412961536 values, from 50 written; use fewer nested aliases`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("x.yaml", []byte(tt.in), envMap(tt.env))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned with the error")
			}
			if err.Error() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// aliasBomb is a "billion laughs" payload: 9 levels of 9 aliases.
var aliasBomb = func() string {
	var b strings.Builder
	b.WriteString("            l0: &l0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "            l%d: &l%d [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}()

func TestUnknownKeySuggestions(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"lisen: :8080\n", `x.yaml:1: unknown key "lisen" (did you mean "listen"?)`},
		{"Listen: :8080\n", `x.yaml:1: unknown key "Listen" (did you mean "listen"?)`},
		{"management:\n  api_keys: []\n", `x.yaml:2: management: unknown key "api_keys" (did you mean "apiKeys"?)`},
		{"shutdown:\n  drain: 1s\n", `x.yaml:2: shutdown: unknown key "drain" (did you mean "drainWindow"?)`},
		{minimal + "    stages: x\n", `x.yaml:5: apis[0]: unknown key "stages" (did you mean "stage"?)`},
		{minimal + "    limits:\n      max_message_bytes: 1MiB\n", `x.yaml:6: apis[0].limits: unknown key "max_message_bytes" (did you mean "maxMessageBytes"?)`},
		{minimal + "    limits:\n      idletimeout: 1m\n", `x.yaml:6: apis[0].limits: unknown key "idletimeout" (did you mean "idleTimeout"?)`},
		{minimal + "    routes:\n      a:\n        integation: b\n", `x.yaml:7: apis[0].routes.a: unknown key "integation" (did you mean "integration"?)`},
		{minimal + "    routes:\n      a:\n        action:\n          type: broadcast\n          exclude_sender: true\n", `x.yaml:9: apis[0].routes.a.action: unknown key "exclude_sender" (did you mean "excludeSender"?)`},
		{minimal + "    integrations:\n      b:\n        type: http\n        secret: x\n", `x.yaml:8: apis[0].integrations.b: unknown key "secret"; the keys here are type, url, timeout, maxConcurrency, maxWaiting, headers, lambda, function`},
		{minimal + "    integrations:\n      b:\n        type: lambda\n        lambda:\n          functionname: x\n", `x.yaml:9: apis[0].integrations.b.lambda: unknown key "functionname" (did you mean "functionName"?)`},
		{minimal + "    integrations:\n      b:\n        type: lambda\n        lambda:\n          function_name: x\n", `x.yaml:9: apis[0].integrations.b.lambda: unknown key "function_name" (did you mean "functionName"?)`},
		{minimal + "    integrations:\n      b:\n        type: lambda\n        lambda:\n          qualifer: live\n", `x.yaml:9: apis[0].integrations.b.lambda: unknown key "qualifer" (did you mean "qualifier"?)`},
		{minimal + "    integrations:\n      b:\n        type: lambda\n        lambda:\n          arn: x\n", `x.yaml:9: apis[0].integrations.b.lambda: unknown key "arn"; the keys here are functionName, qualifier, region, endpoint`},
		{minimal + "    integrations:\n      b:\n        type: function\n        function:\n          runtim: nodejs\n", `x.yaml:9: apis[0].integrations.b.function: unknown key "runtim" (did you mean "runtime"?)`},
		{minimal + "    integrations:\n      b:\n        type: function\n        function:\n          env: {}\n", `x.yaml:9: apis[0].integrations.b.function: unknown key "env" (did you mean "environment"?)`},
		{minimal + "    integrations:\n      b:\n        type: function\n        function:\n          min_workers: 1\n", `x.yaml:9: apis[0].integrations.b.function: unknown key "min_workers" (did you mean "minWorkers"?)`},
		{minimal + "    integrations:\n      b:\n        type: function\n        function:\n          dir: .\n", `x.yaml:9: apis[0].integrations.b.function: unknown key "dir" (did you mean "directory"?)`},
		{minimal + "    integrations:\n      b:\n        type: function\n        function:\n          memorySize: 128\n", `x.yaml:9: apis[0].integrations.b.function: unknown key "memorySize" (did you mean "memory"?)`},
		// A key of a block written one level too high points into it,
		// and still lists the keys of its own level.
		{minimal + "    integrations:\n      b:\n        type: lambda\n        functionName: x\n", `x.yaml:8: apis[0].integrations.b: unknown key "functionName" (did you mean lambda.functionName? write it under lambda:); the keys here are type, url, timeout, maxConcurrency, maxWaiting, headers, lambda, function`},
		{minimal + "    integrations:\n      b:\n        type: function\n        runtime: nodejs\n", `x.yaml:8: apis[0].integrations.b: unknown key "runtime" (did you mean function.runtime? write it under function:); the keys here are type, url, timeout, maxConcurrency, maxWaiting, headers, lambda, function`},
		{minimal + "    integrations:\n      b:\n        type: http\n        endpoint: http://x\n", `x.yaml:8: apis[0].integrations.b: unknown key "endpoint" (did you mean lambda.endpoint? write it under lambda:); the keys here are type, url, timeout, maxConcurrency, maxWaiting, headers, lambda, function`},
		{minimal + "    idle_timeout: 1m\n", `x.yaml:5: apis[0]: unknown key "idle_timeout" (did you mean limits.idleTimeout? write it under limits:); the keys here are id, stage, domainName, routeSelectionExpression, binary, limits, channels, compression, auth, routes, integrations, disconnect`},
		{minimal + "    routes:\n      a:\n        type: echo\n", `x.yaml:7: apis[0].routes.a: unknown key "type" (did you mean action.type? write it under action:); the keys here are integration, action, routeResponseSelectionExpression`},
		{minimal + "    disconnect:\n      retries: 3\n", `x.yaml:6: apis[0].disconnect: unknown key "retries"; the keys here are attempts, backoff`},
		{minimal + "    channel:\n      maxNameBytes: 100\n", `x.yaml:5: apis[0]: unknown key "channel" (did you mean "channels"?)`},
		{minimal + "    channels:\n      namespace: []\n", `x.yaml:6: apis[0].channels: unknown key "namespace" (did you mean "namespaces"?)`},
		{minimal + "    channels:\n      max_per_connection: 10\n", `x.yaml:6: apis[0].channels: unknown key "max_per_connection" (did you mean "maxPerConnection"?)`},
		{minimal + "    channels:\n      namespaces:\n        - pattern: \"*\"\n          join_leave: true\n", `x.yaml:8: apis[0].channels.namespaces[0]: unknown key "join_leave" (did you mean "joinLeave"?)`},
		{minimal + "    channels:\n      namespaces:\n        - pattern: \"*\"\n          histroy: {size: 1}\n", `x.yaml:8: apis[0].channels.namespaces[0]: unknown key "histroy" (did you mean "history"?)`},
		{minimal + "    channels:\n      namespaces:\n        - pattern: \"*\"\n          history:\n            meta_ttl: 1h\n", `x.yaml:9: apis[0].channels.namespaces[0].history: unknown key "meta_ttl" (did you mean "metaTTL"?)`},
		{minimal + "    channels:\n      namespaces:\n        - pattern: \"*\"\n          history:\n            recovery: 5\n", `x.yaml:9: apis[0].channels.namespaces[0].history: unknown key "recovery" (did you mean "recoveryLimit"?)`},
		{minimal + "    channels:\n      namespaces:\n        - pattern: \"*\"\n          rule: allow\n", `x.yaml:8: apis[0].channels.namespaces[0]: unknown key "rule"; the keys here are pattern, subscribe, publish, authorizer, history, presence, joinLeave`},
		{minimal + "    routes:\n      a:\n        action:\n          type: join\n          chanel: room:x\n", `x.yaml:9: apis[0].routes.a.action: unknown key "chanel" (did you mean "channel"?)`},
		{"tls:\n  cert_file: a.pem\n", `x.yaml:2: tls: unknown key "cert_file" (did you mean "certFile"?)`},
		{"tls:\n  certificate: a.pem\n", `x.yaml:2: tls: unknown key "certificate"; the keys here are certFile, keyFile, reloadInterval`},
		{"http:\n  max_header_bytes: 1KiB\n", `x.yaml:2: http: unknown key "max_header_bytes" (did you mean "maxHeaderBytes"?)`},
		{minimal + "    limits:\n      max_connections_per_ip: 5\n", `x.yaml:6: apis[0].limits: unknown key "max_connections_per_ip" (did you mean "maxConnectionsPerIP"?)`},
		{minimal + "    limits:\n      messageBurts: 5\n", `x.yaml:6: apis[0].limits: unknown key "messageBurts" (did you mean "messageBurst"?)`},
		{minimal + "    auth:\n      origin: [\"*\"]\n", `x.yaml:6: apis[0].auth: unknown key "origin" (did you mean "origins"?)`},
		{minimal + "    auth:\n      jwt:\n        jwks_url: https://x\n", `x.yaml:7: apis[0].auth.jwt: unknown key "jwks_url" (did you mean "jwksUrl"?)`},
		{minimal + "    auth:\n      jwt:\n        audiences: [a]\n", `x.yaml:7: apis[0].auth.jwt: unknown key "audiences" (did you mean "audience"?)`},
		{minimal + "    auth:\n      jwt:\n        keys:\n          - alg: HS256\n", `x.yaml:8: apis[0].auth.jwt.keys[0]: unknown key "alg" (did you mean "algorithm"?)`},
		{minimal + "    auth:\n      jwt:\n        keys:\n          - pem: x\n", `x.yaml:8: apis[0].auth.jwt.keys[0]: unknown key "pem"; the keys here are id, algorithm, secret, publicKey, publicKeyFile`},
		{minimal + "    auth:\n      jwt:\n        keys:\n          - public_key_file: k.pem\n", `x.yaml:8: apis[0].auth.jwt.keys[0]: unknown key "public_key_file" (did you mean "publicKeyFile"?)`},
		{minimal + "    auth:\n      authorizer:\n        identity_sources: []\n", `x.yaml:7: apis[0].auth.authorizer: unknown key "identity_sources" (did you mean "identitySources"?)`},
		{minimal + "    auth:\n      authorizer:\n        ttl: 1m\n", `x.yaml:7: apis[0].auth.authorizer: unknown key "ttl"; the keys here are integration, identitySources, cacheTTL`},
		// Keys brought in by a merge are checked where they are merged.
		{"x: &x {level: info, colour: red}\n", `x.yaml:1: unknown key "x"; the keys here are listen, log, shutdown, management, transport, tls, http, metrics, cluster, apis, pusher, admin`},
		{"apis:\n  - &a {id: a, stage: a, routeSelectionExpression: $x}\n  - <<: *a\n    stage: b\n    bogus: 1\n", `x.yaml:5: apis[1]: unknown key "bogus"; the keys here are id, stage, domainName, routeSelectionExpression, binary, limits, channels, compression, auth, routes, integrations, disconnect`},
		{"apis:\n  - id: a\n    stage: a\n    routeSelectionExpression: $x\n    limits: &l {attempts: 3}\n", `x.yaml:5: apis[0].limits: unknown key "attempts"; the keys here are maxMessageBytes, maxFrameBytes, idleTimeout, maxConnectionDuration, pingInterval, pongTimeout, outboundQueueBytes, writeTimeout, connectionsPerSecond, connectionBurst, connectionsPerSecondPerIP, maxConnections, maxConnectionsPerIP, maxConnectionsPerUser, messagesPerSecond, messageBurst, inboundQueueMessages`},
		// An alias used as a key is checked as the key it stands for.
		{"log:\n  level: &k colour\n  *k : red\n", `x.yaml:3: log: unknown key "colour"; the keys here are level, format`},
		// An anchor reused where other keys apply is checked there too.
		{"apis:\n  - id: a\n    stage: a\n    routeSelectionExpression: $x\n    disconnect: &d {attempts: 3}\n    limits: *d\n", `x.yaml:5: apis[0].limits: unknown key "attempts"; the keys here are maxMessageBytes, maxFrameBytes, idleTimeout, maxConnectionDuration, pingInterval, pongTimeout, outboundQueueBytes, writeTimeout, connectionsPerSecond, connectionBurst, connectionsPerSecondPerIP, maxConnections, maxConnectionsPerIP, maxConnectionsPerUser, messagesPerSecond, messageBurst, inboundQueueMessages`},
	}
	for _, tt := range tests {
		_, err := Parse("x.yaml", []byte(tt.in), nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q):\ngot  %v\nwant %s", tt.in, err, tt.want)
		}
	}
}

func TestMergeKeysDecode(t *testing.T) {
	in := "apis:\n  - &a {id: a, stage: a, routeSelectionExpression: $x, binary: base64}\n  - <<: *a\n    stage: b\n"
	c, err := Parse("x.yaml", []byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIs[1].ID != "a" || c.APIs[1].Stage != "b" || c.APIs[1].Binary != "base64" {
		t.Errorf("merged API: %+v", c.APIs[1])
	}
}

// TestPayloadDecoding checks that payload templates decode into JSON-like
// values: map[string]any (never map[any]any, whatever the keys look like),
// []any, strings, numbers and booleans; dates stay text.
func TestPayloadDecoding(t *testing.T) {
	in := minimal + `    routes:
      a:
        action:
          type: broadcast
          payload:
            message: $request.body.message
            1: one
            true: yes
            ~: null key
            2024-01-01: date key
            nested:
              - {3: three, day: 2024-01-01, n: 1.5, ok: true}
            tagged: !!timestamp 2024-01-02
            shared: &s {7: seven}
            again: *s
`
	c, err := Parse("x.yaml", []byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"message":    "$request.body.message",
		"1":          "one",
		"true":       "yes",
		"~":          "null key",
		"2024-01-01": "date key",
		"nested":     []any{map[string]any{"3": "three", "day": "2024-01-01", "n": 1.5, "ok": true}},
		"tagged":     "2024-01-02",
		"shared":     map[string]any{"7": "seven"},
		"again":      map[string]any{"7": "seven"},
	}
	if diff := cmp.Diff(want, c.APIs[0].Routes["a"].Action.Payload); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
}

func TestPayloadErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"payload:\n            ? [a, b]\n            : x\n",
			`x.yaml:10: apis[0].routes.a.action.payload: payload keys must be text; write a plain key such as "message:"`},
		{"payload: {n: .inf}\n",
			`x.yaml:9: apis[0].routes.a.action.payload: cannot be sent as JSON (json: unsupported value: +Inf); quote values such as .inf or .nan`},
	}
	for _, tt := range tests {
		in := minimal + "    routes:\n      a:\n        action:\n          type: broadcast\n          " + tt.in
		_, err := Parse("x.yaml", []byte(in), nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("got  %v\nwant %s", err, tt.want)
		}
	}
}

func TestParentPath(t *testing.T) {
	tests := map[string]string{
		"listen":                                "",
		"apis[0]":                               "apis",
		"apis[0].stage":                         "apis[0]",
		"apis[0].routes.$connect.action":        "apis[0].routes.$connect",
		`apis[0].routes["a.b"]`:                 "apis[0].routes",
		`apis[0].routes["a.b"].integration`:     `apis[0].routes["a.b"]`,
		`apis[0].routes["x[\"]."]`:              "apis[0].routes",
		`apis[0].integrations.b.headers["a b"]`: "apis[0].integrations.b.headers",
		"":                                      "",
	}
	for in, want := range tests {
		if got := parentPath(in); got != want {
			t.Errorf("parentPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorsListEveryProblemOnce(t *testing.T) {
	in := "listen: nope\nlog: {level: loud, format: xml}\n"
	_, err := Parse("x.yaml", []byte(in), nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ValidationError", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	if diff := cmp.Diff([]string{"listen", "log.level", "log.format"}, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if n := strings.Count(err.Error(), "\n"); n != 3 {
		t.Errorf("want a header and 3 lines, got:\n%s", err)
	}
}

// TestSyntaxErrorLine: a syntax error names the line of the mistake, not
// the line where yaml.v3's enclosing construct began (it said 4 or 6 for
// each of these, all on line 7).
func TestSyntaxErrorLine(t *testing.T) {
	const head = "listen: 127.0.0.1:8080\nlog:\n  level: info\napis:\n  - id: chat\n    stage: production\n"
	for _, tc := range []struct{ name, line7, rest, msg string }{
		{"key indented too far", "      routeSelectionExpression: x\n", "    routes: {}\n", "mapping values are not allowed in this context"},
		{"tab indent", "\troutes: {}\n", "", "found a tab character that violates indentation (line 7 is indented with a tab; YAML needs spaces)"},
		{"unclosed quote", "    name: \"unclosed\n", "    routes: {}\n", "found unexpected end of stream"},
		{"key indented too little", "  routes:\n", "      $default: {integration: echo}\n", "did not find expected '-' indicator"},
		{"unclosed flow sequence", "    routes: [a, b\n", "    integrations: {}\n", "did not find expected ',' or ']'"},
		{"unclosed flow mapping", "    routes: {a: b\n", "    integrations: {}\n", "did not find expected ',' or '}'"},
		{"list item in a mapping", "    - routes\n", "", "did not find expected key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, eol := range []string{"\n", "\r\n"} {
				in := strings.ReplaceAll(head+tc.line7+tc.rest, "\n", eol)
				_, err := Parse("x.yaml", []byte(in), nil)
				want := "x.yaml:7: YAML syntax error on this line: " + tc.msg
				if err == nil || err.Error() != want {
					t.Errorf("eol %q:\n got %v\nwant %s", eol, err, want)
				}
			}
		})
	}
	// A construct that spans lines before the mistake does not pull the
	// line back to where it began.
	in := "log:\n  level: \"multi\n    line\"\n  format: [json,\n    text]\n  x: y\n    z: w\n"
	if _, err := Parse("x.yaml", []byte(in), nil); err == nil || !strings.HasPrefix(err.Error(), "x.yaml:7: ") {
		t.Errorf("after multi-line values: %v, want line 7", err)
	}
	if _, err := Parse("x.yaml", []byte("listen: [\n"), nil); err == nil || !strings.HasPrefix(err.Error(), "x.yaml:1: ") {
		t.Errorf("line 1: %v", err)
	}
}
