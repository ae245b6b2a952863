package pusherproto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Sign returns the lowercase hex HMAC-SHA256 of s keyed with secret: the
// signature of every Pusher auth string, HTTP API request and webhook
// (reference §6.1, §10, §12.2).
func Sign(secret, s string) string {
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac(sum[:0], secret, s))
}

func mac(dst []byte, secret, s string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(s))
	return h.Sum(dst)
}

// ChannelString returns the string a channel authorization signs
// (reference §6.1): "socket_id:channel" for private and encrypted
// channels, "socket_id:channel:channel_data" when channelData is not ""
// (presence, with channel_data exactly as the client sent it).
func ChannelString(socketID, channel, channelData string) string {
	if channelData == "" {
		return socketID + ":" + channel
	}
	return socketID + ":" + channel + ":" + channelData
}

// UserString returns the string a user sign-in signs:
// "socket_id::user::user_data" (reference §6.1).
func UserString(socketID, userData string) string {
	return socketID + "::user::" + userData
}

// AuthValue returns the auth value "<key>:<Sign(secret, s)>" that an app's
// auth endpoint returns for the string s (tests and tools use it).
func AuthValue(key, secret, s string) string {
	return key + ":" + Sign(secret, s)
}

// VerifyChannel checks the auth of a pusher:subscribe to channel by the
// connection socketID. Pass the subscribe's channel_data for a presence
// channel, "" otherwise (and for a presence subscription of a signed-in
// connection without channel_data, reference §6.2). The whole auth value
// "<key>:<hex>" is compared in constant time with the one expected, so an
// auth signed for another app key is refused too.
func VerifyChannel(key, secret, socketID, channel, channelData, auth string) error {
	return verify(key, secret, ChannelString(socketID, channel, channelData), auth)
}

// VerifyUser checks the auth of a pusher:signin by the connection
// socketID for userData exactly as sent.
func VerifyUser(key, secret, socketID, userData, auth string) error {
	return verify(key, secret, UserString(socketID, userData), auth)
}

func verify(key, secret, signed, auth string) error {
	want := make([]byte, 0, len(key)+1+2*sha256.Size)
	want = append(want, key...)
	want = append(want, ':')
	var sum [sha256.Size]byte
	want = hex.AppendEncode(want, mac(sum[:0], secret, signed))
	if hmac.Equal(want, []byte(auth)) {
		return nil
	}
	// The key is public: saying that it is the wrong one leaks nothing.
	if len(auth) <= len(key) || auth[:len(key)] != key || auth[len(key)] != ':' {
		return errorf(ErrSignature, `invalid signature: the auth value must be "<app key>:<signature>" with app key %q; expected the HMAC-SHA256 hex digest of "%s" signed with the secret of app key %q`, key, signed, key)
	}
	return errorf(ErrSignature, `invalid signature: expected HMAC-SHA256 hex digest of "%s" signed with the secret of app key %q`, signed, key)
}

// WebhookSignature returns the X-Pusher-Signature of a webhook body: the
// hex HMAC-SHA256 of the exact bytes sent, keyed with the app secret
// (reference §10).
func WebhookSignature(secret string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
