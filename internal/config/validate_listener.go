package config

import (
	"crypto/tls"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// Bounds of the listener's fields.
const (
	minReadHeaderTimeout = 100 * time.Millisecond
	maxReadHeaderTimeout = 5 * time.Minute
	// minMaxHeaderBytes leaves room for net/http's 4 KiB of slack, which
	// the server takes off (internal/server).
	minMaxHeaderBytes    = ByteSize(8 << 10)
	maxMaxHeaderBytes    = ByteSize(1 << 20)
	minTLSReloadInterval = time.Second
	maxTLSReloadInterval = time.Hour
	// maxPEMFileBytes bounds what Validate reads of a certificate, key or
	// public key file; real ones are a few KiB.
	maxPEMFileBytes = 1 << 20
)

// tls checks the tls block, if any: both files must be readable and load
// as a certificate and its private key.
func (v *validator) tls(t *TLS) {
	if t == nil {
		return
	}
	cert, certOK := v.pemFile("tls.certFile", t.CertFile, "certificate chain",
		"is required when tls is set; give the PEM certificate chain, e.g. certFile: /etc/switchboard/tls/fullchain.pem (or remove tls to serve plain HTTP behind a TLS proxy)")
	key, keyOK := v.pemFile("tls.keyFile", t.KeyFile, "private key",
		"is required when tls is set; give the PEM private key of certFile, e.g. keyFile: /etc/switchboard/tls/privkey.pem")
	if certOK && keyOK {
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			v.add("tls", "certFile %q and keyFile %q do not load as a certificate and its private key (%v); give the PEM certificate chain in certFile and its own PEM private key in keyFile",
				t.CertFile, t.KeyFile, err)
		}
	}
	v.duration("tls.reloadInterval", t.ReloadInterval, minTLSReloadInterval, maxTLSReloadInterval)
}

// http checks the http block.
func (v *validator) http(h *HTTP) {
	v.duration("http.readHeaderTimeout", h.ReadHeaderTimeout, minReadHeaderTimeout, maxReadHeaderTimeout)
	if h.MaxHeaderBytes < minMaxHeaderBytes || h.MaxHeaderBytes > maxMaxHeaderBytes {
		v.add("http.maxHeaderBytes", "%s is out of range; use a size from %s to %s", h.MaxHeaderBytes, minMaxHeaderBytes, maxMaxHeaderBytes)
	}
	v.intRange("http.maxConnections", h.MaxConnections, 0, maxConnectionLimit)
}

// pemFile reads the file at path for field, a PEM file holding what
// (for the messages), and reports whether it could. required is the
// message for an empty path. Load has made a relative path relative to
// the configuration file's directory (and absolute); otherwise it is
// relative to the working directory.
func (v *validator) pemFile(field, path, what, required string) ([]byte, bool) {
	if path == "" {
		v.add(field, "%s", required)
		return nil, false
	}
	// Stat first: opening a FIFO would block.
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.add(field, "%q does not exist; fix the path (a relative path is relative to the configuration file's directory)", path)
		return nil, false
	case err != nil:
		v.add(field, "%q cannot be read (%v); fix the path or its permissions", path, unwrapPathError(err))
		return nil, false
	case !fi.Mode().IsRegular():
		v.add(field, "%q is not a regular file; name the file that holds the %s", path, what)
		return nil, false
	}
	f, err := os.Open(path)
	if err != nil {
		v.add(field, "%q cannot be read (%v); fix the path or its permissions", path, unwrapPathError(err))
		return nil, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFileBytes+1))
	switch {
	case err != nil:
		v.add(field, "%q cannot be read (%v); fix the path or its permissions", path, unwrapPathError(err))
		return nil, false
	case len(data) > maxPEMFileBytes:
		v.add(field, "%q is larger than %s; is this the %s?", path, ByteSize(maxPEMFileBytes), what)
		return nil, false
	}
	return data, true
}
