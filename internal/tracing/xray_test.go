package tracing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

func spanContext(t *testing.T, tid, sid string, sampled bool) trace.SpanContext {
	t.Helper()
	cfg := trace.SpanContextConfig{}
	var err error
	if cfg.TraceID, err = trace.TraceIDFromHex(tid); err != nil {
		t.Fatal(err)
	}
	if cfg.SpanID, err = trace.SpanIDFromHex(sid); err != nil {
		t.Fatal(err)
	}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	return trace.NewSpanContext(cfg)
}

// The examples of the OpenTelemetry AWS X-Ray propagator's tests: the W3C
// trace id 8a3c60f7d188f8fa79d48a391a778fa6 is Root=1-8a3c60f7-d188f8fa79d48a391a778fa6.
func TestXRayHeader(t *testing.T) {
	tests := []struct {
		tid, sid string
		sampled  bool
		want     string
	}{
		{"8a3c60f7d188f8fa79d48a391a778fa6", "53995c3f42cd8ad8", true,
			"Root=1-8a3c60f7-d188f8fa79d48a391a778fa6;Parent=53995c3f42cd8ad8;Sampled=1"},
		{"5759e988bd862e3fe1be46a994272793", "0000000000000001", false,
			"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000001;Sampled=0"},
	}
	for _, tt := range tests {
		sc := spanContext(t, tt.tid, tt.sid, tt.sampled)
		if got := XRayHeader(sc); got != tt.want {
			t.Errorf("XRayHeader(%s/%s) = %q, want %q", tt.tid, tt.sid, got, tt.want)
		}
		ctx := trace.ContextWithSpanContext(context.Background(), sc)
		if got := XRayFromContext(ctx); got != tt.want {
			t.Errorf("XRayFromContext = %q, want %q", got, tt.want)
		}
		back, err := ParseXRay(tt.want)
		if err != nil {
			t.Fatalf("ParseXRay(%q): %v", tt.want, err)
		}
		if back.TraceID() != sc.TraceID() || back.SpanID() != sc.SpanID() || back.IsSampled() != tt.sampled || !back.IsRemote() {
			t.Errorf("ParseXRay(%q) = %v, want %v (remote)", tt.want, back, sc)
		}
	}
	if got := XRayHeader(trace.SpanContext{}); got != "" {
		t.Errorf("XRayHeader(invalid) = %q, want empty", got)
	}
	if got := XRayFromContext(context.Background()); got != "" {
		t.Errorf("XRayFromContext(no span) = %q, want empty", got)
	}
}

func TestParseXRay(t *testing.T) {
	const root = "Root=1-5759e988-bd862e3fe1be46a994272793"
	ok := []struct {
		in      string
		sampled bool
	}{
		{root + ";Parent=53995c3f42cd8ad8;Sampled=1", true},
		{"Parent=53995c3f42cd8ad8;" + root, false},
		{root + ";Parent=53995c3f42cd8ad8;Sampled=0", false},
		{root + ";Parent=53995c3f42cd8ad8;Sampled=?", false},
		{" " + root + " ; Parent=53995c3f42cd8ad8 ; Sampled=1 ;", true},
		{root + ";Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5;Self=1-67891234-12456789abcdef012345678", true},
		{"Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=1", true},
	}
	for _, tt := range ok {
		sc, err := ParseXRay(tt.in)
		if err != nil {
			t.Errorf("ParseXRay(%q): %v", tt.in, err)
			continue
		}
		if sc.TraceID().String() != "5759e988bd862e3fe1be46a994272793" || sc.SpanID().String() != "53995c3f42cd8ad8" || sc.IsSampled() != tt.sampled {
			t.Errorf("ParseXRay(%q) = %s/%s sampled=%v", tt.in, sc.TraceID(), sc.SpanID(), sc.IsSampled())
		}
	}
	bad := []string{
		"",
		root,                      // no Parent
		"Parent=53995c3f42cd8ad8", // no Root
		"Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
		"Root=1-5759e98-8bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
		"Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8",
		"Root=1-5759e988-bd862e3fe1be46a99427279g;Parent=53995c3f42cd8ad8",
		"Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",
		root + ";Parent=0000000000000000",
		root + ";Parent=53995c3f42cd8ad",
		root + ";Parent=53995c3f42cd8adz",
		root + ";Parent",
		root + ";Parent=53995c3f42cd8ad8;" + strings.Repeat("x", 1100),
	}
	for _, in := range bad {
		if sc, err := ParseXRay(in); !errors.Is(err, ErrXRayHeader) {
			t.Errorf("ParseXRay(%.80q) = %v, %v; want ErrXRayHeader", in, sc, err)
		}
	}
}

// FuzzParseXRay: no panic; what parses is valid and formats back to a
// header that parses to the same span context.
func FuzzParseXRay(f *testing.F) {
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?;Lineage=x")
	f.Add(";;=;Root=;Parent=")
	f.Fuzz(func(t *testing.T, in string) {
		sc, err := ParseXRay(in)
		if err != nil {
			if !errors.Is(err, ErrXRayHeader) {
				t.Fatalf("error %v does not wrap ErrXRayHeader", err)
			}
			return
		}
		if !sc.IsValid() || !sc.IsRemote() {
			t.Fatalf("ParseXRay(%q) = %v: not a valid remote context", in, sc)
		}
		again, err := ParseXRay(XRayHeader(sc))
		if err != nil || !again.Equal(sc) {
			t.Fatalf("round trip of %q: %v, %v", in, again, err)
		}
	})
}

func TestIDGenerator(t *testing.T) {
	at := time.Unix(0x5759e988, 0)
	g := IDGenerator{Now: func() time.Time { return at }}
	tid, sid := g.NewIDs(context.Background())
	if !tid.IsValid() || !sid.IsValid() {
		t.Fatalf("invalid ids %s %s", tid, sid)
	}
	if got := tid.String()[:8]; got != "5759e988" {
		t.Errorf("trace id %s does not start with the epoch seconds 5759e988", tid)
	}
	if h := XRayHeader(spanContext(t, tid.String(), sid.String(), true)); !strings.HasPrefix(h, "Root=1-5759e988-") {
		t.Errorf("X-Ray header %q", h)
	}
	tid2, _ := g.NewIDs(context.Background())
	if tid2 == tid {
		t.Error("two trace ids are equal")
	}
	if s2 := g.NewSpanID(context.Background(), tid); s2 == sid || !s2.IsValid() {
		t.Errorf("span id %s after %s", s2, sid)
	}
}
