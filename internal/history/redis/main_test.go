package redishistory_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/switchboardhq/switchboard/internal/redistest"
	"go.uber.org/goleak"
)

// TestMain stops the shared Redis Cluster after the tests and checks for
// leaked goroutines (the rueidis clients must be closed).
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
