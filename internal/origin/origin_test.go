package origin

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func mustNew(t testing.TB, patterns ...string) *Checker {
	t.Helper()
	c, err := New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"", "empty pattern"},
		{"app.example.com", "want scheme://host[:port]"},
		{"https://app.example.com/", "no path"},
		{"https://app.example.com/chat", "no path"},
		{"https://app.example.com?x=1", "no path"},
		{"https://user@app.example.com", "no path"},
		{"https://app.example.com:", "port must be a number"},
		{"https://app.example.com:0", "port must be a number"},
		{"https://app.example.com:65536", "port must be a number"},
		{"https://app.example.com:0443", "port must be a number"},
		{"https://app.example.com:443x", "port must be a number"},
		{"https://", "host is empty"},
		{"https://:443", "host is empty"},
		{"https://app..example.com", "empty label"},
		{"https://app.example.com.", "empty label"},
		{"https://.example.com", "empty label"},
		{"https://app example.com", "only contain"},
		{"https://bücher.example", "punycode"},
		{"https://" + strings.Repeat("a", 64) + ".com", "longer than 63"},
		{"https://1.2.3", "IPv4"},
		{"https://1.2.3.04", "IPv4"},
		{"https://example.0x10", "IPv4"},
		{"https://[::1", "unclosed"},
		{"https://[fe80::1%25eth0]", "IPv6"},
		{"https://[1.2.3.4]", "IPv6"},
		{"https://[::1]x", "no path"},
		{"1https://a.com", "scheme"},
		{"ht_tp://a.com", "scheme"},
		{"https://*", "followed by a domain"},
		{"https://*:443", "followed by a domain"},
		{"https://*.com", "at least two labels"},
		{"https://*.example.com:*", "wildcard ports"},
		{"https://localhost:*", "wildcard ports"},
		{"https://*.*.example.com", "only one wildcard"},
		{"https://app.*.example.com", "whole first label"},
		{"https://*app.example.com", "whole first label"},
		{"https://*.1.2.3.4", "IPv4"},
		{"https://*.[::1]", "only contain"},
		{"https://*.example.com/", "no path"},
	} {
		_, err := New([]string{"https://ok.example.com", tc.pattern})
		if !errors.Is(err, ErrInvalidPattern) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) error = %v, want ErrInvalidPattern mentioning %q", tc.pattern, err, tc.want)
		}
	}
	if _, err := New(nil); !errors.Is(err, ErrInvalidPattern) {
		t.Errorf("New(nil) error = %v, want ErrInvalidPattern", err)
	}
}

func TestAllow(t *testing.T) {
	c := mustNew(t,
		"https://app.example.com",
		"https://*.example.org",
		"http://localhost:3000",
		"https://Upper.Example.NET:443",
		"http://127.0.0.1:8080",
		"https://[2001:db8::1]",
		"capacitor://localhost",
	)
	for _, tc := range []struct {
		origin string
		want   bool
	}{
		{"", true}, // not a browser
		{"https://app.example.com", true},
		{"https://app.example.com:443", true},
		{"HTTPS://APP.EXAMPLE.COM", true},
		{"https://App.Example.Com:443", true},
		{"http://app.example.com", false},       // scheme
		{"https://app.example.com:8443", false}, // port
		{"https://app.example.com.evil.com", false},
		{"https://evilapp.example.com", false},
		{"https://example.com", false},
		{"https://app.example.com/", false}, // malformed: browsers send no path
		{"https://app.example.com:", false},
		{"null", false},
		{"https://a.example.org", true},
		{"https://a.b.c.example.org", true},
		{"https://A.EXAMPLE.ORG", true},
		{"https://example.org", false}, // the wildcard needs a label
		{"https://.example.org", false},
		{"https://xexample.org", false},
		{"http://a.example.org", false},
		{"https://a.example.org:444", false},
		{"https://a.example.org.evil", false},
		{"http://localhost:3000", true},
		{"http://LOCALHOST:3000", true},
		{"http://localhost", false},
		{"http://localhost:3001", false},
		{"https://localhost:3000", false},
		{"https://upper.example.net", true},
		{"http://127.0.0.1:8080", true},
		{"http://127.0.0.01:8080", false},
		{"http://127.1:8080", false},
		{"https://[2001:db8::1]", true},
		{"https://[2001:DB8:0::1]:443", true},
		{"https://[2001:db8::2]", false},
		{"capacitor://localhost", true},
		{"capacitor://localhost:80", false},
		{"https://bücher.example.org", false},
		{"https://app.example.com@evil.com", false},
		{"https://evil.com#app.example.com", false},
		{"https://evil.com\\@app.example.com", false},
		{"garbage", false},
		{"https://", false},
	} {
		if got := c.Allow(tc.origin); got != tc.want {
			t.Errorf("Allow(%q) = %v, want %v", tc.origin, got, tc.want)
		}
	}
}

