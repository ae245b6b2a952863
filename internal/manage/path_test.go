package manage

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsManagementPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/prod/@connections/R1kmxc2VNjMCFIA%3D", true},
		{"/prod/%40connections/R1kmxc2VNjMCFIA%3D", true},
		{"/prod/%40%63onnections/x", true},
		{"/prod/%40%6Fonnections/x", false}, // decodes to "@oonnections"
		{"/prod/@connections", true},
		{"/prod/@connections/", true},
		{"/prod/@connections/a/b/c", true}, // the handler answers 404
		{"//@connections/x", true},         // empty stage: the handler answers 403
		{"/prod/%40Connections/x", false},
		{"/prod/@Connections/x", false},
		{"/prod/@connectionsX", false},
		{"/prod/%4", false},
		{"/prod/%zz/x", false},
		{"/prod", false},
		{"/prod/", false},
		{"/", false},
		{"", false},
		{"*", false},
		{"prod/@connections/x", false},
		{"/@connections/x", true}, // no stage: the handler answers 403, as AWS does
		{"/%40connections", true},
		{"/prod/x/@connections", false},
	}
	for _, tt := range tests {
		if got := IsManagementPath(tt.path); got != tt.want {
			t.Errorf("IsManagementPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path string
		want route
	}{
		{"/prod/@connections", route{kind: routeList, stage: "prod", name: "@connections"}},
		{"/prod/%40connections/", route{kind: routeList, stage: "prod", name: "@connections/"}},
		{"/prod/@connections/R1kmxc2VNjMCFIA%3D", route{kind: routeConnection, stage: "prod", id: "R1kmxc2VNjMCFIA=", name: "@connections/R1kmxc2VNjMCFIA="}},
		{"/prod/@connections/a%2Fb%25c%3d", route{kind: routeConnection, stage: "prod", id: "a/b%c=", name: "@connections/a/b%c="}},
		{"/my%20stage/@connections/x", route{kind: routeConnection, stage: "my stage", id: "x", name: "@connections/x"}},
		{"/prod/@connections/a+b", route{kind: routeConnection, stage: "prod", id: "a+b", name: "@connections/a+b"}},
		{"/prod/@connections/a/b", route{kind: routeNone, stage: "prod", name: "@connections/a/b"}},
		{"/prod/@connections/a/b/c/d/e", route{kind: routeNone, stage: "prod", name: "@connections/a/b/c/d/e"}},
		{"/prod/other", route{kind: routeNone, name: "prod/other"}},
		{"/@connections/R1kmxc2VNjMCFIA%3D", route{kind: routeNoStage, name: "@connections/R1kmxc2VNjMCFIA="}},
	}
	for _, tt := range tests {
		got, err := parsePath(tt.path)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tt.path, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(route{})); diff != "" {
			t.Errorf("parsePath(%q) (-want +got):\n%s", tt.path, diff)
		}
	}
	for _, bad := range []string{"/prod/@connections/%zz", "/pr%d/@connections/x", "/prod/%zz"} {
		if _, err := parsePath(bad); err != errMalformedPath {
			t.Errorf("parsePath(%q) error = %v, want errMalformedPath", bad, err)
		}
	}
}

func BenchmarkIsManagementPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		IsManagementPath("/prod/@connections/R1kmxc2VNjMCFIA%3D")
		IsManagementPath("/prod")
	}
}
