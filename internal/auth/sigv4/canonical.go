package sigv4

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// canonicalRequest builds the canonical request the client signed (see
// the package documentation):
//
//	method \n canonical URI \n canonical query \n canonical headers \n signed headers \n payload hash
func (s *Signed) canonicalRequest(payloadHash []byte) []byte {
	r := s.r
	path := requestPath(r)
	buf := make([]byte, 0, 256+2*len(path)+len(r.URL.RawQuery)+len(payloadHash))
	buf = append(buf, r.Method...)
	buf = append(buf, '\n')
	buf = appendEscaped(buf, path, true)
	buf = append(buf, '\n')
	buf = appendCanonicalQuery(buf, r.URL.RawQuery)
	buf = append(buf, '\n')
	for _, name := range s.signedHeaders {
		buf = append(buf, name...)
		buf = append(buf, ':')
		if name == hdrHost {
			buf = appendTrimmed(buf, requestHost(r))
			buf = append(buf, '\n')
			continue
		}
		for i, v := range headerValues(r, name) {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendTrimmed(buf, v)
		}
		buf = append(buf, '\n')
	}
	buf = append(buf, '\n')
	for i, name := range s.signedHeaders {
		if i > 0 {
			buf = append(buf, ';')
		}
		buf = append(buf, name...)
	}
	buf = append(buf, '\n')
	return append(buf, payloadHash...)
}

// requestPath is the request's path as it arrived, still percent-encoded:
// RequestURI up to '?' on a server request. A request built in-process
// (RequestURI empty) or one in absolute form uses URL.Opaque's path, as
// the SDK's signer does, or URL.EscapedPath. An empty path is "/".
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if strings.HasPrefix(p, "/") {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return p
	}
	if o := r.URL.Opaque; o != "" {
		// "//host/path" (or "/path"), as aws-sdk-go-v2's GetURIPath reads
		// it.
		o, _, _ = strings.Cut(o, "?")
		o = strings.TrimPrefix(o, "//")
		if i := strings.IndexByte(o, '/'); i >= 0 {
			return o[i:]
		}
		return "/"
	}
	if p = r.URL.EscapedPath(); p == "" {
		return "/"
	}
	return p
}

// appendEscaped appends s with every byte but the RFC 3986 unreserved
// characters (A-Z a-z 0-9 - . _ ~), and '/' when keepSlash, encoded as
// %XX in upper-case hex: the SDKs' URI encoding for SigV4.
func appendEscaped(buf []byte, s string, keepSlash bool) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || c == '/' && keepSlash {
			buf = append(buf, c)
			continue
		}
		buf = append(buf, '%', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return buf
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// appendCanonicalQuery appends the canonical query string: the query
// parsed as url.ParseQuery does (as the Go SDK's signer reads it), each
// name and value escaped, the pairs sorted by escaped name, then escaped
// value ("the sorting occurs after encoding"), joined with '&'.
func appendCanonicalQuery(buf []byte, rawQuery string) []byte {
	if rawQuery == "" {
		return buf
	}
	q, _ := url.ParseQuery(rawQuery) // malformed pairs are dropped, as by URL.Query
	type pair struct{ name, value []byte }
	pairs := make([]pair, 0, len(q))
	for name, values := range q {
		n := appendEscaped(nil, name, false)
		for _, v := range values {
			pairs = append(pairs, pair{n, appendEscaped(nil, v, false)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(string(a.name), string(b.name)); c != 0 {
			return c
		}
		return cmp.Compare(string(a.value), string(b.value))
	})
	for i, p := range pairs {
		if i > 0 {
			buf = append(buf, '&')
		}
		buf = append(buf, p.name...)
		buf = append(buf, '=')
		buf = append(buf, p.value...)
	}
	return buf
}

// headerValues returns the values of the signed header name: r.Host for
// host, the header's values otherwise (found case-insensitively even under
// a key net/http did not canonicalize), and r.ContentLength for a
// content-length the header map lacks.
func headerValues(r *http.Request, name string) []string {
	if name == hdrHost {
		return []string{requestHost(r)}
	}
	if vals := values(r.Header, name); len(vals) > 0 {
		return vals
	}
	var keys []string
	for k := range r.Header {
		if strings.EqualFold(k, name) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var vals []string
	for _, k := range keys {
		vals = append(vals, r.Header[k]...)
	}
	if len(vals) == 0 && name == hdrContentLength && r.ContentLength > 0 {
		vals = []string{strconv.FormatInt(r.ContentLength, 10)}
	}
	return vals
}

// requestHost is the value signed as host: r.Host, or the URL's host
// without it.
func requestHost(r *http.Request) string {
	if r.Host == "" {
		return r.URL.Host
	}
	return r.Host
}

// appendTrimmed appends a header value without its leading and trailing
// white space and with every run of spaces inside it collapsed to one, as
// the SDKs canonicalize it.
func appendTrimmed(buf []byte, v string) []byte {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		buf = append(buf, v[i])
	}
	return buf
}

// values returns h's values of the header name (lower case, as signed),
// as http.Header.Values does, without canonicalizing the common names
// anew (which allocates) on every request.
func values(h http.Header, name string) []string {
	var key string
	switch name {
	case hdrAuthorization:
		key = "Authorization"
	case hdrAmzDate:
		key = "X-Amz-Date"
	case hdrDate:
		key = "Date"
	case hdrHost:
		key = "Host"
	case hdrContentLength:
		key = "Content-Length"
	case hdrSecurityToken:
		key = "X-Amz-Security-Token"
	case hdrContentSHA256:
		key = "X-Amz-Content-Sha256"
	case "content-type":
		key = "Content-Type"
	case "user-agent":
		key = "User-Agent"
	case "amz-sdk-invocation-id":
		key = "Amz-Sdk-Invocation-Id"
	case "amz-sdk-request":
		key = "Amz-Sdk-Request"
	default:
		return h.Values(name)
	}
	return h[key]
}
