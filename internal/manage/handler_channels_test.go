package manage

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// newChannelBackend serves stage "prod" (limit testMaxBytes) with four
// connections: c1= and c2= of user alice (c1= with presence info), c3= of
// bob and c4= without a user; and an empty stage "dev".
func newChannelBackend() *fakeBackend {
	b := newFakeBackend()
	b.addStage("prod", testMaxBytes)
	b.addStage("dev", testMaxBytes)
	for _, c := range []struct{ id, user string }{{"c1=", "alice"}, {"c2=", "alice"}, {"c3=", "bob"}, {"c4=", ""}} {
		b.connect("prod", gateway.ConnectionInfo{ID: c.id, User: c.user, ConnectedAt: testTime, LastActiveAt: testTime, SourceIP: "192.0.2.1", UserAgent: "ua"})
	}
	b.setPresence("prod", "c1=", `{"name": "Alice"}`)
	return b
}

// checkJSON checks a 200 with a JSON body equal to want.
func checkJSON(t *testing.T, r response, want string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200 (body %s)", r.status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if string(r.body) != want {
		t.Errorf("body:\n got %s\nwant %s", r.body, want)
	}
}

// checkNoContent checks a 204 with no body.
func checkNoContent(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("got %d %q, want 204 with no body", r.status, r.body)
	}
}

