package httpint

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
)

// BenchmarkInvoke is one MESSAGE call to a local backend that answers with
// a small proxy object, over a kept-alive HTTP/1.1 connection. Most of the
// time and allocations are net/http's (client and server).
func BenchmarkInvoke(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"statusCode":200,"body":"ok"}`)
	}))
	defer srv.Close()
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	i, err := New("bench", Config{URL: srv.URL}, &http.Client{Transport: tr})
	if err != nil {
		b.Fatal(err)
	}
	req := event.Message(testConn, time.UnixMilli(1705751708326), "R1koeHsUtjMFbRw=", "R1knPc2ntjMCFIA=", "chat",
		[]byte(`{"action": "chat", "message": "Hello from client"}`), false)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Invoke(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
