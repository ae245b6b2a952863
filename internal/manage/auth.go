package manage

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Auth says who may call the management API. The zero value admits nobody.
type Auth struct {
	// APIKeys are accepted as "Authorization: Bearer <Secret>". Keys with
	// an empty Secret are ignored.
	APIKeys []Key
	// AllowLoopback admits requests whose TCP peer (r.RemoteAddr, never
	// X-Forwarded-For or any other header) is a loopback address
	// (127.0.0.0/8, ::1, or IPv4-mapped 127.x), with or without
	// credentials. This is the development default; turn it off when a
	// reverse proxy on the same host forwards outside traffic.
	AllowLoopback bool
}

// Key is one management credential.
type Key struct {
	// Name identifies the key in logs. It is never the secret.
	Name string
	// Secret is the bearer token.
	Secret string
}

// authenticator is Auth prepared for checking: the secrets are kept only as
// SHA-256 digests, so that comparing a token costs the same whatever its
// length and whichever key it matches.
type authenticator struct {
	allowLoopback bool
	keys          []keyDigest
}

type keyDigest struct {
	name string
	sum  [sha256.Size]byte
}

func newAuthenticator(a Auth) authenticator {
	au := authenticator{allowLoopback: a.AllowLoopback}
	for _, k := range a.APIKeys {
		if k.Secret == "" {
			continue
		}
		au.keys = append(au.keys, keyDigest{name: k.Name, sum: sha256.Sum256([]byte(k.Secret))})
	}
	return au
}

// rejection says why a request was refused: reason goes to the log, message
// to the caller.
type rejection struct {
	reason  string
	message string
}

// admit returns the caller's principal ("loopback" or the key's name) or
// why it is refused.
func (a *authenticator) admit(r *http.Request) (principal string, rej *rejection) {
	if a.allowLoopback && isLoopbackPeer(r.RemoteAddr) {
		return "loopback", nil
	}
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", &rejection{"no credentials", msgMissingKey}
	case 1:
	default:
		return "", &rejection{"several Authorization headers", msgMissingKey}
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		token = strings.TrimSpace(token)
		if token == "" {
			return "", &rejection{"empty bearer token", msgMissingKey}
		}
		if name, ok := a.match(token); ok {
			return name, nil
		}
		return "", &rejection{"unknown API key", msgMissingKey}
	case len(scheme) > 5 && strings.EqualFold(scheme[:5], "AWS4-"):
		// AWS4-HMAC-SHA256 (SigV4) or AWS4-ECDSA-P256-SHA256 (SigV4a), as
		// AWS SDKs send by default.
		return "", &rejection{"SigV4 signature (not verified yet)", msgSigV4}
	default:
		return "", &rejection{"unsupported Authorization scheme", msgMissingKey}
	}
}

// match compares the token with every key, without stopping at the first
// match, so that the time taken says nothing about which key matched or how
// much of it.
func (a *authenticator) match(token string) (name string, ok bool) {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.keys {
		eq := subtle.ConstantTimeCompare(sum[:], a.keys[i].sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return "", false
	}
	return a.keys[found].name, true
}

// isLoopbackPeer reports whether a RemoteAddr ("host:port", or a bare host)
// is a loopback address. IPv4-mapped IPv6 addresses count as their IPv4
// address. Anything unparsable, such as a Unix socket peer, is not.
func isLoopbackPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return addr.Unmap().IsLoopback()
}
