package pusherproto

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxSkew is how far auth_timestamp may be from the server's clock
// when the caller gives no skew (reference §12.2).
const DefaultMaxSkew = 600 * time.Second

// APIRequest is an HTTP API request as received, for VerifyAPIRequest.
type APIRequest struct {
	// Method is the HTTP method; it is upper-cased for signing.
	Method string
	// Path is the request path as received (r.URL.EscapedPath()), e.g.
	// "/apps/3/events"; it is signed as is.
	Path string
	// RawQuery is the query as received (r.URL.RawQuery).
	RawQuery string
	// Body is the raw request body.
	Body []byte
}

// VerifyAPIRequest checks the signature of an HTTP API request made with
// the app's key and secret (reference §12.2) and returns its query
// parameters, decoded, keyed by lower-cased name. The checks, in order:
//
//   - the query parses: pairs split on '&' (';' is an ordinary character:
//     channel names hold it), names and values decoded as
//     url.QueryUnescape does ('+' and %20 are both a space); no name
//     repeats (ErrRepeatedParam);
//   - auth_key, auth_timestamp, auth_version and auth_signature are
//     present (ErrMissingParam);
//   - auth_key is key (ErrAuthKey), auth_version is "1.0" (ErrAuthVersion);
//   - auth_timestamp is decimal Unix seconds within maxSkew of now, both
//     bounds included (DefaultMaxSkew when maxSkew ≤ 0; ErrTimestamp);
//   - body_md5 is the lowercase hex MD5 of the body: required for a
//     non-empty body, optional for an empty one (ErrBodyMD5,
//     ErrMissingParam);
//   - auth_signature is the hex HMAC-SHA256, keyed with secret, of
//     "METHOD\nPATH\n" and every parameter but auth_signature as
//     name=value with decoded, unescaped values, sorted by name and joined
//     by '&', compared in constant time (ErrSignature, whose message
//     names the string that was expected to be signed).
//
// Comparing decoded values means a request is accepted however its
// client escaped the query (pusher-http-go sends it unescaped, the Node
// SDK escaped), as long as the signed values are the same.
func VerifyAPIRequest(r APIRequest, key, secret string, now time.Time, maxSkew time.Duration) (url.Values, error) {
	params, err := parseQuery(r.RawQuery)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"auth_key", "auth_timestamp", "auth_version", "auth_signature"} {
		if _, ok := params[name]; !ok {
			return nil, errorf(ErrMissingParam, "missing query parameter %s", name)
		}
	}
	if got := params.Get("auth_key"); got != key {
		return nil, errorf(ErrAuthKey, "auth_key %q is not the key of this app", got)
	}
	if v := params.Get("auth_version"); v != "1.0" {
		return nil, errorf(ErrAuthVersion, `auth_version %q is not supported: use "1.0"`, v)
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if err := checkTimestamp(params.Get("auth_timestamp"), now, maxSkew); err != nil {
		return nil, err
	}
	if err := checkBodyMD5(params, r.Body); err != nil {
		return nil, err
	}
	signed := APIStringToSign(r.Method, r.Path, params)
	got := params.Get("auth_signature")
	var sum [sha256.Size]byte
	want := hex.AppendEncode(make([]byte, 0, 2*sha256.Size), mac(sum[:0], secret, signed))
	if !hmac.Equal(want, []byte(got)) {
		return nil, errorf(ErrSignature, `invalid signature: expected HMAC-SHA256 hex digest of "%s" signed with the secret of app key %q`, strings.ReplaceAll(signed, "\n", `\n`), key)
	}
	return params, nil
}

// APIStringToSign returns the string an HTTP API request signs:
// upper-cased method, "\n", path, "\n", then every parameter of params but
// auth_signature as name=value (names lower-cased, values unescaped),
// sorted by name and joined by '&'. params holds one value per name.
func APIStringToSign(method, path string, params url.Values) string {
	names := make([]string, 0, len(params))
	for name := range params {
		if strings.ToLower(name) != "auth_signature" {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	var b strings.Builder
	b.WriteString(strings.ToUpper(method))
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	for i, name := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(strings.ToLower(name))
		b.WriteByte('=')
		b.WriteString(params.Get(name))
	}
	return b.String()
}

// parseQuery decodes raw into one value per lower-cased name.
func parseQuery(raw string) (url.Values, error) {
	params := url.Values{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, err1 := url.QueryUnescape(name)
		value, err2 := url.QueryUnescape(value)
		if err1 != nil || err2 != nil {
			return nil, errorf(ErrMalformed, "query parameter %q is not URL-encoded correctly", pair)
		}
		name = strings.ToLower(name)
		if _, dup := params[name]; dup {
			return nil, errorf(ErrRepeatedParam, "query parameter %s is given more than once", name)
		}
		params[name] = []string{value}
	}
	return params, nil
}

func checkTimestamp(ts string, now time.Time, maxSkew time.Duration) error {
	valid := ts != "" && len(ts) <= 18
	for i := 0; i < len(ts) && valid; i++ {
		valid = ts[i] >= '0' && ts[i] <= '9'
	}
	if !valid {
		return errorf(ErrTimestamp, "auth_timestamp %q is not a number of seconds since 1970", ts)
	}
	sec, _ := strconv.ParseInt(ts, 10, 64) // at most 18 digits: fits
	off := now.Unix() - sec
	if off < 0 {
		off = -off
	}
	if skew := int64(maxSkew / time.Second); off > skew {
		return errorf(ErrTimestamp, "auth_timestamp %s is %d s from the server's time %d: it must be within %d s", ts, off, now.Unix(), skew)
	}
	return nil
}

func checkBodyMD5(params url.Values, body []byte) error {
	got, ok := params["body_md5"]
	if !ok {
		if len(body) > 0 {
			return errorf(ErrMissingParam, "missing query parameter body_md5 (the hex MD5 of the request body)")
		}
		return nil
	}
	sum := md5.Sum(body)
	if want := hex.EncodeToString(sum[:]); got[0] != want {
		return errorf(ErrBodyMD5, "body_md5 %q is not the MD5 of the %d-byte request body (%s)", got[0], len(body), want)
	}
	return nil
}
