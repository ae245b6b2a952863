package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
)

// noopEnv makes the test binary bench manage's no-op server (see
// TestMain).
const noopEnv = "SWITCHBOARD_BENCH_TEST_NOOP"

const manageTestConfig = `
listen: 127.0.0.1:0
management:
  apiKeys:
    - name: bench
      key: bench-api-key-0123456789
  accessKeys:
    - id: AKIABENCH0123456789
      secret: benchsecret0123456789abcdef
apis:
  - id: bench
    stage: production
    routeSelectionExpression: \$default
    routes:
      $default: {action: {type: echo}}
`

// startManageServer runs a Switchboard in-process with the keys of
// manageTestConfig and returns its address.
func startManageServer(t *testing.T) string {
	t.Helper()
	s := servertest.Start(t, manageTestConfig, server.Options{})
	return s.Addr
}

// bench manage against a real Switchboard and the no-op floor (the test
// binary as the floor's process), SigV4-signed and with an API key (and
// then the frame floor too): each round ends at its request bound, no
// request fails, every POST is delivered to the receivers (Switchboard's
// and the frame floor's), and every target answers with responses of the
// same size.
func TestManageServer(t *testing.T) {
	addr := startManageServer(t)
	for _, auth := range []string{"sigv4", "apikey"} {
		t.Run(auth, func(t *testing.T) {
			o := ManageOptions{
				URL:          "http://" + addr + "/production",
				Connections:  4,
				Receivers:    2,
				Requests:     500,
				Duration:     time.Minute, // the request bound ends each round
				Rounds:       2,
				Warmup:       -1,
				ServerPID:    os.Getpid(),
				FloorCommand: []string{os.Args[0]},
				Stderr:       testLog{t},
			}
			targets := 2
			if auth == "sigv4" {
				o.AccessKeyID, o.SecretAccessKey = "AKIABENCH0123456789", "benchsecret0123456789abcdef"
			} else {
				o.APIKey = "bench-api-key-0123456789"
				o.FrameFloor = true
				targets = 3
			}
			t.Setenv(noopEnv, "1")
			res, err := Manage(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", res)
			if len(res.Rounds) != 2*targets {
				t.Fatalf("%d rounds, want 2 per target", len(res.Rounds))
			}
			size := res.Rounds[0].ResponseBytes
			for i, rd := range res.Rounds {
				if rd.Requests != 500 || rd.Errors != 0 || rd.PerSecond <= 0 || rd.P50 <= 0 || rd.P50 > rd.P99 {
					t.Errorf("round %d: %+v", i, rd)
				}
				if rd.Target != "floor" && rd.Delivered != 500 {
					t.Errorf("round %d: %d delivered, want 500", i, rd.Delivered)
				}
				if rd.ResponseBytes != size || size == 0 {
					t.Errorf("round %d (%s): response of %d bytes, round 0's %d", i, rd.Target, rd.ResponseBytes, size)
				}
			}
			// Rounds alternate, and the order of the targets reverses
			// every other round.
			var order []string
			for _, rd := range res.Rounds {
				order = append(order, rd.Target)
			}
			want := "switchboard floor floor switchboard"
			if targets == 3 {
				want = "switchboard floor frame-floor frame-floor floor switchboard"
			}
			if got := strings.Join(order, " "); got != want {
				t.Errorf("round order %s, want %s", got, want)
			}
			if res.Ratio <= 0 || res.Switchboard <= 0 || res.Floor <= 0 {
				t.Errorf("summary %+v", res)
			}
			if targets == 3 && (res.FrameFloor <= 0 || res.FrameRatio <= 0 || res.FrameFloorRatio <= 0) {
				t.Errorf("frame floor summary %+v", res)
			}
		})
	}
}

// A wrong secret is refused by the server: the measurement fails with
// the server's answer instead of reporting refused requests as
// throughput.
func TestManageWrongSecret(t *testing.T) {
	addr := startManageServer(t)
	_, err := Manage(context.Background(), ManageOptions{
		URL:         "http://" + addr + "/production",
		AccessKeyID: "AKIABENCH0123456789", SecretAccessKey: "wrong-secret-0123456789",
		Requests: 100, Rounds: 1, Warmup: -1, NoFloor: true,
	})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v, want a 403", err)
	}
}
