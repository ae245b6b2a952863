package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Options are what New needs besides the Settings.
type Options struct {
	// Version is the resource's service.version (buildinfo's version).
	Version string
	// Synchronous exports each span when it ends, before End returns,
	// instead of in batches (OTEL_BSP_* tune the batches). For tests, which
	// then wait for a span's arrival rather than a timer.
	Synchronous bool
}

// Provider is the process's tracer provider. Its zero value is off.
type Provider struct {
	sdk *sdktrace.TracerProvider // nil when off
	s   Settings
}

// New returns the Provider that s describes: a noop one when tracing is
// off, else an SDK provider that exports over OTLP/HTTP to s.Endpoint with
// s's sampler and resource (over gRPC for ProtocolGRPC). The exporter reads the variables New does not
// take from s from the process environment itself:
// OTEL_EXPORTER_OTLP[_TRACES]_HEADERS, _TIMEOUT, _COMPRESSION,
// _CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY; the batch processor
// reads OTEL_BSP_*. New does not contact the collector.
func New(s Settings, o Options) (*Provider, error) {
	if !s.Enabled {
		return &Provider{}, nil
	}
	var exp sdktrace.SpanExporter
	var err error
	switch s.Protocol {
	case ProtocolGRPC:
		// Connects lazily: New does not wait for the collector.
		exp, err = otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpointURL(s.Endpoint))
	case ProtocolHTTPJSON:
		exp, err = otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.Endpoint),
			otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	default:
		exp, err = otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.Endpoint))
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: the OTLP exporter: %w", err)
	}
	attrs := make([]attribute.KeyValue, 0, len(s.Resource)+2)
	for _, kv := range s.Resource {
		if kv.Key != "service.name" && kv.Key != "service.version" {
			attrs = append(attrs, attribute.String(kv.Key, kv.Value))
		}
	}
	attrs = append(attrs, attribute.String("service.name", s.ServiceName))
	if o.Version != "" {
		attrs = append(attrs, attribute.String("service.version", o.Version))
	}
	var sp sdktrace.SpanProcessor
	if o.Synchronous {
		sp = sdktrace.NewSimpleSpanProcessor(exp)
	} else {
		sp = sdktrace.NewBatchSpanProcessor(exp) // starts a goroutine, ended by Shutdown
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sampler(s)),
		sdktrace.WithIDGenerator(IDGenerator{}),
	)
	return &Provider{sdk: tp, s: s}, nil
}

// FromEnv is New(ParseEnv(lookup)).
func FromEnv(lookup func(string) (string, bool), o Options) (*Provider, error) {
	s, err := ParseEnv(lookup)
	if err != nil {
		return nil, err
	}
	return New(s, o)
}

func sampler(s Settings) sdktrace.Sampler {
	switch s.Sampler {
	case SamplerAlwaysOn:
		return sdktrace.AlwaysSample()
	case SamplerAlwaysOff:
		return sdktrace.NeverSample()
	case SamplerTraceIDRatio:
		return sdktrace.TraceIDRatioBased(s.SamplerArg)
	case SamplerParentBasedAlwaysOff:
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case SamplerParentBasedTraceIDRatio:
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(s.SamplerArg))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// TracerProvider is what the server's parts take: the SDK provider, or a
// noop one when tracing is off.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if !p.Enabled() {
		return noop.NewTracerProvider()
	}
	return p.sdk
}

// Describe says what the provider does, for the startup log.
func (p *Provider) Describe() string {
	if !p.Enabled() {
		return "off"
	}
	return fmt.Sprintf("OTLP %s to %s, sampler %s, service.name %s", p.s.Protocol, redact(p.s.Endpoint), describeSampler(p.s), p.s.ServiceName)
}

func describeSampler(s Settings) string {
	if strings.HasSuffix(s.Sampler, "traceidratio") {
		return fmt.Sprintf("%s(%g)", s.Sampler, s.SamplerArg)
	}
	return s.Sampler
}

// redact drops a URL's password (checkURL accepted it as a URL).
func redact(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// ForceFlush exports the spans that ended and are still queued.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.ForceFlush(ctx)
}

// Shutdown exports what is queued, within ctx, and stops the provider;
// spans started later are dropped.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	err := p.sdk.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("tracing: spans still queued were dropped: %w", err)
	}
	return err
}

// Traced reports whether tp records spans, so that callers can skip
// building span attributes when it does not: false for nil and for otel's
// noop provider.
func Traced(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case nil, noop.TracerProvider:
		return false
	}
	return true
}
