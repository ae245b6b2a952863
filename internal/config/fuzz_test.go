package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that what Parse
// accepts is valid and holds only JSON-like payloads.
func FuzzParse(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	seeds := []string{SeedYAML, string(full)}
	for _, name := range []string{"channels.yaml", "lambda.yaml", "function.yaml", "cluster.yaml", "pusher.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, string(b))
		if name == "pusher.yaml" {
			seeds = append(seeds, minimal+string(b))
		}
	}
	for _, s := range append(seeds, []string{
		minimal + "    channels:\n      namespaces:\n        - {pattern: \"dm:{user}:*\", subscribe: user, history: {size: 3}}\n    routes:\n      a: {action: {type: join, channel: \"dm:x:${request.body.y}\"}}\n",
		minimal,
		"",
		"listen: ${ADDR:-:9090}\nlog: {level: ${LEVEL}}\n",
		"apis:\n  - &a {id: a, stage: a, routeSelectionExpression: $x}\n  - <<: *a\n    stage: b\n",
		minimal + "    routes:\n      a:\n        action:\n          type: broadcast\n          payload: {1: x, ? [a]: b, d: 2001-01-01, n: .nan}\n",
		minimal + "    limits: {maxMessageBytes: 1GiB, idleTimeout: 1h}\n",
		"a: &a [*a]\n",
		minimal + "    routes:\n      a:\n        action:\n          type: broadcast\n          payload: [!!timestamp 2001-01-01, !!binary aGk=, !foo x, !!set {a}, 0x1F, 1e400]\n",
		"---\n---\nlisten: :1\n",
		// Parse resolves nothing: a relative directory is relative to the
		// package's directory.
		minimal + "    integrations:\n      f:\n        type: function\n        function: {runtime: provided, directory: testdata/fn, command: [bootstrap, -v], environment: {A: b}}\n",
		"tls: {certFile: testdata/tls/fullchain.pem, keyFile: testdata/tls/privkey.pem, reloadInterval: 1m}\nhttp: {readHeaderTimeout: 1s, maxHeaderBytes: 4KiB, maxConnections: 10}\n",
		minimal + "    limits: {connectionsPerSecond: 5, connectionBurst: 9, maxConnections: 9, maxConnectionsPerIP: 3, messagesPerSecond: 2}\n    auth:\n      origins: [\"https://*.example.com\", \"null\"]\n      jwt: {keys: [{algorithm: HS256, secret: 0123456789abcdef0123456789abcdef}, {algorithm: ES256, publicKeyFile: testdata/jwt/es256.pem}], jwksUrl: \"http://127.0.0.1/jwks\", algorithms: [ES256]}\n",
		minimal + "    integrations: {a: {type: http, url: \"http://x\"}}\n    auth:\n      authorizer: {integration: a, identitySources: [route.request.header.Authorization], cacheTTL: 1m}\n",
		minimal + "cluster:\n  nodeId: n1\n  lease: 6s\n  redis: {mode: sentinel, addresses: [\"[::1]:26379\"], password: \"${ADMIN_KEY}\", sentinel: {masterName: m}, tls: {serverName: r.x}}\n  internal: {advertise: \"10.0.0.1:8081\", secret: \"${ADMIN_KEY}${ADMIN_KEY}\"}\n",
		minimal + "pusher:\n  apps:\n    - {id: 7, key: k, secret: \"${ADMIN_KEY}\", api: chat, limits: {eventBytes: 1MiB}, webhooks: [{url: \"http://[::1]:1/h\", events: [cache_miss], batching: true}]}\n",
		minimal + "    integrations:\n      l:\n        type: lambda\n        lambda: {functionName: \"arn:aws:lambda:us-east-1:123456789012:function:f:1\", endpoint: \"http://[::1]:9001/\"}\n",
	}...) {
		f.Add([]byte(s))
	}
	env := envMap(map[string]string{
		"ADDR":          ":1234",
		"LEVEL":         "debug",
		"ADMIN_KEY":     "admin-0123456789abcdef",
		"EMPTY":         "",
		"PUSHER_SECRET": "7ad3773142a6692b25b8",
		"WEBHOOK_TOKEN": "token",
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data, env)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a config with error %v", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
		for i := range c.Pusher.Apps {
			a := &c.Pusher.Apps[i]
			if c.PusherAPI(a) < 0 || a.ActivityTimeoutSeconds() < 1 || c.Pusher.AppByKey(a.Key) != a {
				t.Fatalf("accepted Pusher app %+v has no API, no activity timeout or a shared key", a)
			}
		}
		for _, a := range c.APIs {
			for key, r := range a.Routes {
				if r.Action != nil {
					if !jsonLike(r.Action.Payload) {
						t.Fatalf("route %q: payload %#v is not JSON-like", key, r.Action.Payload)
					}
				}
			}
		}
	})
}

// jsonLike reports whether v holds only what encoding/json produces:
// map[string]any, []any, string, float64/int (yaml numbers), bool, nil.
func jsonLike(v any) bool {
	switch v := v.(type) {
	case nil, string, bool, int, int64, uint64, float64:
		return true
	case []any:
		for _, e := range v {
			if !jsonLike(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range v {
			if !jsonLike(e) {
				return false
			}
		}
		return true
	}
	return false
}
