package config

// Cluster makes this process one node of a cluster: nodes share
// connections' ownership, channels, presence and history through Redis,
// and forward management calls to the node that holds a connection over
// an internal HTTP endpoint (docs/decisions/0024-cluster-design.md).
// Nodes need no list of each other: each one registers its incarnation
// and its Internal.Advertise address in Redis under a lease.
//
// With a cluster section, `switchboard serve` joins the cluster before it
// serves anything and exits 1 when it cannot (internal/server/cluster.go);
// docs/clustering.md is the operator's guide. A reload never applies a
// change to it.
type Cluster struct {
	// NodeID names this node in logs, metrics and the node registry.
	// Letters, digits, '.', '-' and '_', at most 64 characters. Default:
	// the node's incarnation, a random id made at every process start.
	// Connection ids carry the incarnation, never NodeID, so a restarted
	// node with the same NodeID never answers for its previous life's
	// connections.
	NodeID string `yaml:"nodeId"`
	// Redis is where the cluster's shared state lives. Required.
	Redis Redis `yaml:"redis"`
	// Lease is how long this node counts as alive after its last
	// successful renewal. When it lapses, another node removes this
	// node's connections from every channel and user and delivers their
	// $disconnect, and management calls for them answer 410; a node that
	// could not renew for Lease closes its own sockets first. Default
	// 10s; 2s to 5m.
	Lease Duration `yaml:"lease"`
	// LeaseRenewal is how often the lease is renewed. Default Lease/3;
	// 100ms to 1m, and Lease must be more than twice LeaseRenewal so
	// that one failed renewal does not lose the lease.
	LeaseRenewal Duration `yaml:"leaseRenewal"`
	// Internal is the endpoint other nodes call to act on this node's
	// connections. Required.
	Internal ClusterInternal `yaml:"internal"`
}

// Redis says how nodes reach Redis (7.0 or later, or Valkey).
type Redis struct {
	// Mode is "single" (one Redis server: no failover), "cluster" (a
	// Redis Cluster; Addresses are seed nodes, the rest is discovered) or
	// "sentinel" (Addresses are Sentinels, which name the master of
	// Sentinel.MasterName). Required: it is never guessed from the
	// addresses, because each mode reads them differently.
	Mode string `yaml:"mode"`
	// Addresses are host:port pairs: the server (single, exactly one),
	// seed nodes (cluster) or Sentinels (sentinel). Required.
	Addresses []string `yaml:"addresses"`
	// Username is the ACL user (Redis 6+). Default: none (the "default"
	// user). Requires Password.
	Username string `yaml:"username"`
	// Password authenticates to Redis (AUTH). Use ${ENV_VAR}. Default:
	// none.
	Password string `yaml:"password"`
	// Sentinel configures mode sentinel; not allowed in other modes.
	Sentinel RedisSentinel `yaml:"sentinel"`
	// TLS, when set, connects to Redis (and Sentinels) over TLS.
	TLS *RedisTLS `yaml:"tls"`
	// KeyPrefix starts every Redis key and channel of this cluster, so
	// that several clusters (or other applications) can share a Redis.
	// Default "switchboard:"; 1 to 64 printable characters without
	// spaces, '{' or '}' (which would break the hash tags that keep a
	// channel's keys in one slot).
	KeyPrefix string `yaml:"keyPrefix"`
	// DialTimeout bounds opening one connection to Redis. Default 5s;
	// 100ms to 1m.
	DialTimeout Duration `yaml:"dialTimeout"`
	// CommandTimeout bounds one Redis command or script, after which the
	// caller gets an error (a publication: 503). Default 2s; 100ms to 1m,
	// and shorter than Lease.
	CommandTimeout Duration `yaml:"commandTimeout"`
}

// RedisSentinel configures Redis Sentinel.
type RedisSentinel struct {
	// MasterName is the name the Sentinels monitor the master under.
	// Required in mode sentinel.
	MasterName string `yaml:"masterName"`
	// Username and Password authenticate to the Sentinels themselves
	// (their requirepass / ACL), which may differ from the data nodes'.
	// Default: none. Username requires Password.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// RedisTLS is TLS to Redis. The server's certificate is always verified.
type RedisTLS struct {
	// CAFile is a PEM bundle of the CAs that sign the servers'
	// certificates. Default: the system's roots. Relative paths are
	// relative to the config file's directory.
	CAFile string `yaml:"caFile"`
	// CertFile and KeyFile are a client certificate and its key, for
	// servers that require one (tls-auth-clients). Both or neither.
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// ServerName is the name the servers' certificates must carry.
	// Default: the host of the address dialled.
	ServerName string `yaml:"serverName"`
	// InsecureSkipVerify is refused: a cluster's shared state must not be
	// open to whoever answers on the address. Give CAFile instead. The
	// key exists so that the refusal can say so.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify"`
}

// ClusterInternal is the node-to-node endpoint: a second listener that
// serves only calls from other nodes (a management call forwarded to the
// node that holds the connection), each authenticated by Secret, by mutual
// TLS, or both.
type ClusterInternal struct {
	// Listen is the TCP address (host:port) of the internal listener.
	// Default: every interface, on the port of Advertise.
	Listen string `yaml:"listen"`
	// Advertise is the host:port other nodes dial to reach Listen: this
	// node's address on the network the nodes share (in Kubernetes,
	// ${POD_IP}:8081). Required; not a wildcard address, port not 0.
	Advertise string `yaml:"advertise"`
	// Secret is shared by every node: requests between nodes are signed
	// with it (HMAC-SHA256 over the method, path, time and body) and
	// checked. At least 32 characters without spaces; use ${ENV_VAR}.
	// Required unless TLS is set.
	Secret string `yaml:"secret"`
	// TLS serves the internal endpoint over mutual TLS: each node presents
	// CertFile and accepts only peers whose certificate CAFile signed.
	// Required unless Secret is set; with both, both are checked.
	TLS *ClusterTLS `yaml:"tls"`
}

// ClusterTLS is mutual TLS between nodes.
type ClusterTLS struct {
	// CertFile and KeyFile are this node's certificate chain and key,
	// presented as a server and as a client. Required.
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// CAFile is the PEM bundle of the CA that signs every node's
	// certificate. Required.
	CAFile string `yaml:"caFile"`
	// ServerName is the name a peer's certificate must carry. Default:
	// the host of the peer's advertise address (so certificates need that
	// IP or name among their SANs).
	ServerName string `yaml:"serverName"`
}
