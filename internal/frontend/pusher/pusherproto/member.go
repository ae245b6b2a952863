package pusherproto

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// MaxUserIDLen is the longest user id accepted, in bytes (hosted Pusher's
// limit, reference §7).
const MaxUserIDLen = 128

// DefaultMaxMemberData is the limit on channel_data and user_data that
// ParseChannelData and ParseUserData apply when the caller gives none, in
// bytes: soketi's 2 KB (hosted Pusher allows 1 KB of user object,
// reference §7).
const DefaultMaxMemberData = 2 << 10

// MaxWatchlist is how many watchlist ids Pusher uses; beyond them it
// sends pusher:error CodeWatchlistTooLong (reference §11).
const MaxWatchlist = 100

// maxSafeInteger is the largest integer a JavaScript number holds exactly:
// numeric user ids must fit (reference §7).
const maxSafeInteger = 1<<53 - 1

var channelDataKeys = []string{"user_id", "user_info"}

// ParseChannelData reads the channel_data of a presence subscription
// (reference §6.1, §7): {"user_id": a non-empty string or an integer
// within ±(2^53-1), "user_info"?: any JSON}. The user id is at most
// MaxUserIDLen bytes; channelData at most maxSize bytes
// (DefaultMaxMemberData when maxSize ≤ 0). Other keys are ignored.
func ParseChannelData(channelData string, maxSize int) (Member, error) {
	obj, err := memberObject("channel_data", channelData, maxSize)
	if err != nil {
		return Member{}, err
	}
	var m Member
	hasID := false
	err = eachMember(obj, "channel_data", channelDataKeys, func(key string, val []byte) error {
		switch key {
		case "user_id":
			hasID = true
			if len(val) > 0 && val[0] == '"' {
				id, err := unquote(val)
				m.ID = id
				return err
			}
			if !isSafeInteger(val) {
				return errorf(ErrMalformed, `channel_data: "user_id" must be a string or an integer`)
			}
			m.ID, m.Numeric = string(val), true
		case "user_info":
			if string(val) != "null" {
				m.Info = json.RawMessage(val)
			}
		}
		return nil
	})
	if err != nil {
		return Member{}, err
	}
	if !hasID {
		return Member{}, errorf(ErrMalformed, `channel_data: "user_id" is missing`)
	}
	if err := checkUserID("channel_data", m.ID); err != nil {
		return Member{}, err
	}
	return m, nil
}

// User is the user data of a sign-in (reference §11).
type User struct {
	// ID is the user's id, a non-empty string of the channel-name
	// characters: the user's channel is ServerToUserChannel(ID).
	ID string
	// Info is user_info as JSON, nil when absent; it is shared with
	// presence members (reference §6.2).
	Info json.RawMessage
	// Watchlist is every id of "watchlist", as sent; Pusher uses the
	// first MaxWatchlist.
	Watchlist []string
}

var userDataKeys = []string{"id", "user_info", "watchlist"}

// ParseUserData reads the user_data of a pusher:signin: {"id": non-empty
// string, "user_info"?: any JSON, "watchlist"?: [strings]}. The id is at
// most MaxUserIDLen bytes of the channel-name characters (Pusher's rule
// for user ids, reference §11); userData at most maxSize bytes
// (DefaultMaxMemberData when maxSize ≤ 0). Other keys are ignored.
func ParseUserData(userData string, maxSize int) (User, error) {
	obj, err := memberObject("user_data", userData, maxSize)
	if err != nil {
		return User{}, err
	}
	var u User
	hasID := false
	err = eachMember(obj, "user_data", userDataKeys, func(key string, val []byte) error {
		var err error
		switch key {
		case "id":
			hasID = true
			u.ID, err = stringField("user_data", key, val)
		case "user_info":
			if string(val) != "null" {
				u.Info = json.RawMessage(val)
			}
		case "watchlist":
			if string(val) == "null" {
				return nil
			}
			if err := json.Unmarshal(val, &u.Watchlist); err != nil {
				return errorf(ErrMalformed, `user_data: "watchlist" must be an array of strings`)
			}
		}
		return err
	})
	if err != nil {
		return User{}, err
	}
	if !hasID {
		return User{}, errorf(ErrMalformed, `user_data: "id" is missing`)
	}
	if err := checkUserID("user_data", u.ID); err != nil {
		return User{}, err
	}
	if !validNameChars(u.ID) {
		return User{}, errorf(ErrMalformed, `user_data: "id" %q may only hold A-Z a-z 0-9 _ - = @ , . ;`, u.ID)
	}
	return u, nil
}

// memberObject checks the size of s and that it is one JSON object.
func memberObject(what, s string, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxMemberData
	}
	if len(s) > maxSize {
		return nil, errorf(ErrTooLarge, "%s of %d bytes is over the limit of %d bytes", what, len(s), maxSize)
	}
	b := []byte(s)
	if !utf8.Valid(b) || !json.Valid(b) || !isObject(b) {
		return nil, errorf(ErrMalformed, "%s is not a JSON object", what)
	}
	return b, nil
}

func checkUserID(what, id string) error {
	if id == "" {
		return errorf(ErrMalformed, "%s: the user id is empty", what)
	}
	if len(id) > MaxUserIDLen {
		return errorf(ErrTooLarge, "%s: the user id of %d bytes is over the limit of %d bytes", what, len(id), MaxUserIDLen)
	}
	return nil
}

// isSafeInteger reports whether the JSON number tok is an integer (no
// fraction, no exponent) within ±(2^53-1), written as JavaScript's
// String() writes it (so not "-0"): its text is then the key pusher-js
// files the member under.
func isSafeInteger(tok []byte) bool {
	n, err := strconv.ParseInt(string(tok), 10, 64)
	return err == nil && n >= -maxSafeInteger && n <= maxSafeInteger && strconv.FormatInt(n, 10) == string(tok)
}
