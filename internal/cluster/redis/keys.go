package redcluster

import "strings"

// keys builds the key names of decision 0024 §3. P is the prefix, <a> an
// API id, <inc> an incarnation, <ch> a channel name escaped so that its
// hash tag always ends where the name does.
type keys struct{ prefix string }

// escape writes '}' and '%' as %7D and %25 (decision 0023), so a name
// cannot end its hash tag early, and the empty name as a lone "%" (as
// redishistory does: Redis hashes a key with an empty tag "{}" whole, so
// the keys of the channel "" would land in different slots).
func escape(s string) string {
	if s == "" {
		return "%"
	}
	if !strings.ContainsAny(s, "}%") {
		return s
	}
	return strings.NewReplacer("%", "%25", "}", "%7D").Replace(s)
}

// nodes is the ZSET of every incarnation that joined: P{nodes}:all.
func (k keys) nodes() string { return k.prefix + "{nodes}:all" }

// node returns the keys of one incarnation, all in its own slot:
// P{n:<inc>}:lease, :claim, :conns, :chans.
func (k keys) node(inc string) (lease, claim, conns, chans string) {
	b := k.prefix + "{n:" + inc + "}:"
	return b + "lease", b + "claim", b + "conns", b + "chans"
}

// channelBase is P<a>:{<ch>}: — the base of a channel's keys: m, s (the
// history store's meta and stream, decision 0023, whose store prefix is
// historyPrefix(api)), p (shard channel), pm, pi, pn:<inc>.
func (k keys) channelBase(api, channel string) string {
	return k.historyPrefix(api) + "{" + escape(channel) + "}:"
}

// historyPrefix is the redishistory.Store prefix of an API's streams, so
// that the publish script and the Store address the same keys.
func (k keys) historyPrefix(api string) string { return k.prefix + api + ":" }

// user is the HASH of a user's connections: P<a>:u:{<user>}.
func (k keys) user(api, user string) string {
	return k.prefix + api + ":u:{" + escape(user) + "}"
}

// broadcast is the shard channel of an API's broadcasts: P<a>:b:{<a>}.
func (k keys) broadcast(api string) string {
	return k.prefix + api + ":b:{" + escape(api) + "}"
}
