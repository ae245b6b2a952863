package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBenchStormFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "storm.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:18999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := parse(t, "bench", "storm", "--serve-config", file, "-n", "300", "--workers", "2", "--restart", "kill",
		"--jitter", "none", "--min-delay", "100ms", "--max-delay", "5s", "--sources", "127.0.0.9", "--v1", "--json").Bench.Storm
	if s.ServeConfig != file || s.Connections != 300 || s.Workers != 2 || s.Restart != "kill" || s.Jitter != "none" ||
		s.MinDelay != 100*time.Millisecond || s.MaxDelay != 5*time.Second || !slices.Equal(s.Sources, []string{"127.0.0.9"}) || !s.V1 || !s.JSON {
		t.Fatalf("parsed %+v", s)
	}
	// Defaults: the brief's storm, with the client's backoff.
	s = parse(t, "bench", "storm", "--serve-config", file).Bench.Storm
	if s.Connections != 10000 || s.Workers != 4 || s.Restart != "term" || s.Jitter != "full" ||
		s.MinDelay != 250*time.Millisecond || s.MaxDelay != 30*time.Second || s.Timeout != 5*time.Minute || len(s.Sources) != 4 {
		t.Fatalf("defaults %+v", s)
	}
}

func TestBenchStormErrors(t *testing.T) {
	if _, err := run(t, "bench", "storm"); err == nil || !strings.Contains(err.Error(), "serve-config") {
		t.Fatalf("no config: %v", err)
	}
	file := filepath.Join(t.TempDir(), "storm.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:18999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "bench", "storm", "--serve-config", file, "--jitter", "half"); err == nil || !strings.Contains(err.Error(), "jitter") {
		t.Fatalf("bad jitter: %v", err)
	}
	if _, err := run(t, "bench", "storm", "--serve-config", file); err == nil || !strings.Contains(err.Error(), "no API") {
		t.Fatalf("config without an API: %v", err)
	}
	out, _ := run(t, "bench", "--help")
	if !strings.Contains(out, "storm") || strings.Contains(out, "storm-worker") {
		t.Fatalf("bench help:\n%s", out)
	}
}
