package peer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// The headers of a signed request (docs/decisions/0024 §7).
const (
	headerNode      = "X-Switchboard-Node"      // the sender's incarnation
	headerDate      = "X-Switchboard-Date"      // Unix milliseconds
	headerSignature = "X-Switchboard-Signature" // hex HMAC-SHA256
)

// MaxSkew is how far a signed request's date may be from the receiver's
// clock, either way.
const MaxSkew = 30 * time.Second

// maxSender bounds the sender header (an incarnation is 8 characters).
const maxSender = 64

// signature returns the hex HMAC-SHA256 under secret of method NUL path
// NUL date NUL sender NUL SHA-256(body).
func signature(secret []byte, method, path, date, sender string, body []byte) string {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, secret)
	for _, s := range [...]string{method, path, date, sender} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	m.Write(sum[:])
	return hex.EncodeToString(m.Sum(nil))
}

// sign sets the signature headers of a request about to carry body.
func sign(h http.Header, secret []byte, method, path, sender string, now time.Time, body []byte) {
	date := strconv.FormatInt(now.UnixMilli(), 10)
	h.Set(headerNode, sender)
	h.Set(headerDate, date)
	h.Set(headerSignature, signature(secret, method, path, date, sender, body))
}

// errUnsigned and its kin say why a request's signature was refused (to
// the log, never to the caller).
var (
	errUnsigned   = errors.New("missing signature headers")
	errBadDate    = errors.New("bad date header")
	errStale      = errors.New("date outside the allowed skew")
	errBadSig     = errors.New("signature does not match")
	errBadSender  = errors.New("bad node header")
	errClientCert = errors.New("no verified client certificate")
)

// precheck checks what can be checked of a request's signature headers
// before its body is read: present, well formed, fresh at now.
func precheck(h http.Header, now time.Time) error {
	sender, date, sig := h.Get(headerNode), h.Get(headerDate), h.Get(headerSignature)
	if sender == "" || date == "" || sig == "" {
		return errUnsigned
	}
	if len(sender) > maxSender {
		return errBadSender
	}
	ms, err := strconv.ParseInt(date, 10, 64)
	if err != nil || ms < 0 {
		return errBadDate
	}
	skew := now.Sub(time.UnixMilli(ms))
	if skew > MaxSkew || skew < -MaxSkew {
		return errStale
	}
	return nil
}

// verify checks a request's signature headers against body at now.
func verify(h http.Header, secret []byte, method, path string, now time.Time, body []byte) error {
	if err := precheck(h, now); err != nil {
		return err
	}
	sender, date, sig := h.Get(headerNode), h.Get(headerDate), h.Get(headerSignature)
	want := signature(secret, method, path, date, sender, body)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errBadSig
	}
	return nil
}
