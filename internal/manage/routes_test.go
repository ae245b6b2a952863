package manage

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// FuzzRouteOf parses arbitrary paths and checks that RouteOf does not
// panic, that a path it matches has one of the templates of Operations
// with that template's methods, and that the Handler answers a method the
// template lacks with 405 and those methods as Allow.
func FuzzRouteOf(f *testing.F) {
	for _, p := range []string{
		"/prod/@connections", "/prod/@connections/", "/prod/%40connections/R1kmxc2VNjMCFIA%3D",
		"/prod/@channels/a%2Fb/connections/x", "/prod/@channels/a/history", "/prod/@users/u",
		"/prod/@broadcast", "/prod/@batch", "/@connections/x", "/prod/@channels//history", "/prod/%zz",
	} {
		f.Add(p)
	}
	byPath := make(map[string][]string)
	for _, op := range Operations() {
		byPath[op.Path] = append(byPath[op.Path], op.Method)
	}
	h := NewHandler(nil, Auth{AllowLoopback: true}, nil)
	f.Fuzz(func(t *testing.T, path string) {
		tmpl, methods, ok := RouteOf(path)
		if !ok {
			if tmpl != "" || methods != nil {
				t.Fatalf("RouteOf(%q) = %q, %v, false", path, tmpl, methods)
			}
			return
		}
		if !slices.Equal(methods, byPath[tmpl]) {
			t.Fatalf("RouteOf(%q) = %q, %v; Operations has %v", path, tmpl, methods, byPath[tmpl])
		}
		// The handler reads the path it is given, not the request's URL.
		req := httptest.NewRequest("PATCH", "http://localhost/", nil)
		req.RemoteAddr = "127.0.0.1:1234"
		w := httptest.NewRecorder()
		h.ServeEscaped(w, req, path)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != strings.Join(methods, ", ") {
			t.Fatalf("PATCH %s: %d, Allow %q, want 405 and %v", path, w.Code, w.Header().Get("Allow"), methods)
		}
	})
}
