package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// Algorithm is the only signing algorithm verified.
	Algorithm = "AWS4-HMAC-SHA256"
	// Service is the only service a credential may be scoped to: the
	// signing name of the API Gateway management API.
	Service = "execute-api"
	// MaxSkew is how far X-Amz-Date may be from now, either way, as on
	// AWS.
	MaxSkew = 5 * time.Minute

	terminator  = "aws4_request"
	timeFormat  = "20060102T150405Z"
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Header names, in the lower case in which they are signed.
const (
	hdrAuthorization = "authorization"
	hdrAmzDate       = "x-amz-date"
	hdrDate          = "date"
	hdrHost          = "host"
	hdrContentLength = "content-length"
	hdrSecurityToken = "x-amz-security-token"
	hdrContentSHA256 = "x-amz-content-sha256"
)

// Result is what a verified signature says about its request.
type Result struct {
	// AccessKeyID is the key that signed the request.
	AccessKeyID string
	// Region is the credential scope's region (any non-empty string:
	// the SDK's configured region).
	Region string
	// Time is the request's X-Amz-Date (or Date).
	Time time.Time
	// SessionToken reports that the request carried a (signed)
	// X-Amz-Security-Token, whose value is not checked.
	SessionToken bool
}

// Signed is a request whose SigV4 Authorization header has been parsed
// and whose credential scope, signed headers and date have been checked,
// but whose signature has not: Verify does that, given the body and the
// key's secret.
type Signed struct {
	r             *http.Request
	cred          credentialScope
	signedHeaders []string
	signature     string
	date          time.Time
	amzDate       string // the date as the string to sign has it
}

// Verify verifies r's SigV4 signature: Parse, the secret of the access
// key id from lookup (ErrUnknownKey when it has none), and Signed.Verify.
// body is the whole request body (nil for none); now is the current time.
func Verify(r *http.Request, body []byte, lookup func(accessKeyID string) (secret string, ok bool), now time.Time) (Result, error) {
	s, err := Parse(r, now)
	if err != nil {
		return Result{}, err
	}
	secret, ok := lookup(s.cred.accessKeyID)
	if !ok {
		return Result{}, errUnknownKey
	}
	return s.Verify(body, secret)
}

// Present reports whether r carries AWS authentication of any form this
// package knows: an Authorization header whose scheme starts with "AWS4-"
// (SigV4 or SigV4a), or presigned query parameters. Such a request should
// be given to Parse or Verify, which verify the first and refuse the
// others.
func Present(r *http.Request) bool {
	for _, v := range values(r.Header, hdrAuthorization) {
		if strings.HasPrefix(strings.TrimLeft(v, " "), "AWS4-") {
			return true
		}
	}
	return presigned(r)
}

// presigned reports whether r's query carries presigned-URL parameters.
func presigned(r *http.Request) bool {
	if r.URL == nil || !strings.Contains(r.URL.RawQuery, "X-Amz-") {
		return false
	}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	return q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Algorithm")
}

