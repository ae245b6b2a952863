package history_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/history/historytest"
)

func TestMemoryConformance(t *testing.T) {
	historytest.Run(t, func(t *testing.T) history.History {
		m := history.NewMemory(history.MemoryOptions{SweepInterval: 10 * time.Millisecond})
		t.Cleanup(m.Close)
		return m
	})
}

// clock is a settable clock for MemoryOptions.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newMemory returns a Memory on clk whose sweeper never runs during a test.
func newMemory(t *testing.T, clk *clock) *history.Memory {
	m := history.NewMemory(history.MemoryOptions{Now: clk.Now, SweepInterval: time.Hour})
	t.Cleanup(m.Close)
	return m
}

func mustAppend(t *testing.T, m *history.Memory, channel string, data string, o history.StreamOptions) history.Position {
	t.Helper()
	pos, err := m.Append(t.Context(), channel, history.Publication{Data: []byte(data)}, o)
	if err != nil {
		t.Fatalf("Append(%q): %v", channel, err)
	}
	return pos
}

func mustRead(t *testing.T, m *history.Memory, channel string, since uint64, limit int, o history.StreamOptions) history.ReadResult {
	t.Helper()
	res, err := m.Read(t.Context(), channel, since, limit, o)
	if err != nil {
		t.Fatalf("Read(%q): %v", channel, err)
	}
	return res
}

func offsets(pubs []history.Publication) []uint64 {
	var s []uint64
	for _, p := range pubs {
		s = append(s, p.Offset)
	}
	return s
}

func TestMemoryTTLBoundary(t *testing.T) {
	clk := newClock()
	m := newMemory(t, clk)
	o := history.StreamOptions{Size: 10, TTL: 10 * time.Second, MetaTTL: time.Minute}

	t0 := clk.Now()
	mustAppend(t, m, "c", "a", o)
	clk.Advance(4 * time.Second)
	top := mustAppend(t, m, "c", "b", o)

	res := mustRead(t, m, "c", 0, 10, o)
	if got := offsets(res.Publications); !slices.Equal(got, []uint64{1, 2}) || !res.Complete {
		t.Fatalf("Read = %v complete %v, want [1 2] complete", got, res.Complete)
	}
	if !res.Publications[0].Time.Equal(t0) || !res.Publications[1].Time.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("publication times %v, %v: want the clock at Append", res.Publications[0].Time, res.Publications[1].Time)
	}

	clk.Advance(6*time.Second - 1) // publication 1 is TTL-1ns old: kept
	if got := offsets(mustRead(t, m, "c", 0, 10, o).Publications); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("at TTL-1ns: %v, want [1 2]", got)
	}
	clk.Advance(1) // exactly TTL old: gone
	res = mustRead(t, m, "c", 0, 10, o)
	if got := offsets(res.Publications); !slices.Equal(got, []uint64{2}) || res.Complete || res.Top != top {
		t.Fatalf("at TTL: %v complete %v top %+v, want [2] incomplete top %+v", got, res.Complete, res.Top, top)
	}
	if res := mustRead(t, m, "c", 1, 10, o); !res.Complete {
		t.Fatalf("Read since 1 at TTL: incomplete, want complete")
	}
	if n := m.Publications(); n != 1 {
		t.Fatalf("Publications() = %d after Read expired one, want 1", n)
	}

	// A shorter TTL applies at once.
	shorter := o
	shorter.TTL = time.Second
	if res := mustRead(t, m, "c", 0, 10, shorter); len(res.Publications) != 0 || res.Top != top {
		t.Fatalf("Read with TTL 1s = %+v, want nothing, top %+v", res, top)
	}
}

