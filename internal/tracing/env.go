package tracing

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The protocols of the OTLP exporter (OTEL_EXPORTER_OTLP_PROTOCOL).
const (
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
	ProtocolGRPC         = "grpc"
)

// DefaultEndpoint is the traces URL when tracing is enabled by
// OTEL_TRACES_EXPORTER=otlp alone: a collector on the same host.
// DefaultGRPCEndpoint is the same for the grpc protocol.
const (
	DefaultEndpoint     = "http://localhost:4318/v1/traces"
	DefaultGRPCEndpoint = "http://localhost:4317"
)

// DefaultServiceName is service.name when neither OTEL_SERVICE_NAME nor
// OTEL_RESOURCE_ATTRIBUTES names the service.
const DefaultServiceName = "switchboard"

// Settings are the tracing settings the OTEL_* variables give (ParseEnv).
type Settings struct {
	// Enabled: spans are recorded and exported. When false nothing else
	// matters.
	Enabled bool
	// Endpoint is the full URL spans are POSTed to (…/v1/traces), or the
	// gRPC collector's URL (http: without TLS, https: with).
	Endpoint string
	// Protocol is ProtocolHTTPProtobuf, ProtocolHTTPJSON or ProtocolGRPC.
	Protocol string
	// ServiceName is the resource's service.name.
	ServiceName string
	// Resource are the attributes of OTEL_RESOURCE_ATTRIBUTES, in order
	// (service.name among them is replaced by ServiceName).
	Resource []KeyValue
	// Sampler is the OTEL_TRACES_SAMPLER name; SamplerArg its ratio (for
	// the traceidratio samplers).
	Sampler    string
	SamplerArg float64
}

// KeyValue is one resource attribute.
type KeyValue struct{ Key, Value string }

// Sampler names (OTEL_TRACES_SAMPLER).
const (
	SamplerAlwaysOn                = "always_on"
	SamplerAlwaysOff               = "always_off"
	SamplerTraceIDRatio            = "traceidratio"
	SamplerParentBasedAlwaysOn     = "parentbased_always_on"
	SamplerParentBasedAlwaysOff    = "parentbased_always_off"
	SamplerParentBasedTraceIDRatio = "parentbased_traceidratio"
)

// ParseEnv reads the tracing settings from the OTEL_* variables through
// lookup (os.LookupEnv). Tracing is enabled when OTEL_TRACES_EXPORTER is
// otlp, or OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// is set; OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off
// whatever else is set. A value Switchboard cannot honour is an error that
// names the variable: it does not start with tracing silently off. With
// tracing off, no other variable is checked.
func ParseEnv(lookup func(string) (string, bool)) (Settings, error) {
	get := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	var s Settings
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") {
		return s, nil
	}
	switch exp := get("OTEL_TRACES_EXPORTER"); strings.ToLower(exp) {
	case "none":
		return s, nil
	case "otlp":
		s.Enabled = true
	case "":
	default:
		return s, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: Switchboard exports traces with otlp only (or none)", exp)
	}
	base, traces := get("OTEL_EXPORTER_OTLP_ENDPOINT"), get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if base == "" && traces == "" && !s.Enabled {
		return s, nil
	}
	s.Enabled = true

	name, p := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if p == "" {
		name, p = "OTEL_EXPORTER_OTLP_PROTOCOL", get("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch p {
	case "", ProtocolHTTPProtobuf:
		s.Protocol = ProtocolHTTPProtobuf
	case ProtocolHTTPJSON, ProtocolGRPC:
		s.Protocol = p
	default:
		return s, fmt.Errorf("%s=%q: want http/protobuf, http/json or grpc", name, p)
	}

	// The signal-specific endpoint is used as given; over HTTP the base one
	// gets the traces path appended (the OTLP exporter specification),
	// over gRPC it is used as given too.
	switch {
	case traces != "":
		if err := checkURL(traces); err != nil {
			return s, fmt.Errorf("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: %w", err)
		}
		s.Endpoint = traces
	case base != "":
		if err := checkURL(base); err != nil {
			return s, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
		}
		s.Endpoint = base
		if s.Protocol != ProtocolGRPC {
			s.Endpoint = strings.TrimRight(base, "/") + "/v1/traces"
		}
	case s.Protocol == ProtocolGRPC:
		s.Endpoint = DefaultGRPCEndpoint
	default:
		s.Endpoint = DefaultEndpoint
	}

	res, err := ParseResourceAttributes(get("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return s, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	s.ServiceName = DefaultServiceName
	for _, kv := range res {
		if kv.Key == "service.name" {
			s.ServiceName = kv.Value
		}
	}
	if n := get("OTEL_SERVICE_NAME"); n != "" {
		s.ServiceName = n
	}
	s.Resource = res

	s.Sampler = SamplerParentBasedAlwaysOn
	if v := get("OTEL_TRACES_SAMPLER"); v != "" {
		s.Sampler = strings.ToLower(v)
	}
	s.SamplerArg = 1
	switch s.Sampler {
	case SamplerAlwaysOn, SamplerAlwaysOff, SamplerParentBasedAlwaysOn, SamplerParentBasedAlwaysOff:
	case SamplerTraceIDRatio, SamplerParentBasedTraceIDRatio:
		if v := get("OTEL_TRACES_SAMPLER_ARG"); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f >= 0 && f <= 1) {
				return s, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio from 0 to 1", v)
			}
			s.SamplerArg = f
		}
	default:
		return s, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", s.Sampler)
	}
	return s, nil
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http:// or https:// URL", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", u.Redacted())
	}
	return nil
}

// maxResourceAttributes bounds the OTEL_RESOURCE_ATTRIBUTES list.
const maxResourceAttributes = 128

var errResourceEmptyKey = errors.New("an attribute has an empty key")

// ParseResourceAttributes reads the W3C Baggage-like list of
// OTEL_RESOURCE_ATTRIBUTES: key1=value1,key2=value2, keys and values
// percent-decoded and trimmed of spaces; empty members are skipped; a later
// key replaces an earlier one. A member without '=', an empty key, bad
// percent-encoding or more than 128 members is an error.
func ParseResourceAttributes(s string) ([]KeyValue, error) {
	var out []KeyValue
	for member := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(member) == "" {
			continue
		}
		k, v, ok := strings.Cut(member, "=")
		if !ok {
			return nil, fmt.Errorf("%.64q is not key=value", member)
		}
		rawKey := strings.TrimSpace(k)
		k, err := url.PathUnescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("key %.64q: bad percent-encoding", rawKey)
		}
		if k == "" {
			return nil, errResourceEmptyKey
		}
		if v, err = url.PathUnescape(strings.TrimSpace(v)); err != nil {
			return nil, fmt.Errorf("the value of %.64q: bad percent-encoding", k)
		}
		replaced := false
		for i := range out {
			if out[i].Key == k {
				out[i].Value, replaced = v, true
			}
		}
		if !replaced {
			if len(out) == maxResourceAttributes {
				return nil, fmt.Errorf("more than %d attributes", maxResourceAttributes)
			}
			out = append(out, KeyValue{k, v})
		}
	}
	return out, nil
}
