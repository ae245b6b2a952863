package admin

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/gateway"
)

// Data is what the read views need of the gateway (*gateway.Gateway).
type Data interface {
	ListConnections(ctx context.Context, stage, cursor string, limit int) (gateway.ConnectionPage, error)
	Channels(ctx context.Context, stage, prefix string) ([]gateway.ChannelCount, error)
}

// Manager serves management requests the console has admitted
// (*manage.Handler).
type Manager interface {
	ServeAdmitted(w http.ResponseWriter, r *http.Request, path, principal string)
}

// Options are what New needs.
type Options struct {
	// Config returns the configuration in force (it changes on reload):
	// the admin section, the management API keys to sign in with, the
	// stages, and the configuration view.
	Config func() *config.Config
	Data   Data
	Manage Manager
	// Sampler provides the overview's series; nil leaves them empty.
	Sampler *Sampler
	// Nodes lists the cluster's live nodes; nil on a lone node.
	Nodes func(ctx context.Context) ([]cluster.Node, error)
	// Self describes this process for the nodes view of a lone node.
	Self   cluster.Node
	Logger *slog.Logger
	// Now is the clock of sessions and the sign-in limiter; default
	// time.Now.
	Now func() time.Time
}

// Console serves the admin console under its path prefix.
type Console struct {
	o        Options
	prefix   string // admin.path, without a trailing slash
	dev      bool
	sessions *sessions
	limiter  *limiter
	log      *slog.Logger
}

//go:embed ui
var uiFS embed.FS

// New returns the console of the admin section of o.Config() (path,
// development, sessionTimeout, maxSessions are read once: they need a
// restart).
func New(o Options) *Console {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := o.Config().Admin
	ttl := a.SessionTimeout.Std()
	if ttl <= 0 {
		ttl = 8 * time.Hour
	}
	return &Console{
		o:        o,
		prefix:   strings.TrimSuffix(a.Path, "/"),
		dev:      a.Development,
		sessions: newSessions(max(a.MaxSessions, 1), ttl),
		limiter:  newLimiter(),
		log:      o.Logger,
	}
}

// Prefix is the path the console is served under ("/admin").
func (c *Console) Prefix() string { return c.prefix }

// Owns reports whether an escaped path belongs to the console.
func (c *Console) Owns(path string) bool {
	return path == c.prefix || strings.HasPrefix(path, c.prefix+"/")
}

// ServeHTTP serves one console request; path is its escaped path.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if !c.Owns(path) {
		http.NotFound(w, r)
		return
	}
	rest := strings.TrimPrefix(path, c.prefix)
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	switch {
	case rest == "":
		http.Redirect(w, r, c.prefix+"/", http.StatusFound)
	case !strings.HasPrefix(rest, "/api/"):
		c.serveAsset(w, r, strings.TrimPrefix(rest, "/"))
	case rest == "/api/session":
		c.serveSession(w, r)
	default:
		c.serveAPI(w, r, strings.TrimPrefix(rest, "/api/"))
	}
}

// assets are the page's files: a fixed list, so nothing else of ui/ (or
// any path trick) is served.
var assets = map[string]string{
	"":           "text/html; charset=utf-8",
	"index.html": "text/html; charset=utf-8",
	"app.js":     "text/javascript; charset=utf-8",
	"app.css":    "text/css; charset=utf-8",
}

// csp allows the page only its own script, style and requests.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	ctype, ok := assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if name == "" {
		name = "index.html"
	}
	body, err := uiFS.ReadFile("ui/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// apiError answers a console API error as {"message"}.
func apiError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"message": fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"message":"could not encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// peer is the request's TCP peer address without the port (the sign-in
// limiter's key; never a forwarded header, which a client can forge).
func peer(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sessionOf returns the request's live session, or nil. A session signed
// in with a key that a reload removed is ended.
func (c *Console) sessionOf(r *http.Request) (*session, string) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, ""
	}
	s := c.sessions.get(c.o.Now(), ck.Value)
	if s != nil && !c.dev && !keyConfigured(c.o.Config().Management.APIKeys, s.digest) {
		c.sessions.remove(ck.Value)
		c.log.Info("admin console: session ended, its key is no longer configured", "session", s.tag, "key", s.key)
		return nil, ""
	}
	return s, ck.Value
}

// sessionJSON is what GET and POST api/session answer.
type sessionJSON struct {
	Principal   string    `json:"principal"`
	Key         string    `json:"key"`
	CSRF        string    `json:"csrf"`
	Expires     time.Time `json:"expires"`
	Development bool      `json:"development"`
}

func (c *Console) sessionBody(s *session) sessionJSON {
	return sessionJSON{Principal: s.principal(), Key: s.key, CSRF: s.csrf, Expires: s.expires, Development: c.dev}
}

// maxSignInBytes bounds the sign-in body.
const maxSignInBytes = 4 << 10

