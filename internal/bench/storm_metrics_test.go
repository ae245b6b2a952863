package bench

import (
	"maps"
	"strings"
	"testing"
)

func TestParseConnects(t *testing.T) {
	in := `# HELP switchboard_connects_total WebSocket handshakes by outcome.
# TYPE switchboard_connects_total counter
switchboard_connects_total{api="a",outcome="accepted"} 12
switchboard_connects_total{api="b",outcome="accepted"} 3
switchboard_connects_total{api="a",outcome="rejected_429"} 2 1700000000000
switchboard_connects_total{api="we\"ird,}",outcome="upgrade_failed"} 1e2
switchboard_connections{api="a"} 7
process_cpu_seconds_total 1.5
switchboard_handshake_rejections_total{api="a",reason="connection_rate"} 40
switchboard_handshake_rejections_total{api="b",reason="connection_rate"} 2
`
	got, err := parseConnects(strings.NewReader(in))
	want := map[string]float64{"accepted": 15, "rejected_429": 2, "upgrade_failed": 100, "refused:connection_rate": 42}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{
		`switchboard_connects_total{api="a"} 1`,
		`switchboard_connects_total{outcome="accepted"}`,
		`switchboard_connects_total{outcome="accepted"} x`,
		`switchboard_connects_total{outcome="accepted} 1`,
		`switchboard_connects_total{outcome=accepted} 1`,
		`switchboard_connects_total{outcome="accepted"} 1 2 3`,
		`switchboard_handshake_rejections_total{api="a"} 1`,
	} {
		if m, err := parseConnects(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: %v, want an error", bad, m)
		}
	}
}

func FuzzParseConnects(f *testing.F) {
	f.Add("switchboard_connects_total{api=\"a\",outcome=\"accepted\"} 12\n")
	f.Add("switchboard_connects_total{outcome=\"a\\\\b\\n\"} 1 2\n# x\n")
	f.Add("switchboard_connects_total{")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := parseConnects(strings.NewReader(in))
		if err == nil && m == nil {
			t.Fatal("no map and no error")
		}
	})
}