func TestMemoryMetaTTLBoundary(t *testing.T) {
	clk := newClock()
	m := newMemory(t, clk)
	o := history.StreamOptions{Size: 10, TTL: 10 * time.Second, MetaTTL: time.Minute}

	old := mustAppend(t, m, "c", "a", o)
	clk.Advance(30 * time.Second)
	mustRead(t, m, "c", 0, 10, o) // reads do not extend the stream's life
	clk.Advance(30*time.Second - 1)
	if res := mustRead(t, m, "c", 0, 10, o); res.Top != old {
		t.Fatalf("at MetaTTL-1ns: Top %+v, want %+v", res.Top, old)
	}
	clk.Advance(1)
	res := mustRead(t, m, "c", 0, 10, o)
	if res.Top.Epoch == old.Epoch || res.Top.Offset != 0 {
		t.Fatalf("at MetaTTL: Top %+v, want a new epoch at 0", res.Top)
	}

	// A stream that a Read created is forgotten MetaTTL after its creation.
	created := res.Top
	clk.Advance(time.Minute - 1)
	if res := mustRead(t, m, "c", 0, 10, o); res.Top != created {
		t.Fatalf("MetaTTL-1ns after creation: Top %+v, want %+v", res.Top, created)
	}
	clk.Advance(1)
	if res := mustRead(t, m, "c", 0, 10, o); res.Top.Epoch == created.Epoch {
		t.Fatalf("MetaTTL after creation: Top %+v, want a new epoch", res.Top)
	}

	// A longer MetaTTL in the latest call keeps a stream the earlier one
	// would have forgotten.
	kept := mustAppend(t, m, "d", "a", o)
	clk.Advance(2 * time.Minute)
	longer := o
	longer.MetaTTL = time.Hour
	if pos := mustAppend(t, m, "d", "b", longer); pos != (history.Position{Epoch: kept.Epoch, Offset: 2}) {
		t.Fatalf("Append with a longer MetaTTL = %+v, want {%s 2}", pos, kept.Epoch)
	}
}

func TestMemorySweep(t *testing.T) {
	clk := newClock()
	m := newMemory(t, clk)
	o := history.StreamOptions{Size: 5, TTL: 10 * time.Second, MetaTTL: time.Minute}
	for i := range 100 {
		for range 7 {
			mustAppend(t, m, fmt.Sprint("c", i), "x", o)
		}
	}
	for i := range 20 {
		mustRead(t, m, fmt.Sprint("r", i), 0, 10, o)
	}
	if s, p := m.Streams(), m.Publications(); s != 120 || p != 500 {
		t.Fatalf("Streams, Publications = %d, %d, want 120, 500", s, p)
	}

	clk.Advance(o.TTL)
	history.Sweep(m)
	if s, p := m.Streams(), m.Publications(); s != 120 || p != 0 {
		t.Fatalf("after TTL: Streams, Publications = %d, %d, want 120, 0", s, p)
	}
	clk.Advance(o.MetaTTL - o.TTL)
	history.Sweep(m)
	if s, p := m.Streams(), m.Publications(); s != 0 || p != 0 {
		t.Fatalf("after MetaTTL: Streams, Publications = %d, %d, want 0, 0", s, p)
	}
}

// TestMemorySweeper checks that the sweeper goroutine runs by itself every
// SweepInterval, in a synctest bubble whose fake clock makes it exact.
func TestMemorySweeper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := history.NewMemory(history.MemoryOptions{SweepInterval: time.Second})
		defer m.Close()
		o := history.StreamOptions{Size: 5, TTL: 3 * time.Second, MetaTTL: 10 * time.Second}
		for i := range 10 {
			mustAppend(t, m, fmt.Sprint("c", i), "x", o)
			mustAppend(t, m, fmt.Sprint("c", i), "y", o)
		}
		check := func(when string, streams, pubs int) {
			t.Helper()
			synctest.Wait()
			if s, p := m.Streams(), m.Publications(); s != streams || p != pubs {
				t.Fatalf("%s: Streams, Publications = %d, %d, want %d, %d", when, s, p, streams, pubs)
			}
		}
		time.Sleep(2500 * time.Millisecond) // sweeps at 1s and 2s keep everything
		check("at 2.5s", 10, 20)
		time.Sleep(time.Second) // the sweep at 3s drops the publications
		check("at 3.5s", 10, 0)
		time.Sleep(6 * time.Second) // the sweep at 9s keeps the streams
		check("at 9.5s", 10, 0)
		time.Sleep(time.Second) // the sweep at 10s drops them
		check("at 10.5s", 0, 0)
	})
}

