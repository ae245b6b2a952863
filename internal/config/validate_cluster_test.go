package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clusterBase is validBase with a valid cluster section.
func clusterBase() *Config {
	c := validBase()
	c.Listen = ":8080"
	c.Cluster = &Cluster{
		Redis:    Redis{Mode: "cluster", Addresses: []string{"127.0.0.1:7001", "127.0.0.1:7002"}},
		Internal: ClusterInternal{Advertise: "10.0.0.5:8081", Secret: strings.Repeat("s", 32)},
	}
	return c
}

func TestClusterDefaults(t *testing.T) {
	c := &Config{Cluster: &Cluster{Internal: ClusterInternal{Advertise: "10.0.0.5:9000"}}}
	c.ApplyDefaults()
	want := &Cluster{
		Lease:        Duration(10 * time.Second),
		LeaseRenewal: Duration(10 * time.Second / 3),
		Redis:        Redis{KeyPrefix: "switchboard:", DialTimeout: sec(5), CommandTimeout: sec(2)},
		Internal:     ClusterInternal{Listen: ":9000", Advertise: "10.0.0.5:9000"},
	}
	if diff := cmp.Diff(want, c.Cluster); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The renewal follows a configured lease; set values stay.
	c = &Config{Cluster: &Cluster{Lease: sec(30), Internal: ClusterInternal{Listen: "10.0.0.5:7000", Advertise: "10.0.0.5:9000"}}}
	c.ApplyDefaults()
	if c.Cluster.LeaseRenewal != sec(10) || c.Cluster.Internal.Listen != "10.0.0.5:7000" {
		t.Errorf("leaseRenewal %s, internal.listen %q; want 10s and the configured listen", c.Cluster.LeaseRenewal, c.Cluster.Internal.Listen)
	}
	// No cluster section: none is made.
	c = &Config{}
	c.ApplyDefaults()
	if c.Cluster != nil {
		t.Errorf("ApplyDefaults made a cluster section: %+v", c.Cluster)
	}
	// Validate does not modify the cluster section it checks.
	c = clusterBase()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Cluster.Lease != 0 || c.Cluster.Internal.Listen != "" {
		t.Errorf("Validate modified its argument: %+v", c.Cluster)
	}
}

