package manage

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLogWriter routes the handler's log to t.Log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

const testMaxBytes = 64

// newTestBackend serves stage "prod" (limit testMaxBytes) with two
// connections, "R1kmxc2VNjMCFIA=" and "a/b=%x", and an empty stage "dev".
func newTestBackend() *fakeBackend {
	b := newFakeBackend()
	b.addStage("prod", testMaxBytes)
	b.addStage("dev", testMaxBytes)
	b.connect("prod", gateway.ConnectionInfo{ID: "R1kmxc2VNjMCFIA=", ConnectedAt: testTime, LastActiveAt: testTime.Add(1500 * 1e6), SourceIP: "192.0.2.1"})
	b.connect("prod", gateway.ConnectionInfo{ID: "a/b=%x", ConnectedAt: testTime, LastActiveAt: testTime, SourceIP: "2001:db8::7", UserAgent: "wscat/6"})
	return b
}

// newTestServer serves h's management API on a real loopback socket.
func newTestServer(t *testing.T, b Backend, auth Auth) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(b, auth, testLogger(t)))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request whose target (escaped path and query) goes on the
// wire exactly as given.
func do(t *testing.T, srv *httptest.Server, method, target string, body io.Reader, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+target, body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := req.URL.RequestURI(), target; got != want {
		t.Fatalf("request target would be sent as %q, not %q", got, want)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkError checks the full shape of an error response: status, the
// x-amzn-ErrorType and x-amzn-RequestId headers, and a JSON body holding
// exactly __type and message.
func checkError(t *testing.T, r response, status int, typ, msgPart string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if got := r.header.Get("x-amzn-ErrorType"); got != typ {
		t.Errorf("x-amzn-ErrorType = %q, want %q", got, typ)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if id := r.header.Get("x-amzn-RequestId"); !uuidRE.MatchString(id) {
		t.Errorf("x-amzn-RequestId = %q, want a UUID", id)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	if len(body) != 2 || body["__type"] != typ {
		t.Errorf("error body = %s, want exactly __type %q and message", r.body, typ)
	}
	if msg, _ := body["message"].(string); !strings.Contains(msg, msgPart) {
		t.Errorf("message = %q, want it to contain %q", msg, msgPart)
	}
}

func TestPostToConnection(t *testing.T) {
	tests := []struct {
		name, path, contentType string
		wantID                  string
	}{
		{"at sign", "/prod/@connections/R1kmxc2VNjMCFIA%3D", "application/octet-stream", "R1kmxc2VNjMCFIA="},
		{"encoded at sign", "/prod/%40connections/R1kmxc2VNjMCFIA%3D", "text/plain", "R1kmxc2VNjMCFIA="},
		{"unescaped equals", "/prod/@connections/R1kmxc2VNjMCFIA=", "", "R1kmxc2VNjMCFIA="},
		{"encoded slash and percent", "/prod/@connections/a%2Fb%3D%25x", "application/json", "a/b=%x"},
		{"lower-case hex", "/prod/%40connections/a%2fb%3d%25x", "application/octet-stream", "a/b=%x"},
		{"encoded stage", "/pr%6Fd/@connections/R1kmxc2VNjMCFIA%3D", "application/octet-stream", "R1kmxc2VNjMCFIA="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBackend()
			srv := newTestServer(t, b, Auth{AllowLoopback: true})
			data := []byte("hi \x00\xff there")
			hdr := http.Header{}
			if tt.contentType != "" {
				hdr.Set("Content-Type", tt.contentType)
			}
			r := do(t, srv, http.MethodPost, tt.path, bytes.NewReader(data), hdr)
			if r.status != http.StatusOK || len(r.body) != 0 {
				t.Fatalf("got %d %q, want 200 with an empty body", r.status, r.body)
			}
			if id := r.header.Get("x-amzn-RequestId"); !uuidRE.MatchString(id) {
				t.Errorf("x-amzn-RequestId = %q, want a UUID", id)
			}
			want := []fakePost{{stage: "prod", id: tt.wantID, data: data}}
			if diff := cmp.Diff(want, b.postsSnapshot(), cmp.AllowUnexported(fakePost{})); diff != "" {
				t.Errorf("posts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetConnection(t *testing.T) {
	srv := newTestServer(t, newTestBackend(), Auth{AllowLoopback: true})
	tests := []struct{ path, want string }{
		{"/prod/@connections/R1kmxc2VNjMCFIA%3D",
			`{"connectedAt":"2026-03-04T04:06:07.891Z","identity":{"sourceIp":"192.0.2.1","userAgent":""},"lastActiveAt":"2026-03-04T04:06:09.391Z"}`},
		{"/prod/%40connections/a%2Fb%3D%25x",
			`{"connectedAt":"2026-03-04T04:06:07.891Z","identity":{"sourceIp":"2001:db8::7","userAgent":"wscat/6"},"lastActiveAt":"2026-03-04T04:06:07.891Z"}`},
	}
	for _, tt := range tests {
		r := do(t, srv, http.MethodGet, tt.path, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: status %d, body %s", tt.path, r.status, r.body)
		}
		if got := r.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("GET %s: Content-Type %q", tt.path, got)
		}
		if string(r.body) != tt.want {
			t.Errorf("GET %s:\n got %s\nwant %s", tt.path, r.body, tt.want)
		}
	}
}

func TestDeleteConnection(t *testing.T) {
	srv := newTestServer(t, newTestBackend(), Auth{AllowLoopback: true})
	const path = "/prod/%40connections/R1kmxc2VNjMCFIA%3D"
	r := do(t, srv, http.MethodDelete, path, nil, nil)
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("DELETE: got %d %q, want 204 and no body", r.status, r.body)
	}
	checkError(t, do(t, srv, http.MethodGet, path, nil, nil), http.StatusGone, "GoneException", "gone")
	checkError(t, do(t, srv, http.MethodDelete, path, nil, nil), http.StatusGone, "GoneException", "gone")
	checkError(t, do(t, srv, http.MethodPost, path, strings.NewReader("x"), nil), http.StatusGone, "GoneException", "gone")
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, method, path string
		status             int
		typ, msg, allow    string
	}{
		{"post unknown id", "POST", "/prod/@connections/nope", 410, "GoneException", "gone", ""},
		{"get unknown id", "GET", "/prod/@connections/nope", 410, "GoneException", "gone", ""},
		{"delete unknown id", "DELETE", "/prod/@connections/nope", 410, "GoneException", "gone", ""},
		{"post unknown stage", "POST", "/test/@connections/R1kmxc2VNjMCFIA%3D", 403, "ForbiddenException", "Forbidden", ""},
		{"get unknown stage", "GET", "/test/@connections/R1kmxc2VNjMCFIA%3D", 403, "ForbiddenException", "Forbidden", ""},
		{"delete unknown stage", "DELETE", "/test/@connections/R1kmxc2VNjMCFIA%3D", 403, "ForbiddenException", "Forbidden", ""},
		{"list unknown stage", "GET", "/test/@connections", 403, "ForbiddenException", "Forbidden", ""},
		{"empty stage", "GET", "//@connections/x", 403, "ForbiddenException", "Forbidden", ""},
		{"invalid id get", "GET", "/prod/@connections/bad!", 400, "BadRequestException", "Invalid connection id", ""},
		{"invalid id post", "POST", "/prod/@connections/bad!", 400, "BadRequestException", "Invalid connection id", ""},
		{"invalid id delete", "DELETE", "/prod/@connections/bad!", 400, "BadRequestException", "Invalid connection id", ""},
		{"backend failure", "GET", "/prod/@connections/boom", 500, "InternalServerErrorException", "Internal server error", ""},
		{"put on id", "PUT", "/prod/@connections/x", 405, "MethodNotAllowedException", "PUT", "GET, POST, DELETE"},
		{"patch on id", "PATCH", "/prod/%40connections/x", 405, "MethodNotAllowedException", "PATCH", "GET, POST, DELETE"},
		{"post on list", "POST", "/prod/@connections", 405, "MethodNotAllowedException", "POST", "GET"},
		{"delete on list", "DELETE", "/prod/@connections/", 405, "MethodNotAllowedException", "DELETE", "GET"},
		{"extra segment", "GET", "/prod/@connections/a/b", 404, "NotFoundException",
			"No method found matching route @connections/a/b for http method GET.", ""},
		{"trailing slash after id", "POST", "/prod/@connections/R1kmxc2VNjMCFIA%3D/", 404, "NotFoundException",
			"No method found matching route @connections/R1kmxc2VNjMCFIA=/ for http method POST.", ""},
		{"double slash", "DELETE", "/prod/@connections//", 404, "NotFoundException", "for http method DELETE.", ""},
		{"capital C", "GET", "/prod/%40Connections/x", 404, "NotFoundException",
			"No method found matching route prod/@Connections/x for http method GET.", ""},
		{"not management at all", "GET", "/prod", 404, "NotFoundException", "route prod for", ""},
	}
	srv := newTestServer(t, newTestBackend(), Auth{AllowLoopback: true})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.method == "POST" {
				body = strings.NewReader("data")
			}
			r := do(t, srv, tt.method, tt.path, body, nil)
			checkError(t, r, tt.status, tt.typ, tt.msg)
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestBodyIgnored: a body on GET or DELETE is not an error.
func TestBodyIgnored(t *testing.T) {
	srv := newTestServer(t, newTestBackend(), Auth{AllowLoopback: true})
	big := strings.Repeat("x", 10*testMaxBytes)
	if r := do(t, srv, "GET", "/prod/@connections/R1kmxc2VNjMCFIA%3D", strings.NewReader(big), nil); r.status != 200 {
		t.Errorf("GET with a body: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "DELETE", "/prod/@connections/R1kmxc2VNjMCFIA%3D", strings.NewReader(big), nil); r.status != 204 {
		t.Errorf("DELETE with a body: %d %s", r.status, r.body)
	}
}

// unsized hides a reader's length, so the client sends the body chunked.
type unsized struct{ io.Reader }

func TestPostSizeLimit(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"empty", 0, false, 200},
		{"exactly max", testMaxBytes, false, 200},
		{"max plus one", testMaxBytes + 1, false, 413},
		{"much larger", 100 * testMaxBytes, false, 413},
		{"exactly max chunked", testMaxBytes, true, 200},
		{"max plus one chunked", testMaxBytes + 1, true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBackend()
			srv := newTestServer(t, b, Auth{AllowLoopback: true})
			var body io.Reader = bytes.NewReader(bytes.Repeat([]byte{'z'}, tt.size))
			if tt.chunked {
				body = unsized{body}
			}
			r := do(t, srv, http.MethodPost, "/prod/@connections/R1kmxc2VNjMCFIA%3D", body, nil)
			if tt.status == 200 {
				if r.status != 200 {
					t.Fatalf("status %d, body %s", r.status, r.body)
				}
				if posts := b.postsSnapshot(); len(posts) != 1 || len(posts[0].data) != tt.size {
					t.Errorf("backend got %d posts, want one of %d bytes", len(posts), tt.size)
				}
				return
			}
			checkError(t, r, 413, "PayloadTooLargeException", "limit of 64 bytes")
			if posts := b.postsSnapshot(); len(posts) != 0 {
				t.Errorf("backend got %d posts, want none", len(posts))
			}
		})
	}
}

// lenientLimit reports a larger MaxPostBytes than the backend enforces, so
// that the backend's own ErrPayloadTooLarge reaches the handler.
type lenientLimit struct{ *fakeBackend }

func (l lenientLimit) MaxPostBytes(string) (int, error) { return 2 * testMaxBytes, nil }

func TestPostBackendTooLarge(t *testing.T) {
	srv := newTestServer(t, lenientLimit{newTestBackend()}, Auth{AllowLoopback: true})
	body := strings.Repeat("z", testMaxBytes+1)
	r := do(t, srv, http.MethodPost, "/prod/@connections/R1kmxc2VNjMCFIA%3D", strings.NewReader(body), nil)
	checkError(t, r, 413, "PayloadTooLargeException", "Payload too large")
}

type listJSON struct {
	Connections []struct {
		ConnectionID string `json:"connectionId"`
		ConnectedAt  string `json:"connectedAt"`
		Identity     struct {
			SourceIP  string `json:"sourceIp"`
			UserAgent string `json:"userAgent"`
		} `json:"identity"`
		LastActiveAt string `json:"lastActiveAt"`
	} `json:"connections"`
	NextCursor *string `json:"nextCursor"`
}

func TestListConnections(t *testing.T) {
	b := newFakeBackend()
	b.addStage("prod", testMaxBytes)
	b.addStage("dev", testMaxBytes)
	var want []string
	for _, id := range []string{"id0=", "id1=", "id2=", "id3=", "id4="} {
		b.connect("prod", gateway.ConnectionInfo{ID: id, ConnectedAt: testTime, LastActiveAt: testTime, SourceIP: "192.0.2.9"})
		want = append(want, id)
	}
	srv := newTestServer(t, b, Auth{AllowLoopback: true})

	var got []string
	target := "/prod/@connections?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		r := do(t, srv, http.MethodGet, target, nil, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %s %s", target, r.status, r.header.Get("Content-Type"), r.body)
		}
		var page listJSON
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatalf("GET %s: %v in %s", target, err, r.body)
		}
		for _, c := range page.Connections {
			got = append(got, c.ConnectionID)
			if c.ConnectedAt != "2026-03-04T04:06:07.891Z" || c.Identity.SourceIP != "192.0.2.9" {
				t.Errorf("connection %s: %s", c.ConnectionID, r.body)
			}
		}
		if page.NextCursor == nil {
			if bytes.Contains(r.body, []byte("nextCursor")) {
				t.Errorf("last page mentions nextCursor: %s", r.body)
			}
			break
		}
		target = "/prod/@connections/?limit=2&cursor=" + *page.NextCursor
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed ids (-want +got):\n%s", diff)
	}
	wantCalls := []fakeList{{"prod", "", 2}, {"prod", "c2", 2}, {"prod", "c4", 2}}
	if diff := cmp.Diff(wantCalls, b.listsSnapshot(), cmp.AllowUnexported(fakeList{})); diff != "" {
		t.Errorf("backend calls (-want +got):\n%s", diff)
	}

	t.Run("defaults", func(t *testing.T) {
		for _, target := range []string{"/prod/@connections", "/prod/%40connections/", "/prod/@connections?limit=1000&other=x"} {
			r := do(t, srv, http.MethodGet, target, nil, nil)
			var page listJSON
			if err := json.Unmarshal(r.body, &page); r.status != 200 || err != nil || len(page.Connections) != 5 || page.NextCursor != nil {
				t.Errorf("GET %s: %d %s", target, r.status, r.body)
			}
		}
		calls := b.listsSnapshot()
		if l := calls[len(calls)-2].limit; l != defaultListLimit {
			t.Errorf("limit without a limit parameter = %d, want %d", l, defaultListLimit)
		}
	})
	t.Run("empty stage", func(t *testing.T) {
		r := do(t, srv, http.MethodGet, "/dev/@connections", nil, nil)
		if r.status != 200 || string(r.body) != `{"connections":[]}` {
			t.Errorf("got %d %s, want 200 {\"connections\":[]}", r.status, r.body)
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=1001", "limit=-1", "limit=abc", "limit=", "limit=1&limit=2", "limit=1.5"} {
			checkError(t, do(t, srv, http.MethodGet, "/prod/@connections?"+q, nil, nil), 400, "BadRequestException", "Invalid limit")
		}
		checkError(t, do(t, srv, http.MethodGet, "/prod/@connections?cursor=zz", nil, nil), 400, "BadRequestException", "Invalid cursor")
		checkError(t, do(t, srv, http.MethodGet, "/prod/@connections?cursor=c1&cursor=c2", nil, nil), 400, "BadRequestException", "Invalid cursor")
		checkError(t, do(t, srv, http.MethodGet, "/prod/@connections?limit=%zz", nil, nil), 400, "BadRequestException", "query")
	})
}

// TestConcurrent runs many calls at once (with -race, the handler's
// concurrency contract).
func TestConcurrent(t *testing.T) {
	b := newTestBackend()
	srv := newTestServer(t, b, Auth{AllowLoopback: true, APIKeys: []Key{{Name: "k", Secret: "0123456789abcdef"}}})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				if r := do(t, srv, "POST", "/prod/@connections/R1kmxc2VNjMCFIA%3D", strings.NewReader("x"), nil); r.status != 200 {
					t.Errorf("POST: %d", r.status)
				}
			case 1:
				if r := do(t, srv, "GET", "/prod/@connections/a%2Fb%3D%25x", nil, nil); r.status != 200 {
					t.Errorf("GET: %d", r.status)
				}
			default:
				if r := do(t, srv, "GET", "/prod/@connections?limit=1", nil, nil); r.status != 200 {
					t.Errorf("list: %d", r.status)
				}
			}
		})
	}
	wg.Wait()
	if n := len(b.postsSnapshot()); n != 11 {
		t.Errorf("%d posts, want 11", n)
	}
}
