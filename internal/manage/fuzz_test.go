package manage

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// documentedStatuses are all the statuses the handler may answer.
var documentedStatuses = map[int]bool{200: true, 204: true, 400: true, 403: true, 404: true, 405: true, 410: true, 413: true, 500: true}

// FuzzRequest sends arbitrary methods, request targets and bodies through
// the handler, from a loopback peer, and checks that it does not panic,
// answers a documented status, and renders every error as JSON carrying
// the same __type as its x-amzn-ErrorType header.
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
	} {
		f.Add(s.method, s.target, s.body)
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http answers 400 itself before any handler runs
		}
		b := newFakeBackend()
		b.addStage("prod", testMaxBytes)
		b.addStage("dev", 0)
		b.connect("prod", gateway.ConnectionInfo{ID: "R1kmxc2VNjMCFIA=", ConnectedAt: testTime, LastActiveAt: testTime})
		b.connect("prod", gateway.ConnectionInfo{ID: "a/b=%x", ConnectedAt: testTime, LastActiveAt: testTime})
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
		case rec.Code == 200 && method == http.MethodGet:
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %q: body %q is not JSON", method, target, rec.Body)
			}
		case rec.Code == 200 || rec.Code == 204:
			if rec.Body.Len() != 0 {
				t.Fatalf("%s %q: %d with body %q", method, target, rec.Code, rec.Body)
			}
		}
	})
}
