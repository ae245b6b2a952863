package rawhead

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
)

func TestHeadersKeepCase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []Field, 2)
	srv := &http.Server{
		ConnContext: ConnContext,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- Headers(r)
		}),
	}
	go srv.Serve(Listener(ln))
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /x?a=1 HTTP/1.1\r\nHost: example\r\nSec-WebSocket-Key: k\r\nHeaderAuth1: v1\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := fmt.Sprint([]Field{{"Host", "example"}, {"Sec-WebSocket-Key", "k"}, {"HeaderAuth1", "v1"}, {"X-Dup", "1"}, {"x-dup", "2"}})
	if f := <-got; fmt.Sprint(f) != want {
		t.Fatalf("first request: %v, want %v", f, want)
	}
	// A second request on the same connection is not captured: canonical names.
	fmt.Fprint(c, "GET /x?a=1 HTTP/1.1\r\nHost: example\r\nSec-WebSocket-Key: other\r\nHeaderAuth1: v2\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f := <-got
	for _, h := range f {
		if h.Name == "HeaderAuth1" || h.Value == "k" {
			t.Fatalf("second request got the first request's head: %v", f)
		}
	}
}
