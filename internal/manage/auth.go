package manage

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/auth/sigv4"
)

// Auth says who may call the management API. The zero value admits nobody.
//
// A request is admitted when every credential it carries is right and
// allowed on the request's stage: a SigV4 signature by one of AccessKeys,
// an API key (Authorization: Bearer, or x-api-key) among APIKeys. A
// request without credentials is admitted only by AllowLoopback. A wrong
// credential is refused even from loopback, so that a misconfigured
// client learns it in development rather than in production; but a
// credential of a kind for which no key is configured (a SigV4 signature
// with no AccessKeys, a bearer token with no APIKeys) cannot be judged,
// and loopback admits it as if it were absent: that is how an unmodified
// AWS SDK, which always signs, works on a laptop.
type Auth struct {
	// APIKeys are accepted as "Authorization: Bearer <Secret>" or
	// "x-api-key: <Secret>", compared in constant time against every
	// key. Keys with an empty Secret are ignored.
	APIKeys []Key
	// AccessKeys verify AWS Signature Version 4 (sigv4.Verify: service
	// execute-api, any region, MaxSkew of clock skew). Keys with an empty
	// ID or Secret are ignored; of two keys with one ID, the first counts.
	AccessKeys []AccessKey
	// AllowLoopback admits requests whose TCP peer (r.RemoteAddr, never
	// X-Forwarded-For or any other header) is a loopback address
	// (127.0.0.0/8, ::1, or IPv4-mapped 127.x) without credentials: a
	// development mode, off unless a configuration switches it on. Even
	// then a request that carries a proxy's header (Forwarded,
	// X-Forwarded-For, X-Real-IP, X-Forwarded-Host, X-Forwarded-Proto or
	// Via) is not a loopback caller: a reverse proxy on the same host would
	// otherwise open the API to everyone it forwards.
	AllowLoopback bool
	// Now is the clock that signature dates are checked against. Default
	// time.Now.
	Now func() time.Time
	// Generated, when not nil, are access keys Switchboard made for its
	// function workers, verified like AccessKeys (which win on an equal
	// id). They are not configured keys: with no AccessKeys, loopback
	// still admits a signature by an unknown key as if it were absent,
	// but a signature by a generated key is verified. The set is shared,
	// not copied: keys added or revoked later count at once.
	Generated *GeneratedKeys
}

// Key is one API key.
type Key struct {
	// Name identifies the key in logs. It is never the secret.
	Name string
	// Secret is the bearer token.
	Secret string
	// Stages limits the key to these stages; empty means every stage.
	Stages []string
}

// AccessKey is one SigV4 key pair.
type AccessKey struct {
	// ID is the access key id (AKIA...), which also names the key in logs.
	ID string
	// Secret is the secret access key.
	Secret string
	// Stages limits the key to these stages; empty means every stage.
	Stages []string
}

// authenticator is Auth prepared for checking: API key secrets are kept
// only as SHA-256 digests, so that comparing a token costs the same
// whatever its length and whichever key it matches.
type authenticator struct {
	allowLoopback bool
	now           func() time.Time
	keys          []keyDigest
	accessKeys    map[string]accessKey
	generated     *GeneratedKeys // nil: none
}

type keyDigest struct {
	name   string
	sum    [sha256.Size]byte
	stages stageSet
}

type accessKey struct {
	secret *sigv4.Secret // keeps the signing key of the last scope
	stages stageSet
}

// stageSet is the stages a key may call; nil means every stage.
type stageSet map[string]struct{}

func newStageSet(stages []string) stageSet {
	if len(stages) == 0 {
		return nil
	}
	s := make(stageSet, len(stages))
	for _, st := range stages {
		s[st] = struct{}{}
	}
	return s
}

func (s stageSet) allows(stage string) bool {
	if s == nil {
		return true
	}
	_, ok := s[stage]
	return ok
}

func newAuthenticator(a Auth) authenticator {
	au := authenticator{allowLoopback: a.AllowLoopback, now: a.Now, generated: a.Generated}
	if au.now == nil {
		au.now = time.Now
	}
	for _, k := range a.APIKeys {
		if k.Secret == "" {
			continue
		}
		au.keys = append(au.keys, keyDigest{name: k.Name, sum: sha256.Sum256([]byte(k.Secret)), stages: newStageSet(k.Stages)})
	}
	for _, k := range a.AccessKeys {
		if k.ID == "" || k.Secret == "" {
			continue
		}
		if au.accessKeys == nil {
			au.accessKeys = make(map[string]accessKey)
		}
		if _, dup := au.accessKeys[k.ID]; !dup {
			au.accessKeys[k.ID] = accessKey{secret: sigv4.NewSecret(k.Secret), stages: newStageSet(k.Stages)}
		}
	}
	return au
}

