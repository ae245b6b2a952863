package config

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNamespaceMatch(t *testing.T) {
	tests := []struct {
		pattern, channel string
		user             string
		ok               bool
	}{
		// Literal patterns match only themselves.
		{"news", "news", "", true},
		{"news", "news2", "", false},
		{"news", "new", "", false},
		{"news", "", "", false},
		{"chat:lobby", "chat:lobby", "", true},
		{"café", "café", "", true},
		{"café", "cafe", "", false},

		// '*' matches any run, possibly empty, including ':'.
		{"*", "", "", true},
		{"*", "anything:at all", "", true},
		{"chat:*", "chat:lobby", "", true},
		{"chat:*", "chat:", "", true},
		{"chat:*", "chat:a:b", "", true},
		{"chat:*", "chat", "", false},
		{"chat:*", "xchat:lobby", "", false},
		{"*:admin", "team:admin", "", true},
		{"*:admin", "team:admins", "", false},
		{"a*b*c", "abc", "", true},
		{"a*b*c", "aXbYc", "", true},
		{"a*b*c", "aXbY", "", false},
		{"a*b*c", "acb", "", false},
		{"**", "x", "", true},
		{"*a*a*a*b", strings.Repeat("a", 40), "", false},
		{"*a*a*a*b", strings.Repeat("a", 40) + "b", "", true},
		{"*é", "café", "", true},

		// {user} binds a non-empty run without ':'.
		{"user:{user}", "user:alice", "alice", true},
		{"user:{user}", "user:", "", false},
		{"user:{user}", "user:a:b", "", false},
		{"user:{user}", "users:alice", "", false},
		{"{user}", "bob", "bob", true},
		{"{user}", "", "", false},
		{"{user}", ":", "", false},
		{"dm:{user}:*", "dm:alice:bob", "alice", true},
		{"dm:{user}:*", "dm:alice:", "alice", true},
		{"dm:{user}:*", "dm:alice", "", false},
		{"*:{user}", "team:red:carol", "carol", true},
		{"{user}.inbox", "a.b.inbox", "a.b", true},
		{"inbox:{user}", "inbox:josé", "josé", true},

		// Leftmost, then longest: in "a-b-c", {user} starts at 0 and
		// takes "a-b" (then '*' takes "c").
		{"{user}-*", "a-b-c", "a-b", true},
		{"{user}*", "alice", "alice", true},
		{"*{user}", "alice", "alice", true},
		{"*{user}", "x:alice", "alice", true},
		{"*{user}*", "ab:cd", "ab", true},
		{"*-{user}", "a-b-c", "b-c", true},
	}
	for _, tt := range tests {
		n := Namespace{Pattern: tt.pattern}
		user, ok := n.Match(tt.channel)
		if user != tt.user || ok != tt.ok {
			t.Errorf("%q.Match(%q) = %q, %v; want %q, %v", tt.pattern, tt.channel, user, ok, tt.user, tt.ok)
		}
	}
}

func TestNamespaceMatchLongNames(t *testing.T) {
	// Longer than the stack buffer of matchUser, and worst cases for a
	// backtracking matcher: they must finish at once.
	long := strings.Repeat("a", 1024)
	n := Namespace{Pattern: "*a*a*a*a*a*a*a*a*a*a*{user}*a*a*a*a*a*a*a*a*b"}
	if _, ok := n.Match(long); ok {
		t.Errorf("matched a name without b")
	}
	// {user} starts after the tenth 'a' and leaves the last eight to the
	// pattern after it.
	if user, ok := n.Match(long + "b"); !ok || user != long[10:1024-8] {
		t.Errorf("got %d bytes, %v; want %d bytes, true", len(user), ok, 1024-8-10)
	}
	n = Namespace{Pattern: "x:{user}"}
	if user, ok := n.Match("x:" + long); !ok || user != long {
		t.Errorf("long user: got %d bytes, %v", len(user), ok)
	}
}

func TestNamespaceMatchAllocations(t *testing.T) {
	n := Namespace{Pattern: "dm:{user}:*"}
	name := "dm:alice:" + strings.Repeat("x", 200)
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := n.Match(name); !ok {
			t.Fatal("no match")
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocated %v times for a %d-byte name", allocs, len(name))
	}
}

