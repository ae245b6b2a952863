package config

import (
	"errors"
	"strings"
	"testing"
)

// TestValidateCompression: compression is off by default, minBytes gets
// its default only when compression is on, and bad values are reported
// with the fix.
func TestValidateCompression(t *testing.T) {
	tests := []struct {
		name string
		c    Compression
		fix  string
	}{
		{"minBytes without enabled", Compression{MinBytes: 64}, "is set but compression is not enabled; add enabled: true or remove minBytes"},
		{"minBytes negative", Compression{Enabled: true, MinBytes: -1}, "is out of range; use a size from 1 byte to 16MiB"},
		{"minBytes too large", Compression{Enabled: true, MinBytes: maxMessageLimit + 1}, "is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase()
			api(c).Compression = tt.c
			var ve *ValidationError
			if err := c.Validate(); !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 {
				t.Fatalf("want exactly one problem, got:\n%s", ve)
			}
			if p := ve.Problems[0]; p.Field != "apis[0].compression.minBytes" || !strings.Contains(p.Message, tt.fix) {
				t.Errorf("got %s: %s, want apis[0].compression.minBytes: ...%s...", p.Field, p.Message, tt.fix)
			}
		})
	}

	base := "apis:\n  - id: chat\n    stage: production\n    routeSelectionExpression: $request.body.action\n"
	for _, tc := range []struct {
		yaml     string
		enabled  bool
		minBytes ByteSize
	}{
		{base, false, 0},
		{base + "    compression:\n      enabled: true\n", true, 128},
		{base + "    compression: {enabled: true, minBytes: 1KiB}\n", true, 1024},
	} {
		c, err := Parse("x.yaml", []byte(tc.yaml), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.yaml, err)
		}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate(%q): %v", tc.yaml, err)
		}
		if got := c.APIs[0].Compression; got.Enabled != tc.enabled || got.MinBytes != tc.minBytes {
			t.Errorf("%q: compression %+v, want enabled %v minBytes %d", tc.yaml, got, tc.enabled, tc.minBytes)
		}
	}
	_, err := Parse("x.yaml", []byte(base+"    compression: {enabled: yes please}\n"), func(string) (string, bool) { return "", false })
	if err == nil {
		t.Error("compression.enabled: a non-boolean was accepted")
	}
}
