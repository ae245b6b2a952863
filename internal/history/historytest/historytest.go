// Package historytest is the conformance suite that every history.History
// implementation must pass: the memory implementation and each backend run
// the same Run.
//
// The suite uses real time (TTLs of a few hundred milliseconds and a polling
// waitFor, never long fixed sleeps), so it can run against a real server;
// the whole suite takes about 1.5 s. Subtests run one after another;
// each gets its own History from newHistory and channel names unique to the
// run, so a backend shared between subtests and runs need not be flushed.
package historytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/history"
)

// Run runs the conformance subtests against the implementation made by
// newHistory, which is called once per subtest and should register its own
// cleanup with t.Cleanup.
func Run(t *testing.T, newHistory func(t *testing.T) history.History) {
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	s := &suite{run: hex.EncodeToString(nonce[:]), newHistory: newHistory}
	for _, tc := range []struct {
		name string
		test func(t *testing.T, h history.History, s *suite)
	}{
		{"FirstAppend", testFirstAppend},
		{"ConsecutiveOffsets", testConsecutiveOffsets},
		{"ReadCreatesStream", testReadCreatesStream},
		{"ReadSince", testReadSince},
		{"ReadLimit", testReadLimit},
		{"SizeBound", testSizeBound},
		{"SizeShrinks", testSizeShrinks},
		{"SizeGrows", testSizeGrows},
		{"TTLExpiry", testTTLExpiry},
		{"TTLKeepsNewer", testTTLKeepsNewer},
		{"MetaTTLExpiry", testMetaTTLExpiry},
		{"AppendKeepsStream", testAppendKeepsStream},
		{"Remove", testRemove},
		{"ChannelsIndependent", testChannelsIndependent},
		{"DataPreserved", testDataPreserved},
		{"NameAndUser", testNameAndUser},
		{"ConcurrentAppends", testConcurrentAppends},
		{"ConcurrentChannels", testConcurrentChannels},
		{"InvalidOptions", testInvalidOptions},
		{"CancelledContext", testCancelledContext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.test(t, s.newHistory(t), s)
		})
	}
}

type suite struct {
	run        string // random, so that channels of earlier runs never collide
	newHistory func(t *testing.T) history.History
}

// channel returns a channel name unique to this run and subtest.
func (s *suite) channel(t *testing.T, name string) string {
	return fmt.Sprintf("historytest:%s:%s:%s", s.run, t.Name(), name)
}

// long are options under which nothing expires during a subtest.
var long = history.StreamOptions{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}

// appendData appends data to channel, failing the test on an error or an
// empty epoch.
func appendData(t *testing.T, h history.History, channel string, data []byte, o history.StreamOptions) history.Position {
	t.Helper()
	pos, err := h.Append(t.Context(), channel, history.Publication{Data: data}, o)
	if err != nil {
		t.Fatalf("Append(%q): %v", channel, err)
	}
	if pos.Epoch == "" {
		t.Fatalf("Append(%q) = %+v: empty epoch", channel, pos)
	}
	return pos
}

// read reads channel, failing the test on an error or an empty epoch.
func read(t *testing.T, h history.History, channel string, since uint64, limit int, o history.StreamOptions) history.ReadResult {
	t.Helper()
	res, err := h.Read(t.Context(), channel, since, limit, o)
	if err != nil {
		t.Fatalf("Read(%q, since %d, limit %d): %v", channel, since, limit, err)
	}
	if res.Top.Epoch == "" {
		t.Fatalf("Read(%q) = Top %+v: empty epoch", channel, res.Top)
	}
	return res
}

// payload is the data the suite appends as the i-th publication of a
// stream, so a read-back publication can be checked against its offset.
func payload(i uint64) []byte { return fmt.Appendf(nil, "p%d", i) }

