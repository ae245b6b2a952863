package config

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// validBase is a valid config that uses every kind of route and an
// integration; validation tests break one thing in it.
func validBase() *Config {
	c := Default()
	a := &c.APIs[0]
	a.Integrations = map[string]Integration{"backend": {Type: "http", URL: "http://localhost:3000/ws"}}
	a.Routes["$connect"] = Route{Integration: "backend"}
	a.Routes["$disconnect"] = Route{Integration: "backend"}
	a.Routes["$default"] = Route{Integration: "backend", RouteResponseSelectionExpression: "$default"}
	a.Routes["ping"] = Route{Action: &Action{Type: "echo"}}
	c.Management.APIKeys = []APIKey{{Name: "backend", Key: "backend-0123456789"}}
	c.Management.AccessKeys = []AccessKey{{ID: "AKIAIOSFODNN7EXAMPLE", Secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}
	return c
}

func TestValidBaseIsValid(t *testing.T) {
	if err := validBase().Validate(); err != nil {
		t.Fatal(err)
	}
}

func ms(n int) Duration  { return Duration(time.Duration(n) * time.Millisecond) }
func sec(n int) Duration { return Duration(time.Duration(n) * time.Second) }
func api(c *Config) *API { return &c.APIs[0] }

func setRoute(key string, r Route) func(*Config) {
	return func(c *Config) { api(c).Routes[key] = r }
}

func setIntegration(f func(*Integration)) func(*Config) {
	return func(c *Config) {
		in := api(c).Integrations["backend"]
		f(&in)
		api(c).Integrations["backend"] = in
	}
}

// TestValidate breaks one rule per case and expects exactly one problem,
// on the given field, whose message contains the fix.
func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(*Config)
		field  string
		fix    string
	}{
		// listen
		{"listen without port", func(c *Config) { c.Listen = "localhost" }, "listen", `is not host:port; write ":8080"`},
		{"listen as URL", func(c *Config) { c.Listen = "http://localhost:8080" }, "listen", `is a URL; write ":8080"`},
		{"listen port too big", func(c *Config) { c.Listen = ":65536" }, "listen", `port "65536" is not a number from 0 to 65535`},
		{"listen named port", func(c *Config) { c.Listen = ":http" }, "listen", `port "http" is not a number from 0 to 65535`},
		{"listen bad host", func(c *Config) { c.Listen = "local host:80" }, "listen", `host "local host" contains ' ', which a host name cannot`},

		// log
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", `"verbose" is not a log level; use debug, info, warn or error`},
		{"log level suggestion", func(c *Config) { c.Log.Level = "warning" }, "log.level", `(did you mean "warn"?)`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", `use json or text`},

		// shutdown
		{"drainWindow too long", func(c *Config) {
			c.Shutdown.DrainWindow = Duration(11 * time.Minute)
			c.Shutdown.Timeout = Duration(time.Hour)
		}, "shutdown.drainWindow", "11m is out of range; use a duration from 0s to 10m"},
		{"shutdown timeout too short", func(c *Config) { c.Shutdown.Timeout = ms(500); c.Shutdown.DrainWindow = ms(100) }, "shutdown.timeout", "500ms is out of range; use a duration from 1s to 1h"},
		{"shutdown timeout too long", func(c *Config) { c.Shutdown.Timeout = Duration(2 * time.Hour) }, "shutdown.timeout", "2h is out of range; use a duration from 1s to 1h"},
		{"shutdown timeout not above drain", func(c *Config) { c.Shutdown.DrainWindow = sec(10); c.Shutdown.Timeout = sec(10) }, "shutdown.timeout", "must be longer than shutdown.drainWindow (10s)"},
		{"readinessDelay too long", func(c *Config) { c.Shutdown.ReadinessDelay = new(Duration(11 * time.Minute)) }, "shutdown.readinessDelay", "11m is out of range; use a duration from 0s to 10m"},
		{"readinessDelay negative", func(c *Config) { c.Shutdown.ReadinessDelay = new(Duration(-time.Second)) }, "shutdown.readinessDelay", "-1s is out of range; use a duration from 0s to 10m"},

		// management
		{"key without name", func(c *Config) { c.Management.APIKeys[0].Name = "" }, "management.apiKeys[0].name", "is required; name the key"},
		{"duplicate key name", func(c *Config) {
			c.Management.APIKeys = append(c.Management.APIKeys, APIKey{Name: "backend", Key: "other-0123456789ab"})
		}, "management.apiKeys[1].name", `"backend" is already the name of management.apiKeys[0]; give each key its own name`},
		{"short key", func(c *Config) { c.Management.APIKeys[0].Key = "abc" }, "management.apiKeys[0].key", "is 3 characters; use at least 16"},
		{"key with space", func(c *Config) { c.Management.APIKeys[0].Key = "0123456789 abcdefgh" }, "management.apiKeys[0].key", "contains spaces or control characters"},
		{"duplicate key", func(c *Config) {
			c.Management.APIKeys = append(c.Management.APIKeys, APIKey{Name: "other", Key: "backend-0123456789"})
		}, "management.apiKeys[1].key", `is the same secret as management.apiKeys[0] ("backend"); give each key its own secret`},
		{"key stage unknown", func(c *Config) { c.Management.APIKeys[0].Stages = []string{"prodution"} }, "management.apiKeys[0].stages[0]",
			`"prodution" is not the stage of any API (did you mean "production"?); the stages are "production"`},
		{"key stage empty", func(c *Config) { c.Management.APIKeys[0].Stages = []string{"production", ""} }, "management.apiKeys[0].stages[1]",
			"is empty; name the stage of an API"},
		{"key stage twice", func(c *Config) { c.Management.APIKeys[0].Stages = []string{"production", "production"} }, "management.apiKeys[0].stages[1]",
			`"production" is listed twice`},
		{"access key id required", func(c *Config) { c.Management.AccessKeys[0].ID = "" }, "management.accessKeys[0].id", "is required; use the access key id"},
		{"access key id charset", func(c *Config) { c.Management.AccessKeys[0].ID = "AKIA-IOSFODNN7EXAMPLE" }, "management.accessKeys[0].id",
			`"AKIA-IOSFODNN7EXAMPLE" contains characters other than letters and digits`},
		{"access key id short", func(c *Config) { c.Management.AccessKeys[0].ID = "AKIA1234" }, "management.accessKeys[0].id", "is 8 characters; use 16 to 128 letters and digits"},
		{"access key id long", func(c *Config) { c.Management.AccessKeys[0].ID = strings.Repeat("A", 129) }, "management.accessKeys[0].id", "is 129 characters"},
		{"access key id twice", func(c *Config) {
			c.Management.AccessKeys = append(c.Management.AccessKeys, AccessKey{ID: "AKIAIOSFODNN7EXAMPLE", Secret: "other-secret-0123456789"})
		}, "management.accessKeys[1].id", `"AKIAIOSFODNN7EXAMPLE" is already the id of management.accessKeys[0]`},
		{"access key secret required", func(c *Config) { c.Management.AccessKeys[0].Secret = "" }, "management.accessKeys[0].secret", "is required; read it from the environment"},
		{"access key secret short", func(c *Config) { c.Management.AccessKeys[0].Secret = "secret" }, "management.accessKeys[0].secret", "is 6 characters; use at least 16"},
		{"access key secret space", func(c *Config) { c.Management.AccessKeys[0].Secret = "wJalrXUtnFEMI K7MDENG" }, "management.accessKeys[0].secret", "contains spaces or control characters"},
		{"access key stage unknown", func(c *Config) { c.Management.AccessKeys[0].Stages = []string{"staging"} }, "management.accessKeys[0].stages[0]",
			`"staging" is not the stage of any API; the stages are "production"`},

		// API identity
		{"id required", func(c *Config) { api(c).ID = "" }, "apis[0].id", "is required; set the API id"},
		{"id charset", func(c *Config) { api(c).ID = "chat.v1" }, "apis[0].id", `"chat.v1" contains '.'; use only letters, digits, '-' and '_'`},
		{"id too long", func(c *Config) { api(c).ID = strings.Repeat("a", 65) }, "apis[0].id", "is 65 characters long; shorten it to at most 64"},
		{"stage required", func(c *Config) { api(c).Stage = "" }, "apis[0].stage", "is required; set the first path segment"},
		{"stage charset", func(c *Config) { api(c).Stage = "prod/v1" }, "apis[0].stage", `"prod/v1" contains '/'`},
		{"stage unicode", func(c *Config) { api(c).Stage = "prodé" }, "apis[0].stage", `"prodé" contains 'é'`},
		{"stage too long", func(c *Config) { api(c).Stage = strings.Repeat("s", 129) }, "apis[0].stage", "shorten it to at most 128"},
		{"stage healthz", func(c *Config) { api(c).Stage = "healthz" }, "apis[0].stage", `"healthz" is reserved for Switchboard's own endpoints (healthz, readyz, metrics, ping, sping, _switchboard); choose another stage`},
		{"stage _switchboard", func(c *Config) { api(c).Stage = "_switchboard" }, "apis[0].stage", "is reserved"},
		{"stage sping", func(c *Config) { api(c).Stage = "sping" }, "apis[0].stage", "is reserved"},
		{"stage not unique", func(c *Config) {
			c.APIs = append(c.APIs, API{ID: "other", Stage: "production", RouteSelectionExpression: `\$default`})
		}, "apis[1].stage", `"production" is already the stage of apis[0]; give each API its own stage`},

		// domainName
		{"domain with scheme", func(c *Config) { api(c).DomainName = "https://chat.example.com/x" }, "apis[0].domainName", `has a scheme; write only the host (and port), e.g. "chat.example.com"`},
		{"domain with path", func(c *Config) { api(c).DomainName = "chat.example.com/prod" }, "apis[0].domainName", `has a path; write only the host (and port), e.g. "chat.example.com"`},
		{"domain bad port", func(c *Config) { api(c).DomainName = "chat.example.com:0" }, "apis[0].domainName", `port "0" of "chat.example.com:0" is not a number from 1 to 65535`},
		{"domain bare IPv6", func(c *Config) { api(c).DomainName = "::1" }, "apis[0].domainName", "an IPv6 address goes in brackets"},
		{"domain bad char", func(c *Config) { api(c).DomainName = "chat!.example.com" }, "apis[0].domainName", `contains '!', which a host name cannot`},
		{"domain empty label", func(c *Config) { api(c).DomainName = "chat..example.com" }, "apis[0].domainName", "is not a host name"},

		// routeSelectionExpression, binary
		{"expression required", func(c *Config) { api(c).RouteSelectionExpression = "" }, "apis[0].routeSelectionExpression", "is required; write $request.body.action"},
		{"expression without $", func(c *Config) { api(c).RouteSelectionExpression = "request.body.action" }, "apis[0].routeSelectionExpression", `is not a selection expression; write $request.body.action`},
		{"binary", func(c *Config) { api(c).Binary = "text" }, "apis[0].binary", "use reject or base64"},

		// limits
		{"maxMessageBytes too big", func(c *Config) { api(c).Limits.MaxMessageBytes = 17 << 20 }, "apis[0].limits.maxMessageBytes", "17MiB is out of range; use a size from 1 to 16MiB"},
		{"maxMessageBytes negative", func(c *Config) { api(c).Limits.MaxMessageBytes = -1 }, "apis[0].limits.maxMessageBytes", "use a size from 1 to 16MiB"},
		{"maxFrameBytes above message", func(c *Config) { api(c).Limits.MaxFrameBytes = 256 << 10 }, "apis[0].limits.maxFrameBytes", "256KiB is larger than maxMessageBytes (128KiB)"},
		{"maxFrameBytes negative", func(c *Config) { api(c).Limits.MaxFrameBytes = -5 }, "apis[0].limits.maxFrameBytes", "use a size from 1 to maxMessageBytes (128KiB)"},
		{"outbound queue below a message", func(c *Config) { api(c).Limits.MaxMessageBytes = 1 << 20 }, "apis[0].limits.outboundQueueBytes", "1MiB cannot hold one message of maxMessageBytes (1MiB) with its frame header; raise it to at least 1048590 bytes or lower maxMessageBytes"},
		{"idleTimeout low", func(c *Config) { api(c).Limits.IdleTimeout = ms(999) }, "apis[0].limits.idleTimeout", "999ms is out of range; use a duration from 1s to 24h"},
		{"idleTimeout high", func(c *Config) { api(c).Limits.IdleTimeout = Duration(25 * time.Hour) }, "apis[0].limits.idleTimeout", "from 1s to 24h"},
		{"maxConnectionDuration high", func(c *Config) { api(c).Limits.MaxConnectionDuration = Duration(8 * 24 * time.Hour) }, "apis[0].limits.maxConnectionDuration", "192h is out of range; use a duration from 1s to 168h"},
		{"maxConnectionDuration low", func(c *Config) { api(c).Limits.MaxConnectionDuration = ms(1) }, "apis[0].limits.maxConnectionDuration", "from 1s to 168h"},
		{"pingInterval high", func(c *Config) { api(c).Limits.PingInterval = Duration(2 * time.Hour) }, "apis[0].limits.pingInterval", "from 1s to 1h"},
		{"pingInterval low", func(c *Config) { api(c).Limits.PingInterval = ms(10) }, "apis[0].limits.pingInterval", "from 1s to 1h"},
		{"pongTimeout high", func(c *Config) { api(c).Limits.PongTimeout = Duration(11 * time.Minute) }, "apis[0].limits.pongTimeout", "from 1s to 10m"},
		{"pongTimeout low", func(c *Config) { api(c).Limits.PongTimeout = ms(10) }, "apis[0].limits.pongTimeout", "from 1s to 10m"},
		{"writeTimeout low", func(c *Config) { api(c).Limits.WriteTimeout = ms(99) }, "apis[0].limits.writeTimeout", "99ms is out of range; use a duration from 100ms to 10m"},
		{"writeTimeout high", func(c *Config) { api(c).Limits.WriteTimeout = Duration(time.Hour) }, "apis[0].limits.writeTimeout", "from 100ms to 10m"},
		{"inboundQueueMessages negative", func(c *Config) { api(c).Limits.InboundQueueMessages = -1 }, "apis[0].limits.inboundQueueMessages", "-1 is out of range; use a number from 1 to 100000"},
		{"inboundQueueMessages high", func(c *Config) { api(c).Limits.InboundQueueMessages = 100001 }, "apis[0].limits.inboundQueueMessages", "use a number from 1 to 100000"},

		// routes
		{"empty route key", setRoute("", Route{Integration: "backend"}), `apis[0].routes[""]`, "a route key must not be empty"},
		{"custom key with $", setRoute("$conect", Route{Integration: "backend"}), "apis[0].routes.$conect", `custom route keys must not start with "$" (as on AWS), and the only predefined keys are $connect, $disconnect, $default; rename the route (did you mean "$connect"?)`},
		{"too many routes", func(c *Config) {
			for i := range 300 {
				api(c).Routes[fmt.Sprint("r", i)] = Route{Integration: "backend"}
			}
		}, "apis[0].routes", "has 305 routes; AWS allows at most 300 per API"},
		{"integration and action", setRoute("both", Route{Integration: "backend", Action: &Action{Type: "echo"}}), "apis[0].routes.both", "sets both integration and action; keep one"},
		{"neither", setRoute("none", Route{}), "apis[0].routes.none", "sets neither integration nor action; set integration (a name from apis[0].integrations) or action (broadcast, echo, join or leave)"},
		{"neither on $connect", setRoute("$connect", Route{}), "apis[0].routes.$connect", "sets neither integration nor action; set integration (a name from apis[0].integrations), or remove the route"},
		{"unknown integration", setRoute("x", Route{Integration: "backnd"}), "apis[0].routes.x.integration", `"backnd" is not defined in apis[0].integrations (defined: backend); fix the name or add the integration (did you mean "backend"?)`},
		{"no integrations", func(c *Config) {
			c.APIs[0].Integrations = nil
			c.APIs[0].Routes = map[string]Route{"x": {Integration: "backend"}}
		}, "apis[0].routes.x.integration", `"backend" is not defined: this API has no integrations; add it under apis[0].integrations`},
		{"action on $connect", setRoute("$connect", Route{Action: &Action{Type: "echo"}}), "apis[0].routes.$connect.action", "actions are not allowed on $connect; use an integration, or remove the route (then every connection is accepted)"},
		{"action on $disconnect", setRoute("$disconnect", Route{Action: &Action{Type: "broadcast"}}), "apis[0].routes.$disconnect.action", "actions are not allowed on $disconnect"},
		{"action type missing", setRoute("x", Route{Action: &Action{}}), "apis[0].routes.x.action.type", "is required; use broadcast, echo, join or leave"},
		{"action type unknown", setRoute("x", Route{Action: &Action{Type: "broadcst"}}), "apis[0].routes.x.action.type", `"broadcst" is not an action type; use broadcast, echo, join or leave (did you mean "broadcast"?)`},
		{"payload on echo", setRoute("x", Route{Action: &Action{Type: "echo", Payload: map[string]any{"a": "b"}}}), "apis[0].routes.x.action.payload", "is only used by type broadcast; remove it"},
		{"excludeSender on echo", setRoute("x", Route{Action: &Action{Type: "echo", ExcludeSender: true}}), "apis[0].routes.x.action.excludeSender", "is only used by type broadcast; remove it"},
		{"payload not JSON", setRoute("x", Route{Action: &Action{Type: "broadcast", Payload: map[string]any{"n": math.NaN()}}}), "apis[0].routes.x.action.payload", "cannot be sent as JSON"},
		{"route response not $default", setRoute("x", Route{Integration: "backend", RouteResponseSelectionExpression: "$request.body.x"}), "apis[0].routes.x.routeResponseSelectionExpression", `"$request.body.x" is not supported; AWS only supports $default`},
		{"route response on $connect", setRoute("$connect", Route{Integration: "backend", RouteResponseSelectionExpression: "$default"}), "apis[0].routes.$connect.routeResponseSelectionExpression", "is not allowed on $connect, which has no client message to answer; remove it"},
		{"route response on $disconnect", setRoute("$disconnect", Route{Integration: "backend", RouteResponseSelectionExpression: "$default"}), "apis[0].routes.$disconnect.routeResponseSelectionExpression", "is not allowed on $disconnect"},
		{"route response on action", setRoute("x", Route{Action: &Action{Type: "echo"}, RouteResponseSelectionExpression: "$default"}), "apis[0].routes.x.routeResponseSelectionExpression", "is only for routes with an integration"},

		// integrations
		{"integration type missing", setIntegration(func(in *Integration) { in.Type = "" }), "apis[0].integrations.backend.type", "is required; use http, lambda or function"},
		{"integration type unknown", setIntegration(func(in *Integration) { in.Type = "https" }), "apis[0].integrations.backend.type", `"https" is not an integration type; use http, lambda or function (did you mean "http"?)`},
		{"url missing", setIntegration(func(in *Integration) { in.URL = "" }), "apis[0].integrations.backend.url", "is required for type http; set the endpoint"},
		{"url relative", setIntegration(func(in *Integration) { in.URL = "/ws" }), "apis[0].integrations.backend.url", `"/ws" is not an http or https URL; write an absolute URL with its scheme`},
		{"url scheme", setIntegration(func(in *Integration) { in.URL = "ws://localhost/ws" }), "apis[0].integrations.backend.url", "is not an http or https URL"},
		{"url without host", setIntegration(func(in *Integration) { in.URL = "http:///ws" }), "apis[0].integrations.backend.url", `"http:///ws" has no host`},
		{"url unparsable", setIntegration(func(in *Integration) { in.URL = "http://[::1" }), "apis[0].integrations.backend.url", "is not a URL"},
		{"integration timeout", setIntegration(func(in *Integration) { in.Timeout = Duration(16 * time.Minute) }), "apis[0].integrations.backend.timeout", "16m is out of range; use a duration from 1ms to 15m"},
		{"integration timeout low", setIntegration(func(in *Integration) { in.Timeout = Duration(time.Microsecond) }), "apis[0].integrations.backend.timeout", "from 1ms to 15m"},
		{"maxConcurrency", setIntegration(func(in *Integration) { in.MaxConcurrency = 100001 }), "apis[0].integrations.backend.maxConcurrency", "use a number from 1 to 100000"},
		{"maxConcurrency negative", setIntegration(func(in *Integration) { in.MaxConcurrency = -2 }), "apis[0].integrations.backend.maxConcurrency", "-2 is out of range"},
		{"header name", setIntegration(func(in *Integration) { in.Headers = map[string]string{"X Secret": "s"} }), `apis[0].integrations.backend.headers["X Secret"]`, `"X Secret" is not a valid HTTP header name`},
		{"header value", setIntegration(func(in *Integration) { in.Headers = map[string]string{"X-Secret": "a\r\nb"} }), "apis[0].integrations.backend.headers.X-Secret", "contains a line break or NUL"},
		{"empty integration name", func(c *Config) {
			api(c).Integrations[""] = Integration{Type: "http", URL: "http://x"}
		}, `apis[0].integrations[""]`, "an integration name must not be empty"},

		// disconnect
		{"attempts high", func(c *Config) { api(c).Disconnect.Attempts = 11 }, "apis[0].disconnect.attempts", "11 is out of range; use a number from 1 to 10"},
		{"attempts negative", func(c *Config) { api(c).Disconnect.Attempts = -1 }, "apis[0].disconnect.attempts", "from 1 to 10"},
		{"backoff high", func(c *Config) { api(c).Disconnect.Backoff = Duration(2 * time.Minute) }, "apis[0].disconnect.backoff", "2m is out of range; use a duration from 1ms to 1m"},
		{"backoff low", func(c *Config) { api(c).Disconnect.Backoff = Duration(time.Microsecond) }, "apis[0].disconnect.backoff", "1µs is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase()
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
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Config)
	}{
		{"zero config", func(c *Config) { *c = Config{} }},
		{"zero APIs", func(c *Config) { c.APIs = nil }},
		{"listen port 0", func(c *Config) { c.Listen = "127.0.0.1:0" }},
		{"scoped keys", func(c *Config) {
			c.Management.APIKeys[0].Stages = []string{"production"}
			c.Management.AccessKeys[0].Stages = []string{"production"}
			c.Management.AccessKeys = append(c.Management.AccessKeys, AccessKey{ID: strings.Repeat("k", 128), Secret: "0123456789abcdef", Stages: []string{}})
		}},
		{"listen IPv6", func(c *Config) { c.Listen = "[::1]:8080" }},
		{"listen host name", func(c *Config) { c.Listen = "localhost:8080" }},
		{"readinessDelay zero", func(c *Config) { c.Shutdown.ReadinessDelay = new(Duration(0)) }},
		{"readinessDelay at the bound", func(c *Config) { c.Shutdown.ReadinessDelay = new(Duration(10 * time.Minute)) }},
		{"drainWindow at the bound", func(c *Config) {
			c.Shutdown.DrainWindow = Duration(10 * time.Minute)
			c.Shutdown.Timeout = Duration(time.Hour)
		}},
		{"domain host", func(c *Config) { api(c).DomainName = "chat.example.com" }},
		{"domain host:port", func(c *Config) { api(c).DomainName = "localhost:8080" }},
		{"domain IPv6", func(c *Config) { api(c).DomainName = "[::1]:8080" }},
		{"domain IPv6 without port", func(c *Config) { api(c).DomainName = "[::1]" }},
		{"expression \\$default", func(c *Config) { api(c).RouteSelectionExpression = `\$default` }},
		{"expression with literals", func(c *Config) { api(c).RouteSelectionExpression = "${request.body.a}/${request.body.b}" }},
		{"id and stage at their limits", func(c *Config) {
			api(c).ID = strings.Repeat("i", 64)
			api(c).Stage = strings.Repeat("s", 128)
		}},
		{"same id, other stage", func(c *Config) {
			c.APIs = append(c.APIs, API{ID: "chat", Stage: "staging", RouteSelectionExpression: `\$default`})
		}},
		{"300 routes", func(c *Config) {
			for i := range 295 {
				api(c).Routes[fmt.Sprint("r", i)] = Route{Integration: "backend"}
			}
		}},
		{"maxMessageBytes 16MiB with room to queue", func(c *Config) {
			api(c).Limits.MaxMessageBytes = 16 << 20
			api(c).Limits.OutboundQueueBytes = 16<<20 + 14
		}},
		{"unused integration", func(c *Config) { api(c).Integrations["spare"] = Integration{Type: "http", URL: "https://x.example"} }},
		{"broadcast options", setRoute("x", Route{Action: &Action{Type: "broadcast", ExcludeSender: true, Payload: []any{"a", 1}}})},
		{"headers", setIntegration(func(in *Integration) { in.Headers = map[string]string{"X-Api-Key": "k", "x_odd!": ""} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase()
			tt.set(c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	c := validBase()
	c.Listen = "nope"
	api(c).Stage = ""
	api(c).Limits.IdleTimeout = ms(1)
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v", err)
	}
	want := `listen: "nope" is not host:port; write ":8080" to listen on every interface or "127.0.0.1:8080" for this machine only
apis[0].stage: is required; set the first path segment clients connect to, e.g. stage: production
apis[0].limits.idleTimeout: 1ms is out of range; use a duration from 1s to 24h`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	c := &Config{APIs: []API{{ID: "a", Stage: "a", RouteSelectionExpression: "$x",
		Integrations: map[string]Integration{"b": {Type: "http", URL: "http://x"}}}}}
	before := *c
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "" || c.Management.AllowLoopback != nil || c.APIs[0].Limits != (Limits{}) || c.APIs[0].Integrations["b"].Timeout != 0 ||
		c.APIs[0].Channels.MaxNameBytes != 0 || c.APIs[0].Channels.Namespaces != nil {
		t.Errorf("Validate applied defaults to its receiver: %+v", c)
	}
	if &c.APIs[0] != &before.APIs[0] {
		t.Errorf("Validate replaced the APIs slice")
	}
}
