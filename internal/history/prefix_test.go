package history_test

import (
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/history/historytest"
)

func TestPrefixedConformance(t *testing.T) {
	historytest.Run(t, func(t *testing.T) history.History {
		m := history.NewMemory(history.MemoryOptions{SweepInterval: 10 * time.Millisecond})
		t.Cleanup(m.Close)
		return history.Prefixed(m, "api/")
	})
}

// What is appended through the view is the underlying store's
// "<prefix><channel>" stream, and another prefix is another stream.
func TestPrefixedNames(t *testing.T) {
	m := history.NewMemory(history.MemoryOptions{})
	t.Cleanup(m.Close)
	o := history.StreamOptions{Size: 10, TTL: time.Minute, MetaTTL: time.Hour}
	a, b := history.Prefixed(m, "a/"), history.Prefixed(m, "b/")
	pos, err := a.Append(t.Context(), "room", history.Publication{Data: []byte("x")}, o)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := m.Read(t.Context(), "a/room", 0, 10, o)
	if err != nil || rr.Top != pos || len(rr.Publications) != 1 || string(rr.Publications[0].Data) != "x" {
		t.Fatalf("underlying a/room: %+v %v, want the append at %+v", rr, err, pos)
	}
	rb, err := b.Read(t.Context(), "room", 0, 10, o)
	if err != nil || rb.Top.Offset != 0 || len(rb.Publications) != 0 {
		t.Fatalf("b/room: %+v %v, want an empty stream", rb, err)
	}
	if err := a.Remove(t.Context(), "room"); err != nil {
		t.Fatal(err)
	}
	if rr, _ := m.Read(t.Context(), "a/room", 0, 10, o); rr.Top.Epoch == pos.Epoch {
		t.Fatal("Remove through the view left the stream")
	}
}
