package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

const pusherTestSecret = "app-secret-0123456789"

// validPusherBase is validBase with one Pusher app on the API chat, with a
// webhook; the Pusher validation tests break one thing in it.
func validPusherBase() *Config {
	c := validBase()
	c.Pusher.Apps = []PusherApp{{
		ID: "123", Key: "app-key", Secret: pusherTestSecret, API: "chat",
		Webhooks: []PusherWebhook{{URL: "https://example.com/pusher/webhook"}},
	}}
	return c
}

func app(c *Config) *PusherApp         { return &c.Pusher.Apps[0] }
func webhook(c *Config) *PusherWebhook { return &c.Pusher.Apps[0].Webhooks[0] }

// addApp adds a second app, on an API of its own.
func addApp(c *Config, a PusherApp) {
	if a.API == "" {
		a.API = "api-" + a.ID
		c.APIs = append(c.APIs, API{ID: a.API, Stage: "stage-" + a.ID, RouteSelectionExpression: `\$default`})
	}
	c.Pusher.Apps = append(c.Pusher.Apps, a)
}

func TestValidPusherBaseIsValid(t *testing.T) {
	if err := validPusherBase().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestValidatePusher breaks one rule per case and expects exactly one
// problem, on the given field, whose message contains the fix.
func TestValidatePusher(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(*Config)
		field  string
		fix    string
	}{
		// id
		{"id required", func(c *Config) { app(c).ID = "" }, "pusher.apps[0].id", `is required; set the numeric app id your server SDKs are given (appId), e.g. id: "123"`},
		{"id not numeric", func(c *Config) { app(c).ID = "my-app" }, "pusher.apps[0].id",
			`"my-app" is not a numeric app id; use digits only, such as "123": the Pusher SDKs read the id as a number (Pusher.forURL parses it with parseInt)`},
		{"id negative", func(c *Config) { app(c).ID = "-1" }, "pusher.apps[0].id", `"-1" is not a numeric app id`},
		{"id leading zero", func(c *Config) { app(c).ID = "0123" }, "pusher.apps[0].id",
			`"0123" starts with 0, which the Pusher SDKs drop when they read the id as a number (Pusher.forURL would call /apps/123); write it without leading zeros`},
		{"id zero", func(c *Config) { app(c).ID = "00" }, "pusher.apps[0].id", `"00" is not a valid app id; use a positive number such as "123"`},
		{"id too long", func(c *Config) { app(c).ID = "1234567890123456" }, "pusher.apps[0].id",
			"has 16 digits; use at most 15, so that the SDKs that read it as a JavaScript number read it exactly"},
		{"id twice", func(c *Config) { addApp(c, PusherApp{ID: "123", Key: "other-key", Secret: "other-secret-0123456789"}) }, "pusher.apps[1].id",
			`"123" is already the id of pusher.apps[0]; give each app its own id`},

		// key
		{"key required", func(c *Config) { app(c).Key = "" }, "pusher.apps[0].key", "is required; set the public key clients connect with (/app/{key}), e.g. key: app-key"},
		{"key charset", func(c *Config) { app(c).Key = "app:key" }, "pusher.apps[0].key", `"app:key" contains ':'; use only letters, digits, '-' and '_'`},
		{"key too long", func(c *Config) { app(c).Key = strings.Repeat("k", 65) }, "pusher.apps[0].key", "is 65 characters long; shorten it to at most 64"},
		{"key twice", func(c *Config) { addApp(c, PusherApp{ID: "456", Key: "app-key", Secret: "other-secret-0123456789"}) }, "pusher.apps[1].key",
			`"app-key" is already the key of pusher.apps[0]; give each app its own key`},

		// secret
		{"secret required", func(c *Config) { app(c).Secret = "" }, "pusher.apps[0].secret",
			"is required; read it from the environment with ${NAME} (the secret your server SDKs sign with; make one with `openssl rand -hex 20`)"},
		{"secret with space", func(c *Config) { app(c).Secret = "app secret 0123456789" }, "pusher.apps[0].secret",
			"contains spaces or control characters; use a random string such as the output of `openssl rand -hex 20`"},
		{"secret short", func(c *Config) { app(c).Secret = "app-secret" }, "pusher.apps[0].secret",
			"is 10 characters; use at least 16, such as the output of `openssl rand -hex 20` (read it from the environment with ${NAME})"},
		{"secret is the key", func(c *Config) { app(c).Key = "app-key-0123456789"; app(c).Secret = "app-key-0123456789" }, "pusher.apps[0].secret",
			"is the app's key, which is public (clients send it in the URL); use a random secret such as the output of `openssl rand -hex 20`"},
		{"secret twice", func(c *Config) { addApp(c, PusherApp{ID: "456", Key: "other-key", Secret: pusherTestSecret}) }, "pusher.apps[1].secret",
			`is the same secret as pusher.apps[0] (id "123"); give each app its own secret`},

		// api
		{"api required", func(c *Config) { app(c).API = "" }, "pusher.apps[0].api", "is required; name the API (apis[].id) whose channels this app's channels are, e.g. api: chat"},
		{"api unknown", func(c *Config) { app(c).API = "caht" }, "pusher.apps[0].api", `"caht" is not the id of any API (did you mean "chat"?); the API ids are "chat"`},
		{"api without APIs", func(c *Config) { c.APIs = nil }, "pusher.apps[0].api", `"chat" is not the id of any API: the configuration has none; add the API under apis`},
		{"api ambiguous", func(c *Config) {
			c.APIs = append(c.APIs, API{ID: "chat", Stage: "staging", RouteSelectionExpression: `\$default`})
		}, "pusher.apps[0].api", `"chat" is the id of apis[0] and apis[1]; an app needs exactly one API: give one of them another id`},
		{"api shared", func(c *Config) {
			addApp(c, PusherApp{ID: "456", Key: "other-key", Secret: "other-secret-0123456789", API: "chat"})
		}, "pusher.apps[1].api",
			`"chat" is already the API of pusher.apps[0], and an app's channels are its API's channels, so the two apps would share every channel; give each app its own API`},

		// the listener paths
		{"stage app", func(c *Config) { api(c).Stage = "app" }, "apis[0].stage",
			`"app" is taken by the Pusher endpoints while pusher.apps is configured (/app/{key} for clients, /apps/{id}/... for the HTTP API, paths the Pusher SDKs cannot move); choose another stage`},
		{"stage apps", func(c *Config) { api(c).Stage = "apps" }, "apis[0].stage", `"apps" is taken by the Pusher endpoints`},

		// activityTimeout and cacheTTL
		{"activityTimeout too long", func(c *Config) { app(c).ActivityTimeout = Duration(2 * time.Hour) }, "pusher.apps[0].activityTimeout",
			"2h is out of range; use a duration from 1s to 1h"},
		{"activityTimeout too short", func(c *Config) { app(c).ActivityTimeout = ms(500) }, "pusher.apps[0].activityTimeout",
			"500ms is out of range; use a duration from 1s to 1h"},
		{"activityTimeout fraction", func(c *Config) { app(c).ActivityTimeout = ms(1500) }, "pusher.apps[0].activityTimeout",
			"1.5s is not a whole number of seconds, which is how pusher:connection_established sends it; write whole seconds such as 120s"},
		{"activityTimeout not below idleTimeout", func(c *Config) { api(c).Limits.IdleTimeout = sec(60); app(c).ActivityTimeout = sec(60) }, "pusher.apps[0].activityTimeout",
			"1m is not shorter than apis[0].limits.idleTimeout (1m): an idle client pings only every activityTimeout, so the API would close it first; shorten activityTimeout or raise idleTimeout"},
		{"cacheTTL too long", func(c *Config) { app(c).CacheTTL = Duration(25 * time.Hour) }, "pusher.apps[0].cacheTTL", "25h is out of range; use a duration from 1s to 24h"},

		// limits
		{"connections negative", func(c *Config) { app(c).Limits.Connections = -1 }, "pusher.apps[0].limits.connections", "-1 is out of range; use a number from 0 to 10000000"},
		{"presenceMembers high", func(c *Config) { app(c).Limits.PresenceMembers = 10001 }, "pusher.apps[0].limits.presenceMembers", "10001 is out of range; use a number from 1 to 10000"},
		{"presenceMemberBytes high", func(c *Config) { app(c).Limits.PresenceMemberBytes = 65 << 10 }, "pusher.apps[0].limits.presenceMemberBytes",
			"65KiB is out of range; use a size from 1 to 64KiB (hosted Pusher allows 1KiB)"},
		{"eventBytes high", func(c *Config) { app(c).Limits.EventBytes = 17 << 20 }, "pusher.apps[0].limits.eventBytes",
			"17MiB is out of range; use a size from 1 to 16MiB (hosted Pusher allows 10KiB)"},
		{"eventBytes over the API's frames", func(c *Config) { api(c).Limits.MaxFrameBytes = 16 << 10; app(c).Limits.EventBytes = 16 << 10 }, "pusher.apps[0].limits.eventBytes",
			"16KiB with the envelope of one event (464 bytes: an event name of up to 200 bytes, a channel name of up to channelNameBytes and the JSON around them) is more than apis[0].limits.maxFrameBytes (16KiB), so a client event of that size would close its connection; lower eventBytes to at most 15920 or raise maxFrameBytes"},
		{"clientEventsPerSecond high", func(c *Config) { app(c).Limits.ClientEventsPerSecond = 1001 }, "pusher.apps[0].limits.clientEventsPerSecond", "1001 is out of range; use a number from 1 to 1000"},
		{"channelsPerEvent negative", func(c *Config) { app(c).Limits.ChannelsPerEvent = -5 }, "pusher.apps[0].limits.channelsPerEvent", "-5 is out of range; use a number from 1 to 1000"},
		{"batchEvents high", func(c *Config) { app(c).Limits.BatchEvents = 1001 }, "pusher.apps[0].limits.batchEvents", "1001 is out of range; use a number from 1 to 1000"},
		{"channelNameBytes high", func(c *Config) { app(c).Limits.ChannelNameBytes = 1025; api(c).Channels.MaxNameBytes = 1024 }, "pusher.apps[0].limits.channelNameBytes",
			"1025 is out of range; use a number from 1 to 1024"},
		{"channelNameBytes over the API's", func(c *Config) { api(c).Channels.MaxNameBytes = 164 }, "pusher.apps[0].limits.channelNameBytes",
			"200 is more than apis[0].channels.maxNameBytes (164), the longest channel name that API accepts, and an app's channels are its API's channels; lower it or raise maxNameBytes"},
		{"presence over the outbound queue", func(c *Config) { app(c).Limits.PresenceMembers = 1000 }, "pusher.apps[0].limits.presenceMembers",
			"1000 members of up to 1KiB each do not fit apis[0].limits.outboundQueueBytes (1MiB): the pusher_internal:subscription_succeeded of a full channel lists every member's id (up to 128 bytes) and user_info, string-encoded (up to twice the size), 2304000 bytes in all; lower presenceMembers or presenceMemberBytes, or raise outboundQueueBytes to at least 2304000"},

		// webhooks
		{"webhook url required", func(c *Config) { webhook(c).URL = "" }, "pusher.apps[0].webhooks[0].url",
			"is required; set the http or https URL that receives the app's webhooks, e.g. https://example.com/pusher/webhook"},
		{"webhook url not a URL", func(c *Config) { webhook(c).URL = "http://[::1" }, "pusher.apps[0].webhooks[0].url", `"http://[::1" is not a URL (missing ']' in host); write an absolute http or https URL`},
		{"webhook url scheme", func(c *Config) { webhook(c).URL = "example.com/hook" }, "pusher.apps[0].webhooks[0].url",
			`"example.com/hook" is not an http or https URL; write an absolute URL with its scheme, e.g. https://example.com/pusher/webhook`},
		{"webhook url host", func(c *Config) { webhook(c).URL = "https:///hook" }, "pusher.apps[0].webhooks[0].url", `"https:///hook" has no host; write an absolute URL`},
		{"webhook url twice", func(c *Config) {
			app(c).Webhooks = append(app(c).Webhooks, PusherWebhook{URL: "https://example.com/pusher/webhook"})
		}, "pusher.apps[0].webhooks[1].url", "is already the url of pusher.apps[0].webhooks[0]; list each URL once and merge their events"},
		{"webhook event unknown", func(c *Config) { webhook(c).Events = []string{"channel_ocupied"} }, "pusher.apps[0].webhooks[0].events[0]",
			`"channel_ocupied" is not a webhook event; use channel_occupied, channel_vacated, member_added, member_removed, client_event, cache_miss or subscription_count (did you mean "channel_occupied"?)`},
		{"webhook event twice", func(c *Config) { webhook(c).Events = []string{"member_added", "member_added"} }, "pusher.apps[0].webhooks[0].events[1]",
			`"member_added" is listed twice; list each event once`},
		{"webhook client_event without client events", func(c *Config) { webhook(c).Events = []string{"client_event"} }, "pusher.apps[0].webhooks[0].events[0]",
			"is never sent: the app does not accept client events; set clientEvents: true, or remove client_event"},
		{"webhook subscription_count without counting", func(c *Config) { webhook(c).Events = []string{"cache_miss", "subscription_count"} }, "pusher.apps[0].webhooks[0].events[1]",
			"is never sent: the app does not count subscriptions; set subscriptionCount: true, or remove subscription_count"},
		{"webhook batchWindow without batching", func(c *Config) { webhook(c).BatchWindow = ms(10) }, "pusher.apps[0].webhooks[0].batchWindow",
			"has no effect without batching; set batching: true, or remove batchWindow"},
		{"webhook batchWindow too long", func(c *Config) { webhook(c).Batching = true; webhook(c).BatchWindow = sec(11) }, "pusher.apps[0].webhooks[0].batchWindow",
			"11s is out of range; use a duration from 1ms to 10s"},
		{"webhook retryFor too long", func(c *Config) { webhook(c).RetryFor = Duration(2 * time.Hour) }, "pusher.apps[0].webhooks[0].retryFor",
			"2h is out of range; use a duration from 1s to 1h"},
		{"webhook timeout too short", func(c *Config) { webhook(c).Timeout = ms(50) }, "pusher.apps[0].webhooks[0].timeout",
			"50ms is out of range; use a duration from 100ms to 1m"},
		{"webhook header name", func(c *Config) { webhook(c).Headers = map[string]string{"X Token": "a"} }, `pusher.apps[0].webhooks[0].headers["X Token"]`,
			`"X Token" is not a valid HTTP header name; use letters, digits and - (e.g. Authorization)`},
		{"webhook header reserved", func(c *Config) { webhook(c).Headers = map[string]string{"x-pusher-signature": "a"} }, "pusher.apps[0].webhooks[0].headers.x-pusher-signature",
			"is set by Switchboard on every webhook request (Content-Type, Content-Length, Host, Transfer-Encoding, X-Pusher-Key, X-Pusher-Signature); remove it"},
		{"webhook header value", func(c *Config) { webhook(c).Headers = map[string]string{"Authorization": "Bearer a\r\nX: y"} }, "pusher.apps[0].webhooks[0].headers.Authorization",
			"the value contains a line break or NUL, which an HTTP header cannot; remove it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validPusherBase()
			tt.break_(c)
			err := c.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 {
				t.Fatalf("want exactly one problem, got:\n%s", ve)
			}
			p := ve.Problems[0]
			if p.Field != tt.field || !strings.Contains(p.Message, tt.fix) {
				t.Errorf("got  %s: %s\nwant %s: ...%s...", p.Field, p.Message, tt.field, tt.fix)
			}
			for _, a := range c.Pusher.Apps {
				if len(a.Secret) >= 8 && strings.Contains(err.Error(), a.Secret) {
					t.Errorf("the message shows a secret: %s", err)
				}
			}
		})
	}
}

