package origin

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrInvalidPattern reports a pattern New cannot use.
var ErrInvalidPattern = errors.New("invalid origin pattern")

// Checker is an Origin allowlist. The nil *Checker allows every origin.
type Checker struct {
	any   bool       // "*" listed: no check at all
	null  bool       // "null" listed
	exact []origin   // scheme://host[:port]
	wild  []wildcard // scheme://*.suffix[:port]
}

// origin is a parsed scheme://host[:port].
type origin struct {
	scheme string     // lower-case for patterns; as sent for origins
	host   string     // a DNS name or IPv4 address; "" for IPv6
	ip6    netip.Addr // the IPv6 address, when the host is one
	port   int        // explicit or the scheme's default; 0: none
}

// wildcard is a pattern whose host is "*." + a DNS name.
type wildcard struct {
	scheme string
	suffix string // ".example.com"
	port   int
}

// New returns a checker that allows an Origin matching any of patterns:
//
//   - "https://app.example.com": that scheme, host and port exactly. The
//     port is the scheme's default when absent (http 80, https 443), so
//     "https://a.com" and "https://a.com:443" are the same pattern;
//     "http://localhost:3000" allows only port 3000. Hosts are
//     case-insensitive; IPv4 and bracketed IPv6 addresses are allowed.
//   - "https://*.example.com": any host ending in ".example.com", with one
//     or more labels before it (a.example.com, a.b.example.com, not
//     example.com itself), with that scheme and port. The wildcard is only
//     allowed as the whole first label, and must be followed by at least
//     two labels ("*.com" is refused).
//   - "null": the literal Origin "null" (sandboxed iframes, file: pages),
//     which is refused unless listed.
//   - "*": any Origin at all; the check is off.
//
// Hosts must be ASCII: write internationalized names in their xn-- form,
// as browsers send them. A pattern with a path, query, user or wildcard
// port is an error.
func New(patterns []string) (*Checker, error) {
	if len(patterns) == 0 {
		return nil, fmt.Errorf("%w: the list is empty: list origins, or \"*\" for any origin", ErrInvalidPattern)
	}
	c := &Checker{}
	for _, p := range patterns {
		if err := c.add(p); err != nil {
			return nil, fmt.Errorf("%w %q: %s", ErrInvalidPattern, p, err)
		}
	}
	return c, nil
}

func (c *Checker) add(p string) error {
	switch p {
	case "*":
		c.any = true
		return nil
	case "null":
		c.null = true
		return nil
	case "":
		return errors.New("empty pattern")
	}
	scheme, rest, ok := strings.Cut(p, "://")
	if !ok {
		return errors.New("want scheme://host[:port], such as https://app.example.com, or \"*\" or \"null\"")
	}
	if h, _, _ := strings.Cut(rest, ":"); h == "*" {
		return errors.New("a wildcard host must be followed by a domain (https://*.example.com); for any origin, use \"*\"")
	}
	if strings.HasSuffix(rest, ":*") {
		return errors.New("wildcard ports are not supported: list each port")
	}
	if suffix, ok := strings.CutPrefix(rest, "*."); ok {
		if strings.Contains(suffix, "*") {
			return errors.New("only one wildcard is allowed, as the whole first label of the host (https://*.example.com)")
		}
		// Parse the rest as if its first label were a name, then drop it.
		// "x." in front of it rules out IP addresses.
		o, reason := parse(scheme + "://x." + suffix)
		if reason != "" {
			return errors.New(reason)
		}
		if strings.Count(o.host, ".") < 2 {
			return errors.New("a wildcard must be followed by at least two labels (*.example.com): *.com would allow every site under a top-level domain")
		}
		c.wild = append(c.wild, wildcard{
			scheme: strings.ToLower(o.scheme),
			suffix: strings.ToLower(o.host[1:]),
			port:   o.port,
		})
		return nil
	}
	if strings.Contains(rest, "*") {
		return errors.New("a wildcard is only allowed as the whole first label of the host (https://*.example.com)")
	}
	o, reason := parse(p)
	if reason != "" {
		return errors.New(reason)
	}
	o.scheme = strings.ToLower(o.scheme)
	o.host = strings.ToLower(o.host)
	c.exact = append(c.exact, o)
	return nil
}

