package jwtauth

import (
	"net/http"
	"net/url"
	"strings"
)

// findToken returns the token of r and, when a Sec-WebSocket-Protocol
// entry carried it, that entry. The order is Authenticate's.
func (v *Verifier) findToken(r *http.Request) (token, subprotocol string) {
	if r.URL != nil {
		if t := queryValue(r.URL.RawQuery, v.query); t != "" {
			return t, ""
		}
	}
	if h := strings.TrimSpace(r.Header.Get(v.header)); h != "" {
		return stripBearer(h), ""
	}
	for _, line := range r.Header.Values("Sec-WebSocket-Protocol") {
		for entry := range strings.SplitSeq(line, ",") {
			entry = strings.TrimSpace(entry)
			if t, ok := strings.CutPrefix(entry, v.prefix); ok && t != "" {
				return t, entry
			}
		}
	}
	return "", ""
}

// queryValue returns the first value of the query parameter name in the
// raw query string, percent-decoded, or "" if there is none. Unlike
// url.ParseQuery it builds no map; malformed pairs are skipped, as
// (*url.URL).Query does.
func queryValue(raw, name string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, val, _ := strings.Cut(pair, "=")
		if k != name {
			uk, err := url.QueryUnescape(k)
			if err != nil || uk != name {
				continue
			}
		}
		if uv, err := url.QueryUnescape(val); err == nil {
			return uv
		}
	}
	return ""
}

// stripBearer removes a leading "Bearer" scheme (any case) and the blanks
// after it.
func stripBearer(h string) string {
	const scheme = "bearer"
	if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) && (h[len(scheme)] == ' ' || h[len(scheme)] == '\t') {
		return strings.TrimLeft(h[len(scheme):], " \t")
	}
	return h
}