// fill appends n publications to channel with payload(offset) data,
// checks that each gets the next offset in the same epoch, and returns the
// last position.
func fill(t *testing.T, h history.History, channel string, n int, o history.StreamOptions) history.Position {
	t.Helper()
	var last history.Position
	for i := range n {
		res := read(t, h, channel, 0, 0, o)
		want := res.Top.Offset + 1
		pos := appendData(t, h, channel, payload(want), o)
		if pos.Offset != want || pos.Epoch != res.Top.Epoch {
			t.Fatalf("append %d to %q = %+v, want {%s %d}", i+1, channel, pos, res.Top.Epoch, want)
		}
		last = pos
	}
	return last
}

// checkPubs fails unless pubs are exactly the offsets wantOffsets, oldest
// first, each with payload(offset) data and a plausible time.
func checkPubs(t *testing.T, what string, pubs []history.Publication, wantOffsets ...uint64) {
	t.Helper()
	got := make([]uint64, len(pubs))
	for i, p := range pubs {
		got[i] = p.Offset
	}
	if !slices.Equal(got, wantOffsets) {
		t.Fatalf("%s: offsets %v, want %v", what, got, wantOffsets)
	}
	for _, p := range pubs {
		if !bytes.Equal(p.Data, payload(p.Offset)) {
			t.Fatalf("%s: offset %d has data %q, want %q", what, p.Offset, p.Data, payload(p.Offset))
		}
		if p.Name != "" || p.User != "" {
			t.Fatalf("%s: offset %d has name %q and user %q, appended without", what, p.Offset, p.Name, p.User)
		}
		if d := time.Since(p.Time); d < -time.Minute || d > time.Minute {
			t.Fatalf("%s: offset %d has time %v, %v from now", what, p.Offset, p.Time, -d)
		}
	}
}

func span(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// waitFor polls cond every 10 ms until it holds, failing after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testFirstAppend(t *testing.T, h history.History, s *suite) {
	pos := appendData(t, h, s.channel(t, "c"), []byte("hello"), long)
	if pos.Offset != 1 {
		t.Fatalf("first Append = %+v, want offset 1", pos)
	}
}

func testConsecutiveOffsets(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	first := appendData(t, h, ch, payload(1), long)
	for i := uint64(2); i <= 10; i++ {
		pos := appendData(t, h, ch, payload(i), long)
		if pos != (history.Position{Epoch: first.Epoch, Offset: i}) {
			t.Fatalf("append %d = %+v, want {%s %d}", i, pos, first.Epoch, i)
		}
	}
	res := read(t, h, ch, 0, 100, long)
	if res.Top != (history.Position{Epoch: first.Epoch, Offset: 10}) {
		t.Fatalf("Top = %+v, want {%s 10}", res.Top, first.Epoch)
	}
	checkPubs(t, "Read", res.Publications, span(1, 10)...)
}

func testReadCreatesStream(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	res := read(t, h, ch, 0, 10, long)
	if res.Top.Offset != 0 || len(res.Publications) != 0 || !res.Complete {
		t.Fatalf("Read of a new stream = %+v, want offset 0, nothing, complete", res)
	}
	again := read(t, h, ch, 0, 10, long)
	if again.Top != res.Top {
		t.Fatalf("second Read: Top %+v, want %+v (the epoch the first Read created)", again.Top, res.Top)
	}
	pos := appendData(t, h, ch, payload(1), long)
	if pos != (history.Position{Epoch: res.Top.Epoch, Offset: 1}) {
		t.Fatalf("Append after Read = %+v, want {%s 1}", pos, res.Top.Epoch)
	}
}

func testReadSince(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	top := fill(t, h, ch, 10, long)
	for _, tc := range []struct {
		since uint64
		want  []uint64
	}{
		{0, span(1, 10)},
		{1, span(2, 10)},
		{4, span(5, 10)},
		{9, span(10, 10)},
		{10, nil},
		{11, nil}, // past the top (another epoch's offset): nothing, complete
		{1 << 63, nil},
	} {
		res := read(t, h, ch, tc.since, 100, long)
		what := fmt.Sprintf("Read since %d", tc.since)
		if res.Top != top || !res.Complete {
			t.Fatalf("%s: Top %+v complete %v, want %+v complete", what, res.Top, res.Complete, top)
		}
		checkPubs(t, what, res.Publications, tc.want...)
	}
}

