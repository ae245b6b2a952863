package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboardhq/switchboard/internal/testproc"

	"go.uber.org/goleak"
)

// workerEnv makes the test binary a fan-out worker: Fanout's tests run
// their own binary (os.Args[0]) as the worker command, with this set.
const workerEnv = "SWITCHBOARD_BENCH_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		if err := RunFanoutWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "fan-out worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(noopEnv) != "" {
		if err := RunNoopServer(context.Background(), os.Stdout, os.Getenv(NoopDeliverEnv) == "1"); err != nil {
			fmt.Fprintln(os.Stderr, "no-op server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(stormWorkerEnv) != "" {
		if err := RunStormWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "storm worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// The storm tests run the real server, which testproc builds; the
	// goroutine check runs after the tests, as goleak.VerifyTestMain's.
	testproc.Main(m, &switchboardBin, "../../cmd/switchboard", func() {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			os.RemoveAll(filepath.Dir(switchboardBin))
			os.Exit(1)
		}
	})
}

// stormWorkerEnv makes the test binary a storm worker.
const stormWorkerEnv = "SWITCHBOARD_BENCH_TEST_STORM_WORKER"

// switchboardBin is the switchboard binary TestMain builds.
var switchboardBin string

// testWorkers fills in the options that run the workers in tests.
func testWorkers(t *testing.T, o FanoutOptions) FanoutOptions {
	o.WorkerCommand = []string{os.Args[0]}
	o.WorkerEnv = []string{workerEnv + "=1"}
	o.Stderr = testLog{t}
	return o
}

// testLog routes the workers' stderr to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Logf("%s", p)
	return len(p), nil
}
