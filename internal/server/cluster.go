package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/rueidis"

	"github.com/switchboardhq/switchboard/internal/config"
)

// redisOption translates the cluster section into the rueidis client's
// options (decision 0022: one client per node, no client-side caching).
// The mode is never guessed: single forces the one-server client, cluster
// the cluster client (rueidis would fall back to a single client on a
// non-cluster seed), sentinel asks the Sentinels for the master.
func redisOption(c *config.Cluster) (rueidis.ClientOption, error) {
	r := c.Redis
	o := rueidis.ClientOption{
		InitAddress:  append([]string(nil), r.Addresses...),
		Username:     r.Username,
		Password:     r.Password,
		DisableCache: true,
		ClientName:   "switchboard",
	}
	o.Dialer.Timeout = r.DialTimeout.Std()
	o.Dialer.KeepAlive = time.Second
	// A connection that answers nothing for a command timeout is dropped
	// and redialled: that, not the kernel's keepalive (10 s by default),
	// is what notices a dead master first.
	o.ConnWriteTimeout = r.CommandTimeout.Std()
	switch r.Mode {
	case "single":
		o.ForceSingleClient = true
	case "cluster":
		o.ShuffleInit = true
	case "sentinel":
		o.Sentinel = rueidis.SentinelOption{
			MasterSet: r.Sentinel.MasterName,
			Username:  r.Sentinel.Username,
			Password:  r.Sentinel.Password,
		}
	default:
		return rueidis.ClientOption{}, fmt.Errorf("cluster.redis.mode %q: want single, cluster or sentinel", r.Mode)
	}
	if r.TLS != nil {
		tc, err := redisTLS(r.TLS)
		if err != nil {
			return rueidis.ClientOption{}, err
		}
		o.TLSConfig = tc
		if r.Mode == "sentinel" {
			o.Sentinel.TLSConfig = tc
		}
	}
	return o, nil
}

// redisTLS is the client side of TLS to Redis: the servers' certificates
// are always verified (validation refuses insecureSkipVerify).
func redisTLS(t *config.RedisTLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.redis.tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("cluster.redis.tls.caFile " + t.CAFile + ": no PEM certificate in it")
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.redis.tls: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