func testReadLimit(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	top := fill(t, h, ch, 10, long)
	for _, tc := range []struct {
		since uint64
		limit int
		want  []uint64
	}{
		{0, 3, span(1, 3)}, // the oldest first, not the newest
		{2, 3, span(3, 5)},
		{8, 3, span(9, 10)},
		{0, 10, span(1, 10)},
		{0, 1, span(1, 1)},
		{0, 0, nil},
		{0, -1, nil},
		{5, 0, nil},
	} {
		res := read(t, h, ch, tc.since, tc.limit, long)
		what := fmt.Sprintf("Read since %d limit %d", tc.since, tc.limit)
		if res.Top != top || !res.Complete {
			t.Fatalf("%s: Top %+v complete %v, want %+v complete", what, res.Top, res.Complete, top)
		}
		checkPubs(t, what, res.Publications, tc.want...)
	}
}

func testSizeBound(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	o := history.StreamOptions{Size: 3, TTL: time.Minute, MetaTTL: time.Hour}
	top := fill(t, h, ch, 7, o)
	for _, tc := range []struct {
		since    uint64
		limit    int
		want     []uint64
		complete bool
	}{
		{0, 100, span(5, 7), false}, // 1..4 were trimmed
		{3, 100, span(5, 7), false}, // 4 was trimmed
		{3, 0, nil, false},
		{4, 100, span(5, 7), true},
		{4, 1, span(5, 5), true},
		{6, 100, span(7, 7), true},
		{7, 100, nil, true},
		{8, 100, nil, true},
	} {
		res := read(t, h, ch, tc.since, tc.limit, o)
		what := fmt.Sprintf("Read since %d limit %d", tc.since, tc.limit)
		if res.Top != top || res.Complete != tc.complete {
			t.Fatalf("%s: Top %+v complete %v, want %+v complete %v", what, res.Top, res.Complete, top, tc.complete)
		}
		checkPubs(t, what, res.Publications, tc.want...)
	}
}

func testSizeShrinks(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	top := fill(t, h, ch, 10, long)
	small := history.StreamOptions{Size: 3, TTL: long.TTL, MetaTTL: long.MetaTTL}

	res := read(t, h, ch, 0, 100, small)
	if res.Top != top || res.Complete {
		t.Fatalf("Read with size 3: Top %+v complete %v, want %+v incomplete", res.Top, res.Complete, top)
	}
	checkPubs(t, "Read with size 3", res.Publications, span(8, 10)...)

	fill(t, h, ch, 1, small)
	res = read(t, h, ch, 0, 100, small)
	checkPubs(t, "Read after an Append with size 3", res.Publications, span(9, 11)...)

	// Growing the size back does not bring trimmed publications back.
	res = read(t, h, ch, 0, 100, long)
	checkPubs(t, "Read with size 100 again", res.Publications, span(9, 11)...)
}

func testSizeGrows(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	small := history.StreamOptions{Size: 2, TTL: long.TTL, MetaTTL: long.MetaTTL}
	fill(t, h, ch, 5, small)
	top := fill(t, h, ch, 5, long)
	res := read(t, h, ch, 0, 100, long)
	if res.Top != top || res.Complete {
		t.Fatalf("Read: Top %+v complete %v, want %+v incomplete", res.Top, res.Complete, top)
	}
	checkPubs(t, "Read after growing size 2 to 100", res.Publications, span(4, 10)...)
}