func TestValidatePusherAccepts(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Config)
	}{
		{"every feature and event", func(c *Config) {
			a := app(c)
			a.ClientEvents, a.SubscriptionCount, a.UserAuthentication = true, true, new(false)
			webhook(c).Events = slices.Clone(pusherWebhookEvents)
			webhook(c).Batching = true
			webhook(c).Headers = map[string]string{"Authorization": "Bearer x"}
		}},
		{"one-digit id", func(c *Config) { app(c).ID = "9" }},
		{"15-digit id", func(c *Config) { app(c).ID = "999999999999999" }},
		{"no webhooks", func(c *Config) { app(c).Webhooks = nil }},
		{"stage app without Pusher apps", func(c *Config) { c.Pusher.Apps = nil; api(c).Stage = "app" }},
		{"two apps on two APIs", func(c *Config) {
			addApp(c, PusherApp{ID: "456", Key: "other-key", Secret: "other-secret-0123456789"})
		}},
		{"limits at their bounds", func(c *Config) {
			api(c).Limits.OutboundQueueBytes = 2 << 30
			api(c).Limits.MaxMessageBytes = 16 << 20
			api(c).Limits.MaxFrameBytes = 16 << 20
			api(c).Channels.MaxNameBytes = 1024
			app(c).Limits = PusherLimits{Connections: 10000000, PresenceMembers: 10000, PresenceMemberBytes: 64 << 10,
				EventBytes: 16<<20 - 200 - 1024 - 64, ClientEventsPerSecond: 1000, ChannelsPerEvent: 1000, BatchEvents: 1000, ChannelNameBytes: 1024}
		}},
		{"activityTimeout just below idleTimeout", func(c *Config) { api(c).Limits.IdleTimeout = sec(121); app(c).ActivityTimeout = sec(120) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validPusherBase()
			tt.set(c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestApplyDefaultsPusher(t *testing.T) {
	c := &Config{Pusher: Pusher{Apps: []PusherApp{
		{Webhooks: []PusherWebhook{{}, {Batching: true}}},
		{ClientEvents: true, SubscriptionCount: true, UserAuthentication: new(false), CacheTTL: sec(60),
			Webhooks: []PusherWebhook{{Events: []string{"cache_miss"}}, {Events: []string{}}}},
	}}}
	c.ApplyDefaults()
	limits := PusherLimits{PresenceMembers: 100, PresenceMemberBytes: 1024, EventBytes: 10240, ClientEventsPerSecond: 10,
		ChannelsPerEvent: 100, BatchEvents: 10, ChannelNameBytes: 200}
	hook := PusherWebhook{RetryFor: Duration(5 * time.Minute), Timeout: sec(10)}
	basic := []string{"channel_occupied", "channel_vacated", "member_added", "member_removed", "cache_miss"}
	all := []string{"channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss", "subscription_count"}
	with := func(h PusherWebhook, events []string, window Duration) PusherWebhook {
		h.Events, h.Batching, h.BatchWindow = events, window != 0, window
		return h
	}
	want := []PusherApp{
		{ActivityTimeout: sec(120), CacheTTL: Duration(30 * time.Minute), UserAuthentication: new(true), Limits: limits,
			Webhooks: []PusherWebhook{with(hook, basic, 0), with(hook, basic, ms(50))}},
		{ActivityTimeout: sec(120), CacheTTL: sec(60), UserAuthentication: new(false), ClientEvents: true, SubscriptionCount: true, Limits: limits,
			Webhooks: []PusherWebhook{with(hook, []string{"cache_miss"}, 0), with(hook, all, 0)}},
	}
	if diff := cmp.Diff(want, c.Pusher.Apps); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	again := c.clone()
	again.ApplyDefaults()
	if diff := cmp.Diff(c, again); diff != "" {
		t.Errorf("not idempotent (-first +second):\n%s", diff)
	}

	a := &c.Pusher.Apps[0]
	if a.ActivityTimeoutSeconds() != 120 || !a.UserAuthenticationEnabled() || c.Pusher.Apps[1].UserAuthenticationEnabled() {
		t.Errorf("accessors: activity %d, user authentication %v %v", a.ActivityTimeoutSeconds(), a.UserAuthenticationEnabled(), c.Pusher.Apps[1].UserAuthenticationEnabled())
	}
	if !a.Webhooks[0].Sends(PusherWebhookMemberAdded) || a.Webhooks[0].Sends(PusherWebhookClientEvent) {
		t.Error("Sends does not follow the default events")
	}
	// Unset, the accessors still give the defaults.
	var zero PusherApp
	if zero.ActivityTimeoutSeconds() != 120 || !zero.UserAuthenticationEnabled() {
		t.Errorf("the zero app's accessors: %d %v", zero.ActivityTimeoutSeconds(), zero.UserAuthenticationEnabled())
	}
}

func TestValidatePusherDoesNotModify(t *testing.T) {
	c := validPusherBase()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a := app(c)
	if a.ActivityTimeout != 0 || a.UserAuthentication != nil || a.Limits != (PusherLimits{}) || webhook(c).Events != nil || webhook(c).Timeout != 0 {
		t.Errorf("Validate applied defaults to its receiver: %+v", a)
	}
}

func TestPusherLookups(t *testing.T) {
	c := validPusherBase()
	addApp(c, PusherApp{ID: "456", Key: "other-key", Secret: "other-secret-0123456789"})
	if a := c.Pusher.AppByKey("other-key"); a == nil || a.ID != "456" {
		t.Errorf("AppByKey(other-key) = %+v", a)
	}
	if a := c.Pusher.AppByID("123"); a == nil || a.Key != "app-key" {
		t.Errorf("AppByID(123) = %+v", a)
	}
	if c.Pusher.AppByKey("nope") != nil || c.Pusher.AppByID("nope") != nil {
		t.Error("lookup of an unknown app found one")
	}
	if i := c.PusherAPI(c.Pusher.AppByID("456")); i != 1 || c.APIs[i].ID != "api-456" {
		t.Errorf("PusherAPI(456) = %d", i)
	}
	if i := c.PusherAPI(&PusherApp{API: "nope"}); i != -1 {
		t.Errorf("PusherAPI(nope) = %d, want -1", i)
	}
}

// loadPusherExample loads testdata/pusher.yaml after the minimal API.
func loadPusherExample(t *testing.T, env map[string]string) (*Config, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pusher.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return Parse("pusher.yaml", []byte(minimal+string(b)), envMap(env))
}

var pusherExampleEnv = map[string]string{"PUSHER_SECRET": "7ad3773142a6692b25b8", "WEBHOOK_TOKEN": "token-1"}

// TestPusherExample loads the documented example: every key decodes to the
// typed value the front-end reads, the secret comes from the environment,
// and writing it back as YAML loads the same configuration.
func TestPusherExample(t *testing.T) {
	c, err := loadPusherExample(t, pusherExampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []PusherApp{{
		ID: "123", Key: "app-key", Secret: "7ad3773142a6692b25b8", API: "chat",
		ActivityTimeout: sec(120), ClientEvents: true, UserAuthentication: new(true), SubscriptionCount: true,
		Limits: PusherLimits{PresenceMembers: 100, PresenceMemberBytes: 1024, EventBytes: 10240, ClientEventsPerSecond: 10,
			ChannelsPerEvent: 100, BatchEvents: 10, ChannelNameBytes: 200},
		Webhooks: []PusherWebhook{{
			URL:      "https://example.com/pusher/webhook",
			Events:   []string{"channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss", "subscription_count"},
			Batching: true, BatchWindow: ms(50), RetryFor: Duration(5 * time.Minute), Timeout: sec(10),
			Headers: map[string]string{"Authorization": "Bearer token-1"},
		}},
		CacheTTL: Duration(30 * time.Minute),
	}}
	if diff := cmp.Diff(want, c.Pusher.Apps); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	a := &c.Pusher.Apps[0]
	if a.ActivityTimeout.Std() != 2*time.Minute || a.ActivityTimeoutSeconds() != 120 || a.Webhooks[0].RetryFor.Std() != 5*time.Minute ||
		a.CacheTTL.Std() != 30*time.Minute || a.Limits.EventBytes.Int() != 10240 {
		t.Errorf("typed values: %+v", a)
	}

	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("pusher.yaml (marshalled)", out, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if diff := cmp.Diff(c, again, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip changed the config (-loaded +reloaded):\n%s", diff)
	}
}

// TestPusherSecretFromEnvironment: the secret is read with ${NAME}; an
// unset variable is an error naming it and the line, and a problem with
// the secret never shows its value.
func TestPusherSecretFromEnvironment(t *testing.T) {
	_, err := loadPusherExample(t, map[string]string{"WEBHOOK_TOKEN": "t"})
	if err == nil || err.Error() != "pusher.yaml:12: pusher.apps[0].secret: environment variable PUSHER_SECRET is not set; set it, or give a default with ${PUSHER_SECRET:-value}" {
		t.Errorf("unset PUSHER_SECRET: %v", err)
	}
	_, err = loadPusherExample(t, map[string]string{"PUSHER_SECRET": "short-s3cret", "WEBHOOK_TOKEN": "t"})
	if err == nil || err.Error() != "pusher.yaml:12: pusher.apps[0].secret: is 12 characters; use at least 16, such as the output of `openssl rand -hex 20` (read it from the environment with ${NAME})" {
		t.Errorf("short PUSHER_SECRET: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "short-s3cret") {
		t.Errorf("the error shows the secret: %v", err)
	}
}

// TestPusherParseErrors pins the complete text of Pusher problems as Parse
// reports them, with their lines.
func TestPusherParseErrors(t *testing.T) {
	const app = "pusher:\n  apps:\n    - id: \"1\"\n      key: k\n      secret: 0123456789abcdef\n      api: chat\n"
	tests := []struct{ in, want string }{
		{app + "      clientEvent: true\n",
			`x.yaml:11: pusher.apps[0]: unknown key "clientEvent" (did you mean "clientEvents"?)`},
		{app + "      eventBytes: 1KiB\n",
			`x.yaml:11: pusher.apps[0]: unknown key "eventBytes" (did you mean limits.eventBytes? write it under limits:); the keys here are id, key, secret, api, activityTimeout, clientEvents, userAuthentication, subscriptionCount, limits, webhooks, cacheTTL`},
		{app + "      activityTimeout: 120\n",
			`x.yaml:11: pusher.apps[0].activityTimeout: "120" is not a duration; write it with a unit, such as "30s" or "10m"`},
		{app + "      webhooks:\n        - {url: \"ftp://x\", events: [member_add]}\n",
			`x.yaml: 2 problems:
  x.yaml:12: pusher.apps[0].webhooks[0].url: "ftp://x" is not an http or https URL; write an absolute URL with its scheme, e.g. https://example.com/pusher/webhook
  x.yaml:12: pusher.apps[0].webhooks[0].events[0]: "member_add" is not a webhook event; use channel_occupied, channel_vacated, member_added, member_removed, client_event, cache_miss or subscription_count (did you mean "member_added"?)`},
		{"pusher:\n  apps:\n    - id: 123\n      key: k\n      secret: 0123456789abcdef\n      api: chta\n",
			`x.yaml:10: pusher.apps[0].api: "chta" is not the id of any API (did you mean "chat"?); the API ids are "chat"`},
	}
	for _, tt := range tests {
		_, err := Parse("x.yaml", []byte(minimal+tt.in), nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q):\ngot  %v\nwant %s", tt.in, err, tt.want)
		}
	}
	// An unquoted numeric id is read as its digits.
	c, err := Parse("x.yaml", []byte(minimal+"pusher:\n  apps:\n    - id: 123\n      key: k\n      secret: 0123456789abcdef\n      api: chat\n"), nil)
	if err != nil || c.Pusher.Apps[0].ID != "123" {
		t.Errorf("unquoted id: %v %+v", err, c)
	}
}

// TestApplyReloadPusher: keys, secrets, features, limits and webhooks
// apply on reload; apps added or removed and a changed api need a restart,
// with one note each.
func TestApplyReloadPusher(t *testing.T) {
	const apis = `apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
  - id: other
    stage: other
    routeSelectionExpression: $request.body.action
  - id: third
    stage: third
    routeSelectionExpression: $request.body.action
`
	parse := func(y string) *Config {
		t.Helper()
		c, err := Parse("test.yaml", []byte(apis+y), nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cur := parse(`pusher:
  apps:
    - {id: "1", key: one, secret: one-secret-0123456789, api: chat}
    - {id: "2", key: two, secret: two-secret-0123456789, api: other}
    - {id: "3", key: three, secret: three-secret-0123456789, api: third}
`)
	next := parse(`pusher:
  apps:
    - id: "1"
      key: uno
      secret: uno-secret-0123456789
      api: chat
      activityTimeout: 30s
      clientEvents: true
      limits: {presenceMembers: 50}
      webhooks: [{url: "http://127.0.0.1:1/hook"}]
      cacheTTL: 1m
    - {id: "2", key: two, secret: two-secret-0123456789, api: third}
    - {id: "4", key: four, secret: four-secret-0123456789, api: other}
`)
	eff, notes := ApplyReload(cur, next)
	want := []string{
		// cacheTTL is the history TTL of the cache namespaces the app adds
		// to its API (pusherNamespaces): a restart applies it.
		"apis[chat].channels.namespaces changed; restart to apply",
		"pusher.apps[2].api changed; restart to apply",
		"pusher.apps[3] (key three) was removed; restart to apply (it keeps serving until then)",
		"pusher.apps[4] (key four) was added; restart to apply",
	}
	if !slices.Equal(notes, want) {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(want, "\n"))
	}
	var ids []string
	for _, a := range eff.Pusher.Apps {
		ids = append(ids, a.ID)
	}
	if fmt.Sprint(ids) != "[1 2 3]" {
		t.Fatalf("apps in force: %v, want 1, 2 and 3 (4 waits for a restart, 3 keeps serving)", ids)
	}
	one, two := eff.Pusher.Apps[0], eff.Pusher.Apps[1]
	if diff := cmp.Diff(next.Pusher.Apps[0], one); diff != "" {
		t.Errorf("app 1 did not take every reloadable change (-next +in force):\n%s", diff)
	}
	if two.API != "other" {
		t.Errorf("app 2's api = %s, want other until a restart", two.API)
	}
	if err := eff.Validate(); err != nil {
		t.Errorf("the configuration in force is not valid: %v", err)
	}
	if cur.Pusher.Apps[0].Key != "one" || next.Pusher.Apps[1].API != "third" {
		t.Error("ApplyReload modified its arguments")
	}
	if _, notes := ApplyReload(eff, eff); len(notes) != 0 {
		t.Errorf("reloading the running configuration noted %q", notes)
	}
}
