package config

import (
	"errors"
	"strings"
	"testing"
)

// adminBase is a valid configuration with the console on; each case of
// TestValidateAdmin breaks one rule of it.
func adminBase() *Config {
	c := &Config{Listen: "127.0.0.1:8080"}
	c.Management.APIKeys = []APIKey{{Name: "ops", Key: "0123456789abcdef0123"}}
	c.APIs = []API{{ID: "chat", Stage: "prod", RouteSelectionExpression: "$request.body.action"}}
	c.Admin = Admin{Enabled: true}
	return c
}

// TestValidateAdmin breaks one rule of the admin section per case and
// expects exactly one problem, on the given field, whose message names
// the fix.
func TestValidateAdmin(t *testing.T) {
	if err := adminBase().Validate(); err != nil {
		t.Fatalf("base configuration: %v", err)
	}
	for _, tc := range []struct {
		name, field, fix string
		edit             func(c *Config)
	}{
		{"no key to sign in with", "admin.enabled", "add a key", func(c *Config) { c.Management.APIKeys = nil }},
		{"path without slash", "admin.path", `"/admin"`, func(c *Config) { c.Admin.Path = "admin" }},
		{"trailing slash", "admin.path", "no trailing", func(c *Config) { c.Admin.Path = "/admin/" }},
		{"root", "admin.path", "at least one segment", func(c *Config) { c.Admin.Path = "/" }},
		{"dot segment", "admin.path", "segment", func(c *Config) { c.Admin.Path = "/a/../b" }},
		{"shadows a stage", "admin.path", "no stage begins with", func(c *Config) { c.Admin.Path = "/prod/console" }},
		{"reserved", "admin.path", "serves itself", func(c *Config) { c.Admin.Path = "/metrics" }},
		{"pusher", "admin.path", "Pusher", func(c *Config) { c.Admin.Path = "/apps" }},
		{"listen malformed", "admin.listen", "host:port", func(c *Config) { c.Admin.Listen = "nine" }},
		{"listen is listen", "admin.listen", "another port", func(c *Config) { c.Admin.Listen = c.Listen }},
		{"listen is metrics.listen", "admin.listen", "admin.metrics: true", func(c *Config) {
			c.Metrics.Listen = "127.0.0.1:9100"
			c.Admin.Listen = "127.0.0.1:9100"
		}},
		{"pprof on the main listener", "admin.pprof", "admin.listen", func(c *Config) { c.Admin.Pprof = true }},
		{"metrics on the main listener", "admin.metrics", "admin.listen", func(c *Config) { c.Admin.Metrics = true }},
		{"development on every interface", "admin.development", "127.0.0.1", func(c *Config) {
			c.Listen = ":8080"
			c.Admin.Development = true
		}},
		{"development on a public admin listener", "admin.development", "admin.listen", func(c *Config) {
			c.Admin.Listen = "0.0.0.0:9000"
			c.Admin.Development = true
		}},
		{"session timeout", "admin.sessionTimeout", "1m", func(c *Config) { c.Admin.SessionTimeout = Duration(1) }},
		{"max sessions", "admin.maxSessions", "10000", func(c *Config) { c.Admin.MaxSessions = 10001 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := adminBase()
			tc.edit(c)
			var ve *ValidationError
			if err := c.Validate(); !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a ValidationError", err)
			}
			if len(ve.Problems) != 1 || ve.Problems[0].Field != tc.field || !strings.Contains(ve.Problems[0].Message, tc.fix) {
				t.Fatalf("problems = %v, want one on %s naming %q", ve.Problems, tc.field, tc.fix)
			}
		})
	}
}

// TestValidateAdminAllowed: what the section allows, including a
// disabled section that holds anything.
func TestValidateAdminAllowed(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config)
	}{
		{"defaults", func(*Config) {}},
		{"own listener with metrics and pprof", func(c *Config) {
			c.Admin.Listen = "127.0.0.1:9000"
			c.Admin.Metrics, c.Admin.Pprof = true, true
			c.Admin.Path = "/prod" // alone on its listener: no stage to shadow
		}},
		{"development on loopback without keys", func(c *Config) {
			c.Management.APIKeys = nil
			c.Admin.Development = true
		}},
		{"development on a loopback admin listener", func(c *Config) {
			c.Listen = ":8080"
			c.Admin.Listen = "[::1]:9000"
			c.Admin.Development = true
		}},
		{"disabled holds anything", func(c *Config) { c.Admin = Admin{Path: "nope", Pprof: true, Development: true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := adminBase()
			tc.edit(c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