// Parse reads r's Authorization header and checks all that needs neither
// the body nor the secret (see the package documentation), so that a
// caller can refuse a request before reading its body.
func Parse(r *http.Request, now time.Time) (*Signed, error) {
	if r.URL == nil {
		return nil, newError(ErrMalformed, "The request has no URL")
	}
	vals := values(r.Header, hdrAuthorization)
	switch {
	case len(vals) == 0 && presigned(r):
		return nil, &Error{Kind: ErrUnsupported, Message: msgPresigned}
	case len(vals) == 0:
		return nil, errMissing
	case len(vals) > 1:
		return nil, newError(ErrMalformed, "The request has %d Authorization headers; send one", len(vals))
	case presigned(r):
		return nil, &Error{Kind: ErrUnsupported, Message: msgBothAuth}
	}
	header := vals[0]
	a, err := parseAuthorization(header)
	if err != nil {
		return nil, err
	}

	s := &Signed{r: r, signature: a.signature}
	dateHeader, dateValue, err := requestDate(r.Header)
	if err != nil {
		return nil, err
	}
	var missing []string
	if a.credential == "" {
		missing = append(missing, "Credential")
	}
	if a.signature == "" {
		missing = append(missing, "Signature")
	}
	if a.signedHeaders == "" {
		missing = append(missing, "SignedHeaders")
	}
	if dateHeader == "" {
		missing = append(missing, "date")
	}
	if len(missing) > 0 {
		return nil, errIncomplete(missing, header)
	}
	if s.date, err = parseDate(dateHeader, dateValue); err != nil {
		return nil, err
	}
	if s.amzDate = dateValue; len(dateValue) != len(timeFormat) || dateValue[8] != 'T' {
		s.amzDate = formatTime(s.date) // an HTTP date in Date
	}

	if s.cred, err = parseCredential(a.credential); err != nil {
		return nil, err
	}
	if s.cred.date != s.amzDate[:8] {
		return nil, newError(ErrMalformed,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			s.cred.date, s.amzDate[:8], s.amzDate)
	}
	if s.signedHeaders, err = parseSignedHeaders(a.signedHeaders); err != nil {
		return nil, err
	}
	if !contains(s.signedHeaders, hdrHost) {
		return nil, newError(ErrMalformed, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	for _, h := range []string{dateHeader, hdrSecurityToken, hdrContentSHA256} {
		if (h == dateHeader || len(values(r.Header, h)) > 0) && !contains(s.signedHeaders, h) {
			return nil, newError(ErrMalformed, "'%s' must be a 'SignedHeader' in the AWS Authorization.", h)
		}
	}

	now = now.UTC().Truncate(time.Second)
	if s.date.Before(now.Add(-MaxSkew)) || s.date.After(now.Add(MaxSkew)) {
		return nil, errSkew(s.date, now)
	}
	return s, nil
}

// AccessKeyID is the access key id of the credential, not yet verified.
func (s *Signed) AccessKeyID() string { return s.cred.accessKeyID }

// Region is the credential scope's region.
func (s *Signed) Region() string { return s.cred.region }

// Verify checks the signature with the access key's secret. body is the
// whole request body (nil for none).
func (s *Signed) Verify(body []byte, secret string) (Result, error) {
	return s.verify(body, nil, secret)
}

// VerifySecret is Verify with a prepared secret, which keeps the signing
// key it derived for the next request of the same scope (see Secret).
func (s *Signed) VerifySecret(body []byte, secret *Secret) (Result, error) {
	return s.verify(body, secret.forScope(s.cred), "")
}

// verify checks the signature with the derived key d, or without one with
// a key derived from secret for this request alone.
func (s *Signed) verify(body []byte, d *derivedKey, secret string) (Result, error) {
	var hashBuf [2 * sha256.Size]byte
	payloadHash, err := s.payloadHash(body, &hashBuf)
	if err != nil {
		return Result{}, err
	}
	canonical := s.canonicalRequest(payloadHash)
	sum := sha256.Sum256(canonical)
	c := &s.cred
	stringToSign := make([]byte, 0, len(Algorithm)+len(s.amzDate)+len(c.date)+len(c.region)+len(c.service)+len(c.terminator)+6+2*sha256.Size)
	stringToSign = append(stringToSign, Algorithm+"\n"...)
	stringToSign = append(stringToSign, s.amzDate...)
	stringToSign = append(stringToSign, '\n')
	stringToSign = c.appendScope(stringToSign)
	stringToSign = append(stringToSign, '\n')
	stringToSign = appendHex(stringToSign, sum[:])

	var wantBuf [2 * sha256.Size]byte
	var want []byte
	if d != nil {
		want = d.sign(wantBuf[:0], stringToSign)
	} else {
		want = appendHex(wantBuf[:0], hmacSHA256(signingKey(secret, s.cred), stringToSign))
	}
	if subtle.ConstantTimeCompare(want, []byte(s.signature)) != 1 {
		return Result{}, &Error{Kind: ErrSignature, Message: msgMismatch +
			"\n\nThe Canonical String for this request should have been\n'" + string(canonical) +
			"'\n\nThe String-to-Sign should have been\n'" + string(stringToSign) + "'\n"}
	}
	return Result{
		AccessKeyID:  s.cred.accessKeyID,
		Region:       s.cred.region,
		Time:         s.date,
		SessionToken: firstValue(values(s.r.Header, hdrSecurityToken)) != "",
	}, nil
}

// payloadHash is the payload hash of the canonical request: the
// X-Amz-Content-Sha256 header, which must then be the body's hash, or the
// body's hash. It is written in buf.
func (s *Signed) payloadHash(body []byte, buf *[2 * sha256.Size]byte) ([]byte, error) {
	sum := sha256.Sum256(body)
	hash := appendHex(buf[:0], sum[:])
	vals := values(s.r.Header, hdrContentSHA256)
	switch {
	case len(vals) == 0:
		return hash, nil
	case len(vals) > 1:
		return nil, newError(ErrMalformed, "The request has %d X-Amz-Content-Sha256 headers; send one", len(vals))
	case vals[0] == "UNSIGNED-PAYLOAD" || strings.HasPrefix(vals[0], "STREAMING-"):
		return nil, newError(ErrUnsupported, "X-Amz-Content-Sha256: %s is not supported: the body must be signed (send the hex SHA-256 of the body, or no X-Amz-Content-Sha256 header)", vals[0])
	case vals[0] != string(hash):
		return nil, &Error{Kind: ErrSignature, Message: msgBodyHash}
	}
	return hash, nil
}

// requestDate returns the header that dates the request (x-amz-date, or
// date without it) and its value; "" when there is neither.
func requestDate(h http.Header) (name, value string, err error) {
	for _, name := range []string{hdrAmzDate, hdrDate} {
		switch vals := values(h, name); len(vals) {
		case 0:
			continue
		case 1:
			return name, vals[0], nil
		default:
			return "", "", newError(ErrMalformed, "The request has %d %s headers; send one", len(vals), name)
		}
	}
	return "", "", nil
}

// parseDate parses X-Amz-Date, which must be ISO 8601 basic format
// (20060102T150405Z), or Date, which may also be an HTTP date (RFC 9110).
func parseDate(header, value string) (time.Time, error) {
	if t, ok := parseBasic(value); ok {
		return t, nil
	}
	if header == hdrDate {
		if t, err := http.ParseTime(value); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, newError(ErrMalformed,
		"Invalid %s header '%s': use ISO 8601 basic format in UTC, such as 20150830T123600Z", header, value)
}

// parseBasic parses exactly YYYYMMDD'T'HHMMSS'Z', a real date and time
// (no field out of its range: time.Date would normalize 20260230 to
// March 2nd, which is refused).
func parseBasic(v string) (time.Time, bool) {
	if len(v) != len(timeFormat) || v[8] != 'T' || v[15] != 'Z' || !isDigits(v[:8], 8) || !isDigits(v[9:15], 6) {
		return time.Time{}, false
	}
	num := func(s string) int {
		n := 0
		for i := 0; i < len(s); i++ {
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	year, month, day := num(v[0:4]), time.Month(num(v[4:6])), num(v[6:8])
	hour, minute, sec := num(v[9:11]), num(v[11:13]), num(v[13:15])
	t := time.Date(year, month, day, hour, minute, sec, 0, time.UTC)
	if t.Year() != year || t.Month() != month || t.Day() != day || t.Hour() != hour || t.Minute() != minute || t.Second() != sec {
		return time.Time{}, false
	}
	return t, true
}

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// signingKey derives the signing key of the credential scope:
// HMAC("AWS4"+secret, date), then region, service and "aws4_request".
func signingKey(secret string, c credentialScope) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(c.date))
	k = hmacSHA256(k, []byte(c.region))
	k = hmacSHA256(k, []byte(c.service))
	return hmacSHA256(k, []byte(c.terminator))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(make([]byte, 0, sha256.Size))
}

func contains(sorted []string, s string) bool {
	for _, v := range sorted {
		if v == s {
			return true
		}
	}
	return false
}

// firstValue is the first of vals, "" for none (http.Header.Get).
func firstValue(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}
