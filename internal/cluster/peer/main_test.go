package peer

import (
	"testing"

	"go.uber.org/goleak"
)

// Every server, client connection and hanging listener a test starts is
// gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
