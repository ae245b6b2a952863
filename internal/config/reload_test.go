package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestApplyReload(t *testing.T) {
	parse := func(y string) *Config {
		t.Helper()
		c, err := Parse("test.yaml", []byte(y), nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cur := parse(`
listen: 127.0.0.1:8080
management:
  apiKeys: [{name: old, key: old-key-0123456789}]
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
    routes:
      $default: {integration: a}
    integrations:
      a: {type: http, url: "http://127.0.0.1:1/a"}
  - id: gone
    stage: gone
    routeSelectionExpression: $request.body.action
`)
	next := parse(`
listen: 127.0.0.1:9090
transport: {driver: goroutine}
http: {maxConnections: 10, readHeaderTimeout: 5s}
shutdown: {readinessDelay: 1s}
log: {level: debug, format: text}
management:
  apiKeys: [{name: new, key: new-key-0123456789}]
apis:
  - id: chat
    stage: staging
    routeSelectionExpression: $request.body.type
    limits: {messagesPerSecond: 5}
    channels: {maxPerConnection: 3}
    routes:
      $default: {integration: b}
    integrations:
      b: {type: http, url: "http://127.0.0.1:1/b"}
  - id: added
    stage: added
    routeSelectionExpression: $request.body.action
`)
	eff, notes := ApplyReload(cur, next)

	// Applied live.
	if eff.Management.APIKeys[0].Name != "new" || eff.HTTP.MaxConnections != 10 || eff.Shutdown.Readiness() != time.Second || eff.Log.Level != "debug" {
		t.Errorf("live top-level fields not applied: %+v %+v %+v", eff.Management, eff.HTTP, eff.Shutdown)
	}
	chat := eff.APIs[0]
	if chat.RouteSelectionExpression != "$request.body.type" || chat.Routes["$default"].Integration != "b" ||
		chat.Integrations["b"].URL == "" || chat.Limits.MessagesPerSecond != 5 {
		t.Errorf("live API fields not applied: %+v", chat)
	}
	// Kept until a restart.
	if eff.Listen != "127.0.0.1:8080" || eff.Transport.Driver != "auto" || eff.HTTP.ReadHeaderTimeout != cur.HTTP.ReadHeaderTimeout ||
		chat.Stage != "production" || chat.Channels.MaxPerConnection != cur.APIs[0].Channels.MaxPerConnection {
		t.Errorf("restart-only fields changed: listen %s, transport %+v, http %+v, stage %s, channels %+v",
			eff.Listen, eff.Transport, eff.HTTP, chat.Stage, chat.Channels)
	}
	if len(eff.APIs) != 2 || eff.APIs[1].ID != "gone" {
		t.Errorf("APIs: %d, want chat and gone (kept until a restart)", len(eff.APIs))
	}
	want := []string{
		"apis[chat].stage changed; restart to apply",
		"apis[chat].channels.maxPerConnection changed; restart to apply",
		"apis[gone] (stage /gone) was removed; restart to apply (it keeps serving until then)",
		"apis[added] (stage /added) was added; restart to apply",
		"listen address changed; restart to apply",
		"log.format changed; restart to apply",
		"transport.driver changed; restart to apply",
		"http.readHeaderTimeout changed; restart to apply",
	}
	if !slices.Equal(notes, want) {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(want, "\n"))
	}
	if err := eff.Validate(); err != nil {
		t.Errorf("the effective configuration is not valid: %v", err)
	}
	// The inputs are left alone.
	if cur.Listen != "127.0.0.1:8080" || cur.Management.APIKeys[0].Name != "old" || next.APIs[0].Stage != "staging" {
		t.Error("ApplyReload modified its arguments")
	}

	// The same file again: nothing to note, and the result equals it.
	again, notes := ApplyReload(eff, eff)
	if len(notes) != 0 {
		t.Errorf("reloading the running configuration noted %q", notes)
	}
	if again.Listen != eff.Listen || len(again.APIs) != len(eff.APIs) {
		t.Error("reloading the running configuration changed it")
	}
}
