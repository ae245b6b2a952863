package manage

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// documentedStatuses are all the statuses the handler may answer.
var documentedStatuses = map[int]bool{200: true, 204: true, 400: true, 403: true, 404: true, 405: true, 409: true, 410: true, 413: true, 429: true, 500: true}

// FuzzRequest sends arbitrary methods, request targets and bodies through
// the handler, from a loopback peer, and checks that it does not panic,
// answers a documented status, renders every error as JSON carrying the
// same __type as its x-amzn-ErrorType header, answers JSON on every 200 but
// POST @connections', and answers a batch exactly when decodeBatch accepts
// its body, with one result per operation.
func FuzzRequest(f *testing.F) {
	for _, s := range []struct {
		method, target string
		body           []byte
	}{
		{"POST", "/prod/@connections/R1kmxc2VNjMCFIA%3D", []byte("hello")},
		{"POST", "/prod/%40connections/R1kmxc2VNjMCFIA%3D", bytes.Repeat([]byte("z"), testMaxBytes+1)},
		{"GET", "/prod/@connections/a%2Fb%3D%25x", nil},
		{"DELETE", "/prod/@connections/R1kmxc2VNjMCFIA=", nil},
		{"GET", "/prod/@connections?limit=1&cursor=c1", nil},
		{"GET", "/prod/@connections/?limit=0", nil},
		{"GET", "/dev/%40Connections", nil},
		{"PUT", "/prod/@connections/x/y", []byte("{}")},
		{"POST", "/nope/@connections/boom", nil},
		{"GET", "/prod/@connections/boom", nil},
		{"HEAD", "//@connections//", nil},
		{"", "*", nil},
		{"GET", "http://example.com/prod/@connections/x?limit=%zz", nil},
		{"POST", "/prod/@channels/chat:a?exclude=c2%3D", []byte(`{"a":1}`)},
		{"POST", "/prod/%40channels/a%2Fb", []byte("\xff")},
		{"GET", "/prod/@channels/chat:a?limit=1&cursor=p1", nil},
		{"GET", "/prod/@channels/news:a/history?since=1&epoch=ep1&limit=2", nil},
		{"GET", "/prod/@channels/chat:a/history?epoch=old", nil},
		{"PUT", "/prod/@channels/chat:b/connections/c1%3D", nil},
		{"DELETE", "/prod/@channels/chat:a/connections/c3=", nil},
		{"PUT", "/prod/@channels/nope:x/connections/gone=", nil},
		{"GET", "/prod/@users/alice", nil},
		{"POST", "/prod/%40users/a%2Fb", []byte("hi")},
		{"DELETE", "/prod/@users/alice", nil},
		{"POST", "/prod/@broadcast?exclude=bad!", []byte("x")},
		{"POST", "/prod/@batch", []byte(`{"operations":[{"channel":"chat:a","data":{"n":1}},{"user":"alice","text":"t"},{"connectionId":"c4=","b64":"/wA="},{"broadcast":true,"data":1,"exclude":"c1="}]}`)},
		{"POST", "/prod/@batch", []byte(`{"operations":[{"channel":"c","user":"u","text":"x"}]}`)},
		{"POST", "/@batch", nil},
	} {
		f.Add(s.method, s.target, s.body)
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http answers 400 itself before any handler runs
		}
		b := newChannelBackend()
		b.addStage("dev", 0)
		b.connect("prod", gateway.ConnectionInfo{ID: "R1kmxc2VNjMCFIA=", ConnectedAt: testTime, LastActiveAt: testTime})
		b.connect("prod", gateway.ConnectionInfo{ID: "a/b=%x", ConnectedAt: testTime, LastActiveAt: testTime})
		for _, j := range []string{"chat:a c1=", "chat:a c3=", "news:a c1="} {
			ch, id, _ := strings.Cut(j, " ")
			if err := b.Join(t.Context(), "prod", ch, id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Publish(t.Context(), "prod", "news:a", []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
		h := NewHandler(b, Auth{AllowLoopback: true}, nil)

		req := &http.Request{
			Method:        method,
			URL:           u,
			RequestURI:    target,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			Host:          "example.com",
			RemoteAddr:    "127.0.0.1:40000",
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if !documentedStatuses[rec.Code] {
			t.Fatalf("%s %q: undocumented status %d", method, target, rec.Code)
		}
		if rec.Header().Get("x-amzn-RequestId") == "" {
			t.Fatalf("%s %q: no x-amzn-RequestId", method, target)
		}
		switch {
		case rec.Code >= 400:
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("%s %q: %d error body %q is not JSON: %v", method, target, rec.Code, rec.Body, err)
			}
			if e.Type == "" || e.Type != rec.Header().Get("x-amzn-ErrorType") || e.Message == "" {
				t.Fatalf("%s %q: error body %q, x-amzn-ErrorType %q", method, target, rec.Body, rec.Header().Get("x-amzn-ErrorType"))
			}
			if rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("%s %q: error Content-Type %q", method, target, rec.Header().Get("Content-Type"))
			}
		case rec.Code == 204 || rec.Code == 200 && method == http.MethodPost && isConnectionPath(u):
			if rec.Body.Len() != 0 {
				t.Fatalf("%s %q: %d with body %q", method, target, rec.Code, rec.Body)
			}
		case rec.Code == 200:
			if !json.Valid(rec.Body.Bytes()) || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("%s %q: body %q (%s) is not JSON", method, target, rec.Body, rec.Header().Get("Content-Type"))
			}
		}
		if rt, err := parsePath(u.EscapedPath()); err == nil && rt.kind == routeBatch && rt.stage == "prod" && method == http.MethodPost {
			ops, err := decodeBatch(body, testMaxBytes)
			if err != nil {
				ae, _ := toAPIError(err)
				if rec.Code != ae.status {
					t.Fatalf("batch %q: status %d, but decodeBatch says %d: %v", body, rec.Code, ae.status, err)
				}
				return
			}
			var resp struct{ Results []json.RawMessage }
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); rec.Code != 200 || err != nil || len(resp.Results) != len(ops) {
				t.Fatalf("batch %q of %d operations: %d %s", body, len(ops), rec.Code, rec.Body)
			}
		}
	})
}

