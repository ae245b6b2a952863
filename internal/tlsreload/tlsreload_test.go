package tlsreload

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair is a self-signed certificate for 127.0.0.1 and its key, in PEM.
type pair struct {
	cert, key []byte
	x509      *x509.Certificate
}

func newPair(t *testing.T, name string) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return pair{
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		x509: c,
	}
}

// writeInPlace rewrites a file's contents (same inode).
func writeInPlace(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// replace swaps in a new file by rename, as certbot and Kubernetes do.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	writeInPlace(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// logBuffer routes a Reloader's log to t.Logf and keeps it for checks.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.t.Logf("log: %s", bytes.TrimRight(p, "\n"))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// serve runs a TLS listener on loopback with the reloader's certificate;
// it completes each handshake and closes the connection.
func serve(t *testing.T, r *Reloader) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				// Wait for the client to hang up.
				_, _ = c.Read(make([]byte, 1))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// served connects trusting only the given certificates and returns the
// certificate the server presented.
func served(addr string, trusted ...*x509.Certificate) (*x509.Certificate, error) {
	pool := x509.NewCertPool()
	for _, c := range trusted {
		pool.AddCert(c)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	p1, p2, p3 := newPair(t, "first"), newPair(t, "second"), newPair(t, "third")
	writeInPlace(t, certFile, p1.cert)
	writeInPlace(t, keyFile, p1.key)

	logs := &logBuffer{t: t}
	r, err := New(certFile, keyFile, slog.New(slog.NewTextHandler(logs, nil)), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	addr := serve(t, r)

	got, err := served(addr, p1.x509)
	if err != nil {
		t.Fatalf("client trusting the first certificate: %v", err)
	}
	if !got.Equal(p1.x509) {
		t.Fatalf("served %q, want the first certificate", got.Subject.CommonName)
	}

	// Renewal by rename: new connections get the second certificate.
	replace(t, keyFile, p2.key)
	replace(t, certFile, p2.cert)
	waitFor(t, "the second certificate to be served", func() bool {
		got, err := served(addr, p1.x509, p2.x509)
		return err == nil && got.Equal(p2.x509)
	})
	if _, err := served(addr, p1.x509); err == nil {
		t.Fatal("a client trusting only the first certificate still connects")
	}
	if n := logs.count("TLS certificate reloaded"); n < 1 {
		t.Fatalf("no reload logged")
	}

	// A corrupt rewrite: logged, and the second certificate stays. (By
	// rename, so that the poller cannot see an empty file in between.)
	// The poller may have seen the renewal half done (the second key with
	// the first certificate) and logged that pair as not loading: count
	// from here.
	failed := logs.count("do not load")
	replace(t, certFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n"))
	waitFor(t, "the failed reload to be logged", func() bool { return logs.count("do not load") >= failed+1 })
	got, err = served(addr, p2.x509)
	if err != nil || !got.Equal(p2.x509) {
		t.Fatalf("after a corrupt rewrite: %v, %v; want the second certificate still served", got, err)
	}
	// It is not retried (nor logged) until the files change again.
	time.Sleep(50 * time.Millisecond)
	if n := logs.count("do not load") - failed; n != 1 {
		t.Fatalf("the failed reload was logged %d times, want once", n)
	}

	// Half a rotation (the new certificate before its key) keeps the old
	// pair; the key completes it.
	writeInPlace(t, certFile, p3.cert)
	waitFor(t, "the mismatched pair to be refused", func() bool { return logs.count("do not load") >= failed+2 })
	if got, err := served(addr, p2.x509); err != nil || !got.Equal(p2.x509) {
		t.Fatalf("with a mismatched pair: %v, %v; want the second certificate still served", got, err)
	}
	writeInPlace(t, keyFile, p3.key)
	waitFor(t, "the third certificate to be served", func() bool {
		got, err := served(addr, p3.x509)
		return err == nil && got.Equal(p3.x509)
	})
	if !r.Certificate().Leaf.Equal(p3.x509) {
		t.Fatal("Certificate does not return the third certificate")
	}

	// A file that goes missing is logged and the certificate kept.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the missing file to be logged", func() bool { return logs.count("cannot be checked") >= 1 })
	if got, err := served(addr, p3.x509); err != nil || !got.Equal(p3.x509) {
		t.Fatalf("with the key missing: %v, %v; want the third certificate still served", got, err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := newPair(t, "first"), newPair(t, "second")
	file := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		writeInPlace(t, path, data)
		return path
	}
	cert1, key1, key2 := file("1.crt", p1.cert), file("1.key", p1.key), file("2.key", p2.key)
	garbage := file("garbage", []byte("not PEM"))
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name, cert, key string
		interval        time.Duration
		want            string
	}{
		{"missing cert", missing, key1, 0, "no such file"},
		{"missing key", cert1, missing, 0, "no such file"},
		{"mismatched key", cert1, key2, 0, "does not match"},
		{"garbage cert", garbage, key1, 0, "failed to find any PEM data"},
		{"negative interval", cert1, key1, -time.Second, "interval"},
	} {
		r, err := New(tc.cert, tc.key, nil, tc.interval)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
		if r != nil {
			r.Close()
		}
	}
	if _, err := New(missing, key1, nil, 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v, want os.ErrNotExist", err)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	p := newPair(t, "only")
	certFile, keyFile := filepath.Join(dir, "c"), filepath.Join(dir, "k")
	writeInPlace(t, certFile, p.cert)
	writeInPlace(t, keyFile, p.key)
	r, err := New(certFile, keyFile, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.interval != DefaultInterval {
		t.Errorf("interval %v, want the default %v", r.interval, DefaultInterval)
	}
	r.Close()
	r.Close()
	if c, err := r.GetCertificate(nil); err != nil || !c.Leaf.Equal(p.x509) {
		t.Fatalf("after Close: %v, %v; want the certificate", c, err)
	}
}
