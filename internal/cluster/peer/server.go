package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// headerError carries the code of a failed call: a sentinel's text, or
// "internal".
const headerError = "X-Switchboard-Error"

// statusApplication is the status of a call the Local answered with one of
// the sentinel errors.
const statusApplication = http.StatusUnprocessableEntity

// maxMessage bounds the error message an answer carries.
const maxMessage = 1 << 10

// Server is the receiving side of the internal endpoint: an http.Handler
// that serves POST Path+op and nothing else, admits a request only when
// every configured check passes (signature, client certificate), then calls
// its cluster.Local. It is safe for concurrent use.
type Server struct {
	local  cluster.Local
	o      Options
	codes  codes
	secret []byte

	mu     sync.Mutex
	hs     *http.Server // set by Serve
	closed bool         // Shutdown or Close was called
}

// NewServer returns a Server calling l. It fails when o is incomplete (no
// Self, neither Secret nor TLS, clashing Errors).
func NewServer(l cluster.Local, o Options) (*Server, error) {
	if l == nil {
		return nil, errors.New("cluster/peer: NewServer needs a Local")
	}
	c, err := o.check()
	if err != nil {
		return nil, err
	}
	s := &Server{local: l, o: o, codes: c}
	if o.Secret != "" {
		s.secret = []byte(o.Secret)
	}
	return s, nil
}

// Serve accepts connections on ln (over mutual TLS when Options.TLS is set)
// until Shutdown or Close; it returns http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.o.Timeout,
		ReadTimeout:       2 * s.o.Timeout,
		WriteTimeout:      2 * s.o.Timeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	if s.hs != nil {
		s.mu.Unlock()
		return errors.New("cluster/peer: Serve called twice")
	}
	s.hs = hs
	s.mu.Unlock()
	if s.o.TLS != nil {
		hs.TLSConfig = s.o.TLS.Server
		return hs.ServeTLS(ln, "", "")
	}
	return hs.Serve(ln)
}

// Shutdown stops Serve gracefully: no new connections, calls in flight
// finish (until ctx ends).
func (s *Server) Shutdown(ctx context.Context) error {
	if hs := s.markClosed(); hs != nil {
		return hs.Shutdown(ctx)
	}
	return nil
}

// Close stops Serve at once, closing every connection.
func (s *Server) Close() error {
	if hs := s.markClosed(); hs != nil {
		return hs.Close()
	}
	return nil
}

// markClosed makes a later Serve refuse and returns the http.Server a
// Serve is running (nil when none).
func (s *Server) markClosed() *http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.hs
}

// refuse answers a request that never reached the Local.
func refuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// ServeHTTP serves one call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, Path)
	o := opByName(name)
	if !ok || o == 0 || r.URL.RawQuery != "" {
		s.o.Metrics.refused("not_found")
		refuse(w, http.StatusNotFound, "no such route")
		return
	}
	if r.Method != http.MethodPost {
		s.o.Metrics.refused("not_found")
		w.Header().Set("Allow", http.MethodPost)
		refuse(w, http.StatusMethodNotAllowed, "only POST")
		return
	}
	if s.o.TLS != nil && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		s.unauthorized(w, r, errClientCert)
		return
	}
	if s.secret != nil {
		// Unsigned or stale requests are refused before their body is read.
		if err := precheck(r.Header, s.o.Now()); err != nil {
			s.unauthorized(w, r, err)
			return
		}
	}
	if r.ContentLength > s.o.MaxBody {
		s.o.Metrics.refused("too_large")
		refuse(w, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(s.o.MaxBody, 10)+" bytes")
		return
	}
	body, err := readBody(w, r, s.o.MaxBody)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.o.Metrics.refused("too_large")
			refuse(w, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(s.o.MaxBody, 10)+" bytes")
			return
		}
		s.o.Metrics.refused("bad_request")
		refuse(w, http.StatusBadRequest, "cannot read the body")
		return
	}
	if s.secret != nil {
		if err := verify(r.Header, s.secret, r.Method, r.URL.Path, s.o.Now(), body); err != nil {
			s.unauthorized(w, r, err)
			return
		}
	}
	req, err := decodeRequest(o, body)
	if err != nil {
		s.o.Metrics.refused("bad_request")
		refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Target != s.o.Self() {
		s.fail(w, cluster.ErrNodeGone)
		return
	}
	timeout := s.o.Timeout
	if req.Timeout > 0 && req.Timeout < timeout {
		timeout = req.Timeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	v := callerAnswerVersion(r.Header.Get(headerAnswerVersion))
	out, err := s.call(ctx, &req, v)
	if err != nil {
		s.fail(w, err)
		return
	}
	if v > 1 {
		w.Header().Set(headerAnswerVersion, strconv.Itoa(v))
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// unauthorized refuses a request whose credentials failed; why goes to the
// log, not to the caller.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, why error) {
	s.o.Metrics.refused("unauthorized")
	s.o.Logger.Debug("cluster internal endpoint: request refused", "remote", r.RemoteAddr, "err", why)
	refuse(w, http.StatusUnauthorized, "unauthorized")
}

// readBody reads at most limit bytes of r's body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength > 0 {
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(rd, b); err != nil {
			return nil, err
		}
		// The declared length is all there is: anything more is refused by
		// net/http itself.
		return b, nil
	}
	return io.ReadAll(rd)
}

// callerAnswerVersion is the answer version to write for a caller whose
// header said h: the lower of it and ours, 1 when h is absent or unusable.
func callerAnswerVersion(h string) int {
	v, err := strconv.Atoi(h)
	if err != nil || v < 1 {
		return 1
	}
	return min(v, answerVersion)
}

// call runs req on the Local and encodes its answer in answer version v; a
// panic of the Local becomes an internal error.
func (s *Server) call(ctx context.Context, req *request, v int) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("panic in %s: %v", req.Op, p)
		}
	}()
	l := s.local
	switch req.Op {
	case opPost:
		return nil, l.Post(ctx, req.Stage, req.ID, req.Data)
	case opGet:
		c, err := l.Get(ctx, req.Stage, req.ID)
		if err != nil {
			return nil, err
		}
		return appendInfo(nil, &c, v), nil
	case opDelete:
		return nil, l.Delete(ctx, req.Stage, req.ID)
	case opJoin:
		return nil, l.Join(ctx, req.Stage, req.Channel, req.ID)
	case opLeave:
		return nil, l.Leave(ctx, req.Stage, req.Channel, req.ID)
	case opList:
		p, err := l.List(ctx, req.Stage, req.Cursor, req.Limit)
		if err != nil {
			return nil, err
		}
		return appendPage(nil, &p, v), nil
	case opUser:
		u, err := l.User(ctx, req.Stage, req.User, req.UserOp, req.Data)
		if err != nil {
			return nil, err
		}
		return appendUserResult(nil, &u, v), nil
	}
	return nil, errors.New("unknown op")
}

// fail answers a call the Local (or the incarnation check) failed.
func (s *Server) fail(w http.ResponseWriter, err error) {
	code := s.codes.code(err)
	status := statusApplication
	if code == codeInternal {
		status = http.StatusInternalServerError
		s.o.Logger.Warn("cluster internal endpoint: call failed", "err", err)
	}
	msg := err.Error()
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	w.Header().Set(headerError, code)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}
