package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeCertPair writes a self-signed certificate and its key as PEM files
// name.crt and name.key in dir and returns their paths.
func writeCertPair(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"}, NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, []byte(pemBlock("CERTIFICATE", certDER)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(pemBlock("PRIVATE KEY", keyDER)), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestValidateListener breaks one rule of tls or http per case and
// expects exactly one problem, on the given field, whose message contains
// the fix.
func TestValidateListener(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writeCertPair(t, dir, "a")
	_, keyB := writeCertPair(t, dir, "b")
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, 1<<20+1), 0o644); err != nil {
		t.Fatal(err)
	}
	setTLS := func(f func(*TLS)) func(*Config) {
		return func(c *Config) {
			c.TLS = &TLS{CertFile: certA, KeyFile: keyA}
			f(c.TLS)
		}
	}

	tests := []struct {
		name   string
		break_ func(*Config)
		field  string
		fix    string
	}{
		{"certFile missing", setTLS(func(t *TLS) { t.CertFile = "" }), "tls.certFile", "is required when tls is set; give the PEM certificate chain"},
		{"keyFile missing", setTLS(func(t *TLS) { t.KeyFile = "" }), "tls.keyFile", "is required when tls is set; give the PEM private key of certFile"},
		{"certFile does not exist", setTLS(func(t *TLS) { t.CertFile = filepath.Join(dir, "nope.crt") }), "tls.certFile",
			`nope.crt" does not exist; fix the path (a relative path is relative to the configuration file's directory)`},
		{"keyFile is a directory", setTLS(func(t *TLS) { t.KeyFile = dir }), "tls.keyFile", "is not a regular file; name the file that holds the private key"},
		{"certFile too big", setTLS(func(t *TLS) { t.CertFile = big }), "tls.certFile", "is larger than 1MiB; is this the certificate chain?"},
		{"key of another certificate", setTLS(func(t *TLS) { t.KeyFile = keyB }), "tls",
			`keyFile "` + keyB + `" do not load as a certificate and its private key (tls: private key does not match public key)`},
		{"files swapped", setTLS(func(t *TLS) { t.CertFile, t.KeyFile = keyA, certA }), "tls", "do not load as a certificate and its private key"},
		{"empty certificate", setTLS(func(t *TLS) { t.CertFile = empty }), "tls", "certFile " + `"` + empty + `"`},
		{"reloadInterval short", setTLS(func(t *TLS) { t.ReloadInterval = ms(500) }), "tls.reloadInterval", "500ms is out of range; use a duration from 1s to 1h"},
		{"reloadInterval long", setTLS(func(t *TLS) { t.ReloadInterval = Duration(2 * time.Hour) }), "tls.reloadInterval", "from 1s to 1h"},

		{"readHeaderTimeout short", func(c *Config) { c.HTTP.ReadHeaderTimeout = ms(50) }, "http.readHeaderTimeout", "50ms is out of range; use a duration from 100ms to 5m"},
		{"readHeaderTimeout long", func(c *Config) { c.HTTP.ReadHeaderTimeout = Duration(6 * time.Minute) }, "http.readHeaderTimeout", "from 100ms to 5m"},
		{"metrics.listen not an address", func(c *Config) { c.Metrics.Listen = "9090" }, "metrics.listen", `"9090" is not host:port`},
		{"metrics.listen equals listen", func(c *Config) { c.Listen, c.Metrics.Listen = "127.0.0.1:8080", "127.0.0.1:8080" }, "metrics.listen", `"127.0.0.1:8080" is also listen`},
		{"maxHeaderBytes small", func(c *Config) { c.HTTP.MaxHeaderBytes = 8<<10 - 1 }, "http.maxHeaderBytes", "8191 is out of range; use a size from 8KiB to 1MiB"},
		{"maxHeaderBytes large", func(c *Config) { c.HTTP.MaxHeaderBytes = 2 << 20 }, "http.maxHeaderBytes", "2MiB is out of range"},
		{"maxConnections negative", func(c *Config) { c.HTTP.MaxConnections = -1 }, "http.maxConnections", "-1 is out of range; use a number from 0 to 10000000"},
		{"maxConnections large", func(c *Config) { c.HTTP.MaxConnections = 10_000_001 }, "http.maxConnections", "10000001 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase()
			tt.break_(c)
			err := c.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 {
				t.Fatalf("want exactly one problem, got:\n%s", ve)
			}
			p := ve.Problems[0]
			if p.Field != tt.field || !strings.Contains(p.Message, tt.fix) {
				t.Errorf("got  %s: %s\nwant %s: ...%s...", p.Field, p.Message, tt.field, tt.fix)
			}
		})
	}

	// An empty tls block reports both files, once each.
	c := validBase()
	c.TLS = &TLS{}
	var ve *ValidationError
	if err := c.Validate(); !errors.As(err, &ve) || len(ve.Problems) != 2 || ve.Problems[0].Field != "tls.certFile" || ve.Problems[1].Field != "tls.keyFile" {
		t.Errorf("empty tls: got %v, want tls.certFile and tls.keyFile required", err)
	}
}

