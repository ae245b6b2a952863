package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExpandVars(t *testing.T) {
	env := envMap(map[string]string{"A": "x", "EMPTY": "", "_U1": "u", "SPECIAL": "a: b # c"})
	tests := []struct {
		in, want string
		errs     []string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "x"},
		{in: "a${A}b${A}c", want: "axbxc"},
		{in: "${_U1}", want: "u"},
		{in: "${SPECIAL}", want: "a: b # c"},
		{in: "${EMPTY}", want: ""},
		{in: "${A:-d}", want: "x"},
		{in: "${UNSET:-d}", want: "d"},
		{in: "${EMPTY:-d}", want: "d"},
		{in: "${UNSET:-}", want: ""},
		{in: "${UNSET:-a:b/c}", want: "a:b/c"},
		{in: "${UNSET}", want: "", errs: []string{"environment variable UNSET is not set; set it, or give a default with ${UNSET:-value}"}},
		{in: "${U1}-${U2}", want: "-", errs: []string{"environment variable U1 is not set; set it, or give a default with ${U1:-value}", "environment variable U2 is not set; set it, or give a default with ${U2:-value}"}},
		// Route expressions and templates are not variables.
		{in: "${request.body.action}", want: "${request.body.action}"},
		{in: "${request.body.service}/${request.body.action}", want: "${request.body.service}/${request.body.action}"},
		{in: "${context.connectionId}", want: "${context.connectionId}"},
		{in: "$request.body.action", want: "$request.body.action"},
		{in: `\$default`, want: `\$default`},
		{in: "${Abc}", want: "${Abc}"},
		{in: "${A.b}", want: "${A.b}"},
		{in: "${1A}", want: "${1A}"},
		{in: "${A B}", want: "${A B}"},
		{in: "${}", want: "${}"},
		{in: "${", want: "${"},
		{in: "$", want: "$"},
		{in: "$$", want: "$$"},
		{in: "$A", want: "$A"},
		{in: "${request.${A}}", want: "${request.x}"},
		// $${ is a literal ${.
		{in: "$${A}", want: "${A}"},
		{in: "$${UNSET}", want: "${UNSET}"},
		{in: "$${request.body.a}", want: "${request.body.a}"},
		{in: "cost: $${A} is ${A}", want: "cost: ${A} is x"},
		// Unclosed references are errors rather than silently kept.
		{in: "${A", want: "${A", errs: []string{"${A is not closed; write ${A} or ${A:-default} (or $${ for a literal ${)"}},
		{in: "key-${A:-x", want: "key-${A:-x", errs: []string{"${A is not closed; write ${A} or ${A:-default} (or $${ for a literal ${)"}},
	}
	for _, tt := range tests {
		got, errs := expandVars(tt.in, env)
		if got != tt.want || !cmp.Equal(errs, tt.errs) {
			t.Errorf("expandVars(%q) = %q, %q; want %q, %q", tt.in, got, errs, tt.want, tt.errs)
		}
	}
}

func TestParseExpandsVariables(t *testing.T) {
	in := `# A comment is not expanded: ${NOT_SET_ANYWHERE}
listen: ${ADDR:-:9090}
log:
  level: ${LEVEL}
management:
  allowLoopback: ${LOOPBACK}
  apiKeys:
    - name: backend
      key: ${KEY}
apis:
  - id: chat
    stage: ${STAGE:-production}
    routeSelectionExpression: ${request.body.service}/${request.body.action}
    limits:
      inboundQueueMessages: ${QUEUE}
      idleTimeout: ${IDLE:-5m}
    routes:
      a/b:
        action:
          type: broadcast
          payload:
            from: ${context.connectionId}
            price: $${PRICE}
            raw: "${request.body}"
`
	env := envMap(map[string]string{
		"LEVEL":    "warn",
		"LOOPBACK": "false",
		"KEY":      `-s3cr3t:#[a]{b}*&!|>'"%@,`,
		"QUEUE":    "100",
	})
	c, err := Parse("x.yaml", []byte(in), env)
	if err != nil {
		t.Fatal(err)
	}
	a := c.APIs[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, ":9090"},
		{"log.level", c.Log.Level, "warn"},
		{"allowLoopback (a bool from a variable)", c.Management.LoopbackAllowed(), false},
		{"key (special characters stay in the value)", c.Management.APIKeys[0].Key, `-s3cr3t:#[a]{b}*&!|>'"%@,`},
		{"stage", a.Stage, "production"},
		{"routeSelectionExpression", a.RouteSelectionExpression, "${request.body.service}/${request.body.action}"},
		{"inboundQueueMessages (a number from a variable)", a.Limits.InboundQueueMessages, 100},
		{"idleTimeout", a.Limits.IdleTimeout.String(), "5m0s"},
		{"payload", a.Routes["a/b"].Action.Payload, map[string]any{
			"from":  "${context.connectionId}",
			"price": "${PRICE}",
			"raw":   "${request.body}",
		}},
	}
	for _, ch := range checks {
		if diff := cmp.Diff(ch.want, ch.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", ch.name, diff)
		}
	}
}

