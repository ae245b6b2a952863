package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/peer"
	redcluster "github.com/switchboardhq/switchboard/internal/cluster/redis"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/hub"
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

// clusterNode is this process's membership of a cluster: the Redis
// client, the node's seams on it, and the internal endpoint (decision
// 0024). Nil on a lone node.
type clusterNode struct {
	log    *slog.Logger
	client rueidis.Client
	node   *redcluster.Node
	fwd    *peer.Client
	srv    *peer.Server
	ln     net.Listener
	// peerOptions are the client's, reused by the server.
	peerOptions peer.Options
}

// peerErrors are the sentinel errors a forwarded call carries back by
// name: every error the gateway's local methods return that the
// management API renders differently. The list must be the same on every
// node (it is part of the binary).
var peerErrors = []error{
	gateway.ErrGone, gateway.ErrNoSuchStage, gateway.ErrPayloadTooLarge,
	gateway.ErrInvalidConnectionID, gateway.ErrInvalidCursor,
	hub.ErrInvalidChannel, hub.ErrNoNamespace, hub.ErrInvalidUser,
	hub.ErrTooManyChannels, hub.ErrAlreadySubscribed, hub.ErrNoHistory,
	hub.ErrNoPresence, hub.ErrMemberGone, gateway.ErrShuttingDown,
}

// joinCluster connects to Redis, takes this node's lease and opens the
// internal listener. The gateway's Local is attached by serveLocal once
// the gateway exists. Any failure here stops serve: a node that cannot
// reach Redis must not start as a lone node.
func joinCluster(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*clusterNode, cluster.Seams, error) {
	c := cfg.Cluster
	opt, err := redisOption(c)
	if err != nil {
		return nil, cluster.Seams{}, err
	}
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, cluster.Seams{}, fmt.Errorf("cluster: connect to Redis (%s %s): %w", c.Redis.Mode, strings.Join(c.Redis.Addresses, ", "), err)
	}
	cn := &clusterNode{log: log, client: client}
	fail := func(err error) (*clusterNode, cluster.Seams, error) {
		cn.close()
		return nil, cluster.Seams{}, err
	}
	cn.node, err = redcluster.New(redcluster.Options{
		Client:         client,
		Prefix:         c.Redis.KeyPrefix,
		NodeID:         c.NodeID,
		Advertise:      c.Internal.Advertise,
		Lease:          c.Lease.Std(),
		Renewal:        c.LeaseRenewal.Std(),
		CommandTimeout: c.Redis.CommandTimeout.Std(),
		Logger:         log,
	})
	if err != nil {
		return fail(fmt.Errorf("cluster: %w", err))
	}
	self := cn.node.Registry().Self()
	jctx, cancel := context.WithTimeout(context.Background(), c.Redis.DialTimeout.Std()+c.Redis.CommandTimeout.Std())
	defer cancel()
	if err := cn.node.Registry().Join(jctx); err != nil {
		return fail(fmt.Errorf("cluster: join: %w", err))
	}
	pm, err := peer.NewMetrics(reg)
	if err != nil {
		return fail(err)
	}
	po := peer.Options{
		Self:    func() string { return self.Incarnation },
		Secret:  c.Internal.Secret,
		Errors:  peerErrors,
		MaxBody: int64(maxPostBytes(cfg)) + peer.Overhead,
		Metrics: pm,
		Logger:  log,
	}
	if t := c.Internal.TLS; t != nil {
		if po.TLS, err = peer.LoadTLS(t.CertFile, t.KeyFile, t.CAFile, t.ServerName); err != nil {
			return fail(fmt.Errorf("cluster.internal.tls: %w", err))
		}
	}
	if cn.fwd, err = peer.NewClient(po); err != nil {
		return fail(fmt.Errorf("cluster: %w", err))
	}
	if cn.ln, err = net.Listen("tcp", c.Internal.Listen); err != nil {
		return fail(fmt.Errorf("cluster.internal.listen on %s: %w", c.Internal.Listen, err))
	}
	cn.peerOptions = po
	log.Info("joined the cluster", "node", self.ID, "incarnation", self.Incarnation,
		"redis", c.Redis.Mode, "internal", cn.ln.Addr().String(), "advertise", c.Internal.Advertise)
	return cn, cluster.Seams{
		Registry:  cn.node.Registry(),
		Bus:       cn.node.Bus(),
		Presence:  cn.node.Presence(),
		Forwarder: cn.fwd,
		History:   cn.node.History,
	}, nil
}

// maxPostBytes is the largest maxMessageBytes of any API: what a
// forwarded post may carry.
func maxPostBytes(cfg *config.Config) int {
	n := 0
	for _, a := range cfg.APIs {
		n = max(n, a.Limits.MaxMessageBytes.Int())
	}
	return n
}

// serve starts the internal endpoint on the gateway's Local.
func (cn *clusterNode) serve(local cluster.Local) error {
	srv, err := peer.NewServer(local, cn.peerOptions)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	cn.srv = srv
	go func() {
		if err := srv.Serve(cn.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cn.log.Error("cluster internal endpoint stopped", "err", err)
		}
	}()
	return nil
}

// close stops the internal endpoint, the node's background work and the
// Redis client. The lease was given up (Leave) by the gateway's drain, or
// is left to lapse.
func (cn *clusterNode) close() {
	if cn == nil {
		return
	}
	if cn.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cn.srv.Shutdown(ctx)
		cancel()
	} else if cn.ln != nil {
		cn.ln.Close()
	}
	if cn.fwd != nil {
		cn.fwd.Close()
	}
	if cn.node != nil {
		cn.node.Close()
	}
	cn.client.Close()
}
