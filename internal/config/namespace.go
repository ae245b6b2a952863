package config

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// userToken is the placeholder of a namespace pattern that binds the
// connection's user id.
const userToken = "{user}"

// Lookup returns the namespace of channel: the first whose pattern matches
// it, and what its {user} bound ("" if it has none). ok is false when no
// pattern matches: the channel cannot be used. It does not check that
// channel is a valid name.
func (c *Channels) Lookup(channel string) (ns *Namespace, user string, ok bool) {
	for i := range c.Namespaces {
		if user, ok := c.Namespaces[i].Match(channel); ok {
			return &c.Namespaces[i], user, true
		}
	}
	return nil, "", false
}

// Match reports whether channel matches the namespace's pattern and returns
// what its {user} bound ("" if the pattern has none). '*' matches any run
// of bytes, possibly empty; {user} a non-empty run without ':'; every other
// byte itself. When a name matches in more than one way, {user} binds the
// leftmost, then longest, run: "{user}-*" binds "a-b" in "a-b-c".
//
// Matching works on bytes, allocates nothing for names of up to 255 bytes
// and takes time proportional to len(Pattern)×len(channel) at most, however
// many '*' the pattern has. It does not check that channel is a valid name.
func (n *Namespace) Match(channel string) (user string, ok bool) {
	before, after, found := strings.Cut(n.Pattern, userToken)
	if !found {
		return "", globMatch(n.Pattern, channel)
	}
	return matchUser(before, after, channel)
}

// globMatch reports whether s matches p, in which '*' matches any run of
// bytes and every other byte itself. On a mismatch it resumes after the
// last '*' with that star taking one more byte; earlier stars never need
// to change, which bounds the work by len(p)×len(s).
func globMatch(p, s string) bool {
	if strings.IndexByte(p, '*') < 0 {
		return p == s
	}
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			mark++
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchUser matches s against before + {user} + after, where before and
// after are glob patterns, and returns the leftmost, then longest, run
// that {user} can bind.
func matchUser(before, after, s string) (string, bool) {
	n := len(s)
	var arr [2 * 256]bool
	buf := arr[:]
	if 2*(n+1) > len(buf) {
		buf = make([]bool, 2*(n+1))
	}
	pre, suf := buf[:n+1], buf[n+1:2*(n+1)]
	prefixMatches(before, s, pre)
	suffixMatches(after, s, suf)

	// From the right, best is the largest k such that s[i:k] is a run
	// without ':' and after matches s[k:]; the last i (so the smallest)
	// where before also matches s[:i] wins.
	start, end, best := -1, -1, -1
	for i := n - 1; i >= 0; i-- {
		if s[i] == ':' {
			best = -1
			continue
		}
		if best < 0 && suf[i+1] {
			best = i + 1
		}
		if best >= 0 && pre[i] {
			start, end = i, best
		}
	}
	if start < 0 {
		return "", false
	}
	return s[start:end], true
}

// prefixMatches sets pre[i] (len(pre) == len(s)+1) to whether glob p
// matches s[:i].
func prefixMatches(p, s string, pre []bool) {
	clear(pre)
	pre[0] = true
	for j := 0; j < len(p); j++ {
		if p[j] == '*' {
			seen := false
			for i := range pre {
				seen = seen || pre[i]
				pre[i] = seen
			}
			continue
		}
		for i := len(s); i > 0; i-- {
			pre[i] = pre[i-1] && s[i-1] == p[j]
		}
		pre[0] = false
	}
}

// suffixMatches sets suf[k] (len(suf) == len(s)+1) to whether glob p
// matches s[k:].
func suffixMatches(p, s string, suf []bool) {
	clear(suf)
	suf[len(s)] = true
	for j := len(p) - 1; j >= 0; j-- {
		if p[j] == '*' {
			seen := false
			for k := len(s); k >= 0; k-- {
				seen = seen || suf[k]
				suf[k] = seen
			}
			continue
		}
		for k := 0; k < len(s); k++ {
			suf[k] = s[k] == p[j] && suf[k+1]
		}
		suf[len(s)] = false
	}
}

// badChannelRune returns the first character of s that a channel name
// cannot contain (docs/protocol.md, "Channel names": no control
// characters, white space or commas; hub.ValidChannel applies the same
// rule to the names clients send). s must be valid UTF-8.
func badChannelRune(s string) (rune, bool) {
	for _, r := range s {
		if r == ',' || unicode.IsControl(r) || unicode.IsSpace(r) {
			return r, true
		}
	}
	return 0, false
}

// checkPattern returns what is wrong with the characters of a non-empty
// namespace pattern, or "". The message follows the quoted pattern.
func checkPattern(p string) string {
	if !utf8.ValidString(p) {
		return "is not valid UTF-8; write the pattern as UTF-8 text"
	}
	if r, bad := badChannelRune(p); bad {
		return fmt.Sprintf("contains %q, which a channel name cannot (channel names have no control characters, spaces or commas); remove it", r)
	}
	users := 0
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], userToken):
			users++
			i += len(userToken) - 1
		case p[i] == '{' || p[i] == '}':
			return fmt.Sprintf("contains %q outside {user}; '{' and '}' may only appear as {user}, the placeholder for the connection's user id", rune(p[i]))
		}
	}
	if users > 1 {
		return fmt.Sprintf("has {user} %d times; use it at most once", users)
	}
	return ""
}
