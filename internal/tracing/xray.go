package tracing

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// HeaderXRay is the header of AWS's trace context, on Lambda's Invoke API
// and on calls that AWS SDKs make from inside a Lambda function.
const HeaderXRay = "X-Amzn-Trace-Id"

// maxXRayHeader bounds what ParseXRay reads: a real header is under 256
// bytes even with Lineage and Self fields.
const maxXRayHeader = 1024

// ErrXRayHeader is wrapped by ParseXRay's errors.
var ErrXRayHeader = errors.New("invalid X-Amzn-Trace-Id")

// XRayHeader returns the X-Amzn-Trace-Id form of sc, as the OpenTelemetry
// AWS X-Ray propagator writes it: the 32 hex digits of the trace id split
// 8 + 24 into Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx, the span id as
// Parent, and Sampled=1 or 0. It returns "" for an invalid sc.
func XRayHeader(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [len("Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx;Parent=xxxxxxxxxxxxxxxx;Sampled=1")]byte
	s := append(b[:0], "Root=1-"...)
	s = hex.AppendEncode(s, tid[:4])
	s = append(s, '-')
	s = hex.AppendEncode(s, tid[4:])
	s = append(s, ";Parent="...)
	s = hex.AppendEncode(s, sid[:])
	if sc.IsSampled() {
		s = append(s, ";Sampled=1"...)
	} else {
		s = append(s, ";Sampled=0"...)
	}
	return string(s)
}

// XRayFromContext is XRayHeader of the span in ctx ("" without one).
func XRayFromContext(ctx context.Context) string {
	return XRayHeader(trace.SpanContextFromContext(ctx))
}

// ParseXRay reads an X-Amzn-Trace-Id header into a remote span context:
// Root (1-8hex-24hex) and Parent (16 hex) are required, Sampled=1 makes it
// sampled (0, "?" or no Sampled: not), other fields (Lineage, Self) are
// ignored. Field names are case-sensitive, as X-Ray writes them; spaces
// around fields are allowed. Errors wrap ErrXRayHeader.
func ParseXRay(h string) (trace.SpanContext, error) {
	if len(h) > maxXRayHeader {
		return trace.SpanContext{}, fmt.Errorf("%w: longer than %d bytes", ErrXRayHeader, maxXRayHeader)
	}
	var cfg trace.SpanContextConfig
	var haveRoot, haveParent bool
	for field := range strings.SplitSeq(h, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			if strings.TrimSpace(field) == "" {
				continue
			}
			return trace.SpanContext{}, fmt.Errorf("%w: field %.64q has no '='", ErrXRayHeader, field)
		}
		switch k {
		case "Root":
			tid, err := parseXRayRoot(v)
			if err != nil {
				return trace.SpanContext{}, err
			}
			cfg.TraceID, haveRoot = tid, true
		case "Parent":
			var sid trace.SpanID
			if len(v) != 16 {
				return trace.SpanContext{}, fmt.Errorf("%w: Parent %.64q is not 16 hex digits", ErrXRayHeader, v)
			}
			if _, err := hex.Decode(sid[:], []byte(v)); err != nil || !sid.IsValid() {
				return trace.SpanContext{}, fmt.Errorf("%w: Parent %.64q is not 16 hex digits other than all zeros", ErrXRayHeader, v)
			}
			cfg.SpanID, haveParent = sid, true
		case "Sampled":
			if v == "1" {
				cfg.TraceFlags = trace.FlagsSampled
			}
		}
	}
	switch {
	case !haveRoot:
		return trace.SpanContext{}, fmt.Errorf("%w: no Root", ErrXRayHeader)
	case !haveParent:
		return trace.SpanContext{}, fmt.Errorf("%w: no Parent", ErrXRayHeader)
	}
	cfg.Remote = true
	return trace.NewSpanContext(cfg), nil
}

// parseXRayRoot reads 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx (lower- or
// upper-case hex) into a trace id.
func parseXRayRoot(v string) (trace.TraceID, error) {
	var tid trace.TraceID
	bad := func() (trace.TraceID, error) {
		return trace.TraceID{}, fmt.Errorf("%w: Root %.64q is not 1-<8 hex>-<24 hex>", ErrXRayHeader, v)
	}
	if len(v) != 35 || v[:2] != "1-" || v[10] != '-' {
		return bad()
	}
	if _, err := hex.Decode(tid[:4], []byte(v[2:10])); err != nil {
		return bad()
	}
	if _, err := hex.Decode(tid[4:], []byte(v[11:])); err != nil {
		return bad()
	}
	if !tid.IsValid() {
		return bad()
	}
	return tid, nil
}

// IDGenerator makes X-Ray compatible ids (sdktrace.IDGenerator): a trace
// id starts with the Unix time in seconds (4 bytes, big-endian), as X-Ray
// requires, followed by 12 random bytes; span ids are 8 random bytes. Its
// zero value is ready; it is safe for concurrent use.
type IDGenerator struct {
	// Now is the clock of trace ids; nil: time.Now.
	Now func() time.Time
}

// NewIDs returns a new trace id and span id.
func (g IDGenerator) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	var tid trace.TraceID
	binary.BigEndian.PutUint32(tid[:4], uint32(now().Unix()))
	binary.BigEndian.PutUint32(tid[4:8], rand.Uint32())
	binary.BigEndian.PutUint64(tid[8:], rand.Uint64())
	return tid, newSpanID()
}

// NewSpanID returns a new span id.
func (g IDGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() { // all zeros is invalid
		binary.BigEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}
