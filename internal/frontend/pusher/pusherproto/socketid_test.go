package pusherproto

import (
	"errors"
	"regexp"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

var socketIDPattern = regexp.MustCompile(`^\d+\.\d+$`) // the SDKs' rule (reference §0.2)

func TestSocketIDRoundTrip(t *testing.T) {
	for range 1000 {
		id := cluster.NewID(cluster.NewIncarnation())
		sid, err := SocketID(id)
		if err != nil {
			t.Fatalf("SocketID(%q): %v", id, err)
		}
		if !socketIDPattern.MatchString(sid) || !ValidSocketID(sid) {
			t.Fatalf("SocketID(%q) = %q, not \\d+.\\d+", id, sid)
		}
		back, err := ConnectionID(sid)
		if err != nil || back != id {
			t.Fatalf("ConnectionID(%q) = %q, %v; want %q", sid, back, err, id)
		}
	}
}

func TestSocketIDExamples(t *testing.T) {
	for _, tc := range []struct{ conn, socket string }{
		{"AAAAAAAAAAAAAAA=", "0.0"},
		{"______________8=", "4294967295.72057594037927935"},
		{"AAAAAQAAAAAAAAE=", "1.1"},
		// Incarnation "deadbeef": the first number is 0xdeadbeef.
		{"3q2-7wAAAAAAAAA=", "3735928559.0"},
	} {
		if got, err := SocketID(tc.conn); err != nil || got != tc.socket {
			t.Errorf("SocketID(%q) = %q, %v; want %q", tc.conn, got, err, tc.socket)
		}
		if got, err := ConnectionID(tc.socket); err != nil || got != tc.conn {
			t.Errorf("ConnectionID(%q) = %q, %v; want %q", tc.socket, got, err, tc.conn)
		}
	}
	if inc, ok := cluster.IncarnationOf("3q2-7wAAAAAAAAA="); !ok || inc != "deadbeef" {
		t.Errorf("IncarnationOf = %q, %v", inc, ok)
	}
}

func TestSocketIDRefuses(t *testing.T) {
	for _, s := range []string{
		"", ".", "1.", ".1", "1", "1.2.3", "01.2", "1.02", "00.0", "+1.2", "-1.2", "1.-2", " 1.2", "1.2 ", "1 .2",
		"1.2\n", "4294967296.0", "0.72057594037927936", "99999999999.0", "0.999999999999999999", "1e3.2", "١.٢", "0x1.2",
		"18446744073709551616.1",
	} {
		if got, err := ConnectionID(s); !errors.Is(err, ErrSocketID) {
			t.Errorf("ConnectionID(%q) = %q, %v; want ErrSocketID", s, got, err)
		}
	}
	for _, id := range []string{
		"", "AAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAB=", "AAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAA==",
		"AAAAAAAAAAAAAA+=", "AAAAAAAAAAAAAA/=", "AAAAAAA\nAAAAAAA=", "AAAAAAAAAAAAAAAAAAAA", "R1kmxc2VNjMCFIA=x",
	} {
		if got, err := SocketID(id); !errors.Is(err, ErrSocketID) {
			t.Errorf("SocketID(%q) = %q, %v; want ErrSocketID", id, got, err)
		}
	}
	for s, want := range map[string]bool{"1.2": true, "01.2": true, "99999999999.0": true, "1.": false, ".2": false, "1": false, "1.2.3": false, "a.b": false, "": false} {
		if ValidSocketID(s) != want || socketIDPattern.MatchString(s) != want {
			t.Errorf("ValidSocketID(%q) = %v, want %v", s, ValidSocketID(s), want)
		}
	}
}

// FuzzSocketID: ConnectionID then SocketID gives the input back, or
// ConnectionID refuses it; and the other way round.
func FuzzSocketID(f *testing.F) {
	for _, s := range []string{"0.0", "1.1", "4294967295.72057594037927935", "3735928559.0", "01.1", "1.2.3", "AAAAAQAAAAAAAAE="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if conn, err := ConnectionID(s); err == nil {
			if back, err := SocketID(conn); err != nil || back != s {
				t.Fatalf("ConnectionID(%q) = %q, whose SocketID is %q, %v", s, conn, back, err)
			}
			if !socketIDPattern.MatchString(s) {
				t.Fatalf("ConnectionID accepted %q", s)
			}
		} else if !errors.Is(err, ErrSocketID) {
			t.Fatalf("ConnectionID(%q): %v", s, err)
		}
		if sid, err := SocketID(s); err == nil {
			if back, err := ConnectionID(sid); err != nil || back != s {
				t.Fatalf("SocketID(%q) = %q, whose ConnectionID is %q, %v", s, sid, back, err)
			}
		} else if !errors.Is(err, ErrSocketID) {
			t.Fatalf("SocketID(%q): %v", s, err)
		}
		if ValidSocketID(s) != socketIDPattern.MatchString(s) {
			t.Fatalf("ValidSocketID(%q) = %v", s, ValidSocketID(s))
		}
	})
}