func testTTLExpiry(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	o := history.StreamOptions{Size: 10, TTL: 200 * time.Millisecond, MetaTTL: time.Hour}
	top := fill(t, h, ch, 3, o)

	var res history.ReadResult
	waitFor(t, "publications to expire", func() bool {
		res = read(t, h, ch, 0, 100, o)
		if n := len(res.Publications); n > 0 && res.Publications[n-1].Offset != top.Offset {
			t.Fatalf("Read while expiring: %+v, want a suffix of 1..%d", res.Publications, top.Offset)
		}
		return len(res.Publications) == 0
	})
	// The epoch and the top offset outlive the publications.
	if res.Top != top || res.Complete {
		t.Fatalf("Read since 0 after expiry: Top %+v complete %v, want %+v incomplete", res.Top, res.Complete, top)
	}
	if res = read(t, h, ch, 2, 100, o); res.Complete || len(res.Publications) != 0 {
		t.Fatalf("Read since 2 after expiry = %+v, want nothing, incomplete", res)
	}
	if res = read(t, h, ch, 3, 100, o); !res.Complete || len(res.Publications) != 0 {
		t.Fatalf("Read since 3 (the top) after expiry = %+v, want nothing, complete", res)
	}
	pos := appendData(t, h, ch, payload(4), o)
	if pos != (history.Position{Epoch: top.Epoch, Offset: 4}) {
		t.Fatalf("Append after expiry = %+v, want {%s 4}", pos, top.Epoch)
	}
	res = read(t, h, ch, 3, 100, o)
	if !res.Complete {
		t.Fatalf("Read since 3 = %+v, want complete", res)
	}
	checkPubs(t, "Read since 3", res.Publications, 4)
}

// testTTLKeepsNewer checks that TTL counts from each publication's own
// Append: an older publication expires while a newer one is still kept.
func testTTLKeepsNewer(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	o := history.StreamOptions{Size: 10, TTL: 300 * time.Millisecond, MetaTTL: time.Hour}
	start := time.Now()
	fill(t, h, ch, 1, o)
	time.Sleep(o.TTL/2 - time.Since(start))
	appended := time.Now()
	fill(t, h, ch, 1, o)

	var res history.ReadResult
	waitFor(t, "publication 1 to expire", func() bool {
		res = read(t, h, ch, 0, 100, o)
		return len(res.Publications) == 0 || res.Publications[0].Offset == 2
	})
	if len(res.Publications) == 0 {
		// Both expired: only acceptable if publication 2 may be TTL old.
		if age := time.Since(appended); age < o.TTL {
			t.Fatalf("publication 2 expired at most %v after its Append, TTL %v", age, o.TTL)
		}
		t.Skip("too slow to see publication 2 before it expired")
	}
	if res.Complete {
		t.Fatalf("Read since 0 = %+v, want incomplete (publication 1 expired)", res)
	}
	checkPubs(t, "Read after publication 1 expired", res.Publications, 2)
}

func testMetaTTLExpiry(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	o := history.StreamOptions{Size: 10, TTL: 100 * time.Millisecond, MetaTTL: 250 * time.Millisecond}
	old := fill(t, h, ch, 3, o)

	var res history.ReadResult
	waitFor(t, "the stream to be forgotten", func() bool {
		res = read(t, h, ch, 0, 100, o)
		return res.Top.Epoch != old.Epoch
	})
	if res.Top.Offset != 0 || len(res.Publications) != 0 || !res.Complete {
		t.Fatalf("Read of a forgotten stream = %+v, want a new epoch at offset 0, nothing, complete", res)
	}
	pos := appendData(t, h, ch, payload(1), o)
	if pos.Offset != 1 || pos.Epoch == old.Epoch {
		t.Fatalf("Append to a forgotten stream = %+v, want offset 1 in a new epoch (not %s)", pos, old.Epoch)
	}
	res = read(t, h, ch, 0, 100, o)
	if res.Top != pos || !res.Complete {
		t.Fatalf("Read = %+v, want Top %+v, complete", res, pos)
	}
	checkPubs(t, "Read in the new epoch", res.Publications, 1)
}

