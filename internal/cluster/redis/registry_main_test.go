package redcluster_test

import (
	"os"
	"testing"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// TestMain stops the shared Redis Cluster after the tests. (Temporary: the
// package's main_test.go, written alongside the Bus tests, does the same;
// keep one of the two when merging.)
func TestMain(m *testing.M) {
	code := m.Run()
	redistest.CloseShared()
	os.Exit(code)
}
