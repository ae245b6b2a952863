package cluster_test

import (
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/event"
)

func TestNewIDCarriesIncarnation(t *testing.T) {
	for range 1000 {
		inc := cluster.NewIncarnation()
		id := cluster.NewID(inc)
		if !event.ValidID(id) {
			t.Fatalf("NewID(%s) = %q: not the AWS id shape", inc, id)
		}
		if got, ok := cluster.IncarnationOf(id); !ok || got != inc {
			t.Fatalf("IncarnationOf(%q) = %q, %v; want %q", id, got, ok, inc)
		}
	}
}

func TestIncarnationOfRejects(t *testing.T) {
	for _, id := range []string{"", "short", "R1kmxc2VNjMCFIA", "R1kmxc2VNjMCFIAA", "R1kmxc2V*jMCFIA=", "R1kmxc2VNjMCFIA=x"} {
		if inc, ok := cluster.IncarnationOf(id); ok {
			t.Errorf("IncarnationOf(%q) = %q, true; want false", id, inc)
		}
	}
}

func TestNewIDBadIncarnationPanics(t *testing.T) {
	for _, inc := range []string{"", "abc", "zzzzzzzz", "0123456789"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewID(%q) did not panic", inc)
				}
			}()
			cluster.NewID(inc)
		}()
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[cluster.Kind]string{cluster.Publication: "publication", cluster.Join: "join", cluster.Leave: "leave", cluster.Reset: "reset", 9: "kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q; want %q", k, got, want)
		}
	}
}