// testAppendKeepsStream checks that MetaTTL counts from the last Append:
// a stream appended to more often than MetaTTL keeps its epoch well past
// MetaTTL. (testMetaTTLExpiry checks that reads do not keep it.)
func testAppendKeepsStream(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	o := history.StreamOptions{Size: 10, TTL: 100 * time.Millisecond, MetaTTL: 300 * time.Millisecond}
	begin := time.Now()
	prevStart := begin
	prev := appendData(t, h, ch, payload(1), o)
	for time.Since(begin) < 2*o.MetaTTL {
		time.Sleep(o.MetaTTL / 6)
		start := time.Now()
		pos := appendData(t, h, ch, nil, o)
		if pos.Epoch != prev.Epoch || pos.Offset != prev.Offset+1 {
			// Only a gap of MetaTTL between the two appends forgets the
			// stream, and the gap was at most now-prevStart.
			if gap := time.Since(prevStart); gap < o.MetaTTL {
				t.Fatalf("append after %+v = %+v, at most %v later, MetaTTL %v: want {%s %d}",
					prev, pos, gap, o.MetaTTL, prev.Epoch, prev.Offset+1)
			}
			t.Logf("too slow: %v between appends", time.Since(prevStart))
		}
		prev, prevStart = pos, start
	}
}

func testRemove(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	if err := h.Remove(t.Context(), ch); err != nil {
		t.Fatalf("Remove of a missing stream: %v", err)
	}
	old := fill(t, h, ch, 3, long)
	if err := h.Remove(t.Context(), ch); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	res := read(t, h, ch, 0, 100, long)
	if res.Top.Epoch == old.Epoch || res.Top.Offset != 0 || len(res.Publications) != 0 || !res.Complete {
		t.Fatalf("Read after Remove = %+v, want a new epoch (not %s) at offset 0, nothing, complete", res, old.Epoch)
	}
	if err := h.Remove(t.Context(), ch); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	pos := appendData(t, h, ch, payload(1), long)
	if pos.Offset != 1 || pos.Epoch == old.Epoch || pos.Epoch == res.Top.Epoch {
		t.Fatalf("Append after Remove = %+v, want offset 1 in a new epoch (not %s or %s)", pos, old.Epoch, res.Top.Epoch)
	}
}

func testChannelsIndependent(t *testing.T, h history.History, s *suite) {
	a, b := s.channel(t, "a"), s.channel(t, "b")
	topA := fill(t, h, a, 3, long)
	topB := fill(t, h, b, 5, long)
	if topA.Epoch == topB.Epoch {
		t.Fatalf("channels a and b share epoch %s", topA.Epoch)
	}
	checkPubs(t, "Read a", read(t, h, a, 0, 100, long).Publications, span(1, 3)...)
	checkPubs(t, "Read b", read(t, h, b, 0, 100, long).Publications, span(1, 5)...)

	// Trimming, expiring and removing one channel leaves the other alone.
	read(t, h, a, 0, 100, history.StreamOptions{Size: 1, TTL: time.Millisecond, MetaTTL: time.Hour})
	if err := h.Remove(t.Context(), a); err != nil {
		t.Fatalf("Remove a: %v", err)
	}
	res := read(t, h, b, 0, 100, long)
	if res.Top != topB || !res.Complete {
		t.Fatalf("Read b after removing a = %+v, want Top %+v, complete", res, topB)
	}
	checkPubs(t, "Read b after removing a", res.Publications, span(1, 5)...)

	// Names that differ only in case or by a prefix are different channels.
	for _, name := range []string{"A", "a:", "a/x", ""} {
		ch := s.channel(t, name)
		if res := read(t, h, ch, 0, 100, long); res.Top.Offset != 0 {
			t.Fatalf("Read %q = %+v, want a new stream", ch, res)
		}
	}
}

func testDataPreserved(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)
	datas := [][]byte{
		[]byte("hello"),
		{},
		nil,
		all,
		{0},
		[]byte(`{"text":"hi","n":1}`),
		[]byte("\xff\xfe invalid UTF-8 \xc3"),
		[]byte("ünïcödé ✓"),
		big,
	}
	for i, d := range datas {
		pos := appendData(t, h, ch, d, long)
		if pos.Offset != uint64(i+1) {
			t.Fatalf("append %d = %+v, want offset %d", i+1, pos, i+1)
		}
	}
	res := read(t, h, ch, 0, 100, long)
	if len(res.Publications) != len(datas) {
		t.Fatalf("Read returned %d publications, want %d", len(res.Publications), len(datas))
	}
	for i, p := range res.Publications {
		if p.Offset != uint64(i+1) || !bytes.Equal(p.Data, datas[i]) {
			t.Fatalf("publication %d = offset %d, %d bytes %.40q, want offset %d, %d bytes %.40q",
				i, p.Offset, len(p.Data), p.Data, i+1, len(datas[i]), datas[i])
		}
	}
}

