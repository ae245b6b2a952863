package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Values and bounds of the cluster section.
var redisModes = []string{"single", "cluster", "sentinel"}

const (
	minClusterLease     = 2 * time.Second
	maxClusterLease     = 5 * time.Minute
	minLeaseRenewal     = 100 * time.Millisecond
	maxLeaseRenewal     = time.Minute
	minRedisTimeout     = 100 * time.Millisecond
	maxRedisTimeout     = time.Minute
	maxRedisAddresses   = 64
	maxKeyPrefixLen     = 64
	maxNodeIDLen        = 64
	minClusterSecretLen = 32
)

// cluster checks the cluster section, if any, against the rest of c (its
// listeners).
func (v *validator) cluster(c *Config) {
	cl := c.Cluster
	if cl == nil {
		return
	}
	if id := cl.NodeID; id != "" {
		if len(id) > maxNodeIDLen || strings.IndexFunc(id, func(r rune) bool { return !isNameRune(r) && r != '.' }) >= 0 {
			v.add("cluster.nodeId", "%q is not a node id; use at most %d letters, digits, '.', '-' and '_' (such as the host or pod name), or leave it out to use a random id made at every start", id, maxNodeIDLen)
		}
	}
	v.duration("cluster.lease", cl.Lease, minClusterLease, maxClusterLease)
	v.duration("cluster.leaseRenewal", cl.LeaseRenewal, minLeaseRenewal, maxLeaseRenewal)
	if cl.Lease <= 2*cl.LeaseRenewal {
		v.add("cluster.leaseRenewal", "%s is too long for cluster.lease %s: the lease must be more than twice the renewal interval, so that one failed renewal does not lose it; shorten leaseRenewal (or leave it out for lease/3) or lengthen lease",
			fmtDuration(cl.LeaseRenewal), fmtDuration(cl.Lease))
	}
	v.redis(&cl.Redis, cl.Lease)
	v.clusterInternal(&cl.Internal, c)
}