func TestMemoryClose(t *testing.T) {
	m := history.NewMemory(history.MemoryOptions{})
	o := history.StreamOptions{Size: 5, TTL: time.Second, MetaTTL: time.Second}
	mustAppend(t, m, "c", "x", o)
	m.Close()
	m.Close()
	if _, err := m.Append(t.Context(), "c", history.Publication{Data: []byte("x")}, o); !errors.Is(err, history.ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if _, err := m.Read(t.Context(), "c", 0, 10, o); !errors.Is(err, history.ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
	if err := m.Remove(t.Context(), "c"); !errors.Is(err, history.ErrClosed) {
		t.Errorf("Remove after Close: %v, want ErrClosed", err)
	}
	if s, p := m.Streams(), m.Publications(); s != 0 || p != 0 {
		t.Errorf("after Close: Streams, Publications = %d, %d, want 0, 0", s, p)
	}
}

func TestMemoryEpoch(t *testing.T) {
	m := newMemory(t, newClock())
	o := history.StreamOptions{Size: 1, TTL: time.Second, MetaTTL: time.Second}
	valid := regexp.MustCompile(`^[A-Za-z0-9_-]{11}$`)
	seen := make(map[string]bool)
	for i := range 1000 {
		pos := mustAppend(t, m, fmt.Sprint("c", i), "x", o)
		if !valid.MatchString(pos.Epoch) {
			t.Fatalf("epoch %q: want 11 base64url characters", pos.Epoch)
		}
		if seen[pos.Epoch] {
			t.Fatalf("epoch %q given twice", pos.Epoch)
		}
		seen[pos.Epoch] = true
	}
}

func TestMemoryAllocs(t *testing.T) {
	m := newMemory(t, newClock())
	o := history.StreamOptions{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}
	data := []byte("hello")
	for range 100 {
		mustAppend(t, m, "c", "x", o)
	}
	if n := testing.AllocsPerRun(1000, func() { m.Append(t.Context(), "c", history.Publication{Data: data}, o) }); n != 0 {
		t.Errorf("Append to a full stream: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { m.Read(t.Context(), "c", 90, 10, o) }); n != 1 {
		t.Errorf("Read: %v allocations, want 1 (the result)", n)
	}
}

// TestMemoryModel checks Memory against a plain slice model over random
// operations with changing options, on an injected clock: ring growth,
// wrap-around, size changes, TTL, MetaTTL, Remove and sweeps.
func TestMemoryModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { runModel(t, seed) })
	}
}

