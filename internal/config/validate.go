package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Problem is one mistake in a configuration.
type Problem struct {
	// Field is the path of the value, such as "apis[0].limits.idleTimeout"
	// or "apis[0].routes.sendMessage"; empty for the file as a whole.
	Field string
	// Message says what is wrong and how to fix it.
	Message string
}

// String returns "field: message".
func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// Values accepted by the enumerated fields.
var (
	logLevels   = []string{"debug", "info", "warn", "error"}
	logFormats  = []string{"json", "text"}
	binaryModes = []string{"reject", "base64"}
	actionTypes = []string{"broadcast", "echo", "join", "leave"}
	// subscribeRules and publishRules are the rules of a channel
	// namespace, in the order the documentation lists them.
	subscribeRules = []string{"allow", "deny", "user", "authorizer"}
	publishRules   = []string{"deny", "allow", "subscribers", "user", "authorizer"}
	// reservedStages are first path segments that Switchboard serves
	// itself (or AWS reserves), so no API may use them as its stage.
	reservedStages = []string{"healthz", "readyz", "metrics", "ping", "sping", "_switchboard"}
)

// Bounds checked by Validate.
const (
	maxIDLen           = 64
	maxStageLen        = 128
	maxRoutes          = 300 // AWS quota per API
	maxMessageLimit    = ByteSize(16 << 20)
	frameOverhead      = 14 // largest WebSocket frame header
	maxInboundQueue    = 100000
	maxConcurrencyMax  = 100000
	maxDisconnectTries = 10
	minAPIKeyLen       = 16

	maxChannelsPerConnection = 100000
	maxChannelNameLimit      = 1024
	maxHistorySize           = 100000
	maxHistoryTTL            = Duration(30 * 24 * time.Hour)
)

// Validate checks c as it would run (zero fields count as their defaults;
// c is not modified) and returns nil or a *ValidationError listing every
// problem. The syntax of routeSelectionExpression and of payload templates
// is left to the packages that compile them (route, payload); Validate
// only checks that an expression is there and looks like one. An action's
// channel is checked here, with the route package's tokenizer, because its
// text must also make a channel name that a namespace matches.
//
// Validate reads the file system: a function integration's directory must
// exist, and for runtime provided hold the executable; tls.certFile and
// tls.keyFile must be readable and form a pair; a JWT key's publicKeyFile
// must be readable and hold a PEM public key. A relative path is relative
// to the working directory (Load makes it relative to the file).
func (c *Config) Validate() error {
	e := c.clone()
	e.ApplyDefaults()
	var v validator
	v.config(e)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

type validator struct {
	problems []Problem
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{field, fmt.Sprintf(format, args...)})
}

func (v *validator) config(c *Config) {
	if msg := checkListen(c.Listen); msg != "" {
		v.add("listen", "%s", msg)
	}
	if m := c.Metrics.Listen; m != "" {
		if msg := checkListen(m); msg != "" {
			v.add("metrics.listen", "%s", msg)
		} else if m == c.Listen && !strings.HasSuffix(m, ":0") {
			v.add("metrics.listen", "%q is also listen; give /metrics another port, or leave metrics.listen out to serve /metrics on the main listener", m)
		}
	}
	v.oneOf("log.level", c.Log.Level, "a log level", logLevels)
	v.oneOf("log.format", c.Log.Format, "a log format", logFormats)

	switch c.Transport.Driver {
	case "auto", "epoll", "goroutine":
	default:
		v.add("transport.driver", "%q is not a driver; use auto, epoll or goroutine", c.Transport.Driver)
	}
	if c.Transport.Loops < 0 || c.Transport.Loops > 1024 {
		v.add("transport.loops", "%d is out of range; use 1 to 1024, or leave it out for one loop per CPU", c.Transport.Loops)
	}
	v.duration("shutdown.drainWindow", c.Shutdown.DrainWindow, 0, 10*time.Minute)
	v.duration("shutdown.timeout", c.Shutdown.Timeout, time.Second, time.Hour)
	if d := c.Shutdown.ReadinessDelay; d != nil {
		v.duration("shutdown.readinessDelay", *d, 0, 10*time.Minute)
	}
	if c.Shutdown.Timeout <= c.Shutdown.DrainWindow {
		v.add("shutdown.timeout", "%s must be longer than shutdown.drainWindow (%s), or connections are dropped before their going-away close is sent; raise timeout or shorten drainWindow",
			fmtDuration(c.Shutdown.Timeout), fmtDuration(c.Shutdown.DrainWindow))
	}

	v.tls(c.TLS)
	v.http(&c.HTTP)
	v.management(&c.Management, c.APIs)
	v.cluster(c)
	v.admin(c)

	stages := map[string]int{}
	for i := range c.APIs {
		v.api(joinIndex("apis", i), &c.APIs[i])
		s := c.APIs[i].Stage
		if s == "" {
			continue
		}
		if first, ok := stages[s]; ok {
			v.add(joinIndex("apis", i)+".stage", "%q is already the stage of apis[%d]; give each API its own stage", s, first)
			continue
		}
		stages[s] = i
	}
	v.pusher(c)
}

// checkListen returns what is wrong with a listen address, or "".
func checkListen(addr string) string {
	const fix = `write ":8080" to listen on every interface or "127.0.0.1:8080" for this machine only`
	if strings.Contains(addr, "://") {
		return fmt.Sprintf("%q is a URL; %s", addr, fix)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port; %s", addr, fix)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || port != strconv.Itoa(n) {
		return fmt.Sprintf("port %q is not a number from 0 to 65535 (0 picks a free port); %s", port, fix)
	}
	if host != "" {
		if msg := checkHost(host); msg != "" {
			return fmt.Sprintf("host %q %s; %s", host, msg, fix)
		}
	}
	return ""
}

// checkHost returns what is wrong with a host name or IP address (without
// brackets), or "".
func checkHost(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if len(host) > 253 {
		return "is longer than 253 characters"
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 {
			return "is not a host name"
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Sprintf("contains %q, which a host name cannot", r)
			}
		}
	}
	return ""
}

// oneOf checks that value is one of valid.
func (v *validator) oneOf(field, value, what string, valid []string) bool {
	for _, s := range valid {
		if value == s {
			return true
		}
	}
	msg := fmt.Sprintf("%q is not %s; use %s", value, what, orList(valid))
	if s := suggest(value, valid); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	v.add(field, "%s", msg)
	return false
}

// duration checks min <= d <= max.
func (v *validator) duration(field string, d Duration, lo, hi time.Duration) {
	if d.Std() < lo || d.Std() > hi {
		v.add(field, "%s is out of range; use a duration from %s to %s", fmtDuration(d), fmtDuration(Duration(lo)), fmtDuration(Duration(hi)))
	}
}

// intRange checks lo <= n <= hi.
func (v *validator) intRange(field string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(field, "%d is out of range; use a number from %d to %d", n, lo, hi)
	}
}

// fmtDuration formats d without the zero units time.Duration adds ("10m",
// not "10m0s").
func fmtDuration(d Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// orList formats "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