// redis checks cluster.redis; lease is the node lease, which a command
// timeout must stay below.
func (v *validator) redis(r *Redis, lease Duration) {
	const f = "cluster.redis"
	modeOK := false
	if r.Mode == "" {
		hint := "cluster for a Redis Cluster (addresses are seed nodes), single for one Redis server, or sentinel for Redis Sentinel (addresses are the Sentinels; set sentinel.masterName)"
		v.add(f+".mode", "is required; use %s. It is never guessed from the addresses, because each mode reads them differently", hint)
	} else {
		modeOK = v.oneOf(f+".mode", r.Mode, "a Redis mode", redisModes)
	}

	switch {
	case len(r.Addresses) == 0:
		v.add(f+".addresses", "is required; list the Redis addresses as host:port, such as [\"10.0.0.1:6379\"]")
	case len(r.Addresses) > maxRedisAddresses:
		v.add(f+".addresses", "lists %d addresses; list at most %d (a Redis Cluster needs only a few seed nodes: the rest is discovered)", len(r.Addresses), maxRedisAddresses)
	case modeOK && r.Mode == "single" && len(r.Addresses) > 1:
		v.add(f+".addresses", "lists %d addresses, but mode single uses one server; list one address, or use mode cluster (a Redis Cluster) or sentinel (Redis Sentinel)", len(r.Addresses))
	}
	for i, a := range r.Addresses {
		field := joinIndex(f+".addresses", i)
		if msg := checkDialAddress(a, "6379"); msg != "" {
			v.add(field, "%s", msg)
		} else if slices.Index(r.Addresses[:i], a) >= 0 {
			v.add(field, "%q is listed twice; list each address once", a)
		}
	}
	if r.Username != "" && r.Password == "" {
		v.add(f+".username", "needs password: an ACL user authenticates with both; set password (read it with ${NAME}), or leave username out to use the default user")
	}

	s := r.Sentinel
	switch {
	case modeOK && r.Mode == "sentinel":
		switch {
		case s.MasterName == "":
			v.add(f+".sentinel.masterName", "is required in mode sentinel; give the name the Sentinels monitor the master under (sentinel monitor <name> ...), such as mymaster")
		case hasSpaceOrControl(s.MasterName):
			v.add(f+".sentinel.masterName", "%q contains spaces or control characters; give the name the Sentinels monitor the master under, such as mymaster", s.MasterName)
		}
		if s.Username != "" && s.Password == "" {
			v.add(f+".sentinel.username", "needs sentinel.password; set it, or leave sentinel.username out")
		}
	case modeOK && s != (RedisSentinel{}):
		v.add(f+".sentinel", "is only for mode sentinel; remove it, or set mode: sentinel")
	}

	if t := r.TLS; t != nil {
		if t.InsecureSkipVerify {
			v.add(f+".tls.insecureSkipVerify", "is refused: without verification anyone who answers on the address gets the cluster's state and can inject publications; give caFile with the CA that signed the servers' certificates (and serverName if they do not carry the address's host)")
		}
		if t.CAFile != "" {
			v.caFile(f+".tls.caFile", t.CAFile)
		}
		switch {
		case t.CertFile != "" && t.KeyFile != "":
			v.keyPair(f+".tls", t.CertFile, t.KeyFile)
		case t.CertFile != "":
			v.add(f+".tls.keyFile", "is required with certFile; give the PEM private key of the client certificate")
		case t.KeyFile != "":
			v.add(f+".tls.certFile", "is required with keyFile; give the PEM client certificate of that key")
		}
		if t.ServerName != "" {
			if msg := checkHost(t.ServerName); msg != "" {
				v.add(f+".tls.serverName", "%q %s; give the DNS name the servers' certificates carry", t.ServerName, msg)
			}
		}
	}

	switch p := r.KeyPrefix; {
	case len(p) > maxKeyPrefixLen:
		v.add(f+".keyPrefix", "is %d bytes; use at most %d, such as \"switchboard:\"", len(p), maxKeyPrefixLen)
	case strings.ContainsAny(p, "{}"):
		v.add(f+".keyPrefix", "%q contains '{' or '}', which would change the Redis Cluster hash tags that keep a channel's keys in one slot; remove them, such as \"switchboard:\"", p)
	case hasSpaceOrControl(p):
		v.add(f+".keyPrefix", "%q contains spaces or control characters; use printable characters, such as \"switchboard:\"", p)
	}
	v.duration(f+".dialTimeout", r.DialTimeout, minRedisTimeout, maxRedisTimeout)
	v.duration(f+".commandTimeout", r.CommandTimeout, minRedisTimeout, maxRedisTimeout)
	if r.CommandTimeout >= lease {
		v.add(f+".commandTimeout", "%s is not shorter than cluster.lease (%s): a lease renewal that may take longer than the lease cannot keep it; shorten commandTimeout or lengthen lease",
			fmtDuration(r.CommandTimeout), fmtDuration(lease))
	}
}