type modelStream struct {
	epoch   string // "" when absent
	top     uint64
	touched time.Time
	pubs    []history.Publication
	o       history.StreamOptions // of the latest call
}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	clk := newClock()
	m := newMemory(t, clk)
	channels := []string{"a", "b", "c"}
	model := make(map[string]*modelStream)
	for _, ch := range channels {
		model[ch] = &modelStream{}
	}

	randOptions := func() history.StreamOptions {
		o := history.StreamOptions{
			Size: 1 + rng.IntN(6),
			TTL:  time.Duration(2+rng.IntN(8)) * time.Second,
		}
		if rng.IntN(5) == 0 {
			o.Size = 20 + rng.IntN(20)
		}
		o.MetaTTL = o.TTL + time.Duration(rng.IntN(3))*5*time.Second
		return o
	}
	// use is what every call does first: forget, create, adopt options.
	use := func(s *modelStream, now time.Time, o history.StreamOptions) (created bool) {
		if s.epoch == "" || now.Sub(s.touched) >= o.MetaTTL {
			*s = modelStream{touched: now}
			created = true
		}
		s.o = o
		s.pubs = slices.DeleteFunc(s.pubs, func(p history.Publication) bool { return now.Sub(p.Time) >= o.TTL })
		if len(s.pubs) > o.Size {
			s.pubs = s.pubs[len(s.pubs)-o.Size:]
		}
		return created
	}
	checkEpoch := func(op string, s *modelStream, created bool, epoch string) {
		t.Helper()
		if created && epoch == s.epoch {
			t.Fatalf("%s: epoch %s kept, want a new one", op, epoch)
		}
		if !created && s.epoch != "" && epoch != s.epoch {
			t.Fatalf("%s: epoch %s, want %s", op, epoch, s.epoch)
		}
		s.epoch = epoch
	}

	o := randOptions()
	for step := range 3000 {
		clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
		if rng.IntN(20) == 0 {
			o = randOptions()
		}
		now := clk.Now()
		ch := channels[rng.IntN(len(channels))]
		s := model[ch]
		switch r := rng.IntN(100); {
		case r < 50:
			op := fmt.Sprintf("step %d: Append(%s) with %+v", step, ch, o)
			prevEpoch := s.epoch
			created := use(s, now, o)
			s.epoch = prevEpoch
			data := fmt.Sprint(step)
			pos := mustAppend(t, m, ch, data, o)
			checkEpoch(op, s, created, pos.Epoch)
			s.top++
			s.touched = now
			s.pubs = append(s.pubs, history.Publication{Offset: s.top, Time: now, Data: []byte(data)})
			if len(s.pubs) > o.Size {
				s.pubs = s.pubs[1:]
			}
			if pos.Offset != s.top {
				t.Fatalf("%s = %+v, want offset %d", op, pos, s.top)
			}
		case r < 85:
			prevEpoch := s.epoch
			created := use(s, now, o)
			s.epoch = prevEpoch
			since := uint64(rng.IntN(int(s.top) + 3))
			limit := rng.IntN(12) - 1
			op := fmt.Sprintf("step %d: Read(%s, since %d, limit %d) with %+v", step, ch, since, limit, o)
			res := mustRead(t, m, ch, since, limit, o)
			checkEpoch(op, s, created, res.Top.Epoch)
			if res.Top.Offset != s.top {
				t.Fatalf("%s: top %d, want %d", op, res.Top.Offset, s.top)
			}
			var want []history.Publication
			for _, p := range s.pubs {
				if p.Offset > since && len(want) < limit {
					want = append(want, p)
				}
			}
			if !slices.EqualFunc(res.Publications, want, func(a, b history.Publication) bool {
				return a.Offset == b.Offset && a.Time.Equal(b.Time) && string(a.Data) == string(b.Data)
			}) {
				t.Fatalf("%s = %v, want %v", op, offsets(res.Publications), offsets(want))
			}
			complete := since >= s.top || (len(s.pubs) > 0 && s.pubs[0].Offset <= since+1)
			if res.Complete != complete {
				t.Fatalf("%s: complete %v, want %v (kept %v)", op, res.Complete, complete, offsets(s.pubs))
			}
		case r < 90:
			if err := m.Remove(t.Context(), ch); err != nil {
				t.Fatal(err)
			}
			*s = modelStream{}
		default:
			history.Sweep(m)
			for _, s := range model {
				if s.epoch == "" {
					continue
				}
				if now.Sub(s.touched) >= s.o.MetaTTL {
					*s = modelStream{}
					continue
				}
				s.pubs = slices.DeleteFunc(s.pubs, func(p history.Publication) bool { return now.Sub(p.Time) >= s.o.TTL })
			}
			streams, pubs := 0, 0
			for _, s := range model {
				if s.epoch != "" {
					streams++
					pubs += len(s.pubs)
				}
			}
			if gs, gp := m.Streams(), m.Publications(); gs != streams || gp != pubs {
				t.Fatalf("step %d: after a sweep, Streams, Publications = %d, %d, want %d, %d", step, gs, gp, streams, pubs)
			}
		}
	}
}