// isConnectionPath reports whether u is /{stage}/@connections/{id}.
func isConnectionPath(u *url.URL) bool {
	rt, err := parsePath(u.EscapedPath())
	return err == nil && rt.kind == routeConnection
}

// FuzzBatch checks decodeBatch on arbitrary bodies: it does not panic; it
// refuses with a 400 or a 413; what it accepts is well formed (at most
// maxBatchOps operations, one target each, exclude only where it applies,
// payloads within the limit); and encoding the operations back into a body
// (with b64 payloads) decodes to the same operations.
func FuzzBatch(f *testing.F) {
	for _, s := range []string{
		`{"operations":[]}`,
		`{"operations":[{"channel":"chat:a","data":{"n":[1,2.5e3,null]}},{"user":"alice","text":"h\u00e9"}]}`,
		`{"operations":[{"connectionId":"c1=","b64":"/wA="},{"broadcast":true,"data":"x","exclude":"c2="}]}`,
		`{"operations":[{"channel":"c","exclude":"","text":""}]} `,
		`{"operations":[{"channel":"c","user":"u","text":"x"}]}`,
		`{"operations":[{"channel":"c","text":"x","text":"y"}]}`,
		`{"operations":[{"broadcast":false,"text":"x"}]}`,
		`{"operations":[{"channel":"c","b64":"!!"}]}`,
		`{"operations":[{"channel":"c","text":"` + strings.Repeat("z", testMaxBytes+1) + `"}]}`,
		`{"operations":null}`,
		`{"operations":[],"operations":[]}`,
		`[{"channel":"c"}]`,
		`{"operations":[{"channel":"c","data":[1,}]}`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := decodeBatch(body, testMaxBytes)
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok || (ae.status != 400 && ae.status != 413) || ae.message == "" {
				t.Fatalf("%q: error %#v, want a 400 or 413 *apiError", body, err)
			}
			return
		}
		if len(ops) > maxBatchOps {
			t.Fatalf("%q: %d operations", body, len(ops))
		}
		for i, op := range ops {
			switch {
			case op.target < targetChannel || op.target > targetBroadcast:
				t.Fatalf("%q: operations[%d] has target %d", body, i, op.target)
			case op.target == targetBroadcast && op.name != "":
				t.Fatalf("%q: operations[%d] is a broadcast with name %q", body, i, op.name)
			case op.exclude != "" && op.target != targetChannel && op.target != targetBroadcast:
				t.Fatalf("%q: operations[%d] has exclude %q", body, i, op.exclude)
			case len(op.data) > testMaxBytes:
				t.Fatalf("%q: operations[%d] has %d bytes", body, i, len(op.data))
			}
		}
		again, err := decodeBatch(encodeBatch(t, ops), testMaxBytes)
		if err != nil {
			t.Fatalf("%q: the re-encoded batch fails: %v", body, err)
		}
		if diff := cmp.Diff(ops, again, cmp.AllowUnexported(batchOp{}), cmpEmptyBytes); diff != "" {
			t.Fatalf("%q: round trip (-first +again):\n%s", body, diff)
		}
	})
}

// encodeBatch writes ops as a batch body, every payload in b64.
func encodeBatch(t *testing.T, ops []batchOp) []byte {
	t.Helper()
	list := make([]map[string]any, 0, len(ops))
	for _, op := range ops {
		m := map[string]any{"b64": base64.StdEncoding.EncodeToString(op.data)}
		switch op.target {
		case targetChannel:
			m["channel"] = op.name
		case targetUser:
			m["user"] = op.name
		case targetConnection:
			m["connectionId"] = op.name
		case targetBroadcast:
			m["broadcast"] = true
		}
		if op.exclude != "" {
			m["exclude"] = op.exclude
		}
		list = append(list, m)
	}
	body, err := json.Marshal(map[string]any{"operations": list})
	if err != nil {
		t.Fatal(err)
	}
	return body
}
