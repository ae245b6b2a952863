package manage

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/gateway"
)

// In a cluster, a call whose owner node or shared state does not answer
// fails with gateway.ErrUnavailable (wrapped, as the gateway returns it):
// 503 ServiceUnavailableException in AWS's error shape, which SDKs retry.
func TestUnavailableIs503(t *testing.T) {
	for _, err := range []error{
		gateway.ErrUnavailable,
		fmt.Errorf("%w: node 0a1b2c3d: timeout", gateway.ErrUnavailable),
		fmt.Errorf("forwarding: %w", cluster.ErrUnavailable),
	} {
		h := NewHandler(newTestBackend(), Auth{}, nil)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/prod/@connections/R1kmxc2VNjMCFIA=", nil)
		h.writeError(&statusWriter{ResponseWriter: rec}, req, route{name: "@connections/R1kmxc2VNjMCFIA="}, err)
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%v: status %d, want 503", err, rec.Code)
		}
		if got := rec.Header().Get("x-amzn-ErrorType"); got != "ServiceUnavailableException" {
			t.Fatalf("%v: x-amzn-ErrorType %q", err, got)
		}
		code, msg, typed, ok := sdkErrorCurrent(rec.Header(), rec.Body.Bytes())
		if !ok || typed || code != "ServiceUnavailableException" || msg != msgUnavailable {
			t.Fatalf("%v: the SDK reads %q %q typed=%v ok=%v", err, code, msg, typed, ok)
		}
	}
}
