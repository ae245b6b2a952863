package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/clustertest"
)

// rawCall sends body to op of n with the headers edit sets, over plain
// HTTP, and returns the status.
func rawCall(t *testing.T, n *node, method, path string, body []byte, edit func(h http.Header)) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.node.Advertise+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// postBody is a valid post call addressed to n.
func postBody(n *node) []byte {
	return appendRequest(nil, &request{Op: opPost, Target: n.node.Incarnation, Stage: "prod", ID: "id", Data: []byte("hello")})
}

// signed returns a header editor that signs body as sender at now with
// secret.
func signed(secret string, path string, body []byte, now time.Time) func(http.Header) {
	return func(h http.Header) { sign(h, []byte(secret), http.MethodPost, path, "0a0b0c0d", now, body) }
}

// A request without a valid, fresh signature is refused with 401 before the
// Local sees anything; the same request correctly signed goes through (so
// the refusals are the signature's doing).
func TestSignatureRefused(t *testing.T) {
	l := clustertest.NewFakeLocal()
	n := startNodes(t, mode{secret: true}, []cluster.Local{l}, nil, nil)[0]
	path := Path + "post"
	body := postBody(n)
	now := time.Now()
	for _, tc := range []struct {
		name string
		edit func(http.Header)
	}{
		{"missing", nil},
		{"no signature", func(h http.Header) { signed(testSecret, path, body, now)(h); h.Del(headerSignature) }},
		{"no date", func(h http.Header) { signed(testSecret, path, body, now)(h); h.Del(headerDate) }},
		{"no node", func(h http.Header) { signed(testSecret, path, body, now)(h); h.Del(headerNode) }},
		{"bad signature", func(h http.Header) {
			signed(testSecret, path, body, now)(h)
			s := []byte(h.Get(headerSignature))
			s[0] ^= 1
			h.Set(headerSignature, string(s))
		}},
		{"wrong secret", signed(strings.Repeat("x", 40), path, body, now)},
		{"stale", signed(testSecret, path, body, now.Add(-MaxSkew-time.Second))},
		{"future", signed(testSecret, path, body, now.Add(MaxSkew+time.Second))},
		{"other path", signed(testSecret, Path+"delete", body, now)},
		{"other body", signed(testSecret, path, append(bytes.Clone(body), 0), now)},
		{"other sender", func(h http.Header) { signed(testSecret, path, body, now)(h); h.Set(headerNode, "ffffffff") }},
		{"bad date", func(h http.Header) { signed(testSecret, path, body, now)(h); h.Set(headerDate, "yesterday") }},
	} {
		if got := rawCall(t, n, http.MethodPost, path, body, tc.edit); got != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tc.name, got)
		}
	}
	if calls := l.Calls(); len(calls) != 0 {
		t.Fatalf("the Local received %d calls from refused requests", len(calls))
	}
	if got := rawCall(t, n, http.MethodPost, path, body, signed(testSecret, path, body, now)); got != http.StatusOK {
		t.Fatalf("a correctly signed request: status %d, want 200", got)
	}
	if calls := l.Calls(); len(calls) != 1 {
		t.Fatalf("the Local received %d calls, want 1", len(calls))
	}
}

// A client with another secret gets ErrUnavailable (and ErrUnauthorized);
// so does one whose clock is off by more than MaxSkew.
func TestClientWrongSecretOrClock(t *testing.T) {
	l := clustertest.NewFakeLocal()
	n := startNodes(t, mode{secret: true}, []cluster.Local{l}, nil, nil)[0]
	for name, o := range map[string]Options{
		"wrong secret": {Self: n.opts.Self, Secret: strings.Repeat("y", 40)},
		"slow clock":   {Self: n.opts.Self, Secret: testSecret, Now: func() time.Time { return time.Now().Add(-time.Minute) }},
	} {
		c, err := NewClient(o)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Post(context.Background(), n.node, "prod", "id", nil)
		if !errors.Is(err, cluster.ErrUnavailable) || !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: %v, want ErrUnavailable and ErrUnauthorized", name, err)
		}
		c.Close()
	}
	if calls := l.Calls(); len(calls) != 0 {
		t.Fatalf("the Local received %d calls", len(calls))
	}
}