// Allow reports whether a handshake with this Origin header value may
// proceed. An empty origin (a client that is not a browser) is allowed; a
// malformed one is not, unless the checker allows any origin.
func (c *Checker) Allow(origin string) bool {
	if origin == "" || c == nil || c.any {
		return true
	}
	if origin == "null" {
		return c.null
	}
	o, reason := parse(origin)
	if reason != "" {
		return false
	}
	for _, p := range c.exact {
		if p.port == o.port && strings.EqualFold(p.scheme, o.scheme) &&
			p.ip6 == o.ip6 && strings.EqualFold(p.host, o.host) {
			return true
		}
	}
	if o.host == "" || isIPv4(o.host) {
		return false
	}
	for _, w := range c.wild {
		if w.port == o.port && strings.EqualFold(w.scheme, o.scheme) &&
			len(o.host) > len(w.suffix) && strings.EqualFold(o.host[len(o.host)-len(w.suffix):], w.suffix) {
			return true
		}
	}
	return false
}

// defaultPort is the port of a scheme without an explicit one.
func defaultPort(scheme string) int {
	switch strings.ToLower(scheme) {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	}
	return 0
}

// parse reads scheme://host[:port] (RFC 6454 serialization), reporting
// why it is malformed in reason. It does not allocate.
func parse(s string) (o origin, reason string) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return o, "want scheme://host[:port]"
	}
	if !validScheme(scheme) {
		return o, "the scheme must be a letter followed by letters, digits, '+', '-' or '.'"
	}
	o.scheme = scheme
	var host, port string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return o, "unclosed '[' in an IPv6 host"
		}
		a, err := netip.ParseAddr(rest[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return o, "the host in brackets must be an IPv6 address without a zone"
		}
		o.ip6 = a
		rest = rest[end+1:]
		if rest != "" && rest[0] != ':' {
			return o, "an origin has no path, query, fragment or user: want scheme://host[:port]"
		}
		port = strings.TrimPrefix(rest, ":")
		if rest == "" {
			port = "-"
		}
	} else {
		end := strings.IndexAny(rest, ":/?#@\\")
		host, port = rest, "-"
		if end >= 0 {
			if rest[end] != ':' {
				return o, "an origin has no path, query, fragment or user: want scheme://host[:port]"
			}
			host, port = rest[:end], rest[end+1:]
		}
		if r := checkHost(host); r != "" {
			return o, r
		}
		o.host = host
	}
	switch port {
	case "-":
		o.port = defaultPort(scheme)
	default:
		n, ok := parsePort(port)
		if !ok {
			return o, "the port must be a number from 1 to 65535 without leading zeros, and nothing may follow it"
		}
		o.port = n
	}
	return o, ""
}

func validScheme(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// checkHost validates a DNS name or IPv4 address: labels of ASCII
// letters, digits, '-' and '_', none empty; a name whose last label is
// numeric must be a canonical IPv4 address, as browsers serialize it.
func checkHost(h string) string {
	if h == "" {
		return "the host is empty"
	}
	if len(h) > 253 {
		return "the host is longer than 253 characters"
	}
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			c := h[i]
			if c >= 0x80 {
				return "the host is not ASCII: use its punycode (xn--) form"
			}
			if !isLetter(c) && !isDigit(c) && c != '-' && c != '_' {
				return "the host may only contain letters, digits, '-', '_' and '.'"
			}
			continue
		}
		if i == start {
			return "the host has an empty label (a leading, trailing or double dot)"
		}
		if i-start > 63 {
			return "a label of the host is longer than 63 characters"
		}
		start = i + 1
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if numeric(last) && !isIPv4(h) {
		return "a host ending in a number must be an IPv4 address in dotted-decimal form"
	}
	return ""
}

// numeric reports whether a label is a number as the URL standard reads
// one (decimal, or 0x hexadecimal).
func numeric(label string) bool {
	if len(label) >= 2 && label[0] == '0' && label[1]|0x20 == 'x' {
		for i := 2; i < len(label); i++ {
			if c := label[i] | 0x20; !isDigit(label[i]) && (c < 'a' || c > 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if !isDigit(label[i]) {
			return false
		}
	}
	return true
}

func isIPv4(h string) bool {
	if h == "" || !isDigit(h[len(h)-1]) {
		return false
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Is4()
}

func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n <= 65535
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