// TestValidateCluster breaks one rule of the cluster section per case and
// expects exactly one problem, on the given field, whose message contains
// the fix.
func TestValidateCluster(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writeCertPair(t, dir, "a")
	_, keyB := writeCertPair(t, dir, "b")
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := func(f func(*Cluster)) func(*Config) { return func(c *Config) { f(c.Cluster) } }
	redisTLS := func(f func(*RedisTLS)) func(*Config) {
		return set(func(cl *Cluster) { cl.Redis.TLS = &RedisTLS{}; f(cl.Redis.TLS) })
	}
	mtls := func(f func(*ClusterTLS)) func(*Config) {
		return set(func(cl *Cluster) {
			cl.Internal.Secret = ""
			cl.Internal.TLS = &ClusterTLS{CertFile: certA, KeyFile: keyA, CAFile: certA}
			f(cl.Internal.TLS)
		})
	}
	tests := []struct {
		name   string
		break_ func(*Config)
		field  string
		fix    string
	}{
		{"nodeId characters", set(func(cl *Cluster) { cl.NodeID = "node a" }), "cluster.nodeId", `"node a" is not a node id; use at most 64 letters, digits, '.', '-' and '_'`},
		{"nodeId long", set(func(cl *Cluster) { cl.NodeID = strings.Repeat("n", 65) }), "cluster.nodeId", "is not a node id"},

		{"lease short", set(func(cl *Cluster) { cl.Lease, cl.LeaseRenewal, cl.Redis.CommandTimeout = sec(1), ms(100), ms(500) }), "cluster.lease", "1s is out of range; use a duration from 2s to 5m"},
		{"lease long", set(func(cl *Cluster) { cl.Lease = Duration(6 * time.Minute); cl.LeaseRenewal = sec(10) }), "cluster.lease", "6m is out of range"},
		{"leaseRenewal short", set(func(cl *Cluster) { cl.LeaseRenewal = ms(50) }), "cluster.leaseRenewal", "50ms is out of range; use a duration from 100ms to 1m"},
		{"leaseRenewal long", set(func(cl *Cluster) { cl.Lease = Duration(5 * time.Minute); cl.LeaseRenewal = Duration(2 * time.Minute) }), "cluster.leaseRenewal", "2m is out of range"},
		{"lease not above twice the renewal", set(func(cl *Cluster) { cl.LeaseRenewal = sec(5) }), "cluster.leaseRenewal",
			"5s is too long for cluster.lease 10s: the lease must be more than twice the renewal interval"},

		{"mode missing", set(func(cl *Cluster) { cl.Redis.Mode = "" }), "cluster.redis.mode", "is required; use cluster for a Redis Cluster"},
		{"mode unknown", set(func(cl *Cluster) { cl.Redis.Mode = "clustered" }), "cluster.redis.mode", `"clustered" is not a Redis mode; use single, cluster or sentinel (did you mean "cluster"?)`},
		{"addresses missing", set(func(cl *Cluster) { cl.Redis.Addresses = nil }), "cluster.redis.addresses", "is required; list the Redis addresses as host:port"},
		{"too many addresses", set(func(cl *Cluster) {
			cl.Redis.Addresses = nil
			for i := range 65 {
				cl.Redis.Addresses = append(cl.Redis.Addresses, "127.0.0.1:"+strconv.Itoa(7000+i))
			}
		}), "cluster.redis.addresses", "lists 65 addresses; list at most 64"},
		{"single with two addresses", set(func(cl *Cluster) { cl.Redis.Mode = "single" }), "cluster.redis.addresses", "lists 2 addresses, but mode single uses one server"},
		{"address is a URL", set(func(cl *Cluster) { cl.Redis.Addresses[0] = "redis://127.0.0.1:6379" }), "cluster.redis.addresses[0]", `"redis://127.0.0.1:6379" is a URL; write host:port`},
		{"address without port", set(func(cl *Cluster) { cl.Redis.Addresses[0] = "redis.internal" }), "cluster.redis.addresses[0]", `"redis.internal" is not host:port`},
		{"address port 0", set(func(cl *Cluster) { cl.Redis.Addresses[0] = "127.0.0.1:0" }), "cluster.redis.addresses[0]", `port "0" is not a number from 1 to 65535`},
		{"address without host", set(func(cl *Cluster) { cl.Redis.Addresses[0] = ":6379" }), "cluster.redis.addresses[0]", `":6379" has no host`},
		{"address bad host", set(func(cl *Cluster) { cl.Redis.Addresses[0] = "red is:6379" }), "cluster.redis.addresses[0]", `host "red is" contains ' '`},
		{"address twice", set(func(cl *Cluster) { cl.Redis.Addresses[1] = cl.Redis.Addresses[0] }), "cluster.redis.addresses[1]", `"127.0.0.1:7001" is listed twice`},
		{"username without password", set(func(cl *Cluster) { cl.Redis.Username = "sb" }), "cluster.redis.username", "needs password"},

		{"sentinel without masterName", set(func(cl *Cluster) { cl.Redis.Mode = "sentinel" }), "cluster.redis.sentinel.masterName", "is required in mode sentinel"},
		{"sentinel masterName with space", set(func(cl *Cluster) { cl.Redis.Mode = "sentinel"; cl.Redis.Sentinel.MasterName = "my master" }), "cluster.redis.sentinel.masterName", "contains spaces"},
		{"sentinel username without password", set(func(cl *Cluster) {
			cl.Redis.Mode = "sentinel"
			cl.Redis.Sentinel = RedisSentinel{MasterName: "mymaster", Username: "s"}
		}), "cluster.redis.sentinel.username", "needs sentinel.password"},
		{"sentinel block in cluster mode", set(func(cl *Cluster) { cl.Redis.Sentinel.MasterName = "mymaster" }), "cluster.redis.sentinel", "is only for mode sentinel"},

		{"tls insecureSkipVerify", redisTLS(func(t *RedisTLS) { t.InsecureSkipVerify = true }), "cluster.redis.tls.insecureSkipVerify", "is refused: without verification"},
		{"tls caFile missing", redisTLS(func(t *RedisTLS) { t.CAFile = filepath.Join(dir, "nope.pem") }), "cluster.redis.tls.caFile", "does not exist"},
		{"tls caFile not PEM", redisTLS(func(t *RedisTLS) { t.CAFile = notPEM }), "cluster.redis.tls.caFile", "holds no PEM certificate"},
		{"tls certFile without keyFile", redisTLS(func(t *RedisTLS) { t.CertFile = certA }), "cluster.redis.tls.keyFile", "is required with certFile"},
		{"tls keyFile without certFile", redisTLS(func(t *RedisTLS) { t.KeyFile = keyA }), "cluster.redis.tls.certFile", "is required with keyFile"},
		{"tls key of another certificate", redisTLS(func(t *RedisTLS) { t.CertFile, t.KeyFile = certA, keyB }), "cluster.redis.tls", "do not load as a certificate and its private key"},
		{"tls serverName", redisTLS(func(t *RedisTLS) { t.ServerName = "red is" }), "cluster.redis.tls.serverName", "give the DNS name the servers' certificates carry"},

		{"keyPrefix hash tag", set(func(cl *Cluster) { cl.Redis.KeyPrefix = "{sb}:" }), "cluster.redis.keyPrefix", "contains '{' or '}'"},
		{"keyPrefix space", set(func(cl *Cluster) { cl.Redis.KeyPrefix = "sb :" }), "cluster.redis.keyPrefix", "contains spaces or control characters"},
		{"keyPrefix long", set(func(cl *Cluster) { cl.Redis.KeyPrefix = strings.Repeat("p", 65) }), "cluster.redis.keyPrefix", "is 65 bytes; use at most 64"},
		{"dialTimeout short", set(func(cl *Cluster) { cl.Redis.DialTimeout = ms(10) }), "cluster.redis.dialTimeout", "10ms is out of range; use a duration from 100ms to 1m"},
		{"commandTimeout long", set(func(cl *Cluster) {
			cl.Redis.CommandTimeout = Duration(2 * time.Minute)
			cl.Lease, cl.LeaseRenewal = Duration(5*time.Minute), sec(10)
		}), "cluster.redis.commandTimeout", "2m is out of range"},
		{"commandTimeout not below lease", set(func(cl *Cluster) { cl.Redis.CommandTimeout = sec(10) }), "cluster.redis.commandTimeout", "10s is not shorter than cluster.lease (10s)"},

		{"advertise missing", set(func(cl *Cluster) { cl.Internal.Advertise = "" }), "cluster.internal.advertise", "is required; give the host:port other nodes reach"},
		{"advertise without port", set(func(cl *Cluster) { cl.Internal.Advertise = "10.0.0.5" }), "cluster.internal.advertise", "is not host:port"},
		{"advertise wildcard", set(func(cl *Cluster) { cl.Internal.Advertise = "0.0.0.0:8081" }), "cluster.internal.advertise", "is a wildcard address, which other nodes cannot dial"},
		{"advertise wildcard v6", set(func(cl *Cluster) { cl.Internal.Advertise = "[::]:8081" }), "cluster.internal.advertise", "is a wildcard address"},
		{"internal listen bad", set(func(cl *Cluster) { cl.Internal.Listen = "8081" }), "cluster.internal.listen", `"8081" is not host:port`},
		{"internal listen port 0", set(func(cl *Cluster) { cl.Internal.Listen = "127.0.0.1:0" }), "cluster.internal.listen", "port 0 picks a random port"},
		{"internal listen is listen", set(func(cl *Cluster) { cl.Internal.Advertise = "10.0.0.5:8080" }), "cluster.internal.listen", `":8080" is also listen (":8080")`},
		{"internal listen is metrics.listen", func(c *Config) { c.Metrics.Listen = "127.0.0.1:8081" }, "cluster.internal.listen", `":8081" is also metrics.listen ("127.0.0.1:8081")`},
		{"no secret and no tls", set(func(cl *Cluster) { cl.Internal.Secret = "" }), "cluster.internal.secret", "is required unless cluster.internal.tls is set"},
		{"secret short", set(func(cl *Cluster) { cl.Internal.Secret = "short-secret" }), "cluster.internal.secret", "is 12 characters; use at least 32"},
		{"secret with space", set(func(cl *Cluster) { cl.Internal.Secret = strings.Repeat("s", 31) + " " }), "cluster.internal.secret", "contains spaces or control characters"},
		{"mtls certFile missing", mtls(func(t *ClusterTLS) { t.CertFile = "" }), "cluster.internal.tls.certFile", "is required with cluster.internal.tls"},
		{"mtls keyFile missing", mtls(func(t *ClusterTLS) { t.KeyFile = "" }), "cluster.internal.tls.keyFile", "is required with cluster.internal.tls"},
		{"mtls caFile missing", mtls(func(t *ClusterTLS) { t.CAFile = "" }), "cluster.internal.tls.caFile", "is required with cluster.internal.tls"},
		{"mtls caFile not PEM", mtls(func(t *ClusterTLS) { t.CAFile = notPEM }), "cluster.internal.tls.caFile", "holds no PEM certificate"},
		{"mtls pair", mtls(func(t *ClusterTLS) { t.KeyFile = keyB }), "cluster.internal.tls", "do not load as a certificate and its private key"},
		{"mtls serverName", mtls(func(t *ClusterTLS) { t.ServerName = "a b" }), "cluster.internal.tls.serverName", "give the DNS name every node's certificate carries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clusterBase()
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
}

func TestValidateClusterAccepts(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writeCertPair(t, dir, "a")
	tests := []struct {
		name string
		set  func(*Cluster)
	}{
		{"single", func(cl *Cluster) { cl.Redis = Redis{Mode: "single", Addresses: []string{"redis.internal:6379"}} }},
		{"sentinel with auth", func(cl *Cluster) {
			cl.Redis = Redis{Mode: "sentinel", Addresses: []string{"[::1]:26379", "127.0.0.1:26379"}, Username: "sb", Password: "p",
				Sentinel: RedisSentinel{MasterName: "mymaster", Username: "s", Password: "q"}}
		}},
		{"password alone", func(cl *Cluster) { cl.Redis.Password = "p" }},
		{"redis tls, system roots", func(cl *Cluster) { cl.Redis.TLS = &RedisTLS{} }},
		{"redis tls, CA, client certificate and server name", func(cl *Cluster) {
			cl.Redis.TLS = &RedisTLS{CAFile: certA, CertFile: certA, KeyFile: keyA, ServerName: "redis.internal"}
		}},
		{"mutual TLS without secret", func(cl *Cluster) {
			cl.Internal.Secret = ""
			cl.Internal.TLS = &ClusterTLS{CertFile: certA, KeyFile: keyA, CAFile: certA, ServerName: "node.internal"}
		}},
		{"mutual TLS and secret", func(cl *Cluster) { cl.Internal.TLS = &ClusterTLS{CertFile: certA, KeyFile: keyA, CAFile: certA} }},
		{"bounds", func(cl *Cluster) {
			cl.NodeID = "node-a.pod_1"
			cl.Lease, cl.LeaseRenewal = sec(2), Duration(999*time.Millisecond)
			cl.Redis.DialTimeout, cl.Redis.CommandTimeout = ms(100), Duration(1999*time.Millisecond)
			cl.Redis.KeyPrefix = strings.Repeat("p", 64)
		}},
		{"upper bounds", func(cl *Cluster) {
			cl.Lease, cl.LeaseRenewal = Duration(5*time.Minute), Duration(time.Minute)
			cl.Redis.DialTimeout, cl.Redis.CommandTimeout = Duration(time.Minute), Duration(time.Minute)
		}},
		{"internal listen on its own address", func(cl *Cluster) { cl.Internal.Listen = "10.0.0.5:8080" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clusterBase()
			c.Listen = "127.0.0.1:8080"
			tt.set(c.Cluster)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestClusterExample loads the cluster example of docs/configuration.md
// as one node of three would.
func TestClusterExample(t *testing.T) {
	secret := strings.Repeat("0123456789abcdef", 4)
	env := map[string]string{"REDIS_PASSWORD": "pw", "POD_IP": "10.1.2.3", "SWITCHBOARD_CLUSTER_SECRET": secret}
	c, err := Load(filepath.Join("testdata", "cluster.yaml"), envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := filepath.Abs(filepath.Join("testdata", "tls", "fullchain.pem"))
	want := &Cluster{
		Lease:        sec(10),
		LeaseRenewal: Duration(10 * time.Second / 3),
		Redis: Redis{
			Mode:           "cluster",
			Addresses:      []string{"redis-0.redis:6379", "redis-1.redis:6379", "redis-2.redis:6379"},
			Username:       "switchboard",
			Password:       "pw",
			TLS:            &RedisTLS{CAFile: ca},
			KeyPrefix:      "switchboard:",
			DialTimeout:    sec(5),
			CommandTimeout: sec(2),
		},
		Internal: ClusterInternal{Listen: ":8081", Advertise: "10.1.2.3:8081", Secret: secret},
	}
	if diff := cmp.Diff(want, c.Cluster); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// Without POD_IP the file does not load, and says which variable.
	delete(env, "POD_IP")
	if _, err := Load(filepath.Join("testdata", "cluster.yaml"), envMap(env)); err == nil || !strings.Contains(err.Error(), "environment variable POD_IP is not set") {
		t.Errorf("without POD_IP: %v", err)
	}
}

func TestClusterEnvOverrides(t *testing.T) {
	yaml := minimal + `cluster:
  redis: {mode: single, addresses: ["127.0.0.1:6379"]}
  internal: {advertise: "10.0.0.5:8081", secret: 0123456789abcdef0123456789abcdef}
`
	c, err := Parse("x.yaml", []byte(yaml), envMap(map[string]string{
		"SWITCHBOARD_CLUSTER_NODE_ID":   "node-b",
		"SWITCHBOARD_CLUSTER_ADVERTISE": "10.0.0.6:8081",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.NodeID != "node-b" || c.Cluster.Internal.Advertise != "10.0.0.6:8081" {
		t.Errorf("overrides not applied: nodeId %q, advertise %q", c.Cluster.NodeID, c.Cluster.Internal.Advertise)
	}

	// A bad value names the variable.
	_, err = Parse("x.yaml", []byte(yaml), envMap(map[string]string{"SWITCHBOARD_CLUSTER_ADVERTISE": "0.0.0.0:8081"}))
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_CLUSTER_ADVERTISE: cluster.internal.advertise: \"0.0.0.0:8081\" is a wildcard address") {
		t.Errorf("bad override: %v", err)
	}
	// Without a cluster section the variables are a mistake, not ignored.
	_, err = Parse("x.yaml", []byte(minimal), envMap(map[string]string{"SWITCHBOARD_CLUSTER_NODE_ID": "node-b"}))
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_CLUSTER_NODE_ID: cluster.nodeId: is set, but the configuration has no cluster section") {
		t.Errorf("override without a cluster section: %v", err)
	}
}

func TestClusterUnknownKeys(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"cluster:\n  redis:\n    adresses: [\"a:1\"]\n", `cluster.redis: unknown key "adresses" (did you mean "addresses"?)`},
		{"cluster:\n  redis:\n    tls: {insecureSkipVerfy: true}\n", `(did you mean "insecureSkipVerify"?)`},
		{"cluster:\n  leaseRenewl: 1s\n", `(did you mean "leaseRenewal"?)`},
		{"cluster:\n  internal: {advertize: \"a:1\"}\n", `(did you mean "advertise"?)`},
	} {
		_, err := Parse("x.yaml", []byte(minimal+tt.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q):\n got  %v\n want ...%s...", tt.yaml, err, tt.want)
		}
	}
}

// TestReloadClusterNeedsRestart checks that SIGHUP's ApplyReload keeps
// the running cluster section and says a restart applies a new one.
func TestReloadClusterNeedsRestart(t *testing.T) {
	single := validBase()
	clustered := clusterBase()
	changed := clusterBase()
	changed.Cluster.Redis.Addresses = []string{"127.0.0.1:7003"}
	for _, tt := range []struct {
		name      string
		cur, next *Config
	}{
		{"added", single, clustered},
		{"removed", clustered, single},
		{"changed", clustered, changed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eff, notes := ApplyReload(tt.cur, tt.next)
			if !slices.Contains(notes, "cluster changed; restart to apply") {
				t.Errorf("notes %q, want \"cluster changed; restart to apply\"", notes)
			}
			if !cmp.Equal(eff.Cluster, tt.cur.Cluster) {
				t.Errorf("the reload changed the running cluster section: %+v", eff.Cluster)
			}
		})
	}
	if _, notes := ApplyReload(clustered, clusterBase()); len(notes) != 0 {
		t.Errorf("the same cluster section again noted %q", notes)
	}
}
