package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// Path is the prefix of every route of the internal endpoint; a call is
// POST Path + op (post, get, delete, join, leave, list, user).
const Path = "/_switchboard/v1/"

// Overhead is what a request adds to its payload, at most: the framing and
// the other fields (each at most 8 KiB). MaxBody should be the largest
// payload the gateway accepts plus Overhead.
const Overhead = 64 << 10

// DefaultMaxBody is MaxBody when Options leave it zero: 1 MiB of payload
// plus Overhead.
const DefaultMaxBody = 1<<20 + Overhead

// DefaultTimeout caps a call's time when Options leave Timeout zero
// (decision 0024 §2.4).
const DefaultTimeout = 5 * time.Second

// Errors of the package, besides the cluster's.
var (
	// ErrRemote: the owner node failed the call with an error that is none
	// of the sentinels both sides know (a bug, or a version skew between
	// nodes); the caller should answer as for any internal error (500).
	// The error wrapping it carries the owner's message.
	ErrRemote = errors.New("cluster/peer: the owner node failed the call")
	// ErrRefused: the owner refused the request itself (400, 404, 405, 413:
	// a version skew or a body above its MaxBody); also an internal error.
	ErrRefused = errors.New("cluster/peer: the owner node refused the request")
	// ErrUnauthorized: the owner refused the request's credentials (wrong
	// secret, clock skew above MaxSkew, certificate of another CA). It
	// comes wrapped together with cluster.ErrUnavailable: the call did
	// not take effect and may succeed once the nodes agree.
	ErrUnauthorized = errors.New("cluster/peer: the owner node refused our credentials")
)

// Options configure a Server and a Client; one value, built from the
// cluster.internal configuration, serves both.
type Options struct {
	// Self returns this node's current incarnation (it changes when the
	// node rejoins after losing its lease). The client sends it as the
	// sender; the server answers cluster.ErrNodeGone to a call addressed
	// to another incarnation (a restarted process on the same address).
	// Required.
	Self func() string
	// Secret signs requests (client) and is required on them (server):
	// HMAC-SHA256, decision 0024 §7. "" disables signing; then TLS must
	// be set.
	Secret string
	// TLS enables mutual TLS (from LoadTLS): the client dials peers over
	// TLS with TLS.Client, Server.Serve listens with TLS.Server, and the
	// server refuses a request without a verified client certificate.
	// Nil disables TLS; then Secret must be set.
	TLS *TLS
	// Errors are the sentinel errors a Local returns (the gateway's and
	// the hub's). The server sends the first one a Local's error matches
	// (errors.Is) by its text; the client returns that same sentinel
	// value. Both sides must be given the same list; texts must be
	// distinct. The cluster's own errors (ErrNodeGone, ErrUnavailable,
	// ErrNotJoined, ErrInvalidCursor, ErrInvalidLimit) are always known.
	Errors []error
	// MaxBody bounds a request body the server accepts (413 above it);
	// DefaultMaxBody when zero. Give the largest payload plus Overhead.
	MaxBody int64
	// Timeout caps a call: the client's context deadline, and the time
	// the server gives its Local; DefaultTimeout when zero.
	Timeout time.Duration
	// MaxConnsPerPeer is how many idle keep-alive connections the client
	// keeps to each peer (the concurrency of calls to one node it serves
	// without dialling); 64 when zero.
	MaxConnsPerPeer int
	// Metrics, when set, count forwarded calls (client) and refused
	// requests (server); NewMetrics makes them. Give the Client and the
	// Server of a node the same value.
	Metrics *Metrics
	// Logger gets refused requests (Debug) and failed Local calls; none
	// when nil.
	Logger *slog.Logger
	// Now is the clock of signatures; time.Now when nil.
	Now func() time.Time
}

// codes maps sentinel errors to their wire codes and back.
type codes struct {
	errs   []error
	byCode map[string]error
}

// codeInternal is the code of an error that matches no sentinel;
// codeContext of a context error (the call ran out of time on the owner).
const codeInternal = "internal"

// cluster errors every node knows.
var clusterErrors = []error{cluster.ErrNodeGone, cluster.ErrUnavailable, cluster.ErrNotJoined, cluster.ErrInvalidCursor, cluster.ErrInvalidLimit}

// check validates o and fills the defaults.
func (o *Options) check() (codes, error) {
	if o.Self == nil {
		return codes{}, errors.New("cluster/peer: Options.Self is required")
	}
	if o.Secret == "" && o.TLS == nil {
		return codes{}, errors.New("cluster/peer: set Options.Secret, Options.TLS or both")
	}
	if o.TLS != nil && (o.TLS.Server == nil || o.TLS.Client == nil) {
		return codes{}, errors.New("cluster/peer: Options.TLS needs both configurations (use LoadTLS)")
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConnsPerPeer <= 0 {
		o.MaxConnsPerPeer = 64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := codes{byCode: make(map[string]error)}
	for _, e := range append(append([]error(nil), o.Errors...), clusterErrors...) {
		if e == nil {
			return codes{}, errors.New("cluster/peer: Options.Errors holds nil")
		}
		code := e.Error()
		if code == codeInternal || code == "" || len(code) > maxField || strings.ContainsFunc(code, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return codes{}, fmt.Errorf("cluster/peer: Options.Errors: %q cannot be a code", code)
		}
		if prev, ok := c.byCode[code]; ok {
			if prev == e {
				continue // given twice, e.g. a cluster error listed again
			}
			return codes{}, fmt.Errorf("cluster/peer: Options.Errors: two errors have the text %q", code)
		}
		c.byCode[code] = e
		c.errs = append(c.errs, e)
	}
	return c, nil
}

// code returns the wire code of err: the text of the first sentinel it
// matches, ErrUnavailable's for a context error, or codeInternal.
func (c codes) code(err error) string {
	for _, e := range c.errs {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return cluster.ErrUnavailable.Error()
	}
	return codeInternal
}

// TLS is the pair of configurations of mutual TLS between nodes.
type TLS struct {
	// Server requires and verifies a client certificate signed by the CA.
	Server *tls.Config
	// Client presents this node's certificate and verifies the peer's
	// against the CA and ServerName (when empty, the host of the peer's
	// advertise address, which net/http sets per peer).
	Client *tls.Config
}
