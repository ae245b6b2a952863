package pusherproto

import "strings"

// MaxChannelNameLen is the longest channel name accepted, in bytes: the
// SDKs' and soketi's limit (reference §5 [REC]; Pusher's docs say 164).
const MaxChannelNameLen = 200

// ChannelType is the kind of a channel, which decides its authorization
// (reference §5).
type ChannelType uint8

const (
	// Public channels need no authorization.
	Public ChannelType = iota
	// Private channels ("private-") need auth over "socket_id:channel".
	Private
	// PrivateEncrypted channels ("private-encrypted-") are authorized as
	// Private ones; the server relays ciphertext it cannot read.
	PrivateEncrypted
	// Presence channels ("presence-") need auth over
	// "socket_id:channel:channel_data" and keep a member list.
	Presence
	// ServerToUser is "#server-to-user-{user id}": only a connection
	// signed in as that user may subscribe (reference §11).
	ServerToUser
)

var channelTypeNames = [...]string{"public", "private", "private-encrypted", "presence", "server-to-user"}

// String returns "public", "private", "private-encrypted", "presence" or
// "server-to-user".
func (t ChannelType) String() string {
	if int(t) < len(channelTypeNames) {
		return channelTypeNames[t]
	}
	return "unknown"
}

// Authorized reports whether subscribing needs a signature: private,
// encrypted and presence channels.
func (t ChannelType) Authorized() bool {
	return t == Private || t == PrivateEncrypted || t == Presence
}

// ServerToUserPrefix starts the name of a user's own channel.
const ServerToUserPrefix = "#server-to-user-"

// Channel is what a channel name says about the channel.
type Channel struct {
	Name string
	Type ChannelType
	// Cache is true for cache channels ("cache-", "private-cache-",
	// "private-encrypted-cache-", "presence-cache-"): the last event is
	// replayed to each new subscriber (reference §9).
	Cache bool
	// UserID is the user of a ServerToUser channel, "" otherwise.
	UserID string
}

// prefixes, longest first where one starts another, each anchored at the
// start of the name (reference §5: soketi's unanchored match is a quirk).
var prefixes = []struct {
	prefix string
	typ    ChannelType
	cache  bool
}{
	{"private-encrypted-cache-", PrivateEncrypted, true},
	{"private-encrypted-", PrivateEncrypted, false},
	{"private-cache-", Private, true},
	{"private-", Private, false},
	{"presence-cache-", Presence, true},
	{"presence-", Presence, false},
	{"cache-", Public, true},
}

// ParseChannel validates a channel name and classifies it. A name must be
// 1 to MaxChannelNameLen bytes of A-Z a-z 0-9 _ - = @ , . ; — except that
// "#server-to-user-" may start it, followed by a non-empty user id of the
// same characters. It does not allocate.
func ParseChannel(name string) (Channel, error) {
	if name == "" {
		return Channel{}, errorf(ErrChannelName, "channel name is empty")
	}
	if len(name) > MaxChannelNameLen {
		return Channel{}, errorf(ErrChannelName, "channel name of %d bytes is over the limit of %d bytes", len(name), MaxChannelNameLen)
	}
	if user, ok := strings.CutPrefix(name, ServerToUserPrefix); ok {
		if user == "" || !validNameChars(user) {
			return Channel{}, errorf(ErrChannelName, "invalid channel name %q: %q must be followed by a user id of A-Z a-z 0-9 _ - = @ , . ;", name, ServerToUserPrefix)
		}
		return Channel{Name: name, Type: ServerToUser, UserID: user}, nil
	}
	if !validNameChars(name) {
		return Channel{}, errorf(ErrChannelName, "invalid channel name %q: only A-Z a-z 0-9 _ - = @ , . ; are allowed", name)
	}
	for _, p := range prefixes {
		if strings.HasPrefix(name, p.prefix) {
			return Channel{Name: name, Type: p.typ, Cache: p.cache}, nil
		}
	}
	return Channel{Name: name, Type: Public}, nil
}

// ServerToUserChannel returns the name of userID's own channel.
func ServerToUserChannel(userID string) string { return ServerToUserPrefix + userID }

// nameChar[b] is true for the bytes allowed in channel names and user ids.
var nameChar = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=@,.;") {
		t[c] = true
	}
	return t
}()

func validNameChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !nameChar[s[i]] {
			return false
		}
	}
	return true
}