func TestValidateListenerAccepts(t *testing.T) {
	certFile, keyFile := writeCertPair(t, t.TempDir(), "a")
	tests := []struct {
		name string
		set  func(*Config)
	}{
		{"tls", func(c *Config) { c.TLS = &TLS{CertFile: certFile, KeyFile: keyFile} }},
		{"tls with text around the PEM blocks", func(c *Config) {
			c.TLS = &TLS{CertFile: filepath.Join("testdata", "tls", "fullchain.pem"), KeyFile: filepath.Join("testdata", "tls", "privkey.pem")}
		}},
		{"tls reloadInterval bounds", func(c *Config) {
			c.TLS = &TLS{CertFile: certFile, KeyFile: keyFile, ReloadInterval: Duration(time.Hour)}
		}},
		{"http lower bounds", func(c *Config) { c.HTTP = HTTP{ReadHeaderTimeout: ms(100), MaxHeaderBytes: 8 << 10} }},
		{"http upper bounds", func(c *Config) {
			c.HTTP = HTTP{ReadHeaderTimeout: Duration(5 * time.Minute), MaxHeaderBytes: 1 << 20, MaxConnections: 10_000_000}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase()
			tt.set(c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestApplyDefaultsListener(t *testing.T) {
	c := &Config{TLS: &TLS{CertFile: "c", KeyFile: "k"}}
	c.ApplyDefaults()
	if want := (TLS{CertFile: "c", KeyFile: "k", ReloadInterval: sec(5)}); *c.TLS != want {
		t.Errorf("tls: got %+v, want %+v", *c.TLS, want)
	}
	if want := (HTTP{ReadHeaderTimeout: sec(10), MaxHeaderBytes: 16 << 10}); c.HTTP != want {
		t.Errorf("http: got %+v, want %+v", c.HTTP, want)
	}
	c = &Config{}
	c.ApplyDefaults()
	if c.TLS != nil {
		t.Errorf("defaults turned tls on: %+v", c.TLS)
	}
}

// TestFilePaths checks where relative tls and publicKeyFile paths are
// resolved: by Load against the file's directory (whatever the working
// directory), by Parse not at all.
func TestFilePaths(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "conf")
	if err := os.MkdirAll(filepath.Join(conf, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "elsewhere"), 0o755); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writeCertPair(t, filepath.Join(conf, "tls"), "server")
	pub := publicKeyPEM(t, &ecdsaKey(t, elliptic.P256()).PublicKey)
	if err := os.WriteFile(filepath.Join(conf, "es256.pem"), []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	file := func(cert, key, pub string) string {
		return "tls:\n  certFile: " + cert + "\n  keyFile: " + key + "\n" + minimal +
			"    auth:\n      jwt:\n        keys:\n          - algorithm: ES256\n            publicKeyFile: " + pub + "\n"
	}
	path := filepath.Join(conf, "switchboard.yaml")
	write := func(data string) {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Chdir(filepath.Join(root, "elsewhere"))
	write(file("tls/server.crt", "./tls/../tls/server.key", "es256.pem"))
	for _, p := range []string{path, filepath.Join("..", "conf", "switchboard.yaml")} {
		c, err := Load(p, nil)
		if err != nil {
			t.Errorf("Load(%q): %v", p, err)
			continue
		}
		got := []string{c.TLS.CertFile, c.TLS.KeyFile, c.APIs[0].Auth.JWT.Keys[0].PublicKeyFile}
		if diff := cmp.Diff([]string{certFile, keyFile, filepath.Join(conf, "es256.pem")}, got); diff != "" {
			t.Errorf("Load(%q) (-want +got):\n%s", p, diff)
		}
	}

	// The problems name the paths as resolved, at their lines.
	write(file("server.crt", keyFile, "keys/es256.pem"))
	_, err := Load(path, nil)
	want := path + ": 2 problems:\n" +
		"  " + path + `:2: tls.certFile: "` + filepath.Join(conf, "server.crt") + `" does not exist; fix the path (a relative path is relative to the configuration file's directory)` + "\n" +
		"  " + path + `:12: apis[0].auth.jwt.keys[0].publicKeyFile: "` + filepath.Join(conf, "keys", "es256.pem") + `" does not exist; fix the path (a relative path is relative to the configuration file's directory)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}

	// Parse has no file: the paths stay as written, relative to the
	// working directory.
	t.Chdir(conf)
	c, err := Parse("x.yaml", []byte(file("tls/server.crt", "tls/server.key", "es256.pem")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{c.TLS.CertFile, c.TLS.KeyFile, c.APIs[0].Auth.JWT.Keys[0].PublicKeyFile}; !cmp.Equal(got, []string{"tls/server.crt", "tls/server.key", "es256.pem"}) {
		t.Errorf("Parse: paths %q, want them as written", got)
	}
}

// TestProductionExample loads the secure production example that
// docs/configuration.md shows.
func TestProductionExample(t *testing.T) {
	const key = "backend-0123456789abcdef"
	c, err := Load(filepath.Join("testdata", "production.yaml"), envMap(map[string]string{"SWITCHBOARD_BACKEND_KEY": key}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS == nil || !filepath.IsAbs(c.TLS.CertFile) || c.TLS.ReloadInterval != sec(5) {
		t.Errorf("tls: %+v", c.TLS)
	}
	if c.Management.LoopbackAllowed() || len(c.Management.APIKeys) != 1 || c.Management.APIKeys[0].Key != key {
		t.Errorf("management: %+v", c.Management)
	}
	if c.HTTP.DemoEnabled() || c.Metrics.Listen != "127.0.0.1:9090" {
		t.Errorf("production serves the demo page (%v) or /metrics on the public listener (metrics.listen %q)", c.HTTP.DemoEnabled(), c.Metrics.Listen)
	}
	a := c.APIs[0]
	if j := a.Auth.JWT; j == nil || j.Algorithms[0] != "RS256" || j.Query != "token" || j.SubprotocolPrefix != "bearer." {
		t.Errorf("jwt defaults: %+v", j)
	}
	if l := a.Limits; l.MessageBurst != 40 || l.ConnectionBurst != 0 || l.MaxConnections != 0 {
		t.Errorf("limits: %+v", l)
	}
}