// rejection says why a request was refused: reason goes to the log (never
// a secret), err to the caller (a 403, or the 413 of a signed body too
// large to be hashed).
type rejection struct {
	reason string
	err    *apiError
}

func reject(message, format string, args ...any) *rejection {
	return &rejection{reason: fmt.Sprintf(format, args...), err: forbidden(message)}
}

// admit returns the caller's principal ("loopback", an API key's name or
// an access key id), or why it is refused. A signed request has its body
// read (at most bodyLimit bytes) and kept in w, from which the handler
// then reads it with its own limit (readBody).
func (h *Handler) admit(w *statusWriter, r *http.Request, rt route) (principal string, rej *rejection) {
	a := h.auth.Load()
	loopback := a.allowLoopback && isLoopbackPeer(r.RemoteAddr) && !forwarded(r.Header)
	authz := r.Header["Authorization"]
	xKey := r.Header[canonicalAPIKey]
	signed := sigv4.Present(r)
	switch {
	case len(authz) > 1:
		return "", reject(msgOneCredential, "several Authorization headers")
	case len(xKey) > 1:
		return "", reject(msgOneCredential, "several x-api-key headers")
	case len(authz) == 0 && len(xKey) == 0 && !signed:
		if loopback {
			return "loopback", nil
		}
		if a.allowLoopback && isLoopbackPeer(r.RemoteAddr) {
			return "", reject(msgMissingAuth, "no credentials, and a proxy header (Forwarded, X-Forwarded-For, X-Real-IP, ...) means the caller is not on loopback")
		}
		return "", reject(msgMissingAuth, "no credentials")
	}
	// Every credential presented must be right; the first names the
	// caller.
	if len(xKey) == 1 {
		if principal, rej = a.apiKey(xKey[0], rt.stage, loopback); rej != nil {
			return "", rej
		}
	}
	var header string
	if len(authz) == 1 {
		header = authz[0]
	}
	var p string
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	awsScheme := strings.HasPrefix(scheme, "AWS4-")
	switch {
	case len(authz) == 0:
	case awsScheme:
		p, rej = h.sigV4(w, r, rt, loopback)
	case strings.EqualFold(scheme, "Bearer"):
		p, rej = a.apiKey(token, rt.stage, loopback)
	default:
		rej = reject(msgScheme, "unsupported Authorization scheme")
	}
	if rej == nil && signed && !awsScheme {
		// Presigned query parameters, alone or beside a bearer token:
		// refused, unless loopback may ignore them.
		var q string
		q, rej = h.sigV4(w, r, rt, loopback)
		if p == "" {
			p = q
		}
	}
	if rej != nil {
		return "", rej
	}
	if principal == "" || principal == "loopback" && p != "" {
		principal = p
	}
	return principal, nil
}

// apiKey checks one API key for stage.
func (a *authenticator) apiKey(token, stage string, loopback bool) (string, *rejection) {
	if len(a.keys) == 0 {
		if loopback {
			return "loopback", nil // nothing to check it against
		}
		return "", reject(msgInvalidKey, "API key sent, but no management.apiKeys are configured")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", reject(msgInvalidKey, "empty API key")
	}
	i, ok := a.match(token)
	if !ok {
		return "", reject(msgInvalidKey, "unknown API key")
	}
	k := &a.keys[i]
	if !k.stages.allows(stage) {
		return "", reject(stageDenied(fmt.Sprintf("API key %q", k.name), stage), "API key %q is not allowed on stage %q", k.name, stage)
	}
	return k.name, nil
}

