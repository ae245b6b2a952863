package redcluster

import (
	"fmt"
	"os"
	"testing"

	"github.com/switchboardhq/switchboard/internal/redistest"
	"go.uber.org/goleak"
)

// TestMain stops the shared Redis Cluster after the tests and checks for
// leaked goroutines. Two rueidis goroutines that Close does not wait for
// are allowed (rueidis v1.0.80): after a cluster topology refresh one
// closes connections to nodes that left the slot map 5 s later
// (cluster.go, _refresh), and after a connection error (the Reset test
// kills them) a refresh is delayed by up to a second (singleflight.go,
// DelayDo).
func TestMain(m *testing.M) {
	code := m.Run()
	redistest.CloseShared()
	if code == 0 {
		if err := goleak.Find(
			goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
			goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
