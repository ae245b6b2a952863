package pusherproto

import (
	"errors"
	"strings"
	"testing"
)

func TestParseChannel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typ   ChannelType
		cache bool
		user  string
	}{
		{"my-channel", Public, false, ""},
		{"A-Za-z0-9_-=@,.;", Public, false, ""},
		{"cache-news", Public, true, ""},
		{"private-chat", Private, false, ""},
		{"private-cache-chat", Private, true, ""},
		{"private-encrypted-chat", PrivateEncrypted, false, ""},
		{"private-encrypted-cache-chat", PrivateEncrypted, true, ""},
		{"presence-room", Presence, false, ""},
		{"presence-cache-room", Presence, true, ""},
		{"#server-to-user-12345", ServerToUser, false, "12345"},
		{"#server-to-user-a@b.c", ServerToUser, false, "a@b.c"},
		// Prefixes count at the start only (soketi's unanchored match is a quirk).
		{"my-private-chat", Public, false, ""},
		{"x-presence-room", Public, false, ""},
		{"public-cache-x", Public, false, ""},
		{"private-presence-x", Private, false, ""},
		{"presence-private-encrypted-x", Presence, false, ""},
		{"cache-private-x", Public, true, ""},
		// A bare prefix is a name like any other.
		{"private-", Private, false, ""},
		{"Private-chat", Public, false, ""},
		{strings.Repeat("a", MaxChannelNameLen), Public, false, ""},
	} {
		c, err := ParseChannel(tc.name)
		if err != nil || c.Name != tc.name || c.Type != tc.typ || c.Cache != tc.cache || c.UserID != tc.user {
			t.Errorf("ParseChannel(%q) = %+v, %v; want %v cache=%v user=%q", tc.name, c, err, tc.typ, tc.cache, tc.user)
		}
	}
	for _, name := range []string{
		"", strings.Repeat("a", MaxChannelNameLen+1), "has space", "tab\t", "slash/", "plus+", "star*", "é",
		"#", "#private-x", "a#b", "#server-to-user-", "#server-to-user-a b", "#server-to-user-#x", "#server-to-user",
		"x#server-to-user-1", "#Server-to-user-1", "\x00", "private-\n",
	} {
		if c, err := ParseChannel(name); !errors.Is(err, ErrChannelName) {
			t.Errorf("ParseChannel(%q) = %+v, %v; want ErrChannelName", name, c, err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseChannel("private-encrypted-cache-chat") }); n != 0 {
		t.Errorf("ParseChannel allocates %v times", n)
	}
}

func TestChannelType(t *testing.T) {
	for typ, want := range map[ChannelType]struct {
		name string
		auth bool
	}{
		Public: {"public", false}, Private: {"private", true}, PrivateEncrypted: {"private-encrypted", true},
		Presence: {"presence", true}, ServerToUser: {"server-to-user", false}, ChannelType(99): {"unknown", false},
	} {
		if typ.String() != want.name || typ.Authorized() != want.auth {
			t.Errorf("%d: String %q Authorized %v, want %+v", typ, typ.String(), typ.Authorized(), want)
		}
	}
	if got := ServerToUserChannel("42"); got != "#server-to-user-42" {
		t.Errorf("ServerToUserChannel = %q", got)
	}
}

// FuzzParseChannel: the parser agrees with the rule written out plainly.
func FuzzParseChannel(f *testing.F) {
	for _, s := range []string{"a", "private-encrypted-cache-x", "#server-to-user-1", "#", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, err := ParseChannel(name)
		body := strings.TrimPrefix(name, ServerToUserPrefix)
		valid := name != "" && body != "" && len(name) <= MaxChannelNameLen && strings.Trim(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=@,.;") == ""
		if (err == nil) != valid {
			t.Fatalf("ParseChannel(%q) = %+v, %v; valid = %v", name, c, err, valid)
		}
		if err == nil && (c.Type == ServerToUser) != strings.HasPrefix(name, ServerToUserPrefix) {
			t.Fatalf("ParseChannel(%q) = %+v", name, c)
		}
	})
}