// Over mutual TLS, a client whose certificate another CA signed, a client
// without a certificate, and plain HTTP are all refused before the Local
// sees anything; a client that does not trust the server's CA refuses the
// server.
func TestClientCertificateRefused(t *testing.T) {
	l := clustertest.NewFakeLocal()
	n := startNodes(t, mode{secret: true, mtls: true}, []cluster.Local{l}, nil, nil)[0]
	other := newCA(t, "another CA")
	otherCert, _, _ := other.leaf(t)
	good := n.opts.TLS.Client

	// Certificate of another CA, server trusted.
	foreign := good.Clone()
	foreign.Certificates = []tls.Certificate{otherCert}
	// No certificate at all.
	anonymous := good.Clone()
	anonymous.Certificates = nil
	// Not trusting the cluster's CA (the server is an impostor to it).
	distrust := good.Clone()
	distrust.RootCAs = other.pool

	for name, cfg := range map[string]*tls.Config{"foreign certificate": foreign, "no certificate": anonymous, "server not trusted": distrust} {
		o := n.opts
		o.TLS = &TLS{Server: n.opts.TLS.Server, Client: cfg}
		c, err := NewClient(o)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Post(context.Background(), n.node, "prod", "id", []byte("x"))
		if !errors.Is(err, cluster.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
		c.Close()
	}
	// Plain HTTP with a valid signature.
	path := Path + "post"
	body := postBody(n)
	req, _ := http.NewRequest(http.MethodPost, "http://"+n.node.Advertise+path, bytes.NewReader(body))
	signed(testSecret, path, body, time.Now())(req.Header)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP to the mTLS endpoint was served")
		}
	}
	if calls := l.Calls(); len(calls) != 0 {
		t.Fatalf("the Local received %d calls from refused clients", len(calls))
	}
	// The control: the node's own client goes through.
	if err := n.cli.Post(context.Background(), n.node, "prod", "id", []byte("x")); err != nil {
		t.Fatalf("a client of the cluster's CA: %v", err)
	}
}

// Requests that are not a call get a clear 4xx and never reach the Local.
func TestBadRequests(t *testing.T) {
	l := clustertest.NewFakeLocal()
	n := startNodes(t, mode{secret: true}, []cluster.Local{l}, nil, func(o *Options) { o.MaxBody = 4096 })[0]
	now := time.Now()
	good := postBody(n)
	big := appendRequest(nil, &request{Op: opPost, Target: n.node.Incarnation, Stage: "prod", ID: "id", Data: make([]byte, 5000)})
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		want               int
	}{
		{"GET", http.MethodGet, Path + "post", nil, http.StatusMethodNotAllowed},
		{"unknown op", http.MethodPost, Path + "publish", good, http.StatusNotFound},
		{"outside the prefix", http.MethodPost, "/post", good, http.StatusNotFound},
		{"query", http.MethodPost, Path + "post?x=1", good, http.StatusNotFound},
		{"too large", http.MethodPost, Path + "post", big, http.StatusRequestEntityTooLarge},
		{"empty", http.MethodPost, Path + "post", nil, http.StatusBadRequest},
		{"truncated", http.MethodPost, Path + "post", good[:len(good)-2], http.StatusBadRequest},
		{"trailing", http.MethodPost, Path + "post", append(bytes.Clone(good), 1), http.StatusBadRequest},
		{"version", http.MethodPost, Path + "post", append([]byte{9}, good[1:]...), http.StatusBadRequest},
		{"get body to list", http.MethodPost, Path + "list", appendRequest(nil, &request{Op: opGet, Target: n.node.Incarnation, Stage: "p", ID: strings.Repeat("i", 30)}), http.StatusBadRequest},
	} {
		path, _, _ := strings.Cut(tc.path, "?")
		got := rawCall(t, n, tc.method, tc.path, tc.body, func(h http.Header) {
			sign(h, []byte(testSecret), http.MethodPost, path, "0a0b0c0d", now, tc.body)
		})
		if got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	// Too large without a Content-Length (chunked), correctly signed.
	req, _ := http.NewRequest(http.MethodPost, "http://"+n.node.Advertise+Path+"post", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	signed(testSecret, Path+"post", big, now)(req.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("too large, chunked: status %d, want 413", resp.StatusCode)
	}
	if calls := l.Calls(); len(calls) != 0 {
		t.Fatalf("the Local received %d calls from bad requests", len(calls))
	}
	// The client reports a too large body as refused (an internal error).
	err = n.cli.Post(context.Background(), n.node, "prod", "id", make([]byte, 5000))
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("Post above MaxBody: %v, want ErrRefused", err)
	}
}