func TestAllowNullAndAny(t *testing.T) {
	if c := mustNew(t, "null"); !c.Allow("null") || c.Allow("https://a.com") {
		t.Error(`"null" pattern: want only null allowed`)
	}
	any := mustNew(t, "https://a.example.com", "*")
	for _, o := range []string{"https://b.example.com", "null", "garbage", "http://x:1"} {
		if !any.Allow(o) {
			t.Errorf(`"*" refused %q`, o)
		}
	}
	var nilC *Checker
	if !nilC.Allow("https://evil.com") {
		t.Error("nil Checker refused")
	}
}

func BenchmarkAllow(b *testing.B) {
	c := mustNew(b, "https://app.example.com", "https://*.example.org", "http://localhost:3000")
	for _, o := range []string{"https://app.example.com", "https://a.b.example.org", "https://evil.example.net"} {
		b.Run(o, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Allow(o)
			}
		})
	}
}

// FuzzAllow: Allow never panics, and what it allows is a well-formed
// origin that a URL parser reads with one of the listed schemes and a
// matching host.
func FuzzAllow(f *testing.F) {
	for _, s := range []string{
		"", "null", "https://app.example.com", "https://a.example.org:443", "http://localhost:3000",
		"https://[2001:db8::1]:443", "https://[::ffff:1.2.3.4]", "http://127.0.0.1:8080", "HTTPS://A.EXAMPLE.ORG",
		"https://a.example.org/", "https://a@b", "https://0x7f.1", "ws://[::1", "https://a.example.org:99999",
	} {
		f.Add(s)
	}
	c := mustNew(f, "https://app.example.com", "https://*.example.org", "http://localhost:3000",
		"http://127.0.0.1:8080", "https://[2001:db8::1]")
	f.Fuzz(func(t *testing.T, o string) {
		if !c.Allow(o) || o == "" {
			return
		}
		u, err := url.Parse(o)
		if err != nil {
			t.Fatalf("allowed %q, which url.Parse refuses: %v", o, err)
		}
		host := strings.ToLower(u.Hostname())
		if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
			t.Fatalf("allowed %q, which has more than scheme://host:port", o)
		}
		switch strings.ToLower(u.Scheme) {
		case "https":
			if host != "app.example.com" && !strings.HasSuffix(host, ".example.org") && host != "2001:db8::1" {
				t.Fatalf("allowed %q: host %q", o, host)
			}
		case "http":
			if host != "localhost" && host != "127.0.0.1" {
				t.Fatalf("allowed %q: host %q", o, host)
			}
		default:
			t.Fatalf("allowed %q: scheme %q", o, u.Scheme)
		}
	})
}

// FuzzNew: New never panics, and a checker it builds never panics either.
func FuzzNew(f *testing.F) {
	for _, s := range []string{"*", "null", "https://a.com", "https://*.a.com:8443", "http://[::1]:80", "https://*.", "x://*.*"} {
		f.Add(s, "https://b.a.com:8443")
	}
	f.Fuzz(func(t *testing.T, pattern, o string) {
		c, err := New([]string{pattern})
		if err != nil {
			return
		}
		c.Allow(o)
		c.Allow(pattern)
	})
}
