package redistest_test

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/redistest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.CloseShared()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func TestServer(t *testing.T) {
	s := redistest.StartServer(t)
	if got, err := s.Do("SET", "k", "v\r\nwith newline"); err != nil || got != "OK" {
		t.Fatalf("SET = %q, %v", got, err)
	}
	if got, err := s.Do("GET", "k"); err != nil || got != "v\r\nwith newline" {
		t.Fatalf("GET = %q, %v", got, err)
	}
	if got, err := s.Do("GET", "missing"); err != nil || got != "" {
		t.Fatalf("GET missing = %q, %v", got, err)
	}
	if _, err := s.Do("NOSUCHCOMMAND"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command: error %v", err)
	}
	// Persistence is off: no RDB or AOF is written.
	for _, cfg := range []struct{ key, want string }{{"save", "save\n"}, {"appendonly", "appendonly\nno"}} {
		if got, err := s.Do("CONFIG", "GET", cfg.key); err != nil || got != cfg.want {
			t.Fatalf("CONFIG GET %s = %q, %v, want %q", cfg.key, got, err, cfg.want)
		}
	}
	pid := s.PID()
	s.Kill()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("process %d still exists after Kill", pid)
	}
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	s.Kill() // again: no effect
}

func TestServerExtraArgs(t *testing.T) {
	s := redistest.StartServer(t, "--appendonly", "yes")
	if got, err := s.Do("CONFIG", "GET", "appendonly"); err != nil || got != "appendonly\nyes" {
		t.Fatalf("CONFIG GET appendonly = %q, %v", got, err)
	}
}

func TestTwoServersDiffer(t *testing.T) {
	a, b := redistest.StartServer(t), redistest.StartServer(t)
	if a.Addr == b.Addr {
		t.Fatalf("both servers on %s", a.Addr)
	}
	a.Do("SET", "k", "a")
	if got, _ := b.Do("GET", "k"); got != "" {
		t.Fatalf("server b sees a's key: %q", got)
	}
}

func TestSharedCluster(t *testing.T) {
	start := time.Now()
	c := redistest.SharedCluster(t)
	t.Logf("cluster ready in %v", time.Since(start))
	if len(c.Nodes) != 6 {
		t.Fatalf("%d nodes", len(c.Nodes))
	}
	masters, replicas := 0, 0
	for _, n := range c.Nodes {
		repl, err := n.Do("INFO", "replication")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.Contains(repl, "role:master"):
			masters++
		case strings.Contains(repl, "master_link_status:up"):
			replicas++
		default:
			t.Fatalf("%s: neither master nor synced replica:\n%s", n.Addr, repl)
		}
	}
	if masters != 3 || replicas != 3 {
		t.Fatalf("%d masters, %d synced replicas, want 3 and 3", masters, replicas)
	}
	// Keys with different hash tags land on the master MasterFor names.
	for _, key := range []string{"{a}x", "{b}x", "{c}x", "{d}x"} {
		m, err := c.MasterFor(key)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := m.Do("SET", key, "1"); err != nil || got != "OK" {
			t.Fatalf("SET %s on %s = %q, %v (want OK, not MOVED)", key, m.Addr, got, err)
		}
	}
	if again := redistest.SharedCluster(t); again != c {
		t.Fatal("SharedCluster started a second cluster")
	}
}

// TestClusterKillMaster kills a master and waits for its replica to take
// over its slots: what a failover test will do.
func TestClusterKillMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second cluster")
	}
	start := time.Now()
	c := redistest.StartCluster(t, redistest.ClusterOptions{NodeTimeout: time.Second})
	t.Logf("cluster ready in %v", time.Since(start))
	const key = "{b}x"
	old, err := c.MasterFor(key)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(old)
	killed := time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := c.MasterFor(key)
		if err == nil && m != old {
			if got, err := m.Do("SET", key, "after"); err == nil && got == "OK" {
				t.Logf("replica %s promoted, writable %v after the kill", m.Addr, time.Since(killed))
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new master for %s within 30 s (last: %v, %v)", key, m, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServerRestart: with the AOF on, data survives a SIGKILL and a
// restart on the same port; without persistence it does not.
func TestServerRestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"aof", []string{"--appendonly", "yes", "--appendfsync", "always"}, "v"},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.StartServer(t, tc.extra...)
			addr, pid := s.Addr, s.PID()
			if _, err := s.Do("SET", "k", "v"); err != nil {
				t.Fatal(err)
			}
			if err := s.Restart(); err != nil {
				t.Fatal(err)
			}
			if s.Addr != addr || s.PID() == pid {
				t.Fatalf("after Restart: %s pid %d, was %s pid %d", s.Addr, s.PID(), addr, pid)
			}
			if got, err := s.Do("GET", "k"); err != nil || got != tc.want {
				t.Fatalf("GET after restart = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}