// testNameAndUser: a publication's event name and user come back from
// Read exactly as appended, next to publications appended without them
// (which come back with "").
func testNameAndUser(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	pubs := []history.Publication{
		{Name: "client-typing", User: "u-42", Data: []byte(`{"a":1}`)},
		{Data: []byte("plain")},
		{Name: "ünïcödé ✓ \x00 with spaces", Data: nil},
		{User: "only-user", Data: []byte{0, 0xff}},
		{Name: "n", User: "u"},
	}
	for i, p := range pubs {
		// Offset and Time given to Append are ignored.
		p.Offset, p.Time = 99, time.Unix(1, 0)
		pos, err := h.Append(t.Context(), ch, p, long)
		if err != nil || pos.Offset != uint64(i+1) {
			t.Fatalf("append %d = %+v, %v; want offset %d", i+1, pos, err, i+1)
		}
	}
	res := read(t, h, ch, 0, 100, long)
	if len(res.Publications) != len(pubs) {
		t.Fatalf("Read returned %d publications, want %d", len(res.Publications), len(pubs))
	}
	for i, p := range res.Publications {
		w := pubs[i]
		if p.Offset != uint64(i+1) || p.Name != w.Name || p.User != w.User || !bytes.Equal(p.Data, w.Data) {
			t.Fatalf("publication %d = {offset %d name %q user %q data %q}, want {offset %d name %q user %q data %q}",
				i, p.Offset, p.Name, p.User, p.Data, i+1, w.Name, w.User, w.Data)
		}
		if d := time.Since(p.Time); d < -time.Minute || d > time.Minute {
			t.Fatalf("publication %d has time %v, %v from now", i, p.Time, -d)
		}
	}
	// A read from the middle keeps them too.
	res = read(t, h, ch, 3, 1, long)
	if len(res.Publications) != 1 || res.Publications[0].Name != "" || res.Publications[0].User != "only-user" {
		t.Fatalf("Read(since 3, limit 1) = %+v, want offset 4 with user only-user", res.Publications)
	}
}

