package bench

import (
	"context"
	"fmt"
	"os"
	"testing"

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
	goleak.VerifyTestMain(m)
}

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
