package redcluster

import (
	"fmt"
	"os"
	"testing"

	"github.com/switchboardhq/switchboard/internal/redistest"
	"go.uber.org/goleak"
)

// TestMain stops the shared Redis Cluster after the tests and checks for
// leaked goroutines. One rueidis goroutine is allowed: after a cluster
// topology refresh it closes connections to nodes that left the slot map
// 5 s later, in a goroutine Close does not wait for (rueidis v1.0.80
// cluster.go, _refresh).
func TestMain(m *testing.M) {
	code := m.Run()
	redistest.CloseShared()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
