package config

import (
	"net"
	"net/netip"
	"strings"
	"time"
)

// Admin configures the admin console (docs/operating.md, "The admin
// console"; decision 0031): a web UI to watch and act on the gateway,
// signed in to with a management API key. Off by default.
type Admin struct {
	// Enabled serves the console. Default false.
	Enabled bool `yaml:"enabled"`
	// Path is where the console is served: a path of one or more segments
	// (letters, digits, '-', '_', '.') that no API's stage, no reserved
	// path and no Pusher route begins with. Default "/admin".
	Path string `yaml:"path"`
	// Listen, when set, is a separate TCP address (host:port) that serves
	// the console (at Path) instead of the main listener, over plain HTTP;
	// it can also carry /metrics (Metrics) and /debug/pprof (Pprof).
	// Default "": the console is on the main listener.
	Listen string `yaml:"listen"`
	// Metrics also serves /metrics on Listen. Requires Listen.
	Metrics bool `yaml:"metrics"`
	// Pprof serves Go's profiler at /debug/pprof/ on Listen (never on the
	// main listener). Requires Listen.
	Pprof bool `yaml:"pprof"`
	// Development opens the console without credentials, with a loud
	// warning in the log. Only allowed when the console's listener (Listen,
	// else the main listen) is bound to a loopback address. Default false.
	Development bool `yaml:"development"`
	// SessionTimeout is how long a sign-in lasts. Default 8h; 1m to 7d.
	SessionTimeout Duration `yaml:"sessionTimeout"`
	// MaxSessions bounds the signed-in sessions kept; past it the oldest
	// is signed out. Default 64; 1 to 10000.
	MaxSessions int `yaml:"maxSessions"`
}

// Defaults of the admin section.
const (
	defaultAdminPath           = "/admin"
	defaultAdminSessionTimeout = Duration(8 * time.Hour)
	defaultAdminMaxSessions    = 64
)

func (a *Admin) applyDefaults() {
	setDefault(&a.Path, defaultAdminPath)
	setDefault(&a.SessionTimeout, defaultAdminSessionTimeout)
	setDefault(&a.MaxSessions, defaultAdminMaxSessions)
}

// admin checks the admin section; it is checked only when enabled (a
// disabled section may hold anything, so that it can be switched on and
// off by one key).
func (v *validator) admin(c *Config) {
	a := &c.Admin
	if !a.Enabled {
		return
	}
	v.adminPath(c)
	if a.Listen != "" {
		switch msg := checkListen(a.Listen); {
		case msg != "":
			v.add("admin.listen", "%s", msg)
		case a.Listen == c.Listen && !strings.HasSuffix(a.Listen, ":0"):
			v.add("admin.listen", "%q is also listen; give the console another port, or leave admin.listen out to serve it on the main listener at admin.path", a.Listen)
		case a.Listen == c.Metrics.Listen && !strings.HasSuffix(a.Listen, ":0"):
			v.add("admin.listen", "%q is also metrics.listen; set admin.metrics: true to serve /metrics on the admin listener and leave metrics.listen out", a.Listen)
		}
	} else {
		if a.Metrics {
			v.add("admin.metrics", "needs admin.listen: /metrics is already on the main listener; set admin.listen to a separate address, or remove admin.metrics")
		}
		if a.Pprof {
			v.add("admin.pprof", "needs admin.listen: the profiler is never served on the main listener; set admin.listen to a separate (loopback or private) address, or remove admin.pprof")
		}
	}
	if a.Development {
		field, addr := "listen", c.Listen
		if a.Listen != "" {
			field, addr = "admin.listen", a.Listen
		}
		if !loopbackListen(addr) {
			v.add("admin.development", "opens the console without credentials, so it is only allowed on a loopback address, and %s is %q; set %s to 127.0.0.1:PORT, or remove admin.development and sign in with a management API key", field, addr, field)
		}
	} else if len(c.Management.APIKeys) == 0 {
		v.add("admin.enabled", "the console is signed in to with a management API key, and management.apiKeys is empty; add a key (management.apiKeys[].key, at least 16 characters), or set admin.development: true on a loopback listener")
	}
	v.duration("admin.sessionTimeout", a.SessionTimeout, time.Minute, 7*24*time.Hour)
	v.intRange("admin.maxSessions", a.MaxSessions, 1, 10000)
}

// adminPath checks admin.path: its shape, and that it does not shadow a
// path something else is served at on the same listener.
func (v *validator) adminPath(c *Config) {
	p := c.Admin.Path
	const fix = `use a path such as "/admin"`
	if !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, "/") {
		v.add("admin.path", "%q must start with '/', have at least one segment and no trailing '/'; %s", p, fix)
		return
	}
	segs := strings.Split(p[1:], "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.IndexFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
		}) >= 0 {
			v.add("admin.path", "segment %q of %q is not letters, digits, '-', '_' or '.'; %s", s, p, fix)
			return
		}
	}
	if c.Admin.Listen != "" {
		if p == "/metrics" || strings.HasPrefix(p, "/debug") {
			v.add("admin.path", "%q is where the admin listener serves /metrics or /debug/pprof; %s", p, fix)
		}
		return // alone on its listener: nothing else to shadow
	}
	first := segs[0]
	for _, r := range reservedStages {
		if first == r {
			v.add("admin.path", "%q begins with /%s, which Switchboard serves itself; %s", p, r, fix)
			return
		}
	}
	if first == "app" || first == "apps" || first == "favicon.ico" {
		v.add("admin.path", "%q begins with /%s, which the Pusher front-end or the demo page serves; %s", p, first, fix)
		return
	}
	for i, a := range c.APIs {
		if a.Stage == first {
			v.add("admin.path", "%q begins with /%s, the stage of apis[%d], whose clients and management calls it would shadow; set admin.path to a path no stage begins with, such as \"/switchboard-admin\", or give the console its own admin.listen", p, first, i)
			return
		}
	}
}

// loopbackListen reports whether a listen address binds only loopback:
// 127.0.0.0/8, ::1 or "localhost". An empty host (every interface) is not.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
