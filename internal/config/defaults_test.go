package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestApplyDefaults(t *testing.T) {
	c := &Config{APIs: []API{{
		Integrations: map[string]Integration{"b": {}},
	}}}
	c.ApplyDefaults()
	allow := true
	want := &Config{
		Listen:    ":8080",
		Log:       Log{Level: "info", Format: "json"},
		Shutdown:  Shutdown{ReadinessDelay: new(Duration(5 * time.Second)), DrainWindow: Duration(5 * time.Second), Timeout: Duration(30 * time.Second)},
		Transport: Transport{Driver: "auto"},
		HTTP:      HTTP{ReadHeaderTimeout: Duration(10 * time.Second), MaxHeaderBytes: 16 << 10},
		APIs: []API{{
			Binary: "reject",
			Limits: Limits{
				MaxMessageBytes:       128 << 10,
				MaxFrameBytes:         128 << 10,
				IdleTimeout:           Duration(10 * time.Minute),
				MaxConnectionDuration: Duration(2 * time.Hour),
				PingInterval:          Duration(30 * time.Second),
				PongTimeout:           Duration(20 * time.Second),
				OutboundQueueBytes:    1 << 20,
				WriteTimeout:          Duration(10 * time.Second),
				InboundQueueMessages:  64,
			},
			Channels: Channels{
				MaxPerConnection: 128,
				MaxNameBytes:     255,
				Namespaces:       []Namespace{{Pattern: "*", Subscribe: "allow", Publish: "subscribers", Presence: &allow}},
			},
			Integrations: map[string]Integration{"b": {Timeout: Duration(29 * time.Second), MaxConcurrency: 256, MaxWaiting: 256}},
			Disconnect:   Disconnect{Attempts: 3, Backoff: Duration(200 * time.Millisecond)},
		}},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	again := *c
	again.ApplyDefaults()
	if diff := cmp.Diff(c, &again); diff != "" {
		t.Errorf("not idempotent (-first +second):\n%s", diff)
	}
}

func TestApplyDefaultsKeepsSetValues(t *testing.T) {
	deny := false
	c := &Config{
		Listen:     ":1",
		Management: Management{AllowLoopback: &deny},
		APIs:       []API{{Limits: Limits{MaxMessageBytes: 1 << 20, IdleTimeout: Duration(time.Minute)}}},
	}
	c.ApplyDefaults()
	l := c.APIs[0].Limits
	if c.Listen != ":1" || c.Management.LoopbackAllowed() || l.IdleTimeout != Duration(time.Minute) || l.MaxMessageBytes != 1<<20 {
		t.Errorf("set values changed: %+v", c)
	}
	if l.MaxFrameBytes != 1<<20 {
		t.Errorf("maxFrameBytes = %s, want maxMessageBytes (1MiB)", l.MaxFrameBytes)
	}
}

func TestApplyDefaultsChannels(t *testing.T) {
	yes, no := true, false
	c := &Config{APIs: []API{{Channels: Channels{
		MaxPerConnection: 10,
		Namespaces: []Namespace{
			{Pattern: "room:*", History: History{Size: 100}},
			{Pattern: "feed:*", Subscribe: "deny", Publish: "allow", Presence: &no, History: History{Size: 10, TTL: Duration(time.Hour), MetaTTL: Duration(2 * time.Hour), RecoveryLimit: 5}},
			{Pattern: "log:*", History: History{Size: 10, TTL: Duration(48 * time.Hour)}},
			{Pattern: "huge:*", History: History{Size: 10, TTL: Duration(1000 * time.Hour)}},
			{Pattern: "*"},
		},
	}}}}
	c.ApplyDefaults()
	want := Channels{
		MaxPerConnection: 10,
		MaxNameBytes:     255,
		Namespaces: []Namespace{
			{Pattern: "room:*", Subscribe: "allow", Publish: "subscribers", Presence: &yes,
				History: History{Size: 100, TTL: Duration(5 * time.Minute), MetaTTL: Duration(24 * time.Hour), RecoveryLimit: 100}},
			{Pattern: "feed:*", Subscribe: "deny", Publish: "allow", Presence: &no,
				History: History{Size: 10, TTL: Duration(time.Hour), MetaTTL: Duration(2 * time.Hour), RecoveryLimit: 5}},
			// A ttl above 24h raises the default metaTTL with it...
			{Pattern: "log:*", Subscribe: "allow", Publish: "subscribers", Presence: &yes,
				History: History{Size: 10, TTL: Duration(48 * time.Hour), MetaTTL: Duration(48 * time.Hour), RecoveryLimit: 10}},
			// ...but not past the largest valid metaTTL, so that only
			// the ttl is reported.
			{Pattern: "huge:*", Subscribe: "allow", Publish: "subscribers", Presence: &yes,
				History: History{Size: 10, TTL: Duration(1000 * time.Hour), MetaTTL: Duration(720 * time.Hour), RecoveryLimit: 10}},
			// Without history, the history fields stay zero.
			{Pattern: "*", Subscribe: "allow", Publish: "subscribers", Presence: &yes},
		},
	}
	if diff := cmp.Diff(want, c.APIs[0].Channels); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if c.APIs[0].Channels.Namespaces[1].PresenceEnabled() {
		t.Error("presence: false was replaced by the default")
	}
}

func TestApplyDefaultsEmptyNamespaces(t *testing.T) {
	c := &Config{APIs: []API{{Channels: Channels{Namespaces: []Namespace{}}}}}
	c.ApplyDefaults()
	if ns := c.APIs[0].Channels.Namespaces; len(ns) != 1 || ns[0].Pattern != "*" {
		t.Errorf("an empty namespace list should become the default one, got %+v", ns)
	}
}

func TestPresenceEnabled(t *testing.T) {
	yes, no := true, false
	for _, tt := range []struct {
		v    *bool
		want bool
	}{{nil, true}, {&yes, true}, {&no, false}} {
		if got := (&Namespace{Presence: tt.v}).PresenceEnabled(); got != tt.want {
			t.Errorf("Presence %v: got %v, want %v", tt.v, got, tt.want)
		}
	}
}

// TestManagementClosedByDefault: a file without a management block admits
// no caller without credentials, loopback or not; only a configuration
// that says so (the seed configuration) opens development mode.
func TestManagementClosedByDefault(t *testing.T) {
	c, err := Parse("switchboard.yaml", []byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Management.LoopbackAllowed() || c.Management.AllowLoopback != nil {
		t.Errorf("no management block: AllowLoopback = %v, want unset (false)", c.Management.AllowLoopback)
	}
	c, err = Parse("switchboard.yaml", []byte(minimal+"management:\n  apiKeys: [{name: ops, key: ops-0123456789abcdef}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Management.LoopbackAllowed() {
		t.Error("management block without allowLoopback: development mode is on")
	}
	if !Default().Management.LoopbackAllowed() {
		t.Error("the seed configuration lost its development mode")
	}
}

func TestLoopbackAllowed(t *testing.T) {
	yes, no := true, false
	for _, tt := range []struct {
		v    *bool
		want bool
	}{{nil, false}, {&yes, true}, {&no, false}} {
		if got := (Management{AllowLoopback: tt.v}).LoopbackAllowed(); got != tt.want {
			t.Errorf("AllowLoopback %v: got %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestApplyDefaultsIntegrations(t *testing.T) {
	c := &Config{APIs: []API{{Integrations: map[string]Integration{
		"web":    {Type: "http", URL: "http://x"},
		"aws":    {Type: "lambda", Lambda: Lambda{FunctionName: "chat"}},
		"local":  {Type: "function", Function: Function{Runtime: "nodejs"}},
		"my.bot": {Type: "function"},
		"set": {Type: "function", Timeout: sec(3), MaxConcurrency: 9, Function: Function{
			Name: "named", Memory: 512, IdleTimeout: sec(30), MinWorkers: 2, Credentials: "environment",
		}},
		// The fields of a function only get defaults for type function,
		// so that Validate can report them on another type.
		"misplaced": {Type: "http", Function: Function{Runtime: "nodejs"}},
	}}}}
	c.ApplyDefaults()
	timeout := Duration(29 * time.Second)
	want := map[string]Integration{
		"web":    {Type: "http", URL: "http://x", Timeout: timeout, MaxConcurrency: 256, MaxWaiting: 256},
		"aws":    {Type: "lambda", Lambda: Lambda{FunctionName: "chat"}, Timeout: timeout, MaxConcurrency: 256, MaxWaiting: 256},
		"local":  {Type: "function", Timeout: timeout, MaxConcurrency: 4, MaxWaiting: 4, Function: Function{Runtime: "nodejs", Name: "local", Memory: 128, IdleTimeout: Duration(5 * time.Minute), Credentials: "generated"}},
		"my.bot": {Type: "function", Timeout: timeout, MaxConcurrency: 4, MaxWaiting: 4, Function: Function{Name: "my-bot", Memory: 128, IdleTimeout: Duration(5 * time.Minute), Credentials: "generated"}},
		"set": {Type: "function", Timeout: sec(3), MaxConcurrency: 9, MaxWaiting: 9, Function: Function{
			Name: "named", Memory: 512, IdleTimeout: sec(30), MinWorkers: 2, Credentials: "environment",
		}},
		"misplaced": {Type: "http", Timeout: timeout, MaxConcurrency: 256, MaxWaiting: 256, Function: Function{Runtime: "nodejs"}},
	}
	if diff := cmp.Diff(want, c.APIs[0].Integrations); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDefaultFunctionName(t *testing.T) {
	tests := map[string]string{
		"chat":                   "chat",
		"chat-bot_2":             "chat-bot_2",
		"chat.bot":               "chat-bot",
		"bot é":                  "bot--",
		"":                       "function",
		strings.Repeat("b", 100): strings.Repeat("b", 64),
		strings.Repeat("é", 70):  strings.Repeat("-", 64),
	}
	for in, want := range tests {
		got := defaultFunctionName(in)
		if got != want {
			t.Errorf("defaultFunctionName(%q) = %q, want %q", in, got, want)
		}
		if msg := checkFunctionName(got); msg != "" {
			t.Errorf("defaultFunctionName(%q) = %q, which is not valid: %s", in, got, msg)
		}
	}
}
