package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/route"
)

// channelsBase is validBase with channels: namespaces that use every rule
// and history, and routes with every channel action.
func channelsBase() *Config {
	c := validBase()
	a := api(c)
	a.Channels.Namespaces = []Namespace{
		{Pattern: "room:*", History: History{Size: 100}, JoinLeave: true},
		{Pattern: "user:{user}", Subscribe: "user", Publish: "deny"},
		{Pattern: "private:*", Subscribe: "authorizer", Publish: "authorizer", Authorizer: "backend"},
		{Pattern: "*"},
	}
	a.Routes["joinRoom"] = Route{Action: &Action{Type: "join", Channel: "room:${request.body.room}"}}
	a.Routes["leaveRoom"] = Route{Action: &Action{Type: "leave", Channel: "room:${request.body.room}"}}
	a.Routes["say"] = Route{Action: &Action{Type: "broadcast", Channel: "$request.body.channel", ExcludeSender: true,
		Payload: map[string]any{"text": "$request.body.text"}}}
	a.Routes["lobby"] = Route{Action: &Action{Type: "join", Channel: "room:lobby"}}
	return c
}

func setNamespace(i int, f func(*Namespace)) func(*Config) {
	return func(c *Config) { f(&api(c).Channels.Namespaces[i]) }
}

func setAction(key string, f func(*Action)) func(*Config) {
	return func(c *Config) {
		r := api(c).Routes[key]
		a := *r.Action
		f(&a)
		r.Action = &a
		api(c).Routes[key] = r
	}
}

