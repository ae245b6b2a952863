package manage

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

func TestUsers(t *testing.T) {
	b := newChannelBackend()
	b.connect("prod", gateway.ConnectionInfo{ID: "c5=", User: "a/b c", ConnectedAt: testTime, LastActiveAt: testTime})
	for _, j := range []string{"news:x c2=", "chat:y c2="} {
		ch, id, _ := strings.Cut(j, " ")
		if err := b.Join(t.Context(), "prod", ch, id); err != nil {
			t.Fatal(err)
		}
	}
	srv := newTestServer(t, b, Auth{AllowLoopback: true})

	conn := func(id, channels string) string {
		return `{"connectionId":"` + id + `","connectedAt":"2026-03-04T04:06:07.891Z","identity":{"sourceIp":"192.0.2.1","userAgent":"ua"},"lastActiveAt":"2026-03-04T04:06:07.891Z","channels":[` + channels + `]}`
	}
	checkJSON(t, do(t, srv, "GET", "/prod/@users/alice", nil, nil),
		`{"user":"alice","connections":[`+conn("c1=", "")+","+conn("c2=", `"chat:y","news:x"`)+`]}`)
	checkJSON(t, do(t, srv, "GET", "/prod/%40users/a%2Fb%20c", nil, nil),
		`{"user":"a/b c","connections":[{"connectionId":"c5=","connectedAt":"2026-03-04T04:06:07.891Z","identity":{"sourceIp":"","userAgent":""},"lastActiveAt":"2026-03-04T04:06:07.891Z","channels":[]}]}`)
	checkJSON(t, do(t, srv, "GET", "/prod/@users/nobody", nil, nil), `{"user":"nobody","connections":[]}`)

	checkJSON(t, do(t, srv, "POST", "/prod/@users/alice", strings.NewReader("hi"), http.Header{"Content-Type": {"text/plain"}}), `{"recipients":2}`)
	checkJSON(t, do(t, srv, "POST", "/prod/%40users/a%2Fb%20c", strings.NewReader("x"), nil), `{"recipients":1}`)
	checkJSON(t, do(t, srv, "POST", "/prod/@users/nobody", strings.NewReader("x"), nil), `{"recipients":0}`)

	checkJSON(t, do(t, srv, "DELETE", "/prod/@users/alice", nil, nil), `{"disconnected":2}`)
	checkJSON(t, do(t, srv, "DELETE", "/prod/@users/alice", nil, nil), `{"disconnected":0}`)
	checkJSON(t, do(t, srv, "GET", "/prod/@users/alice", nil, nil), `{"user":"alice","connections":[]}`)
	checkJSON(t, do(t, srv, "POST", "/prod/@users/alice", strings.NewReader("x"), nil), `{"recipients":0}`)

	want := []fakeCall{
		{op: "join", stage: "prod", target: "news:x c2="},
		{op: "join", stage: "prod", target: "chat:y c2="},
		{op: "user", stage: "prod", target: "alice", data: []byte("hi")},
		{op: "user", stage: "prod", target: "a/b c", data: []byte("x")},
		{op: "user", stage: "prod", target: "nobody", data: []byte("x")},
		{op: "disconnect", stage: "prod", target: "alice"},
		{op: "disconnect", stage: "prod", target: "alice"},
		{op: "user", stage: "prod", target: "alice", data: []byte("x")},
	}
	if diff := cmp.Diff(want, b.callsSnapshot(), cmp.AllowUnexported(fakeCall{})); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestUserErrors(t *testing.T) {
	srv := newTestServer(t, newChannelBackend(), Auth{AllowLoopback: true})
	for _, method := range []string{"GET", "POST", "DELETE"} {
		checkError(t, do(t, srv, method, "/prod/@users/a%01b", strings.NewReader("x"), nil), 400, "BadRequestException", msgInvalidUser)
		checkError(t, do(t, srv, method, "/prod/@users/boom", strings.NewReader("x"), nil), 500, "InternalServerErrorException", msgInternal)
		checkError(t, do(t, srv, method, "/test/@users/alice", strings.NewReader("x"), nil), 403, "ForbiddenException", msgForbidden)
	}
}

// TestNewRouteShapes checks the 405s, 404s and 403s of the routes beyond
// @connections.
func TestNewRouteShapes(t *testing.T) {
	tests := []struct {
		method, path string
		status       int
		typ, msg     string
		allow        string
	}{
		{"PUT", "/prod/@channels/c", 405, "MethodNotAllowedException", "Method PUT is not allowed on route @channels/c", "GET, POST"},
		{"DELETE", "/prod/@channels/c", 405, "MethodNotAllowedException", "DELETE", "GET, POST"},
		{"POST", "/prod/@channels/c/history", 405, "MethodNotAllowedException", "POST", "GET"},
		{"GET", "/prod/@channels/c/connections/x", 405, "MethodNotAllowedException", "GET", "PUT, DELETE"},
		{"POST", "/prod/@channels/c/connections/x", 405, "MethodNotAllowedException", "POST", "PUT, DELETE"},
		{"PUT", "/prod/@users/u", 405, "MethodNotAllowedException", "PUT", "GET, POST, DELETE"},
		{"GET", "/prod/@broadcast", 405, "MethodNotAllowedException", "GET", "POST"},
		{"GET", "/prod/%40batch", 405, "MethodNotAllowedException", "GET", "POST"},
		{"HEAD", "/prod/@channels/c", 405, "MethodNotAllowedException", "", "GET, POST"},
		{"GET", "/prod/@channels", 404, "NotFoundException", "No method found matching route @channels for http method GET.", ""},
		{"GET", "/prod/@channels/", 404, "NotFoundException", "No method found matching route @channels/ for http method GET.", ""},
		{"PUT", "/prod/@channels/c/connections/", 404, "NotFoundException", "route @channels/c/connections/ for", ""},
		{"PUT", "/prod/@channels//connections/x", 404, "NotFoundException", "route @channels//connections/x for", ""},
		{"GET", "/prod/@channels/c/history/x", 404, "NotFoundException", "route @channels/c/history/x for", ""},
		{"GET", "/prod/@channels/c/presence", 404, "NotFoundException", "route @channels/c/presence for", ""},
		{"GET", "/prod/@users", 404, "NotFoundException", "route @users for", ""},
		{"DELETE", "/prod/@users/", 404, "NotFoundException", "route @users/ for", ""},
		{"GET", "/prod/@users/a/b", 404, "NotFoundException", "route @users/a/b for", ""},
		{"POST", "/prod/@broadcast/", 404, "NotFoundException", "route @broadcast/ for", ""},
		{"POST", "/prod/@batch/x", 404, "NotFoundException", "route @batch/x for", ""},
		{"POST", "/@channels/c", 403, "ForbiddenException", "the endpoint has no stage", ""},
		{"POST", "/%40users/u", 403, "ForbiddenException", "the endpoint has no stage", ""},
		{"POST", "/@broadcast", 403, "ForbiddenException", "the endpoint has no stage", ""},
		{"POST", "/@batch", 403, "ForbiddenException", "the endpoint has no stage", ""},
	}
	srv := newTestServer(t, newChannelBackend(), Auth{AllowLoopback: true})
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.path, strings.NewReader("{}"), nil)
			if tt.method == "HEAD" {
				if r.status != tt.status || r.header.Get("x-amzn-ErrorType") != tt.typ {
					t.Errorf("got %d %q", r.status, r.header.Get("x-amzn-ErrorType"))
				}
			} else {
				checkError(t, r, tt.status, tt.typ, tt.msg)
			}
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}
