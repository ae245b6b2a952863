package tracing

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func lookup(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseEnv(t *testing.T) {
	on := func(endpoint string) Settings {
		return Settings{Enabled: true, Endpoint: endpoint, Protocol: ProtocolHTTPProtobuf, ServiceName: "switchboard",
			Sampler: SamplerParentBasedAlwaysOn, SamplerArg: 1}
	}
	tests := []struct {
		name string
		env  []string
		want Settings
	}{
		{"nothing set: off", nil, Settings{}},
		{"exporter otlp alone: the local collector", []string{"OTEL_TRACES_EXPORTER", "otlp"}, on(DefaultEndpoint)},
		{"base endpoint gets /v1/traces", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}, on("http://collector:4318/v1/traces")},
		{"traces endpoint as given", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://b/x"}, on("https://b/x")},
		{"sdk disabled wins", []string{"OTEL_SDK_DISABLED", "TRUE", "OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"}, Settings{}},
		{"exporter none wins", []string{"OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"}, Settings{}},
		{"sdk disabled false", []string{"OTEL_SDK_DISABLED", "false", "OTEL_TRACES_EXPORTER", "otlp"}, on(DefaultEndpoint)},
		{"off: nothing else is checked", []string{"OTEL_TRACES_SAMPLER", "bogus", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, Settings{}},
		{"service, resource, sampler, json", []string{
			"OTEL_TRACES_EXPORTER", "otlp",
			"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json",
			"OTEL_RESOURCE_ATTRIBUTES", "service.name=fromattrs,deployment.environment=prod%20eu",
			"OTEL_SERVICE_NAME", "gw",
			"OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG", "0.25"},
			Settings{Enabled: true, Endpoint: DefaultEndpoint, Protocol: ProtocolHTTPJSON, ServiceName: "gw",
				Resource: []KeyValue{{"service.name", "fromattrs"}, {"deployment.environment", "prod eu"}},
				Sampler:  SamplerParentBasedTraceIDRatio, SamplerArg: 0.25}},
		{"grpc: the base endpoint as given", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
			Settings{Enabled: true, Endpoint: "https://collector:4317", Protocol: ProtocolGRPC, ServiceName: "switchboard",
				Sampler: SamplerParentBasedAlwaysOn, SamplerArg: 1}},
		{"grpc: the local collector", []string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"},
			Settings{Enabled: true, Endpoint: DefaultGRPCEndpoint, Protocol: ProtocolGRPC, ServiceName: "switchboard",
				Sampler: SamplerParentBasedAlwaysOn, SamplerArg: 1}},
		{"service.name from the resource", []string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_RESOURCE_ATTRIBUTES", "service.name=a"},
			Settings{Enabled: true, Endpoint: DefaultEndpoint, Protocol: ProtocolHTTPProtobuf, ServiceName: "a",
				Resource: []KeyValue{{"service.name", "a"}}, Sampler: SamplerParentBasedAlwaysOn, SamplerArg: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnv(lookup(tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestParseEnvErrors(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"OTEL_TRACES_EXPORTER", "console"}, "OTEL_TRACES_EXPORTER"},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{[]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"}, "no host"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_TRACES_SAMPLER", "xray"}, "OTEL_TRACES_SAMPLER"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "1.5"}, "OTEL_TRACES_SAMPLER_ARG"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "NaN"}, "OTEL_TRACES_SAMPLER_ARG"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_RESOURCE_ATTRIBUTES", "a=1,b"}, "OTEL_RESOURCE_ATTRIBUTES"},
	}
	for _, tt := range tests {
		_, err := ParseEnv(lookup(tt.env...))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseEnv(%q) = %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
}

func TestParseResourceAttributes(t *testing.T) {
	got, err := ParseResourceAttributes(" a = 1 ,, b=x%2Cy , a=2,c=")
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyValue{{"a", "2"}, {"b", "x,y"}, {"c", ""}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	for _, bad := range []string{"a", "=1", "a%zz=1", "a=%"} {
		if _, err := ParseResourceAttributes(bad); err == nil {
			t.Errorf("ParseResourceAttributes(%q) accepted", bad)
		}
	}
	var many []string
	for i := range maxResourceAttributes + 1 {
		many = append(many, "k"+strings.Repeat("x", i)+"=v")
	}
	if _, err := ParseResourceAttributes(strings.Join(many, ",")); err == nil {
		t.Error("129 attributes accepted")
	}
}

func FuzzParseResourceAttributes(f *testing.F) {
	f.Add("a=1,b=x%2Cy")
	f.Add(",,=,%")
	f.Fuzz(func(t *testing.T, in string) {
		kvs, err := ParseResourceAttributes(in)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, kv := range kvs {
			if kv.Key == "" || seen[kv.Key] {
				t.Fatalf("ParseResourceAttributes(%q) = %v: empty or repeated key", in, kvs)
			}
			seen[kv.Key] = true
		}
	})
}

func TestProviderOff(t *testing.T) {
	p, err := FromEnv(lookup(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() || Traced(p.TracerProvider()) || p.Describe() != "off" {
		t.Fatalf("off provider: enabled=%v traced=%v %q", p.Enabled(), Traced(p.TracerProvider()), p.Describe())
	}
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if Traced(nil) || Traced(noop.NewTracerProvider()) {
		t.Fatal("nil or noop provider reported as traced")
	}
}

func TestProviderDescribe(t *testing.T) {
	p, err := FromEnv(lookup("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://u:secret@collector/v1/traces",
		"OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "0.5"), Options{Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	d := p.Describe()
	if strings.Contains(d, "secret") || !strings.Contains(d, "traceidratio(0.5)") || !Traced(p.TracerProvider()) {
		t.Fatalf("Describe() = %q", d)
	}
}

func TestExtractAndInject(t *testing.T) {
	const tp = "00-8a3c60f7d188f8fa79d48a391a778fa6-53995c3f42cd8ad8-01"
	const xr = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0123456789abcdef;Sampled=1"
	tests := []struct {
		name   string
		header http.Header
		trace  string // "" when nothing is extracted
	}{
		{"traceparent", http.Header{"Traceparent": {tp}}, "8a3c60f7d188f8fa79d48a391a778fa6"},
		{"traceparent wins", http.Header{"Traceparent": {tp}, "X-Amzn-Trace-Id": {xr}}, "8a3c60f7d188f8fa79d48a391a778fa6"},
		{"bad traceparent: X-Ray", http.Header{"Traceparent": {"00-zz"}, "X-Amzn-Trace-Id": {xr}}, "5759e988bd862e3fe1be46a994272793"},
		{"X-Ray", http.Header{"X-Amzn-Trace-Id": {xr}}, "5759e988bd862e3fe1be46a994272793"},
		{"bad X-Ray", http.Header{"X-Amzn-Trace-Id": {"Root=1-x"}}, ""},
		{"none", http.Header{}, ""},
	}
	for _, tt := range tests {
		sc := trace.SpanContextFromContext(Extract(context.Background(), tt.header))
		got := ""
		if sc.IsValid() {
			got = sc.TraceID().String()
			if !sc.IsRemote() || !sc.IsSampled() {
				t.Errorf("%s: %v is not remote and sampled", tt.name, sc)
			}
		}
		if got != tt.trace {
			t.Errorf("%s: extracted trace %q, want %q", tt.name, got, tt.trace)
		}
	}

	h := http.Header{}
	InjectHTTP(context.Background(), h)
	if len(h) != 0 {
		t.Fatalf("InjectHTTP without a span set %v", h)
	}
	ctx := Extract(context.Background(), http.Header{"Traceparent": {tp}, "Tracestate": {"vendor=x"}})
	InjectHTTP(ctx, h)
	if h.Get("Traceparent") != tp || h.Get("Tracestate") != "vendor=x" {
		t.Fatalf("InjectHTTP set %v", h)
	}
}