// match compares the token with every key, without stopping at the first
// match, so that the time taken says nothing about which key matched or how
// much of it.
func (a *authenticator) match(token string) (index int, ok bool) {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.keys {
		eq := subtle.ConstantTimeCompare(sum[:], a.keys[i].sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	return found, found >= 0
}

// sigV4 verifies a request that carries AWS authentication. What needs
// neither the body nor the secret (the header, the scope, the date) is
// checked first, and the key looked up, before the body is read.
func (h *Handler) sigV4(w *statusWriter, r *http.Request, rt route, loopback bool) (string, *rejection) {
	a := h.auth.Load()
	configured := len(a.accessKeys) > 0
	if !configured && a.generated.Len() == 0 {
		if loopback {
			return "loopback", nil // nothing to check it against
		}
		return "", reject(msgUnknownAccessKey, "SigV4 request, but no management.accessKeys are configured")
	}
	// Without configured keys, loopback admits what no generated key
	// signed, as if no key existed.
	s, err := sigv4.Parse(r, a.now())
	if err != nil {
		if !configured && loopback {
			return "loopback", nil
		}
		return "", sigV4Rejection(err, "")
	}
	id := s.AccessKeyID()
	key, ok := a.accessKeys[id]
	if !ok {
		key, ok = a.generated.lookup(id)
	}
	switch {
	case ok:
	case !configured && loopback:
		return "loopback", nil
	case !configured:
		return "", reject(msgUnknownAccessKey, "SigV4: unknown access key %q (no management.accessKeys are configured)", id)
	default:
		return "", reject(msgUnknownAccessKey, "SigV4: unknown access key %q", id)
	}
	limit, tooLarge := h.bodyLimit(rt, r.Method)
	body, err := readBody(w, r, limit)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return "", &rejection{reason: fmt.Sprintf("SigV4: body larger than %d bytes, not hashed (access key %q)", limit, id), err: tooLarge(int(limit))}
	}
	if err != nil {
		ae, _ := toAPIError(err)
		return "", &rejection{reason: "SigV4: reading the body: " + err.Error(), err: ae}
	}
	if _, err := s.VerifySecret(body, key.secret); err != nil {
		return "", sigV4Rejection(err, id)
	}
	if !key.stages.allows(rt.stage) {
		return "", reject(stageDenied(id, rt.stage), "access key %q is not allowed on stage %q", id, rt.stage)
	}
	w.body, w.bodyRead = body, true
	return id, nil
}

// sigV4Rejection answers a failed verification with the verifier's
// message (AWS's wording) and logs its kind and the key id; for an expired
// signature, a wrong service or an unsupported scheme it also logs the
// message, which quotes only dates and names. Other messages are not
// logged: a mismatch quotes the canonical request and so any session
// token, a malformed header the Authorization header.
func sigV4Rejection(err error, id string) *rejection {
	e, ok := errors.AsType[*sigv4.Error](err)
	if !ok { // unreachable: sigv4 returns only *sigv4.Error
		return reject(msgForbidden, "SigV4: %v", err)
	}
	reason := err.Error()
	if id != "" {
		reason += fmt.Sprintf(" (access key %q)", id)
	}
	if errors.Is(err, sigv4.ErrExpired) || errors.Is(err, sigv4.ErrWrongService) || errors.Is(err, sigv4.ErrUnsupported) {
		reason += ": " + e.Message
	}
	return &rejection{reason: reason, err: forbidden(e.Message)}
}

// stageDenied words a key used on a stage it is not allowed on as AWS
// words a missing IAM permission.
func stageDenied(who, stage string) string {
	return fmt.Sprintf("User: %s is not authorized to perform: execute-api:ManageConnections on stage %q", who, stage)
}

// Body limits of requests read before their signature is checked: the
// limit the handler applies to the same route, so that a body is never
// read further than it would be after admission.
const (
	// defaultSignedBodyLimit bounds a data POST to a stage that is not
	// served (which is then refused with 403): AWS's 128 KB.
	defaultSignedBodyLimit = 128 << 10
	// maxIgnoredBodyBytes bounds the body of a request whose handler
	// ignores it (GET, DELETE, PUT, a path that is not served).
	maxIgnoredBodyBytes = 64 << 10
)

// bodyLimit returns how much of a signed request's body may be read to
// hash it, and the function that makes the error answering a larger one
// (called only then: the message is formatted for the few requests that
// need it).
func (h *Handler) bodyLimit(rt route, method string) (int64, func(limit int) *apiError) {
	if method == http.MethodPost {
		switch rt.kind {
		case routeConnection, routeChannel, routeUser, routeBroadcast:
			limit, err := h.backend.MaxPostBytes(rt.stage)
			if err != nil {
				limit = defaultSignedBodyLimit
			}
			limit = max(limit, 0)
			return int64(limit), payloadTooLarge
		case routeBatch:
			return maxBatchBytes, func(int) *apiError { return batchTooLarge() }
		}
	}
	return maxIgnoredBodyBytes, bodyTooLarge
}

// forwardingHeaders are set by reverse proxies (and some load balancers)
// on the requests they pass on. A request that carries any of them, even
// empty, came through a proxy: its TCP peer being loopback says nothing
// about the caller, so development mode does not admit it.
var forwardingHeaders = [...]string{
	"Forwarded", "X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Host", "X-Forwarded-Proto", "Via",
}

// forwarded reports whether h carries a header that a proxy adds.
func forwarded(h http.Header) bool {
	for _, k := range forwardingHeaders {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
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
