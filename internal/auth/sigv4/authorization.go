package sigv4

import (
	"strings"
)

// authorization is a parsed Authorization header. Its fields are empty
// when the header lacks them; Parse reports which.
type authorization struct {
	credential    string // AKID/20260304/us-east-1/execute-api/aws4_request
	signedHeaders string // content-length;host;x-amz-date
	signature     string // 64 lower-case hex digits, unchecked here
}

// parseAuthorization splits "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." into its parameters. Parameters are separated by commas,
// with optional spaces around them; names are case-sensitive; unknown
// parameters are ignored; a repeated one is an error. Another scheme
// (Bearer, Basic, ...) yields no parameters, so that Parse answers it with
// AWS's list of what is missing. SigV4a is ErrUnsupported.
func parseAuthorization(header string) (authorization, error) {
	var a authorization
	scheme, params, _ := strings.Cut(strings.TrimLeft(header, " "), " ")
	switch {
	case scheme == Algorithm:
	case strings.HasPrefix(scheme, "AWS4-ECDSA-"):
		return a, &Error{Kind: ErrUnsupported, Message: msgSigV4a}
	case strings.HasPrefix(scheme, "AWS4-"):
		return a, newError(ErrUnsupported, "Unsupported signing algorithm %q; sign with SigV4 (%s)", scheme, Algorithm)
	default:
		return a, nil
	}
	if strings.Trim(params, " ") == "" {
		return a, nil
	}
	for part := range strings.SplitSeq(params, ",") {
		part = strings.Trim(part, " ")
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return a, newError(ErrMalformed, "'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, header)
		}
		var field *string
		switch name {
		case "Credential":
			field = &a.credential
		case "SignedHeaders":
			field = &a.signedHeaders
		case "Signature":
			field = &a.signature
		default:
			continue
		}
		if *field != "" {
			return a, newError(ErrMalformed, "Authorization header has the '%s' parameter twice: '%s'.", name, header)
		}
		*field = value
	}
	return a, nil
}

// credentialScope is the Credential parameter's five parts.
type credentialScope struct {
	accessKeyID string
	date        string // YYYYMMDD
	region      string
	service     string
	terminator  string // aws4_request
}

// scope returns "date/region/service/terminator", as in the string to
// sign.
func (c credentialScope) scope() string {
	return string(c.appendScope(nil))
}

// appendScope appends scope() to b.
func (c *credentialScope) appendScope(b []byte) []byte {
	b = append(b, c.date...)
	b = append(b, '/')
	b = append(b, c.region...)
	b = append(b, '/')
	b = append(b, c.service...)
	b = append(b, '/')
	return append(b, c.terminator...)
}

// parseCredential splits and checks a Credential parameter. The date is
// only checked to be eight digits here; Parse compares it with the
// request's date.
func parseCredential(cred string) (credentialScope, error) {
	if strings.Count(cred, "/") != 4 {
		return credentialScope{}, newError(ErrMalformed,
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)
	}
	var c credentialScope
	rest := cred
	c.accessKeyID, rest, _ = strings.Cut(rest, "/")
	c.date, rest, _ = strings.Cut(rest, "/")
	c.region, rest, _ = strings.Cut(rest, "/")
	c.service, c.terminator, _ = strings.Cut(rest, "/")
	switch {
	case c.accessKeyID == "":
		return c, newError(ErrMalformed, "Credential has no access key id: '%s'", cred)
	case !isDigits(c.date, 8):
		return c, newError(ErrMalformed, "Credential should be scoped to a valid date (YYYYMMDD), not '%s'. ", c.date)
	case c.region == "":
		return c, newError(ErrMalformed, "Credential should be scoped to a valid region, not '%s'. ", c.region)
	case c.service != Service:
		return c, newError(ErrWrongService, "Credential should be scoped to correct service: '%s'. ", Service)
	case c.terminator != terminator:
		return c, newError(ErrMalformed, "Credential should be scoped with a valid terminator: '%s', not '%s'. ", terminator, c.terminator)
	}
	return c, nil
}

// parseSignedHeaders splits a SignedHeaders parameter. The names must be
// lower case, sorted and unique, as every SDK writes them, so that the
// canonical headers are built exactly once per name.
func parseSignedHeaders(s string) ([]string, error) {
	names := strings.Split(s, ";")
	for i, n := range names {
		ok := n != "" && (i == 0 || names[i-1] < n)
		for j := 0; ok && j < len(n); j++ {
			ok = isTokenByte(n[j]) && (n[j] < 'A' || n[j] > 'Z')
		}
		if !ok {
			return nil, newError(ErrMalformed,
				"SignedHeaders must be lower-case header names, sorted and separated by ';', got '%s'", s)
		}
	}
	return names, nil
}

// isTokenByte reports whether c may appear in an HTTP header name (an RFC
// 9110 token).
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
