package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/config"
)

// get fetches url and returns its status, Content-Type and body.
func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// /metrics says which build runs: switchboard_build_info{version, commit,
// goversion} 1.
func TestBuildInfoMetric(t *testing.T) {
	e := startServer(t, "")
	_, _, body := get(t, e.base+"/metrics")
	re := regexp.MustCompile(`(?m)^switchboard_build_info\{commit="[^"]*",goversion="go[^"]+",version="[^"]+"\} 1$`)
	if !re.MatchString(body) {
		t.Fatalf("no switchboard_build_info gauge in /metrics:\n%s", body)
	}
}

// TestDemoPageSwitch: the demo page and its icon, and http.demo: false turning both off.
func TestDemoPageSwitch(t *testing.T) {
	e := startServer(t, "")
	status, _, body := get(t, e.base+"/")
	if status != 200 || !strings.Contains(body, `<link rel="icon" href="/favicon.ico" type="image/svg+xml">`) {
		t.Fatalf("GET /: %d, icon link missing:\n%s", status, body)
	}
	status, ctype, body := get(t, e.base+"/favicon.ico")
	if status != 200 || ctype != "image/svg+xml" || !strings.HasPrefix(body, "<svg ") {
		t.Fatalf("GET /favicon.ico: %d %q %q", status, ctype, body)
	}
	// The page loads the embedded client; a browser revalidates it by ETag.
	if status, _, page := get(t, e.base+"/"); status != 200 || !strings.Contains(page, `<script src="`+demoClientPath+`"></script>`) {
		t.Fatalf("GET /: %d, no script tag for %s", status, demoClientPath)
	}
	resp, err := http.Get(e.base + demoClientPath)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !bytes.Equal(js, demoClient) || len(js) == 0 || etag == "" {
		t.Fatalf("GET %s: %d %q, %d bytes, ETag %q", demoClientPath, resp.StatusCode, resp.Header.Get("Content-Type"), len(js), etag)
	}
	req, _ := http.NewRequest(http.MethodGet, e.base+demoClientPath, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET %s with If-None-Match %s: %d, want 304", demoClientPath, etag, resp.StatusCode)
	}

	off := startServer(t, config.SeedYAML+"http:\n  demo: false\n")
	for _, path := range []string{"/", "/favicon.ico", demoClientPath} {
		if status, _, _ := get(t, off.base+path); status != http.StatusNotFound {
			t.Errorf("http.demo false: GET %s: %d, want 404", path, status)
		}
	}
	if status, _, _ := get(t, off.base+"/healthz"); status != 200 {
		t.Errorf("http.demo false: /healthz %d", status)
	}
}

// metrics.listen serves /metrics on its own listener, and only there.
func TestMetricsListener(t *testing.T) {
	e := startServer(t, config.SeedYAML+"metrics:\n  listen: 127.0.0.1:0\n")
	maddr := e.srv.MetricsAddr()
	if maddr == nil {
		t.Fatal("no metrics listener")
	}
	mbase := "http://" + maddr.String()
	c := e.dial("production", nil)
	defer c.CloseNow()
	// The gauge counts the connection once the server has registered it,
	// which may be just after the client saw the 101.
	waitFor(t, "the connection in the metrics listener's /metrics", func() bool {
		status, _, body := get(t, mbase+"/metrics")
		return status == 200 && strings.Contains(body, `switchboard_connections{api="chat"} 1`) && strings.Contains(body, "switchboard_build_info{")
	})
	for _, path := range []string{"/", "/healthz", "/production/@connections"} {
		if status, _, _ := get(t, mbase+path); status != http.StatusNotFound {
			t.Errorf("metrics listener GET %s: %d, want 404", path, status)
		}
	}
	if status, _, _ := get(t, e.base+"/metrics"); status != http.StatusNotFound {
		t.Errorf("main listener /metrics: %d, want 404 when metrics.listen is set", status)
	}
	if status, _, _ := get(t, e.base+"/healthz"); status != 200 {
		t.Errorf("main listener /healthz: %d", status)
	}
	c.CloseNow()
	e.shutdown()
	if nc, err := net.Dial("tcp", maddr.String()); err == nil {
		nc.Close()
		t.Errorf("the metrics listener is still open after shutdown")
	}
}

// http.maxHeaderBytes is the largest request head served, to the byte:
// net/http's 4 KiB of slack is taken off.
func TestMaxHeaderBytesBoundary(t *testing.T) {
	for _, limit := range []int{8 << 10, 16 << 10} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			yaml := config.SeedYAML
			if limit != 16<<10 { // 16KiB is the default
				yaml += fmt.Sprintf("http:\n  maxHeaderBytes: %d\n", limit)
			}
			e := startServer(t, yaml)
			host := strings.TrimPrefix(e.base, "http://")
			for _, size := range []int{limit, limit + 1} {
				head := rawHead(host, size)
				if len(head) != size {
					t.Fatalf("built a head of %d bytes, want %d", len(head), size)
				}
				want := 200
				if size > limit {
					want = http.StatusRequestHeaderFieldsTooLarge
				}
				if got := sendHead(t, host, head); got != want {
					t.Errorf("head of %d bytes (limit %d): %d, want %d", size, limit, got, want)
				}
			}
		})
	}
}

// rawHead is a GET /healthz request head of exactly size bytes, padded
// with one header.
func rawHead(host string, size int) string {
	start := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\nX-Pad: "
	end := "\r\n\r\n"
	return start + strings.Repeat("a", size-len(start)-len(end)) + end
}

// sendHead writes head on a new connection and returns the response status.
func sendHead(t *testing.T, host, head string) int {
	t.Helper()
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// /metrics exports the live heap and the GC count that switchboard bench
// measures memory per connection with.
func TestHeapLiveMetric(t *testing.T) {
	e := startServer(t, "")
	_, _, body := get(t, e.base+"/metrics")
	for _, re := range []string{`(?m)^go_gc_heap_live_bytes \d`, `(?m)^go_gc_duration_seconds_count \d`} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
}