func TestChannelsLookup(t *testing.T) {
	c := &Channels{Namespaces: []Namespace{
		{Pattern: "user:{user}"},
		{Pattern: "chat:*"},
		{Pattern: "chat:lobby"}, // never reached: chat:* comes first
	}}
	tests := []struct {
		channel string
		index   int // -1: no namespace
		user    string
	}{
		{"user:alice", 0, "alice"},
		{"chat:lobby", 1, ""},
		{"chat:", 1, ""},
		{"news", -1, ""},
		{"user:", -1, ""},
	}
	for _, tt := range tests {
		ns, user, ok := c.Lookup(tt.channel)
		switch {
		case tt.index < 0 && (ok || ns != nil):
			t.Errorf("Lookup(%q) found %+v, want none", tt.channel, ns)
		case tt.index >= 0 && (!ok || ns != &c.Namespaces[tt.index] || user != tt.user):
			t.Errorf("Lookup(%q) = %+v, %q, %v; want namespaces[%d], %q", tt.channel, ns, user, ok, tt.index, tt.user)
		}
	}
}

func TestBadChannelRune(t *testing.T) {
	tests := []struct {
		s    string
		bad  rune
		want bool
	}{
		{"chat:lobby", 0, false},
		{"user:josé", 0, false},
		{"a/b.c-d_e@f#g*{}[]\uFFFD", 0, false},
		{"a b", ' ', true},
		{"a,b", ',', true},
		{"a\tb", '\t', true},
		{"a\x00b", 0, true},
		{"a\x7fb", 0x7f, true},
		{"a\u0085b", 0x85, true},
		{"a\u00a0b", 0xa0, true},
		{"a\u2028b", 0x2028, true},
		{"a\u3000b", 0x3000, true},
	}
	for _, tt := range tests {
		if r, bad := badChannelRune(tt.s); bad != tt.want || r != tt.bad {
			t.Errorf("badChannelRune(%q) = %q, %v; want %q, %v", tt.s, r, bad, tt.bad, tt.want)
		}
	}
}

// FuzzNamespaceMatch checks that Match never panics, that a pattern
// without wildcards matches only itself, and, for UTF-8 input, that Match
// agrees with a slow reference built on regular expressions, {user}
// binding the leftmost, then longest, run.
func FuzzNamespaceMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"*", ""},
		{"chat:*", "chat:lobby"},
		{"user:{user}", "user:alice"},
		{"dm:{user}:*", "dm:a:b"},
		{"{user}-*", "a-b-c"},
		{"*{user}*", "ab:cd"},
		{"a*b*c", "aXbYc"},
		{"news", "news"},
		{"{user}{user}", "ab"},
		{"{use", "{use"},
		{"é*", "éé"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, channel string) {
		if len(pattern) > 24 || len(channel) > 48 {
			return // the reference below is quadratic in regexp matches
		}
		n := Namespace{Pattern: pattern}
		user, ok := n.Match(channel)
		if !ok && user != "" {
			t.Fatalf("%q.Match(%q) = %q without a match", pattern, channel, user)
		}
		if !strings.Contains(pattern, "*") && !strings.Contains(pattern, userToken) {
			if ok != (pattern == channel) {
				t.Fatalf("literal %q.Match(%q) = %v", pattern, channel, ok)
			}
			return
		}
		if !utf8.ValidString(pattern) || !utf8.ValidString(channel) {
			return // regexp matches characters, not bytes
		}
		wantUser, wantOK := referenceMatch(pattern, channel)
		if user != wantUser || ok != wantOK {
			t.Fatalf("%q.Match(%q) = %q, %v; the reference says %q, %v", pattern, channel, user, ok, wantUser, wantOK)
		}
		if ok {
			if strings.Contains(user, ":") || (strings.Contains(pattern, userToken) && user == "") {
				t.Fatalf("%q.Match(%q) bound %q", pattern, channel, user)
			}
		}
	})
}

// referenceMatch is Match the slow, obvious way: every split of the name
// around {user} at character boundaries, checked with regular
// expressions, the leftmost start and then the longest run first.
func referenceMatch(pattern, channel string) (string, bool) {
	before, after, hasUser := strings.Cut(pattern, userToken)
	if !hasUser {
		return "", globRegexp(pattern).MatchString(channel)
	}
	reBefore, reAfter := globRegexp(before), globRegexp(after)
	boundary := func(i int) bool { return i == len(channel) || utf8.RuneStart(channel[i]) }
	for i := 0; i <= len(channel); i++ {
		if !boundary(i) || !reBefore.MatchString(channel[:i]) {
			continue
		}
		for k := len(channel); k > i; k-- {
			if boundary(k) && !strings.Contains(channel[i:k], ":") && reAfter.MatchString(channel[k:]) {
				return channel[i:k], true
			}
		}
	}
	return "", false
}

// globRegexp compiles a '*'-only glob (UTF-8) to an anchored regular
// expression.
func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for _, r := range glob {
		if r == '*' {
			b.WriteString(`(?s:.*)`)
			continue
		}
		b.WriteString(regexp.QuoteMeta(string(r)))
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}