func TestOverridesPrecedence(t *testing.T) {
	const file = "listen: \":1111\"\nlog:\n  level: debug\n  format: text\nmanagement:\n  allowLoopback: true\n  apiKeys:\n    - name: file\n      key: file-0123456789abcdef\n"
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		check func(*Config) any
		want  any
	}{
		{"listen: default", "log: {}\n", nil, func(c *Config) any { return c.Listen }, ":8080"},
		{"listen: file", file, nil, func(c *Config) any { return c.Listen }, ":1111"},
		{"listen: environment over file", file, map[string]string{envListen: ":2222"}, func(c *Config) any { return c.Listen }, ":2222"},
		{"listen: environment over default", "log: {}\n", map[string]string{envListen: ":2222"}, func(c *Config) any { return c.Listen }, ":2222"},
		{"listen: empty variable is unset", file, map[string]string{envListen: ""}, func(c *Config) any { return c.Listen }, ":1111"},
		{"log.level", file, map[string]string{envLogLevel: "error"}, func(c *Config) any { return c.Log.Level }, "error"},
		{"log.format", file, map[string]string{envLogFormat: "json"}, func(c *Config) any { return c.Log.Format }, "json"},
		{"allowLoopback: file", file, nil, func(c *Config) any { return c.Management.LoopbackAllowed() }, true},
		{"allowLoopback: 0", file, map[string]string{envAllowLoopback: "0"}, func(c *Config) any { return c.Management.LoopbackAllowed() }, false},
		{"allowLoopback: FALSE", file, map[string]string{envAllowLoopback: "FALSE"}, func(c *Config) any { return c.Management.LoopbackAllowed() }, false},
		{"allowLoopback: 1 over file false", "management: {allowLoopback: false}\n", map[string]string{envAllowLoopback: "1"}, func(c *Config) any { return c.Management.LoopbackAllowed() }, true},
		{"apiKeys: appended to the file's", file, map[string]string{envAPIKeys: "ci:ci-0123456789abcdef, bare-0123456789abcdef ,,"},
			func(c *Config) any { return c.Management.APIKeys }, []APIKey{
				{Name: "file", Key: "file-0123456789abcdef"},
				{Name: "ci", Key: "ci-0123456789abcdef"},
				{Name: "env-2", Key: "bare-0123456789abcdef"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("x.yaml", []byte(tt.file), envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tt.check(c)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestOverrideErrors(t *testing.T) {
	const file = "management:\n  apiKeys:\n    - name: ci\n      key: file-0123456789abcdef\n"
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{envListen: "8080"},
			`SWITCHBOARD_LISTEN: listen: "8080" is not host:port; write ":8080" to listen on every interface or "127.0.0.1:8080" for this machine only`},
		{map[string]string{envLogLevel: "INFO"},
			`SWITCHBOARD_LOG_LEVEL: log.level: "INFO" is not a log level; use debug, info, warn or error (did you mean "info"?)`},
		{map[string]string{envLogFormat: "logfmt"},
			`SWITCHBOARD_LOG_FORMAT: log.format: "logfmt" is not a log format; use json or text`},
		{map[string]string{envAllowLoopback: "yes"},
			`SWITCHBOARD_MANAGEMENT_ALLOW_LOOPBACK: management.allowLoopback: "yes" is not a boolean; use true, false, 1 or 0`},
		{map[string]string{envAPIKeys: "short"},
			"SWITCHBOARD_MANAGEMENT_API_KEYS (entry 1): management.apiKeys[1].key: is 5 characters; use at least 16, such as the output of `openssl rand -hex 24` (read it from the environment with ${NAME})"},
		{map[string]string{envAPIKeys: "ok:ok-0123456789abcdef,ci:other-0123456789abcdef"},
			`SWITCHBOARD_MANAGEMENT_API_KEYS (entry 2): management.apiKeys[2].name: "ci" is already the name of management.apiKeys[0]; give each key its own name`},
		{map[string]string{envAPIKeys: ":file-0123456789abcdef"}, `x.yaml: 2 problems:
  SWITCHBOARD_MANAGEMENT_API_KEYS (entry 1): management.apiKeys[1].name: is required; name the key after who uses it (it appears in logs), e.g. name: backend
  SWITCHBOARD_MANAGEMENT_API_KEYS (entry 1): management.apiKeys[1].key: is the same secret as management.apiKeys[0] ("ci"); give each key its own secret`},
	}
	for _, tt := range tests {
		_, err := Parse("x.yaml", []byte(file), envMap(tt.env))
		if err == nil || err.Error() != tt.want {
			t.Errorf("env %v:\ngot  %v\nwant %s", tt.env, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}
