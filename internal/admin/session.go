package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
)

// cookieName is the session cookie's name.
const cookieName = "switchboard_console"

// csrfHeader carries the session's CSRF token on mutating requests.
const csrfHeader = "X-Csrf-Token"

// session is one signed-in operator.
type session struct {
	tag string // a short, non-secret name for logs: hex of the id's digest
	key string // the API key's name ("development" in development mode)
	// digest is the SHA-256 of the key signed in with (zero in development
	// mode): the session lasts only while that key is configured.
	digest  [sha256.Size]byte
	csrf    string
	stages  map[string]bool // nil: every stage
	created time.Time
	expires time.Time
}

// principal is how the management API's log names this session.
func (s *session) principal() string { return "console:" + s.tag }

// allows reports whether the session may reach stage.
func (s *session) allows(stage string) bool { return s.stages == nil || s.stages[stage] }

// sessions is the server-side session store, keyed by the SHA-256 of the
// cookie's value so that a lookup compares digests, not the secret.
type sessions struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	m   map[[sha256.Size]byte]*session
}

func newSessions(max int, ttl time.Duration) *sessions {
	return &sessions{max: max, ttl: ttl, m: make(map[[sha256.Size]byte]*session)}
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session and returns its cookie value. When the store is
// full, expired sessions go first, then the oldest.
func (s *sessions) create(now time.Time, key string, digest [sha256.Size]byte, stages []string) (string, *session) {
	id := randomToken()
	sum := sha256.Sum256([]byte(id))
	ses := &session{
		tag:     hex.EncodeToString(sum[:4]),
		key:     key,
		digest:  digest,
		csrf:    randomToken(),
		created: now,
		expires: now.Add(s.ttl),
	}
	if len(stages) > 0 {
		ses.stages = make(map[string]bool, len(stages))
		for _, st := range stages {
			ses.stages[st] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.m) >= s.max {
		s.evictLocked(now)
	}
	s.m[sum] = ses
	return id, ses
}

// evictLocked removes every expired session, or else the oldest one.
func (s *sessions) evictLocked(now time.Time) {
	var oldest [sha256.Size]byte
	var oldestAt time.Time
	removed := false
	for k, ses := range s.m {
		if !now.Before(ses.expires) {
			delete(s.m, k)
			removed = true
			continue
		}
		if oldestAt.IsZero() || ses.created.Before(oldestAt) {
			oldest, oldestAt = k, ses.created
		}
	}
	if !removed {
		delete(s.m, oldest)
	}
}

// get returns the live session of a cookie value, or nil.
func (s *sessions) get(now time.Time, id string) *session {
	if id == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	ses := s.m[sum]
	if ses == nil {
		return nil
	}
	if !now.Before(ses.expires) {
		delete(s.m, sum)
		return nil
	}
	return ses
}

// remove ends the session of a cookie value.
func (s *sessions) remove(id string) {
	sum := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sum)
}

// len is the number of sessions kept (expired ones included until looked
// up or evicted).
func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// secureRequest reports whether the browser reached us over TLS: directly,
// or through a proxy that says so. It only decides the cookie's Secure
// flag, which can only restrict where the cookie goes.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// sessionCookie is the cookie that carries the id of s, scoped to the
// console; it expires with the session.
func sessionCookie(r *http.Request, path, id string, s *session) *http.Cookie {
	return &http.Cookie{
		Name:     cookieName,
		Value:    id,
		Path:     path,
		Expires:  s.expires,
		MaxAge:   max(int(s.expires.Sub(s.created).Seconds()), 1),
		HttpOnly: true,
		Secure:   secureRequest(r),
		SameSite: http.SameSiteStrictMode,
	}
}

// clearCookie deletes the session cookie in the browser.
func clearCookie(r *http.Request, path string) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode}
}

// sameOrigin reports whether a request was sent by a page of this origin:
// Sec-Fetch-Site (set by every current browser, and not settable by
// scripts) says same-origin, or the Origin's host is the request's Host.
// A request with neither header is refused: a browser sends at least one
// on every request that can change something, and the console's own page
// is always a browser.
func sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	if site != "" && site != "same-origin" {
		return false
	}
	if origin != "" {
		u, err := url.Parse(origin)
		if err != nil || origin == "null" || u.Host != r.Host {
			return false
		}
	}
	return site != "" || origin != ""
}

// csrfOK compares the request's CSRF token with the session's in
// constant time.
func csrfOK(r *http.Request, ses *session) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(ses.csrf)) == 1
}

// keyMatch finds the management API key equal to token, comparing its
// digest with every key's in constant time (as manage does), and returns
// it, or nil.
func keyMatch(keys []config.APIKey, token string) *config.APIKey {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range keys {
		if keys[i].Key == "" {
			continue
		}
		ks := sha256.Sum256([]byte(keys[i].Key))
		eq := subtle.ConstantTimeCompare(sum[:], ks[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 || token == "" {
		return nil
	}
	return &keys[found]
}

// Sign-in limits: after maxFailures failed sign-ins from one peer address
// within failureWindow, further attempts from it get 429 until the window
// ends. At most maxTracked addresses are tracked; when that many are,
// unknown addresses are limited too (failing closed under a flood).
const (
	maxFailures   = 5
	failureWindow = time.Minute
	maxTracked    = 4096
)

// limiter counts failed sign-ins per peer address in fixed windows.
type limiter struct {
	mu sync.Mutex
	m  map[string]*window
}

type window struct {
	start    time.Time
	failures int
}

func newLimiter() *limiter { return &limiter{m: make(map[string]*window)} }

// blocked reports whether addr may not try now, and until when.
func (l *limiter) blocked(now time.Time, addr string) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[addr]
	if w == nil {
		if len(l.m) >= maxTracked {
			l.pruneLocked(now)
			if len(l.m) >= maxTracked {
				return true, now.Add(failureWindow)
			}
		}
		return false, time.Time{}
	}
	if now.Sub(w.start) >= failureWindow {
		delete(l.m, addr)
		return false, time.Time{}
	}
	return w.failures >= maxFailures, w.start.Add(failureWindow)
}

// fail counts one failed sign-in from addr.
func (l *limiter) fail(now time.Time, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[addr]
	if w == nil || now.Sub(w.start) >= failureWindow {
		if w == nil && len(l.m) >= maxTracked {
			l.pruneLocked(now)
			if len(l.m) >= maxTracked {
				return
			}
		}
		w = &window{start: now}
		l.m[addr] = w
	}
	w.failures++
}

func (l *limiter) pruneLocked(now time.Time) {
	for k, w := range l.m {
		if now.Sub(w.start) >= failureWindow {
			delete(l.m, k)
		}
	}
}

// keyConfigured reports whether a key with this digest is among keys.
func keyConfigured(keys []config.APIKey, digest [sha256.Size]byte) bool {
	found := 0
	for i := range keys {
		ks := sha256.Sum256([]byte(keys[i].Key))
		found |= subtle.ConstantTimeCompare(ks[:], digest[:])
	}
	return found == 1
}
