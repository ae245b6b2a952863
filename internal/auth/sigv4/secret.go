package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
	"sync/atomic"
)

// Secret is an access key's secret prepared for verification. SigV4
// derives a signing key from the secret and the credential scope (date,
// region, service) with four HMACs; a Secret keeps the key it derived for
// the last scope it was asked for, with a pool of HMAC states keyed with
// it, so that a stream of requests signed on the same day in the same
// region costs one HMAC each instead of five. A request in another scope
// derives its key and replaces the kept one (one entry per Secret, so
// requests naming arbitrary regions cannot grow it). The derived key is
// what the secret and scope make, whoever asks: caching it changes no
// verdict. Safe for concurrent use. The zero value is not usable; use
// NewSecret.
type Secret struct {
	secret string
	last   atomic.Pointer[derivedKey]
}

// NewSecret prepares secret for Signed.VerifySecret.
func NewSecret(secret string) *Secret { return &Secret{secret: secret} }

// derivedKey is the signing key of one credential scope, and HMAC states
// keyed with it.
type derivedKey struct {
	date, region, service, terminator string
	macs                              sync.Pool // of hash.Hash: HMAC-SHA256 keyed with the signing key
}

// forScope returns the derived key of c's scope, deriving it when the
// kept one is of another scope.
func (k *Secret) forScope(c credentialScope) *derivedKey {
	if d := k.last.Load(); d != nil && d.date == c.date && d.region == c.region && d.service == c.service && d.terminator == c.terminator {
		return d
	}
	key := signingKey(k.secret, c)
	d := &derivedKey{date: c.date, region: c.region, service: c.service, terminator: c.terminator}
	d.macs.New = func() any { return hmac.New(sha256.New, key) }
	k.last.Store(d)
	return d
}

// sign appends the hex HMAC-SHA256 of stringToSign under the derived key
// to dst.
func (d *derivedKey) sign(dst, stringToSign []byte) []byte {
	m := d.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(stringToSign)
	var sum [sha256.Size]byte
	out := appendHex(dst, m.Sum(sum[:0]))
	d.macs.Put(m)
	return out
}

func appendHex(dst, src []byte) []byte {
	const digits = "0123456789abcdef"
	for _, b := range src {
		dst = append(dst, digits[b>>4], digits[b&0xf])
	}
	return dst
}
