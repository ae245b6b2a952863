package manage

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func spanAttr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// Each request is one server span named by its method and route pattern,
// never by the ids in its path; the caller's traceparent is its parent; a
// 5xx is an error; the backend gets the span in its ctx.
func TestHandlerSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	var backendSpan trace.SpanContext
	fb := newTestBackend()
	h := NewHandler(spyBackend{fb, &backendSpan}, sigV4Auth(true), nil)
	h.SetTracerProvider(tp)

	tests := []struct {
		method, path, name string
		status             int
	}{
		{"POST", "/prod/@connections/secret%3Did", "POST /{stage}/@connections/{connectionId}", 0},
		{"GET", "/prod/@connections", "GET /{stage}/@connections", 0},
		{"GET", "/prod/@channels/room%2F1/history", "GET /{stage}/@channels/{channel}/history", 0},
		{"PUT", "/prod/@channels/room/connections/abc", "PUT /{stage}/@channels/{channel}/connections/{connectionId}", 0},
		{"GET", "/prod/@users/alice", "GET /{stage}/@users/{user}", 0},
		{"POST", "/prod/@broadcast", "POST /{stage}/@broadcast", 0},
		{"POST", "/prod/@batch", "POST /{stage}/@batch", 0},
		{"GET", "/prod/@connections/a/b/c", "GET", 404},
	}
	for _, tt := range tests {
		exp.Reset()
		r := httptest.NewRequest(tt.method, "http://127.0.0.1:8080"+tt.path, strings.NewReader("{}"))
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		spans := exp.GetSpans().Snapshots()
		if len(spans) != 1 {
			t.Fatalf("%s %s: %d spans", tt.method, tt.path, len(spans))
		}
		s := spans[0]
		if s.Name() != tt.name || s.SpanKind() != trace.SpanKindServer {
			t.Errorf("%s %s: span %q (%v), want %q (server)", tt.method, tt.path, s.Name(), s.SpanKind(), tt.name)
		}
		if s.Parent().TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || s.Parent().SpanID().String() != "b7ad6b7169203331" {
			t.Errorf("%s: parent %v", tt.path, s.Parent())
		}
		if got := spanAttr(s, "http.response.status_code").AsInt64(); got != int64(w.Code) {
			t.Errorf("%s: status attribute %d, response %d", tt.path, got, w.Code)
		}
		if tt.status != 0 && w.Code != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, w.Code, tt.status)
		}
	}
	// The backend call ran inside the request's span.
	exp.Reset()
	r := httptest.NewRequest("POST", "http://127.0.0.1:8080/prod/@connections/x", strings.NewReader("hi"))
	r.RemoteAddr = "127.0.0.1:40000"
	h.ServeHTTP(httptest.NewRecorder(), r)
	if s := exp.GetSpans().Snapshots()[0]; backendSpan.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("the backend ran under span %v, want the request's %v", backendSpan.SpanID(), s.SpanContext().SpanID())
	}

	// A 5xx is an error.
	exp.Reset()
	r = httptest.NewRequest("POST", "http://127.0.0.1:8080/prod/@connections/boom", strings.NewReader("hi"))
	r.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if s := exp.GetSpans().Snapshots()[0]; w.Code != 500 || s.Status().Code != codes.Error {
		t.Errorf("a failing backend: %d, span status %v", w.Code, s.Status())
	}

	// Off: a noop provider records nothing.
	h.SetTracerProvider(noop.NewTracerProvider())
	if h.tracer != nil {
		t.Error("a noop provider left the handler traced")
	}
}

// spyBackend records the span context its PostToConnection ran under.
type spyBackend struct {
	*fakeBackend
	got *trace.SpanContext
}

func (s spyBackend) PostToConnection(ctx context.Context, stage, id string, data []byte) error {
	*s.got = trace.SpanContextFromContext(ctx)
	return s.fakeBackend.PostToConnection(ctx, stage, id, data)
}

// BenchmarkServePostToConnectionTraced is BenchmarkServePostToConnection
// with tracing on (every request sampled, spans dropped by a provider
// without processors): what a span costs.
func BenchmarkServePostToConnectionTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	for _, kind := range []string{"sigv4", "apikey", "loopback"} {
		b.Run(kind, func(b *testing.B) {
			serve := newPostServer(b, kind, func(h *Handler) { h.SetTracerProvider(tp) })
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
}