// serveSession answers api/session: GET (who is signed in), POST (sign
// in), DELETE (sign out).
func (c *Console) serveSession(w http.ResponseWriter, r *http.Request) {
	now := c.o.Now()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s, _ := c.sessionOf(r)
		if s == nil && c.dev {
			id, ns := c.sessions.create(now, "development", [32]byte{}, nil)
			http.SetCookie(w, sessionCookie(r, c.prefix, id, ns))
			c.log.Warn("admin console: development session opened without credentials", "remote", peer(r), "session", ns.tag)
			s = ns
		}
		if s == nil {
			apiError(w, http.StatusUnauthorized, "not signed in")
			return
		}
		writeJSON(w, http.StatusOK, c.sessionBody(s))
	case http.MethodPost:
		c.signIn(w, r, now)
	case http.MethodDelete:
		s, id := c.sessionOf(r)
		if s == nil {
			http.SetCookie(w, clearCookie(r, c.prefix))
			apiError(w, http.StatusUnauthorized, "not signed in")
			return
		}
		if !sameOrigin(r) || !csrfOK(r, s) {
			apiError(w, http.StatusForbidden, "cross-site request refused: a same-origin request with the session's X-CSRF-Token header is required")
			return
		}
		c.sessions.remove(id)
		http.SetCookie(w, clearCookie(r, c.prefix))
		c.log.Info("admin console: signed out", "session", s.tag, "key", s.key)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, DELETE")
		apiError(w, http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
	}
}

// signIn checks a management API key and starts a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request, now time.Time) {
	addr := peer(r)
	if !sameOrigin(r) {
		c.log.Warn("admin console: cross-site sign-in refused", "remote", addr)
		apiError(w, http.StatusForbidden, "cross-site request refused: sign in from the console's own page")
		return
	}
	if blocked, until := c.limiter.blocked(now, addr); blocked {
		secs := max(int(until.Sub(now).Seconds()+0.999), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.log.Warn("admin console: sign-in refused, too many failures", "remote", addr)
		apiError(w, http.StatusTooManyRequests, "too many failed sign-ins from %s; try again in %d seconds", addr, secs)
		return
	}
	var body struct {
		Key string `json:"key"`
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSignInBytes))
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "the body must be JSON {\"key\": \"<management API key>\"} of at most %d bytes", maxSignInBytes)
		return
	}
	k := keyMatch(c.o.Config().Management.APIKeys, strings.TrimSpace(body.Key))
	if k == nil {
		c.limiter.fail(now, addr)
		c.log.Warn("admin console: sign-in failed: not a management API key", "remote", addr)
		apiError(w, http.StatusUnauthorized, "that is not a management API key of this server")
		return
	}
	id, s := c.sessions.create(now, k.Name, sha256.Sum256([]byte(k.Key)), k.Stages)
	http.SetCookie(w, sessionCookie(r, c.prefix, id, s))
	c.log.Info("admin console: signed in", "remote", addr, "key", k.Name, "session", s.tag)
	writeJSON(w, http.StatusOK, c.sessionBody(s))
}

// serveAPI answers the console's data API and passes actions to the
// management API, for a signed-in session only.
func (c *Console) serveAPI(w http.ResponseWriter, r *http.Request, name string) {
	s, _ := c.sessionOf(r)
	if s == nil {
		apiError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && (!sameOrigin(r) || !csrfOK(r, s)) {
		c.log.Warn("admin console: cross-site request refused", "remote", peer(r), "session", s.tag, "method", r.Method)
		apiError(w, http.StatusForbidden, "cross-site request refused: a same-origin request with the session's X-CSRF-Token header is required")
		return
	}
	if mpath, ok := strings.CutPrefix(name, "manage/"); ok {
		c.serveManage(w, r, s, "/"+mpath)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		apiError(w, http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
		return
	}
	switch name {
	case "overview":
		c.overview(w, r)
	case "stages":
		writeJSON(w, http.StatusOK, map[string]any{"stages": c.stages(s)})
	case "connections":
		c.connections(w, r, s)
	case "users":
		c.users(w, r, s)
	case "channels":
		c.channels(w, r, s)
	case "nodes":
		c.nodes(w, r)
	case "config":
		c.config(w)
	default:
		apiError(w, http.StatusNotFound, "no console API %q", name)
	}
}

// serveManage hands a management request to the management API as the
// session's principal, after checking the session may reach its stage.
func (c *Console) serveManage(w http.ResponseWriter, r *http.Request, s *session, path string) {
	stage, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !s.allows(stage) {
		apiError(w, http.StatusForbidden, "the key %q this session signed in with is not allowed on stage %q", s.key, stage)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = "", path
	if p, err := unescape(path); err == nil {
		r2.URL.Path = p
	}
	r2.RequestURI = ""
	c.o.Manage.ServeAdmitted(w, r2, path, s.principal())
}

// stages are the configured stages the session may reach.
func (c *Console) stages(s *session) []string {
	out := []string{}
	for _, a := range c.o.Config().APIs {
		if s.allows(a.Stage) {
			out = append(out, a.Stage)
		}
	}
	return out
}

// stageParam reads ?stage=, checking the session may reach it.
func (c *Console) stageParam(w http.ResponseWriter, r *http.Request, s *session) (string, bool) {
	stage := r.URL.Query().Get("stage")
	for _, st := range c.stages(s) {
		if st == stage {
			return stage, true
		}
	}
	apiError(w, http.StatusBadRequest, "stage %q is not one this session may reach; GET api/stages lists them", stage)
	return "", false
}

// errStatus maps a gateway error to a status.
func errStatus(err error) int {
	switch {
	case errors.Is(err, gateway.ErrNoSuchStage):
		return http.StatusNotFound
	case errors.Is(err, context.Canceled):
		return 499
	default:
		return http.StatusInternalServerError
	}
}
