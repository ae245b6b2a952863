package redistest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ClusterOptions configure a test cluster. The zero value means the
// defaults.
type ClusterOptions struct {
	// NodeTimeout is cluster-node-timeout: how long a master may be
	// unreachable before its replica is promoted. Default 2s (short, so a
	// failover test waits seconds, not the 15 s Redis default; not shorter,
	// so a machine loaded by the race detector does not fail nodes over
	// spuriously).
	NodeTimeout time.Duration
}

// readyTimeout bounds how long a new cluster may take to reach
// cluster_state:ok with every replica in sync.
const readyTimeout = 60 * time.Second

// Cluster is a Redis Cluster of 3 masters and 3 replicas (one per master)
// on 127.0.0.1, with cluster-require-full-coverage no (the shards whose
// master is alive keep serving while another fails over).
type Cluster struct {
	// Nodes are the six servers. Which are masters changes with failovers:
	// ask MasterFor.
	Nodes []*Server

	closeOnce sync.Once
}

// StartCluster starts a 3+3 cluster in t.TempDir() and stops it in
// t.Cleanup. It returns once every node reports cluster_state:ok and knows
// all six nodes, and every replica reports master_link_status:up, so a
// test may kill a master at once. Measured on the shared 2-core machine
// this was written on: 2.1-2.2 s, of which redis-cli --cluster create takes
// about 1 s (see SharedCluster for sharing one cluster between tests).
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	bin := Binary(t)
	c, err := NewCluster(bin, t.TempDir(), o)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// NewCluster starts a 3+3 cluster with redis-server bin (redis-cli is
// looked for next to it, then on PATH) in directories under dir. The
// caller must Close it. Most tests want StartCluster or SharedCluster.
func NewCluster(bin, dir string, o ClusterOptions) (*Cluster, error) {
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = 2 * time.Second
	}
	cli, err := cliBinary(bin)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	for i := range 6 {
		s, err := startServer(bin, filepath.Join(dir, fmt.Sprintf("node%d", i)), []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10),
			"--cluster-require-full-coverage", "no",
			// A master waits this long (default 5 s) for more replicas
			// before a diskless full sync: 0 makes a new cluster ready in
			// 2.1-2.2 s instead of 6.2-7.2 s (measured here).
			"--repl-diskless-sync-delay", "0",
		})
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s --cluster create: %v\n%s", cli, err, out)
	}
	if err := c.waitReady(time.Now().Add(readyTimeout)); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// cliBinary finds redis-cli: next to redis-server, else on PATH.
func cliBinary(serverBin string) (string, error) {
	if p := filepath.Join(filepath.Dir(serverBin), "redis-cli"); fileExists(p) {
		return p, nil
	}
	p, err := exec.LookPath("redis-cli")
	if err != nil {
		return "", errors.New("redis-cli not found (Debian's redis-tools, a dependency of redis-server)")
	}
	return p, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// waitReady polls until every node sees a healthy cluster of six and every
// replica's link to its master is up.
func (c *Cluster) waitReady(deadline time.Time) error {
	var why string
	for {
		why = c.notReady()
		if why == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ready within %v: %s", readyTimeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notReady says why the cluster is not ready yet, or "" when it is.
func (c *Cluster) notReady() string {
	replicas := 0
	for _, s := range c.Nodes {
		info, err := s.Do("CLUSTER", "INFO")
		if err != nil {
			return fmt.Sprintf("%s: CLUSTER INFO: %v", s.Addr, err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_slots_ok:16384", "cluster_known_nodes:6", "cluster_size:3"} {
			if !strings.Contains(info, want+"\r\n") && !strings.HasSuffix(info, want) {
				return fmt.Sprintf("%s: CLUSTER INFO lacks %s", s.Addr, want)
			}
		}
		repl, err := s.Do("INFO", "replication")
		if err != nil {
			return fmt.Sprintf("%s: INFO replication: %v", s.Addr, err)
		}
		if strings.Contains(repl, "role:slave") {
			replicas++
			if !strings.Contains(repl, "master_link_status:up") {
				return fmt.Sprintf("%s: replica link not up", s.Addr)
			}
		}
	}
	if replicas != 3 {
		return fmt.Sprintf("%d replicas, want 3", replicas)
	}
	return ""
}

// Addrs returns the six nodes' client addresses (the seed list for a
// cluster client; any one of them would do).
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr
	}
	return addrs
}

// Kill stops node with SIGKILL, like a crash.
func (c *Cluster) Kill(node *Server) { node.Kill() }

// Close kills every node. It is safe to call more than once.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		for _, s := range c.Nodes {
			s.Kill()
		}
	})
}

// MasterFor returns the node that is, in the view of the first live node
// that answers, the master serving key's hash slot.
func (c *Cluster) MasterFor(key string) (*Server, error) {
	var lastErr error
	for _, s := range c.Nodes {
		slotText, err := s.Do("CLUSTER", "KEYSLOT", key)
		if err != nil {
			lastErr = err
			continue
		}
		slot, err := strconv.Atoi(slotText)
		if err != nil {
			return nil, fmt.Errorf("CLUSTER KEYSLOT %q = %q", key, slotText)
		}
		nodes, err := s.Do("CLUSTER", "NODES")
		if err != nil {
			lastErr = err
			continue
		}
		addr, err := masterOfSlot(nodes, slot)
		if err != nil {
			return nil, err
		}
		for _, n := range c.Nodes {
			if n.Addr == addr {
				return n, nil
			}
		}
		return nil, fmt.Errorf("slot %d is served by %s, not a node of this cluster", slot, addr)
	}
	return nil, fmt.Errorf("no node answered: %v", lastErr)
}

// masterOfSlot finds, in CLUSTER NODES output, the address of the master
// (not flagged fail) whose slot ranges include slot.
func masterOfSlot(nodes string, slot int) (string, error) {
	for line := range strings.SplitSeq(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
			continue
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") { // a slot being migrated
				continue
			}
			lo, hi, found := strings.Cut(r, "-")
			if !found {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && l <= slot && slot <= h {
				addr, _, _ := strings.Cut(f[1], "@")
				return addr, nil
			}
		}
	}
	return "", fmt.Errorf("no live master serves slot %d", slot)
}

// shared is the cluster SharedCluster hands out.
var shared struct {
	once sync.Once
	c    *Cluster
	dir  string
	err  error
}

// SharedCluster returns one 3+3 cluster for the whole test binary, started
// on the first call, so that a package whose tests all need a cluster
// pays for its start once. Tests must not kill its nodes (use
// StartCluster for that) and must use keys unique to the test. The
// package's TestMain must call CloseShared after m.Run.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := Binary(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "redistest-cluster-")
		if shared.err != nil {
			return
		}
		shared.c, shared.err = NewCluster(bin, shared.dir, ClusterOptions{})
	})
	if shared.err != nil {
		t.Fatalf("redistest: shared cluster: %v", shared.err)
	}
	return shared.c
}

// CloseShared stops the cluster SharedCluster started, if any, and
// removes its directory. Call it from TestMain after m.Run.
func CloseShared() {
	if shared.c != nil {
		shared.c.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}
