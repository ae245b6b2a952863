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
		{"/prod/@channels/chat%3Alobby", true},
		{"/prod/%40channels/a%2Fb/connections/x", true},
		{"/prod/@channels", true}, // the handler answers 404
		{"/prod/@users/alice", true},
		{"/prod/%40users/alice", true},
		{"/prod/@broadcast", true},
		{"/prod/%40broadcast", true},
		{"/prod/@batch", true},
		{"/prod/%40%62atch", true},
		{"/@channels/x", true}, // no stage: 403
		{"/@users/x", true},
		{"/%40broadcast", true},
		{"/@batch", true},
		{"/prod/@Channels/x", false},
		{"/prod/@channel/x", false},
		{"/prod/@user/x", false},
		{"/prod/@batches", false},
		{"/prod/channels/x", false},
		{"/prod/x/@channels", false},
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
		{"/prod/@channels/chat:lobby", route{kind: routeChannel, stage: "prod", channel: "chat:lobby", name: "@channels/chat:lobby"}},
		{"/prod/%40channels/a%2Fb", route{kind: routeChannel, stage: "prod", channel: "a/b", name: "@channels/a/b"}},
		{"/prod/@channels/a%2Fb/history", route{kind: routeHistory, stage: "prod", channel: "a/b", name: "@channels/a/b/history"}},
		{"/prod/@channels/history/%68istory", route{kind: routeHistory, stage: "prod", channel: "history", name: "@channels/history/history"}},
		{"/prod/@channels/c/connections/R1kmxc2VNjMCFIA%3D", route{kind: routeMember, stage: "prod", channel: "c", id: "R1kmxc2VNjMCFIA=", name: "@channels/c/connections/R1kmxc2VNjMCFIA="}},
		{"/prod/@channels/connections/connections/connections", route{kind: routeMember, stage: "prod", channel: "connections", id: "connections", name: "@channels/connections/connections/connections"}},
		{"/prod/@users/a%2Fb%20c", route{kind: routeUser, stage: "prod", user: "a/b c", name: "@users/a/b c"}},
		{"/prod/@broadcast", route{kind: routeBroadcast, stage: "prod", name: "@broadcast"}},
		{"/prod/%40batch", route{kind: routeBatch, stage: "prod", name: "@batch"}},
		{"/@channels/x", route{kind: routeNoStage, name: "@channels/x"}},
		{"/%40batch", route{kind: routeNoStage, name: "@batch"}},
		// Shapes that are not routes.
		{"/prod/@channels", route{kind: routeNone, stage: "prod", name: "@channels"}},
		{"/prod/@channels/", route{kind: routeNone, stage: "prod", name: "@channels/"}},
		{"/prod/@channels//history", route{kind: routeNone, stage: "prod", name: "@channels//history"}},
		{"/prod/@channels/c/History", route{kind: routeNone, stage: "prod", name: "@channels/c/History"}},
		{"/prod/@channels/c/history/", route{kind: routeNone, stage: "prod", name: "@channels/c/history/"}},
		{"/prod/@channels/c/connections", route{kind: routeNone, stage: "prod", name: "@channels/c/connections"}},
		{"/prod/@channels/c/connections/", route{kind: routeNone, stage: "prod", name: "@channels/c/connections/"}},
		{"/prod/@channels/c/connections/x/y", route{kind: routeNone, stage: "prod", name: "@channels/c/connections/x/y"}},
		{"/prod/@channels/c/members/x", route{kind: routeNone, stage: "prod", name: "@channels/c/members/x"}},
		{"/prod/@channels/a/b/c/d/e/f/g", route{kind: routeNone, stage: "prod", name: "@channels/a/b/c/d/e/f/g"}},
		{"/prod/@users", route{kind: routeNone, stage: "prod", name: "@users"}},
		{"/prod/@users/", route{kind: routeNone, stage: "prod", name: "@users/"}},
		{"/prod/@users/a/b", route{kind: routeNone, stage: "prod", name: "@users/a/b"}},
		{"/prod/@broadcast/", route{kind: routeNone, stage: "prod", name: "@broadcast/"}},
		{"/prod/@batch/x", route{kind: routeNone, stage: "prod", name: "@batch/x"}},
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
	for _, bad := range []string{"/prod/@connections/%zz", "/pr%d/@connections/x", "/prod/%zz", "/prod/@channels/%zz", "/prod/@channels/c/connections/a/b/c/%zz", "/@batch/%zz"} {
		if _, err := parsePath(bad); err != errMalformedPath {
			t.Errorf("parsePath(%q) error = %v, want errMalformedPath", bad, err)
		}
	}
}

func BenchmarkIsManagementPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		IsManagementPath("/prod/@connections/R1kmxc2VNjMCFIA%3D")
		IsManagementPath("/prod/@channels/chat:lobby")
		IsManagementPath("/prod")
	}
}
