package webhook

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkEmit is the caller's cost of one event (a client_event, the
// most frequent): the queueing, not the delivery (which runs meanwhile on
// the target's goroutine, on the same cores).
func BenchmarkEmit(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	s, err := New(Options{Debounce: -1, Metrics: NewMetrics(nil)}, []App{testAppCfg(Target{URL: srv.URL, QueueSize: b.N + 1, Batch: true, BatchMaxEvents: 1000})})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(b.Context())
	ev := Event{Name: ClientEvent, Channel: "private-c", Event: "client-x", Data: json.RawMessage(`{"a":1}`), SocketID: "1.2"}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.Emit(testApp, ev)
	}
}
