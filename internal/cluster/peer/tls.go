package peer

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// LoadTLS reads the files of cluster.internal.tls (certFile, keyFile,
// caFile, serverName) and returns the pair of mutual-TLS configurations:
// the server presents the certificate and requires a client certificate
// signed by a CA of caFile; the client presents the same certificate and
// verifies the peer against caFile and serverName ("" : the host of the
// peer's advertise address).
func LoadTLS(certFile, keyFile, caFile, serverName string) (*TLS, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster.internal.tls: certificate and key: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cluster.internal.tls.caFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster.internal.tls.caFile: %s holds no PEM certificate", caFile)
	}
	return NewTLS(cert, pool, serverName), nil
}

// NewTLS is LoadTLS with the certificate and the CA pool in hand.
func NewTLS(cert tls.Certificate, cas *x509.CertPool, serverName string) *TLS {
	return &TLS{
		Server: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    cas,
			NextProtos:   []string{"http/1.1"},
		},
		Client: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			RootCAs:      cas,
			ServerName:   serverName,
			NextProtos:   []string{"http/1.1"},
		},
	}
}