func testConcurrentAppends(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	const goroutines, each = 8, 50
	o := history.StreamOptions{Size: goroutines * each, TTL: time.Minute, MetaTTL: time.Hour}

	var (
		mu     sync.Mutex
		byData = make(map[string]history.Position) // what each Append returned
		wg     sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				data := fmt.Sprintf("g%d-%d", g, i)
				pos, err := h.Append(t.Context(), ch, history.Publication{Data: []byte(data)}, o)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				byData[data] = pos
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	var epoch string
	offsets := make([]uint64, 0, len(byData))
	for _, pos := range byData {
		if epoch == "" {
			epoch = pos.Epoch
		}
		if pos.Epoch != epoch {
			t.Fatalf("concurrent appends got epochs %s and %s", epoch, pos.Epoch)
		}
		offsets = append(offsets, pos.Offset)
	}
	slices.Sort(offsets)
	if want := span(1, goroutines*each); !slices.Equal(offsets, want) {
		t.Fatalf("concurrent appends got offsets %v, want 1..%d, each once", offsets, goroutines*each)
	}

	res := read(t, h, ch, 0, goroutines*each, o)
	if res.Top != (history.Position{Epoch: epoch, Offset: goroutines * each}) || !res.Complete {
		t.Fatalf("Read: Top %+v complete %v, want {%s %d} complete", res.Top, res.Complete, epoch, goroutines*each)
	}
	if len(res.Publications) != goroutines*each {
		t.Fatalf("Read returned %d publications, want %d", len(res.Publications), goroutines*each)
	}
	last := make(map[int]int) // each goroutine's appends keep their order
	for i, p := range res.Publications {
		if p.Offset != uint64(i+1) {
			t.Fatalf("publication %d has offset %d", i, p.Offset)
		}
		if got := byData[string(p.Data)]; got.Offset != p.Offset {
			t.Fatalf("offset %d holds %q, which Append placed at %d", p.Offset, p.Data, got.Offset)
		}
		var g, n int
		if _, err := fmt.Sscanf(string(p.Data), "g%d-%d", &g, &n); err != nil {
			t.Fatalf("offset %d holds %q: %v", p.Offset, p.Data, err)
		}
		if prev, ok := last[g]; ok && n <= prev {
			t.Fatalf("goroutine %d's append %d is after its append %d", g, n, prev)
		}
		last[g] = n
	}
}

func testConcurrentChannels(t *testing.T, h history.History, s *suite) {
	const channels, each = 8, 20
	var wg sync.WaitGroup
	for c := range channels {
		ch := s.channel(t, fmt.Sprint(c))
		wg.Go(func() {
			for i := uint64(1); i <= each; i++ {
				pos, err := h.Append(t.Context(), ch, history.Publication{Data: payload(i)}, long)
				if err != nil {
					t.Errorf("Append %q: %v", ch, err)
					return
				}
				if pos.Offset != i {
					t.Errorf("append %d to %q = %+v, want offset %d", i, ch, pos, i)
					return
				}
				if _, err := h.Read(t.Context(), ch, i-1, 10, long); err != nil {
					t.Errorf("Read %q: %v", ch, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for c := range channels {
		ch := s.channel(t, fmt.Sprint(c))
		checkPubs(t, "Read "+ch, read(t, h, ch, 0, 100, long).Publications, span(1, each)...)
	}
}

func testInvalidOptions(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	for _, o := range []history.StreamOptions{
		{},
		{Size: 0, TTL: time.Second, MetaTTL: time.Second},
		{Size: -1, TTL: time.Second, MetaTTL: time.Second},
		{Size: 1, TTL: 0, MetaTTL: time.Second},
		{Size: 1, TTL: -time.Second, MetaTTL: time.Second},
		{Size: 1, TTL: time.Second, MetaTTL: time.Second - 1},
	} {
		if _, err := h.Append(t.Context(), ch, history.Publication{Data: []byte("x")}, o); !errors.Is(err, history.ErrInvalidOptions) {
			t.Errorf("Append with %+v: error %v, want ErrInvalidOptions", o, err)
		}
		if _, err := h.Read(t.Context(), ch, 0, 10, o); !errors.Is(err, history.ErrInvalidOptions) {
			t.Errorf("Read with %+v: error %v, want ErrInvalidOptions", o, err)
		}
	}
	// Nothing was appended.
	if res := read(t, h, ch, 0, 10, long); res.Top.Offset != 0 {
		t.Fatalf("Read after rejected appends = %+v, want offset 0", res)
	}
	if err := (history.StreamOptions{Size: 1, TTL: time.Second, MetaTTL: time.Second}).Validate(); err != nil {
		t.Fatalf("Validate of minimal options: %v", err)
	}
}

func testCancelledContext(t *testing.T, h history.History, s *suite) {
	ch := s.channel(t, "c")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Append(ctx, ch, history.Publication{Data: []byte("x")}, long); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context: error %v, want context.Canceled", err)
	}
	if _, err := h.Read(ctx, ch, 0, 10, long); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: error %v, want context.Canceled", err)
	}
	if err := h.Remove(ctx, ch); !errors.Is(err, context.Canceled) {
		t.Errorf("Remove with a cancelled context: error %v, want context.Canceled", err)
	}
	if res := read(t, h, ch, 0, 10, long); res.Top.Offset != 0 {
		t.Fatalf("Read after a cancelled Append = %+v, want offset 0", res)
	}
}
