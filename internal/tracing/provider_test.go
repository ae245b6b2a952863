package tracing

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// spanSink receives the export requests of one collector.
type spanSink chan *collectortrace.ExportTraceServiceRequest

// firstSpan waits for an export and returns its first span's name and
// trace id, and its resource's service.name.
func (s spanSink) firstSpan(t *testing.T) (name, traceID, service string) {
	t.Helper()
	req := <-s
	rs := req.GetResourceSpans()[0]
	for _, kv := range rs.GetResource().GetAttributes() {
		if kv.GetKey() == "service.name" {
			service = kv.GetValue().GetStringValue()
		}
	}
	sp := rs.GetScopeSpans()[0].GetSpans()[0]
	return sp.GetName(), hex.EncodeToString(sp.GetTraceId()), service
}

// exportOne ends one span through a synchronous provider built from env.
func exportOne(t *testing.T, env ...string) string {
	t.Helper()
	p, err := FromEnv(lookup(env...), Options{Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	_, span := p.TracerProvider().Tracer("test").Start(context.Background(), "one")
	span.End()
	return span.SpanContext().TraceID().String()
}

type grpcCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	sink spanSink
}

func (c grpcCollector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.sink <- req
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// OTEL_EXPORTER_OTLP_PROTOCOL=grpc exports to a gRPC collector (without
// TLS for an http:// endpoint).
func TestProviderGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := make(spanSink, 4)
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, grpcCollector{sink: sink})
	go srv.Serve(ln)
	defer srv.Stop()

	tid := exportOne(t, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String(), "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
		"OTEL_SERVICE_NAME", "grpc-test")
	name, got, service := sink.firstSpan(t)
	if name != "one" || got != tid || service != "grpc-test" {
		t.Fatalf("got span %q trace %s service %q, want one %s grpc-test", name, got, service, tid)
	}
}

// OTEL_EXPORTER_OTLP_PROTOCOL=http/json POSTs OTLP/JSON (ids in hex) to
// /v1/traces.
func TestProviderHTTPJSON(t *testing.T) {
	type jsonExport struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct{ TraceID, Name string }
			}
		}
	}
	got := make(chan jsonExport, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ex jsonExport
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&ex) != nil {
			t.Errorf("unexpected export %s %s", r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		got <- ex
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()
	tid := exportOne(t, "OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	ex := <-got
	sp := ex.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if sp.Name != "one" || !strings.EqualFold(sp.TraceID, tid) { // hex, in either case
		t.Fatalf("got span %q trace %s, want one %s", sp.Name, sp.TraceID, tid)
	}
}