// clusterInternal checks cluster.internal against the process's other
// listeners.
func (v *validator) clusterInternal(in *ClusterInternal, c *Config) {
	const f = "cluster.internal"
	if in.Advertise == "" {
		v.add(f+".advertise", "is required; give the host:port other nodes reach this node's internal endpoint on, such as \"10.0.0.5:8081\" (in Kubernetes, \"${POD_IP}:8081\")")
	} else if msg := checkDialAddress(in.Advertise, "8081"); msg != "" {
		v.add(f+".advertise", "%s", msg)
	} else if host, _, _ := net.SplitHostPort(in.Advertise); isWildcard(host) {
		v.add(f+".advertise", "%q is a wildcard address, which other nodes cannot dial; give this node's own address on the network the nodes share, such as \"10.0.0.5:8081\"", in.Advertise)
	}

	if in.Listen != "" {
		if msg := checkListen(in.Listen); msg != "" {
			v.add(f+".listen", "%s", msg)
		} else if _, port, _ := net.SplitHostPort(in.Listen); port == "0" {
			v.add(f+".listen", "port 0 picks a random port, which other nodes cannot know; give the port of cluster.internal.advertise, such as \":8081\"")
		} else {
			for _, o := range []struct{ field, addr string }{{"listen", c.Listen}, {"metrics.listen", c.Metrics.Listen}} {
				if sameListener(in.Listen, o.addr) {
					v.add(f+".listen", "%q is also %s (%q); give the internal endpoint a port of its own, such as \":8081\"", in.Listen, o.field, o.addr)
				}
			}
		}
	}

	if in.Secret == "" && in.TLS == nil {
		v.add(f+".secret", "is required unless cluster.internal.tls is set: calls between nodes must be authenticated; set secret to the same random value on every node (read it with ${NAME}; make one with `openssl rand -hex 32`), or configure mutual TLS in cluster.internal.tls")
	}
	switch s := in.Secret; {
	case s == "":
	case hasSpaceOrControl(s):
		v.add(f+".secret", "contains spaces or control characters; use a random string such as the output of `openssl rand -hex 32`")
	case len(s) < minClusterSecretLen:
		v.add(f+".secret", "is %d characters; use at least %d, such as the output of `openssl rand -hex 32` (read it from the environment with ${NAME})", len(s), minClusterSecretLen)
	}
	if t := in.TLS; t != nil {
		cert, certOK := v.pemFile(f+".tls.certFile", t.CertFile, "certificate chain",
			"is required with cluster.internal.tls; give this node's PEM certificate chain (used as server and as client)")
		key, keyOK := v.pemFile(f+".tls.keyFile", t.KeyFile, "private key",
			"is required with cluster.internal.tls; give the PEM private key of certFile")
		if certOK && keyOK {
			if _, err := tls.X509KeyPair(cert, key); err != nil {
				v.add(f+".tls", "certFile %q and keyFile %q do not load as a certificate and its private key (%v); give the PEM certificate chain in certFile and its own PEM private key in keyFile", t.CertFile, t.KeyFile, err)
			}
		}
		if t.CAFile == "" {
			v.add(f+".tls.caFile", "is required with cluster.internal.tls; give the PEM certificate of the CA that signs every node's certificate (peers signed by another CA are refused)")
		} else {
			v.caFile(f+".tls.caFile", t.CAFile)
		}
		if t.ServerName != "" {
			if msg := checkHost(t.ServerName); msg != "" {
				v.add(f+".tls.serverName", "%q %s; give the DNS name every node's certificate carries, or leave it out to check the host of each peer's advertise address", t.ServerName, msg)
			}
		}
	}
}

// caFile checks that path holds at least one PEM certificate.
func (v *validator) caFile(field, path string) {
	data, ok := v.pemFile(field, path, "CA certificates", "")
	if ok && !x509.NewCertPool().AppendCertsFromPEM(data) {
		v.add(field, "%q holds no PEM certificate; give the PEM certificate of the CA (-----BEGIN CERTIFICATE-----)", path)
	}
}

// keyPair checks a client certificate and key under field (a tls block).
func (v *validator) keyPair(field, certFile, keyFile string) {
	cert, certOK := v.pemFile(field+".certFile", certFile, "certificate", "")
	key, keyOK := v.pemFile(field+".keyFile", keyFile, "private key", "")
	if certOK && keyOK {
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			v.add(field, "certFile %q and keyFile %q do not load as a certificate and its private key (%v); give the PEM client certificate in certFile and its own PEM private key in keyFile", certFile, keyFile, err)
		}
	}
}

// checkDialAddress returns what is wrong with an address to dial (a host
// and a port from 1 to 65535), or ""; port is the one an example uses.
func checkDialAddress(addr, port string) string {
	fix := fmt.Sprintf("write host:port, such as \"10.0.0.1:%s\" or \"redis.internal:%s\"", port, port)
	if strings.Contains(addr, "://") {
		return fmt.Sprintf("%q is a URL; %s (TLS and credentials have keys of their own)", addr, fix)
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port; %s", addr, fix)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || p != strconv.Itoa(n) {
		return fmt.Sprintf("port %q is not a number from 1 to 65535; %s", p, fix)
	}
	if host == "" {
		return fmt.Sprintf("%q has no host; %s", addr, fix)
	}
	if msg := checkHost(host); msg != "" {
		return fmt.Sprintf("host %q %s; %s", host, msg, fix)
	}
	return ""
}

// isWildcard reports whether host is empty or an unspecified address
// (0.0.0.0, ::), which a listener binds but nobody can dial.
func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsUnspecified()
}

// sameListener reports whether two listen addresses would bind the same
// port on an address they share (equal hosts, or either a wildcard).
func sameListener(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	return ha == hb || isWildcard(ha) || isWildcard(hb)
}
