package peer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/clustertest"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

var serial struct {
	sync.Mutex
	n int64
}

// leaf returns a certificate for 127.0.0.1, usable as server and client,
// and its PEM encodings.
func (ca *testCA) leaf(t testing.TB) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial.Lock()
	serial.n++
	sn := serial.n + 1
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: "node"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c, certPEM, keyPEM
}

// tlsFor returns a node's TLS pair under ca, loaded from files as serve
// would (LoadTLS).
func (ca *testCA) tlsFor(t testing.TB) *TLS {
	t.Helper()
	_, certPEM, keyPEM := ca.leaf(t)
	dir := t.TempDir()
	files := map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM, "ca.pem": ca.pem}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := LoadTLS(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testLogger routes logs to t.Logf.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

// node is one served node of a test.
type node struct {
	node cluster.Node
	srv  *Server
	cli  *Client
	opts Options
	done chan error // Serve's result

	once     sync.Once
	serveErr error
}

// stop closes the node's server and waits for Serve to return (so its
// listener is closed); it returns Serve's error.
func (n *node) stop() error {
	n.srv.Close()
	n.once.Do(func() { n.serveErr = <-n.done })
	return n.serveErr
}

// mode says how the nodes of a test authenticate each other.
type mode struct {
	secret, mtls bool
}

// startNodes serves locals on loopback listeners, one node each.
func startNodes(t testing.TB, m mode, locals []cluster.Local, errs []error, edit func(*Options)) []*node {
	t.Helper()
	var ca *testCA
	if m.mtls {
		ca = newCA(t, "cluster CA")
	}
	nodes := make([]*node, len(locals))
	for i, l := range locals {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		inc := cluster.NewIncarnation()
		o := Options{Self: func() string { return inc }, Errors: errs, Logger: testLogger(t)}
		if m.secret {
			o.Secret = testSecret
		}
		if m.mtls {
			o.TLS = ca.tlsFor(t)
		}
		if edit != nil {
			edit(&o)
		}
		srv, err := NewServer(l, o)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := NewClient(o)
		if err != nil {
			t.Fatal(err)
		}
		n := &node{
			node: cluster.Node{Incarnation: inc, ID: fmt.Sprintf("n%d", i), Advertise: ln.Addr().String(), StartedAt: time.Now()},
			srv:  srv, cli: cli, opts: o, done: make(chan error, 1),
		}
		go func() { n.done <- srv.Serve(ln) }()
		t.Cleanup(func() {
			cli.Close()
			if err := n.stop(); !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		})
		nodes[i] = n
	}
	return nodes
}

// hang replaces the server at addr by a listener that accepts connections
// and never answers.
func hang(t testing.TB, n *node) {
	t.Helper()
	n.stop()
	ln, err := net.Listen("tcp", n.node.Advertise)
	if err != nil {
		t.Fatalf("listen again on %s: %v", n.node.Advertise, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}

func factory(m mode) clustertest.ForwarderFactory {
	return func(t *testing.T, locals []cluster.Local, errs []error) clustertest.ForwarderCluster {
		nodes := startNodes(t, m, locals, errs, nil)
		c := clustertest.ForwarderCluster{
			Stop: func(i int) { nodes[i].stop() },
			Hang: func(i int) { hang(t, nodes[i]) },
		}
		for _, n := range nodes {
			c.Nodes = append(c.Nodes, n.node)
			c.Forwarders = append(c.Forwarders, n.cli)
		}
		return c
	}
}
