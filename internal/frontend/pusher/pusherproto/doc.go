// Package pusherproto reads and writes Pusher Channels protocol 7 and
// checks its signatures: the pure part of Switchboard's Pusher front-end,
// with no network and no hub. Section numbers below are those of
// shared/reference/pusher-channels.md, whose facts this package follows.
//
// # Frames (§2, §4)
//
// Decode parses one client message into a Frame {Event, Channel, Data},
// keeping Data as the raw JSON value sent; DecodeSubscribe,
// DecodeUnsubscribe, DecodeSignin, DecodePing and DecodeClientEvent read
// the data of each client event. pusher-js sends data as an object; a JSON
// string holding an object is accepted too (§2: parse both forms). Keys
// are matched exactly, a repeated key is refused, and a message over the
// caller's limit is refused before it is parsed. Every refusal is an
// *Error; no input panics (FuzzDecode).
//
// The Append functions write server frames into a []byte: the data of
// every event is a JSON string holding the payload (double encoding, §2),
// except pusher:error, whose data is an object as hosted Pusher sends it.
// AppendChannelEvent takes the data string's contents, so a publication
// whose payload is JSON text reaches pusher-js as that JSON once decoded.
// Strings are escaped exactly as encoding/json escapes them
// (internal/jsonenc).
//
// # Channels and socket ids (§1.2, §5)
//
// ParseChannel validates a channel name (at most 200 bytes of A-Z a-z 0-9
// _ - = @ , . ;, '#' only in "#server-to-user-") and classifies it by its
// prefix, anchored at the start: public, private, private-encrypted,
// presence or server-to-user, and whether it is a cache channel.
//
// SocketID and ConnectionID map Switchboard connection ids
// (cluster.NewID: 11 bytes, 4 of node incarnation then 7 random, URL-safe
// base64) to socket ids "uint32.uint56" and back, bijectively, so a
// socket_id names a connection cluster-wide without a table.
//
// # Signatures (§6, §10, §12.2)
//
// VerifyChannel and VerifyUser check the "<app key>:<hex HMAC-SHA256>"
// auth of a subscription or sign-in, comparing the whole value in
// constant time; ParseChannelData and ParseUserData read the presence
// member and the signed-in user. VerifyAPIRequest checks an HTTP API
// request (auth_key, auth_version, auth_timestamp within the skew,
// body_md5, auth_signature over decoded values). WebhookSignature signs a
// webhook body. A signature error names the string that was expected to
// be signed, never the secret or the expected signature.
//
// # Codes (§3)
//
// Code names the close and error codes Pusher's documentation lists, each
// with what pusher-js does on it; PusherJSAction is pusher-js 8.6.0's
// reaction to any close code.
//
// # Concurrency
//
// The package has no state: every function may be called concurrently.
// A Frame and a ClientEvent alias the message they were decoded from.
package pusherproto