func TestChannelsBaseIsValid(t *testing.T) {
	if err := channelsBase().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestValidateChannels breaks one rule per case and expects exactly one
// problem, on the given field, whose message contains the fix.
func TestValidateChannels(t *testing.T) {
	const ns = "apis[0].channels.namespaces"
	no := false
	tests := []struct {
		name   string
		break_ func(*Config)
		field  string
		fix    string
	}{
		// limits
		{"maxPerConnection high", func(c *Config) { api(c).Channels.MaxPerConnection = 100001 }, "apis[0].channels.maxPerConnection", "100001 is out of range; use a number from 1 to 100000"},
		{"maxPerConnection negative", func(c *Config) { api(c).Channels.MaxPerConnection = -1 }, "apis[0].channels.maxPerConnection", "-1 is out of range; use a number from 1 to 100000"},
		{"maxNameBytes high", func(c *Config) { api(c).Channels.MaxNameBytes = 1025 }, "apis[0].channels.maxNameBytes", "1025 is out of range; use a number from 1 to 1024"},
		{"maxNameBytes negative", func(c *Config) { api(c).Channels.MaxNameBytes = -1 }, "apis[0].channels.maxNameBytes", "-1 is out of range"},

		// pattern
		{"pattern required", setNamespace(0, func(n *Namespace) { n.Pattern = "" }), ns + "[0].pattern",
			`is required; write the channel names this namespace covers, such as "chat:*", "user:{user}" or "*" (every channel)`},
		{"pattern with space", setNamespace(0, func(n *Namespace) { n.Pattern = "room *" }), ns + "[0].pattern",
			`"room *" contains ' ', which a channel name cannot (channel names have no control characters, spaces or commas); remove it`},
		{"pattern with comma", setNamespace(0, func(n *Namespace) { n.Pattern = "a,b" }), ns + "[0].pattern", `contains ','`},
		{"pattern with control", setNamespace(0, func(n *Namespace) { n.Pattern = "a\x01" }), ns + "[0].pattern", `contains '\x01'`},
		{"pattern with no-break space", setNamespace(0, func(n *Namespace) { n.Pattern = "a\u00a0" }), ns + "[0].pattern", `contains '\u00a0'`},
		{"pattern not UTF-8", setNamespace(0, func(n *Namespace) { n.Pattern = "a\xff" }), ns + "[0].pattern", `"a\xff" is not valid UTF-8`},
		{"pattern with brace", setNamespace(0, func(n *Namespace) { n.Pattern = "room:{id}" }), ns + "[0].pattern",
			`"room:{id}" contains '{' outside {user}; '{' and '}' may only appear as {user}, the placeholder for the connection's user id`},
		{"pattern with closing brace", setNamespace(0, func(n *Namespace) { n.Pattern = "room}" }), ns + "[0].pattern", `contains '}' outside {user}`},
		{"pattern with {User}", setNamespace(1, func(n *Namespace) { n.Pattern = "user:{User}" }), ns + "[1].pattern", `contains '{' outside {user}`},
		{"pattern with two {user}", setNamespace(1, func(n *Namespace) { n.Pattern = "dm:{user}:{user}" }), ns + "[1].pattern", `"dm:{user}:{user}" has {user} 2 times; use it at most once`},
		{"pattern too long", setNamespace(0, func(n *Namespace) { n.Pattern = strings.Repeat("r", 256) }), ns + "[0].pattern",
			"is 256 bytes long, more than maxNameBytes (255); shorten it or raise maxNameBytes"},
		{"pattern longer than a lowered maxNameBytes", func(c *Config) { api(c).Channels.MaxNameBytes = 10 }, ns + "[1].pattern", "is 11 bytes long, more than maxNameBytes (10)"},
		{"duplicate pattern", func(c *Config) {
			ch := &api(c).Channels
			ch.Namespaces = append([]Namespace{{Pattern: "user:{user}"}}, ch.Namespaces...)
		}, ns + "[2].pattern", `"user:{user}" is already the pattern of apis[0].channels.namespaces[0], which comes first and so applies to every channel this one matches; remove this namespace or merge the two`},
		{"namespace after *", func(c *Config) {
			ch := &api(c).Channels
			ch.Namespaces = append(ch.Namespaces, Namespace{Pattern: "news:*"})
		}, ns + "[4].pattern", `"news:*" can never apply: apis[0].channels.namespaces[3] has pattern "*", which matches every channel first; move this namespace before it`},
		{"second *", func(c *Config) {
			ch := &api(c).Channels
			ch.Namespaces = append(ch.Namespaces, Namespace{Pattern: "*"})
		}, ns + "[4].pattern", `"*" is already the pattern of apis[0].channels.namespaces[3]`},

		// rules
		{"subscribe unknown", setNamespace(0, func(n *Namespace) { n.Subscribe = "everyone" }), ns + "[0].subscribe",
			`"everyone" is not a subscribe rule; use allow, deny, user or authorizer`},
		{"subscribe suggestion", setNamespace(0, func(n *Namespace) { n.Subscribe = "alow" }), ns + "[0].subscribe", `(did you mean "allow"?)`},
		{"subscribe subscribers", setNamespace(0, func(n *Namespace) { n.Subscribe = "subscribers" }), ns + "[0].subscribe", `"subscribers" is not a subscribe rule`},
		{"publish unknown", setNamespace(0, func(n *Namespace) { n.Publish = "members" }), ns + "[0].publish",
			`"members" is not a publish rule; use deny, allow, subscribers, user or authorizer`},
		{"publish suggestion", setNamespace(0, func(n *Namespace) { n.Publish = "subscriber" }), ns + "[0].publish", `(did you mean "subscribers"?)`},
		{"subscribe user without {user}", setNamespace(0, func(n *Namespace) { n.Subscribe = "user" }), ns + "[0].subscribe",
			`"user" needs {user} in the pattern, the part of the channel name that must be the connection's user id; add it to "room:*" (e.g. pattern: "user:{user}") or choose another rule`},
		{"publish user without {user}", setNamespace(3, func(n *Namespace) { n.Publish = "user" }), ns + "[3].publish", `"user" needs {user} in the pattern`},

		// authorizer
		{"authorizer missing", setNamespace(2, func(n *Namespace) { n.Authorizer = "" }), ns + "[2].authorizer",
			"is required when subscribe and publish is authorizer; name the integration of apis[0].integrations that decides, e.g. authorizer: backend"},
		{"authorizer missing for publish", func(c *Config) {
			api(c).Channels.Namespaces[0].Publish = "authorizer"
		}, ns + "[0].authorizer", "is required when publish is authorizer"},
		{"authorizer unused", setNamespace(0, func(n *Namespace) { n.Authorizer = "backend" }), ns + "[0].authorizer",
			"is only used when subscribe or publish is authorizer; remove it, or set one of them to authorizer"},
		{"authorizer unknown", setNamespace(2, func(n *Namespace) { n.Authorizer = "backnd" }), ns + "[2].authorizer",
			`"backnd" is not defined in apis[0].integrations (defined: backend); fix the name or add the integration (did you mean "backend"?)`},
		{"authorizer with a mistyped rule", setNamespace(0, func(n *Namespace) { n.Subscribe = "authoriser"; n.Authorizer = "backend" }), ns + "[0].subscribe",
			`(did you mean "authorizer"?)`},

		// presence
		{"joinLeave without presence", setNamespace(0, func(n *Namespace) { n.Presence = &no }), ns + "[0].joinLeave",
			"needs presence, which is turned off; remove joinLeave or set presence: true"},

		// history
		{"history size negative", setNamespace(0, func(n *Namespace) { n.History.Size = -1 }), ns + "[0].history.size",
			"-1 is out of range; use a number from 1 to 100000, or 0 (the default) to keep no history"},
		{"history size high", setNamespace(0, func(n *Namespace) { n.History.Size = 100001 }), ns + "[0].history.size", "100001 is out of range"},
		{"ttl without size", setNamespace(3, func(n *Namespace) { n.History.TTL = sec(60) }), ns + "[3].history.ttl",
			"has no effect without history.size; set size to the number of publications each channel keeps, or remove ttl"},
		{"metaTTL without size", setNamespace(3, func(n *Namespace) { n.History.MetaTTL = sec(60) }), ns + "[3].history.metaTTL", "has no effect without history.size"},
		{"recoveryLimit without size", setNamespace(3, func(n *Namespace) { n.History.RecoveryLimit = 5 }), ns + "[3].history.recoveryLimit", "has no effect without history.size"},
		{"ttl low", setNamespace(0, func(n *Namespace) { n.History.TTL = ms(500) }), ns + "[0].history.ttl", "500ms is out of range; use a duration from 1s to 720h"},
		{"ttl high", setNamespace(0, func(n *Namespace) { n.History.TTL = Duration(721 * time.Hour) }), ns + "[0].history.ttl", "721h is out of range; use a duration from 1s to 720h"},
		{"metaTTL high", setNamespace(0, func(n *Namespace) { n.History.MetaTTL = Duration(721 * time.Hour) }), ns + "[0].history.metaTTL", "721h is out of range; use a duration from 1s to 720h"},
		{"metaTTL low", setNamespace(0, func(n *Namespace) { n.History.MetaTTL = ms(10) }), ns + "[0].history.metaTTL", "10ms is out of range"},
		{"metaTTL below ttl", setNamespace(0, func(n *Namespace) {
			n.History.TTL = Duration(2 * time.Hour)
			n.History.MetaTTL = Duration(time.Hour)
		}), ns + "[0].history.metaTTL", "1h is shorter than ttl (2h), so a channel's epoch would be forgotten while its publications are still kept; raise it to at least 2h or shorten ttl"},
		{"recoveryLimit above size", setNamespace(0, func(n *Namespace) { n.History.RecoveryLimit = 101 }), ns + "[0].history.recoveryLimit",
			"101 is out of range; use a number from 1 to size (100), the most publications a channel keeps"},
		{"recoveryLimit negative", setNamespace(0, func(n *Namespace) { n.History.RecoveryLimit = -1 }), ns + "[0].history.recoveryLimit", "-1 is out of range"},

		// actions
		{"join without channel", setAction("joinRoom", func(a *Action) { a.Channel = "" }), "apis[0].routes.joinRoom.action.channel",
			"is required for type join; name the channel with a selection expression, e.g. channel: $request.body.room or channel: room:${request.body.room}"},
		{"leave without channel", setAction("leaveRoom", func(a *Action) { a.Channel = "" }), "apis[0].routes.leaveRoom.action.channel", "is required for type leave"},
		{"channel on echo", setAction("ping", func(a *Action) { a.Channel = "room:x" }), "apis[0].routes.ping.action.channel",
			"is not used by type echo, which sends the message back to its sender; remove it, or use type broadcast to publish to the channel"},
		{"payload on join", setAction("joinRoom", func(a *Action) { a.Payload = "hi" }), "apis[0].routes.joinRoom.action.payload",
			"is only used by type broadcast; remove it (join only puts the sender in the channel)"},
		{"excludeSender on leave", setAction("leaveRoom", func(a *Action) { a.ExcludeSender = true }), "apis[0].routes.leaveRoom.action.excludeSender",
			"is only used by type broadcast; remove it"},
		{"channel syntax", setAction("joinRoom", func(a *Action) { a.Channel = "room:${request.body.room" }), "apis[0].routes.joinRoom.action.channel",
			`"room:${request.body.room", offset 5 (at "${request.body.r…"): unterminated ${; close it with }`},
		{"channel with a lone $", setAction("joinRoom", func(a *Action) { a.Channel = "room:$" }), "apis[0].routes.joinRoom.action.channel",
			`'$' must start a variable such as $request.body.action; write \$ for a literal dollar sign`},
		{"channel with $context", setAction("joinRoom", func(a *Action) { a.Channel = "room:$context.connectionId" }), "apis[0].routes.joinRoom.action.channel",
			`"room:$context.connectionId" uses $context.connectionId; a channel can only use $request.body variables, such as $request.body.room (write \$ for a literal dollar sign)`},
		{"channel with a space", setAction("say", func(a *Action) { a.Channel = "room: ${request.body.room}" }), "apis[0].routes.say.action.channel",
			`"room: ${request.body.room}" contains ' ', which a channel name cannot (channel names have no control characters, spaces or commas); remove it`},
		{"channel not UTF-8", setAction("say", func(a *Action) { a.Channel = "room:\xff" }), "apis[0].routes.say.action.channel", "is not valid UTF-8"},
		{"static channel too long", setAction("lobby", func(a *Action) { a.Channel = "room:" + strings.Repeat("x", 251) }), "apis[0].routes.lobby.action.channel",
			"is 256 bytes long, more than apis[0].channels.maxNameBytes (255); shorten it or raise maxNameBytes"},
		{"static channel without namespace", func(c *Config) {
			api(c).Channels.Namespaces = api(c).Channels.Namespaces[:3]
			setAction("lobby", func(a *Action) { a.Channel = "lobby" })(c)
		}, "apis[0].routes.lobby.action.channel",
			`"lobby" matches no pattern of apis[0].channels.namespaces ("room:*", "user:{user}", "private:*"), so it cannot be used; fix the channel or add a namespace whose pattern matches it`},
		{"static broadcast channel without namespace", func(c *Config) {
			api(c).Channels.Namespaces = api(c).Channels.Namespaces[:1]
			setAction("say", func(a *Action) { a.Channel = `\$news` })(c)
		}, "apis[0].routes.say.action.channel", `"$news" matches no pattern`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := channelsBase()
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

func TestValidateChannelsAccepts(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		set  func(*Config)
	}{
		{"no namespaces (the default)", func(c *Config) { api(c).Channels.Namespaces = nil }},
		{"limits at their bounds", func(c *Config) {
			api(c).Channels.MaxPerConnection = 100000
			api(c).Channels.MaxNameBytes = 1024
		}},
		{"history at its bounds", setNamespace(0, func(n *Namespace) {
			n.History = History{Size: 100000, TTL: sec(1), MetaTTL: sec(1), RecoveryLimit: 1}
		})},
		{"history at its upper bounds", setNamespace(0, func(n *Namespace) {
			n.History = History{Size: 1, TTL: Duration(720 * time.Hour), MetaTTL: Duration(720 * time.Hour)}
		})},
		{"a long ttl with the default metaTTL", setNamespace(0, func(n *Namespace) { n.History.TTL = Duration(48 * time.Hour) })},
		{"presence off without joinLeave", setNamespace(3, func(n *Namespace) { n.Presence = &no })},
		{"presence on with joinLeave", setNamespace(3, func(n *Namespace) { n.Presence = &yes; n.JoinLeave = true })},
		{"user rules with {user} anywhere", setNamespace(1, func(n *Namespace) { n.Pattern = "*:{user}.inbox"; n.Publish = "user" })},
		{"authorizer for publish only", setNamespace(2, func(n *Namespace) { n.Subscribe = "allow" })},
		{"unicode pattern", setNamespace(0, func(n *Namespace) { n.Pattern = "salle:é*" })},
		{"pattern of maxNameBytes", setNamespace(0, func(n *Namespace) { n.Pattern = strings.Repeat("r", 254) + "*" })},
		{"catch-all last, specific first", func(c *Config) {
			ch := &api(c).Channels
			ch.Namespaces = append([]Namespace{{Pattern: "room:vip"}}, ch.Namespaces...)
		}},
		{"broadcast to every connection", setAction("say", func(a *Action) { a.Channel = "" })},
		{"static channel matched by {user}", setAction("lobby", func(a *Action) { a.Channel = "user:alice" })},
		{"static channel with an escaped $", setAction("lobby", func(a *Action) { a.Channel = `room:\$1` })},
		{"channel of two variables", setAction("joinRoom", func(a *Action) { a.Channel = "${request.body.kind}:${request.body.id}" })},
		{"channel with a bracket path", setAction("joinRoom", func(a *Action) { a.Channel = "room:$request.body['room id']" })},
		{"leave with a literal channel", setAction("leaveRoom", func(a *Action) { a.Channel = "room:lobby" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := channelsBase()
			tt.set(c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestChannelExpressionsCompile checks that what Validate accepts as an
// action's channel, route.Parse (which the gateway compiles it with)
// accepts too, and the other way round.
func TestChannelExpressionsCompile(t *testing.T) {
	for _, expr := range []string{
		"room:${request.body.room}", "$request.body.channel", `room:\$1`, "room:lobby",
		"${request.body.a}:${request.body.b}", "room:$request.body['room id']",
		"room:${request.body.room", "room:$", "room:$context.connectionId", "room:${}", "room:$request.body.",
	} {
		c := channelsBase()
		setAction("joinRoom", func(a *Action) { a.Channel = expr })(c)
		configErr := c.Validate()
		_, parseErr := route.Parse(expr)
		if (configErr == nil) != (parseErr == nil) {
			t.Errorf("%q: Validate says %v, route.Parse says %v", expr, configErr, parseErr)
		}
	}
}

func TestValidateDoesNotAddNamespaces(t *testing.T) {
	c := channelsBase()
	api(c).Channels.Namespaces[0].History = History{Size: 10}
	api(c).Channels.Namespaces[3].Presence = nil
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if n := api(c).Channels.Namespaces; n[0].History != (History{Size: 10}) || n[3].Presence != nil || n[3].Subscribe != "" {
		t.Errorf("Validate applied defaults to its receiver's namespaces: %+v", n)
	}
}
