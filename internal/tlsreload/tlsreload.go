package tlsreload

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often the files are checked when New is given 0.
const DefaultInterval = 5 * time.Second

// Reloader holds the current certificate of a pair of PEM files.
type Reloader struct {
	// Immutable after New.
	certFile, keyFile string
	log               *slog.Logger
	interval          time.Duration

	cert atomic.Pointer[tls.Certificate]

	// Owned by the polling goroutine after New.
	seen [2]os.FileInfo // cert and key files as last loaded or tried

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New loads certFile (a PEM certificate chain) and keyFile (its PEM
// private key), failing if they do not form a valid pair, and starts
// checking them for changes every interval (0: DefaultInterval). logger
// receives reloads and failed reloads; nil discards them. Close stops the
// checks.
func New(certFile, keyFile string, logger *slog.Logger, interval time.Duration) (*Reloader, error) {
	if interval < 0 {
		return nil, fmt.Errorf("tls reload interval %v: want 0 (default %v) or more", interval, DefaultInterval)
	}
	if interval == 0 {
		interval = DefaultInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{
		certFile: certFile,
		keyFile:  keyFile,
		log:      logger,
		interval: interval,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	seen, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := r.load()
	if err != nil {
		return nil, err
	}
	r.seen = seen
	r.cert.Store(cert)
	r.log.Info("TLS certificate loaded", certAttrs(cert)...)
	go r.poll()
	return r, nil
}

// GetCertificate returns the current certificate, whatever the client
// asked for; it is meant for tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Certificate returns the current certificate; its Leaf is parsed.
func (r *Reloader) Certificate() *tls.Certificate { return r.cert.Load() }

// Close stops checking the files and waits for the checking goroutine to
// end. The last certificate stays available. Close may be called more
// than once.
func (r *Reloader) Close() {
	r.closeOnce.Do(func() { close(r.stop) })
	<-r.done
}

func (r *Reloader) poll() {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.check()
		}
	}
}

// check reloads the pair if either file changed since it was last loaded
// or tried. The files are examined before they are read, so a change made
// while they are read is seen at the next check.
func (r *Reloader) check() {
	seen, err := r.stat()
	if err != nil {
		// A file being replaced may be missing for a moment; if it
		// stays missing this repeats every interval, which is wanted.
		r.log.Warn("TLS certificate files cannot be checked; serving the previous certificate", "error", err.Error())
		return
	}
	if same(seen[0], r.seen[0]) && same(seen[1], r.seen[1]) {
		return
	}
	r.seen = seen
	cert, err := r.load()
	if err != nil {
		r.log.Error("TLS certificate files changed but do not load; serving the previous certificate until they change again",
			"error", err.Error())
		return
	}
	r.cert.Store(cert)
	r.log.Info("TLS certificate reloaded", certAttrs(cert)...)
}

func (r *Reloader) stat() ([2]os.FileInfo, error) {
	var fi [2]os.FileInfo
	var err1, err2 error
	fi[0], err1 = os.Stat(r.certFile)
	fi[1], err2 = os.Stat(r.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return fi, fmt.Errorf("TLS certificate: %w", err)
	}
	return fi, nil
}

func (r *Reloader) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	return &cert, nil
}

// same reports whether two observations are of the same, unchanged file.
func same(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

func certAttrs(c *tls.Certificate) []any {
	if c.Leaf == nil {
		return nil
	}
	return []any{
		"subject", c.Leaf.Subject.String(),
		"dnsNames", c.Leaf.DNSNames,
		"notAfter", c.Leaf.NotAfter,
		"serial", c.Leaf.SerialNumber.String(),
	}
}
