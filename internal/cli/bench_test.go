package cli

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// parse parses args into the command line's struct without running it.
func parse(t *testing.T, args ...string) *cli {
	t.Helper()
	var c cli
	parser, err := kong.New(&c, kong.Name("switchboard"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestBenchFanoutFlags(t *testing.T) {
	c := parse(t, "bench", "fanout", "-n", "15000", "--workers", "3", "--sources", "127.0.0.2,127.0.0.3",
		"--rate", "10,20", "--rate", "50", "--duration", "2s", "--api-key", "k", "--json")
	f := c.Bench.Fanout
	if f.Connections != 15000 || f.Workers != 3 || !slices.Equal(f.Sources, []string{"127.0.0.2", "127.0.0.3"}) ||
		!slices.Equal(f.Rate, []float64{10, 20, 50}) || f.Duration != 2*time.Second || f.APIKey != "k" || !f.JSON {
		t.Fatalf("parsed %+v", f)
	}
	// Defaults.
	f = parse(t, "bench", "fanout").Bench.Fanout
	if f.Connections != 5000 || f.Workers != 0 || !slices.Equal(f.Rate, []float64{10}) || f.Channel != "bench" ||
		f.Channels != 1 || f.Size != 100 || f.Grace != 5*time.Second || f.Timeout != 5*time.Minute || f.InFlight != 512 {
		t.Fatalf("defaults %+v", f)
	}
}

func TestBenchFanoutErrors(t *testing.T) {
	if _, err := run(t, "bench", "fanout", "--url", "ws://127.0.0.1:1", "-n", "10"); err == nil || !strings.Contains(err.Error(), "stage") {
		t.Fatalf("url without a stage: %v", err)
	}
	if _, err := run(t, "bench", "fanout", "-n", "40000", "--workers", "1"); err == nil || !strings.Contains(err.Error(), "at least 3 workers") {
		t.Fatalf("too many connections per worker: %v", err)
	}
	// The worker command is hidden from the help.
	out, _ := run(t, "bench", "--help")
	if !strings.Contains(out, "fanout") || strings.Contains(out, "fanout-worker") {
		t.Fatalf("bench help:\n%s", out)
	}
}