func TestJoinLeave(t *testing.T) {
	b := newChannelBackend()
	srv := newTestServer(t, b, Auth{AllowLoopback: true})

	checkNoContent(t, do(t, srv, "PUT", "/prod/@channels/chat:lobby/connections/c1%3D", nil, nil))
	checkNoContent(t, do(t, srv, "PUT", "/prod/%40channels/chat%3Alobby/connections/c3=", strings.NewReader("ignored"), nil))
	checkNoContent(t, do(t, srv, "PUT", "/prod/@channels/chat:lobby/connections/c3=", nil, nil)) // again: no change
	checkNoContent(t, do(t, srv, "PUT", "/prod/@channels/a%2Fb/%63onnections/c1=", nil, nil))
	checkJSON(t, do(t, srv, "GET", "/prod/@channels/chat:lobby", nil, nil),
		`{"channel":"chat:lobby","members":2,"presence":[{"connectionId":"c1=","user":"alice","info":{"name":"Alice"}},{"connectionId":"c3=","user":"bob"}],"epoch":"ep1","offset":0}`)

	// c1= is in fakeMaxChannels channels already.
	checkError(t, do(t, srv, "PUT", "/prod/@channels/news:x/connections/c1=", nil, nil), 429, "LimitExceededException", "channels.maxPerConnection")

	checkNoContent(t, do(t, srv, "DELETE", "/prod/@channels/chat:lobby/connections/c1=", nil, nil))
	checkNoContent(t, do(t, srv, "DELETE", "/prod/@channels/chat:lobby/connections/c1=", nil, nil)) // not in it: still 204
	checkJSON(t, do(t, srv, "GET", "/prod/@channels/chat:lobby", nil, nil),
		`{"channel":"chat:lobby","members":1,"presence":[{"connectionId":"c3=","user":"bob"}],"epoch":"ep1","offset":0}`)

	want := []fakeCall{
		{op: "join", stage: "prod", target: "chat:lobby c1="},
		{op: "join", stage: "prod", target: "chat:lobby c3="},
		{op: "join", stage: "prod", target: "chat:lobby c3="},
		{op: "join", stage: "prod", target: "a/b c1="},
		{op: "leave", stage: "prod", target: "chat:lobby c1="},
		{op: "leave", stage: "prod", target: "chat:lobby c1="},
	}
	if diff := cmp.Diff(want, b.callsSnapshot(), cmp.AllowUnexported(fakeCall{})); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestPublish(t *testing.T) {
	tests := []struct {
		name, path, want string
		wantCall         fakeCall
	}{
		{"no history", "/prod/@channels/lobby", `{"recipients":2}`,
			fakeCall{op: "publish", stage: "prod", target: "lobby"}},
		{"history", "/prod/@channels/chat:lobby", `{"recipients":1,"epoch":"ep1","offset":1}`,
			fakeCall{op: "publish", stage: "prod", target: "chat:lobby"}},
		{"encoded segment and name", "/prod/%40channels/chat%3Alobby", `{"recipients":1,"epoch":"ep1","offset":1}`,
			fakeCall{op: "publish", stage: "prod", target: "chat:lobby"}},
		{"encoded slash", "/prod/@channels/a%2Fb", `{"recipients":0}`,
			fakeCall{op: "publish", stage: "prod", target: "a/b"}},
		{"exclude", "/prod/@channels/lobby?exclude=c1%3D", `{"recipients":1}`,
			fakeCall{op: "publish", stage: "prod", target: "lobby", exclude: "c1="}},
		{"empty exclude", "/prod/@channels/lobby?exclude=", `{"recipients":2}`,
			fakeCall{op: "publish", stage: "prod", target: "lobby"}},
		{"unknown parameter", "/prod/@channels/lobby?limit=zz", `{"recipients":2}`,
			fakeCall{op: "publish", stage: "prod", target: "lobby"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newChannelBackend()
			for _, j := range []string{"lobby c1=", "lobby c2=", "chat:lobby c3="} {
				ch, id, _ := strings.Cut(j, " ")
				if err := b.Join(t.Context(), "prod", ch, id); err != nil {
					t.Fatal(err)
				}
			}
			srv := newTestServer(t, b, Auth{AllowLoopback: true})
			data := []byte("hi \x00\xff")
			checkJSON(t, do(t, srv, "POST", tt.path, bytes.NewReader(data), http.Header{"Content-Type": {"application/octet-stream"}}), tt.want)
			calls := b.callsSnapshot()
			tt.wantCall.data = data
			if diff := cmp.Diff(tt.wantCall, calls[len(calls)-1], cmp.AllowUnexported(fakeCall{})); diff != "" {
				t.Errorf("call (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBroadcast(t *testing.T) {
	b := newChannelBackend()
	srv := newTestServer(t, b, Auth{AllowLoopback: true})
	checkJSON(t, do(t, srv, "POST", "/prod/@broadcast", strings.NewReader("all"), nil), `{"recipients":4}`)
	checkJSON(t, do(t, srv, "POST", "/prod/%40broadcast?exclude=c4%3D", strings.NewReader(""), nil), `{"recipients":3}`)
	checkJSON(t, do(t, srv, "POST", "/dev/@broadcast", nil, nil), `{"recipients":0}`)
	want := []fakeCall{
		{op: "broadcast", stage: "prod", data: []byte("all")},
		{op: "broadcast", stage: "prod", exclude: "c4="},
		{op: "broadcast", stage: "dev"},
	}
	if diff := cmp.Diff(want, b.callsSnapshot(), cmp.AllowUnexported(fakeCall{})); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestSendSizeLimit checks every route that takes data in its body against
// the stage's limit, as TestPostSizeLimit does for @connections.
func TestSendSizeLimit(t *testing.T) {
	paths := []string{"/prod/@channels/chat:x", "/prod/@broadcast", "/prod/@users/alice"}
	sizes := []struct {
		size    int
		chunked bool
		ok      bool
	}{
		{0, false, true},
		{testMaxBytes, false, true},
		{testMaxBytes, true, true},
		{testMaxBytes + 1, false, false},
		{testMaxBytes + 1, true, false},
		{100 * testMaxBytes, false, false},
	}
	for _, path := range paths {
		for _, sz := range sizes {
			t.Run(path+"/"+strconv.Itoa(sz.size)+map[bool]string{true: "/chunked"}[sz.chunked], func(t *testing.T) {
				b := newChannelBackend()
				srv := newTestServer(t, b, Auth{AllowLoopback: true})
				var body io.Reader = bytes.NewReader(bytes.Repeat([]byte{'z'}, sz.size))
				if sz.chunked {
					body = unsized{body}
				}
				r := do(t, srv, "POST", path, body, nil)
				calls := b.callsSnapshot()
				if sz.ok {
					if r.status != 200 || len(calls) != 1 || len(calls[0].data) != sz.size {
						t.Fatalf("got %d %s and %d calls, want 200 and one call with %d bytes", r.status, r.body, len(calls), sz.size)
					}
					return
				}
				checkError(t, r, 413, "PayloadTooLargeException", "limit of 64 bytes")
				if len(calls) != 0 {
					t.Errorf("backend got %d calls, want none", len(calls))
				}
			})
		}
	}
}

// TestSendBackendTooLarge: the backend's own ErrPayloadTooLarge names the
// limit too.
func TestSendBackendTooLarge(t *testing.T) {
	srv := newTestServer(t, lenientLimit{newChannelBackend()}, Auth{AllowLoopback: true})
	body := strings.Repeat("z", testMaxBytes+1)
	for _, path := range []string{"/prod/@channels/chat:x", "/prod/@broadcast", "/prod/@users/alice"} {
		checkError(t, do(t, srv, "POST", path, strings.NewReader(body), nil), 413, "PayloadTooLargeException", "limit of 128 bytes")
	}
}

func TestGetChannel(t *testing.T) {
	b := newChannelBackend()
	for _, j := range []string{"chat:a c4=", "chat:a c3=", "chat:a c1=", "news:a c1=", "plain c2="} {
		ch, id, _ := strings.Cut(j, " ")
		if err := b.Join(t.Context(), "prod", ch, id); err != nil {
			t.Fatal(err)
		}
	}
	b.DeleteConnection(t.Context(), "prod", "c4=") // a closed member is not counted
	for range 2 {
		if _, err := b.Publish(t.Context(), "prod", "news:a", []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
	srv := newTestServer(t, b, Auth{AllowLoopback: true})
	tests := []struct{ target, want string }{
		{"/prod/@channels/chat:a",
			`{"channel":"chat:a","members":2,"presence":[{"connectionId":"c1=","user":"alice","info":{"name":"Alice"}},{"connectionId":"c3=","user":"bob"}],"epoch":"ep1","offset":0}`},
		{"/prod/@channels/chat:a?limit=1",
			`{"channel":"chat:a","members":2,"presence":[{"connectionId":"c1=","user":"alice","info":{"name":"Alice"}}],"nextCursor":"p1","epoch":"ep1","offset":0}`},
		{"/prod/@channels/chat:a?limit=1&cursor=p1",
			`{"channel":"chat:a","members":2,"presence":[{"connectionId":"c3=","user":"bob"}],"epoch":"ep1","offset":0}`},
		{"/prod/@channels/chat%3Aempty", `{"channel":"chat:empty","members":0,"presence":[],"epoch":"ep1","offset":0}`},
		{"/prod/@channels/news:a", `{"channel":"news:a","members":1,"epoch":"ep1","offset":2}`},
		{"/prod/@channels/plain", `{"channel":"plain","members":1}`},
		{"/prod/@channels/plain?limit=1000&cursor=&other=1", `{"channel":"plain","members":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			checkJSON(t, do(t, srv, "GET", tt.target, nil, nil), tt.want)
		})
	}
	t.Run("bad parameters", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=1001", "limit=-1", "limit=x", "limit=", "limit=1&limit=1"} {
			checkError(t, do(t, srv, "GET", "/prod/@channels/chat:a?"+q, nil, nil), 400, "BadRequestException", "Invalid limit")
		}
		checkError(t, do(t, srv, "GET", "/prod/@channels/chat:a?cursor=zz", nil, nil), 400, "BadRequestException", msgInvalidCurs)
		checkError(t, do(t, srv, "GET", "/prod/@channels/chat:a?cursor=p1&cursor=p1", nil, nil), 400, "BadRequestException", "Invalid cursor: give it at most once")
		checkError(t, do(t, srv, "GET", "/prod/@channels/chat:a?cursor=%zz", nil, nil), 400, "BadRequestException", "Malformed query string")
	})
}

func TestHistory(t *testing.T) {
	b := newChannelBackend()
	for _, d := range []string{"one", "two", `{"n": 3}`, "\xff\x00", ""} {
		if _, err := b.Publish(t.Context(), "prod", "chat:h", []byte(d), ""); err != nil {
			t.Fatal(err)
		}
	}
	srv := newTestServer(t, b, Auth{AllowLoopback: true})
	// fakeHistorySize keeps offsets 3 to 5, dated testTime + offset seconds.
	p3 := `{"offset":3,"time":"2026-03-04T04:06:10.891Z","data":{"n":3}}`
	p4 := `{"offset":4,"time":"2026-03-04T04:06:11.891Z","b64":"/wA="}`
	p5 := `{"offset":5,"time":"2026-03-04T04:06:12.891Z","text":""}`
	tests := []struct{ target, want string }{
		{"/prod/@channels/chat:h/history", `{"epoch":"ep1","offset":5,"truncated":true,"publications":[` + p3 + "," + p4 + "," + p5 + `]}`},
		{"/prod/%40channels/chat%3Ah/history?since=0&limit=2", `{"epoch":"ep1","offset":5,"truncated":true,"publications":[` + p3 + "," + p4 + `]}`},
		{"/prod/@channels/chat:h/history?since=2", `{"epoch":"ep1","offset":5,"truncated":false,"publications":[` + p3 + "," + p4 + "," + p5 + `]}`},
		{"/prod/@channels/chat:h/history?since=4&epoch=ep1", `{"epoch":"ep1","offset":5,"truncated":false,"publications":[` + p5 + `]}`},
		{"/prod/@channels/chat:h/history?since=5&epoch=", `{"epoch":"ep1","offset":5,"truncated":false,"publications":[]}`},
		{"/prod/@channels/chat:h/history?since=18446744073709551615", `{"epoch":"ep1","offset":5,"truncated":false,"publications":[]}`},
		{"/prod/@channels/news:none/history", `{"epoch":"ep1","offset":0,"truncated":false,"publications":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			checkJSON(t, do(t, srv, "GET", tt.target, nil, nil), tt.want)
		})
	}
	// JSON data comes back as the same value, with <, > and & as they
	// were published (not as \u003c...).
	t.Run("html characters", func(t *testing.T) {
		if _, err := b.Publish(t.Context(), "prod", "chat:html", []byte(`{"a": "<b> & c"}`), ""); err != nil {
			t.Fatal(err)
		}
		r := do(t, srv, "GET", "/prod/@channels/chat:html/history", nil, nil)
		if want := `"data":{"a":"<b> & c"}`; r.status != 200 || !bytes.Contains(r.body, []byte(want)) {
			t.Fatalf("history: %d %s, want it to hold %s", r.status, r.body, want)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, q := range []string{"since=-1", "since=+1", "since=x", "since=", "since=1.0", "since=0x1", "since=18446744073709551616", "since=1&since=1"} {
			checkError(t, do(t, srv, "GET", "/prod/@channels/chat:h/history?"+q, nil, nil), 400, "BadRequestException", "Invalid since")
		}
		for _, q := range []string{"limit=0", "limit=1001", "limit=a"} {
			checkError(t, do(t, srv, "GET", "/prod/@channels/chat:h/history?"+q, nil, nil), 400, "BadRequestException", "Invalid limit")
		}
		checkError(t, do(t, srv, "GET", "/prod/@channels/chat:h/history?epoch=a&epoch=b", nil, nil), 400, "BadRequestException", "Invalid epoch: give it at most once")
		checkError(t, do(t, srv, "GET", "/prod/@channels/chat:h/history?epoch=old", nil, nil), 409, "ConflictException", "another epoch")
		checkError(t, do(t, srv, "GET", "/prod/@channels/plain/history", nil, nil), 400, "BadRequestException", msgNoHistory)
	})
}

// TestChannelErrors maps the backend's errors for each channel route.
func TestChannelErrors(t *testing.T) {
	srv := newTestServer(t, newChannelBackend(), Auth{AllowLoopback: true})
	routes := []struct{ method, prefix, suffix string }{
		{"POST", "/prod/@channels/", ""},
		{"GET", "/prod/@channels/", ""},
		{"GET", "/prod/@channels/", "/history"},
		{"PUT", "/prod/@channels/", "/connections/c1="},
		{"DELETE", "/prod/@channels/", "/connections/c1="},
	}
	channels := []struct {
		channel string
		status  int
		typ     string
		msg     string
	}{
		{"a%20b", 400, "BadRequestException", msgInvalidChannel},
		{"a,b", 400, "BadRequestException", msgInvalidChannel},
		{"a%0Ab", 400, "BadRequestException", msgInvalidChannel},
		{"nope:x", 400, "BadRequestException", msgNoNamespace},
		{"boom", 500, "InternalServerErrorException", msgInternal},
	}
	for _, rt := range routes {
		for _, ch := range channels {
			t.Run(rt.method+" "+ch.channel+rt.suffix, func(t *testing.T) {
				checkError(t, do(t, srv, rt.method, rt.prefix+ch.channel+rt.suffix, strings.NewReader("x"), nil), ch.status, ch.typ, ch.msg)
			})
		}
		t.Run(rt.method+" unknown stage"+rt.suffix, func(t *testing.T) {
			checkError(t, do(t, srv, rt.method, "/test/@channels/chat:a"+rt.suffix, strings.NewReader("x"), nil), 403, "ForbiddenException", msgForbidden)
		})
	}
	for _, method := range []string{"PUT", "DELETE"} {
		checkError(t, do(t, srv, method, "/prod/@channels/chat:a/connections/gone=", nil, nil), 410, "GoneException", "gone")
		checkError(t, do(t, srv, method, "/prod/@channels/chat:a/connections/bad!", nil, nil), 400, "BadRequestException", msgInvalidID)
		checkError(t, do(t, srv, method, "/prod/@channels/chat:a/connections/boom", nil, nil), 500, "InternalServerErrorException", msgInternal)
	}
	for _, path := range []string{"/prod/@channels/chat:a", "/prod/@broadcast"} {
		checkError(t, do(t, srv, "POST", path+"?exclude=bad!", strings.NewReader("x"), nil), 400, "BadRequestException", msgInvalidExclude)
		checkError(t, do(t, srv, "POST", path+"?exclude=c1%3D&exclude=c2%3D", strings.NewReader("x"), nil), 400, "BadRequestException", "Invalid exclude: give it at most once")
		checkError(t, do(t, srv, "POST", path+"?exclude=%zz", strings.NewReader("x"), nil), 400, "BadRequestException", "Malformed query string")
	}
	checkError(t, do(t, srv, "POST", "/test/@broadcast", strings.NewReader("x"), nil), 403, "ForbiddenException", msgForbidden)
}

// TestLimitExceededIsTyped: an SDK turns the 429 into its modelled
// LimitExceededException.
func TestLimitExceededIsTyped(t *testing.T) {
	b := newChannelBackend()
	srv := newTestServer(t, b, Auth{AllowLoopback: true})
	for _, ch := range []string{"a", "b", "c"} {
		r := do(t, srv, "PUT", "/prod/@channels/"+ch+"/connections/c1=", nil, nil)
		if ch != "c" {
			checkNoContent(t, r)
			continue
		}
		for parser, parse := range map[string]func(http.Header, []byte) (string, string, bool, bool){
			"current": sdkErrorCurrent, "legacy": sdkErrorLegacy,
		} {
			if code, _, typed, ok := parse(r.header, r.body); !ok || !typed || code != "LimitExceededException" {
				t.Errorf("%s: code %q typed %v ok %v, want a typed LimitExceededException", parser, code, typed, ok)
			}
		}
	}
}