// A client's cap (Options.Timeout) bounds a call whose context has no
// deadline.
func TestClientTimeoutCap(t *testing.T) {
	n := startNodes(t, mode{secret: true}, []cluster.Local{clustertest.NewFakeLocal()}, nil, nil)[0]
	hang(t, n)
	o := n.opts
	o.Timeout = 100 * time.Millisecond
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Delete(context.Background(), n.node, "prod", "id") }()
	select {
	case err := <-done:
		if !errors.Is(err, cluster.ErrUnavailable) {
			t.Fatalf("Delete to a silent peer: %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Delete to a silent peer did not return: the timeout cap is not applied")
	}
}

// An error code the client does not know (a newer node's sentinel) and a
// panic of the Local are internal errors (ErrRemote) carrying the owner's
// message; the server keeps serving after the panic.
func TestUnknownCodeAndPanic(t *testing.T) {
	newer := errors.New("a sentinel only the newer node knows")
	l := clustertest.NewFakeLocal()
	n := startNodes(t, mode{secret: true}, []cluster.Local{l, &panicky{}}, nil, nil)
	srv, err := NewServer(l, Options{Self: n[0].opts.Self, Secret: testSecret, Errors: []error{newer}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	l.Fail(newer)
	to := n[0].node
	to.Advertise = ln.Addr().String()
	err = n[1].cli.Post(context.Background(), to, "prod", "id", nil)
	if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), newer.Error()) {
		t.Fatalf("an unknown code: %v, want ErrRemote with the owner's message", err)
	}
	for range 2 {
		err = n[0].cli.Post(context.Background(), n[1].node, "prod", "id", nil)
		if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("a panicking Local: %v, want ErrRemote with the panic", err)
		}
	}
}

type panicky struct{ clustertest.FakeLocal }

func (*panicky) Post(context.Context, string, string, []byte) error { panic("boom") }

// Options are checked at construction.
func TestOptionsRefused(t *testing.T) {
	self := func() string { return "0a0b0c0d" }
	for name, o := range map[string]Options{
		"no self":          {Secret: testSecret},
		"no credentials":   {Self: self},
		"half TLS":         {Self: self, TLS: &TLS{}},
		"nil error":        {Self: self, Secret: testSecret, Errors: []error{nil}},
		"same text":        {Self: self, Secret: testSecret, Errors: []error{errors.New("x"), errors.New("x")}},
		"internal":         {Self: self, Secret: testSecret, Errors: []error{errors.New("internal")}},
		"newline":          {Self: self, Secret: testSecret, Errors: []error{errors.New("a\nb")}},
		"clash w/ cluster": {Self: self, Secret: testSecret, Errors: []error{errors.New(cluster.ErrNodeGone.Error())}},
	} {
		if _, err := NewClient(o); err == nil {
			t.Errorf("%s: NewClient accepted the options", name)
		}
		if _, err := NewServer(clustertest.NewFakeLocal(), o); err == nil {
			t.Errorf("%s: NewServer accepted the options", name)
		}
	}
	if _, err := NewServer(nil, Options{Self: self, Secret: testSecret}); err == nil {
		t.Error("NewServer accepted a nil Local")
	}
	if _, err := NewClient(Options{Self: self, Secret: testSecret, Errors: []error{cluster.ErrNodeGone}}); err != nil {
		t.Errorf("a cluster error listed again: %v", err)
	}
}

// LoadTLS names the file it could not use.
func TestLoadTLSErrors(t *testing.T) {
	if _, err := LoadTLS("/nonexistent/cert.pem", "/nonexistent/key.pem", "/nonexistent/ca.pem", ""); err == nil || !strings.Contains(err.Error(), "certificate and key") {
		t.Errorf("missing certificate: %v", err)
	}
	ca := newCA(t, "ca")
	p := ca.tlsFor(t)
	if p.Server.ClientAuth != tls.RequireAndVerifyClientCert || p.Client.RootCAs == nil || len(p.Client.Certificates) != 1 {
		t.Errorf("LoadTLS built %+v", p)
	}
}
