package bench

import (
	"slices"
	"testing"
)

func TestShareOut(t *testing.T) {
	for _, c := range []struct{ workers, total, sources int }{{1, 1, 1}, {4, 10000, 4}, {3, 10, 7}, {4, 7, 2}, {2, 300, 1}} {
		srcs := make([]string, c.sources)
		for i := range srcs {
			srcs[i] = string(rune('a' + i))
		}
		next, used := 0, map[string]int{}
		for i := range c.workers {
			first, n, mine := shareOut(i, c.workers, c.total, srcs)
			if first != next || n < c.total/c.workers || n > c.total/c.workers+1 || len(mine) == 0 {
				t.Fatalf("%+v worker %d: first %d n %d sources %v (want first %d)", c, i, first, n, mine, next)
			}
			next += n
			for _, s := range mine {
				used[s]++
			}
		}
		if next != c.total {
			t.Fatalf("%+v: %d connections shared, want %d", c, next, c.total)
		}
		for _, s := range srcs {
			if used[s] == 0 {
				t.Fatalf("%+v: source %s unused", c, s)
			}
		}
		if c.sources > c.workers && slices.ContainsFunc(srcs, func(s string) bool { return used[s] != 1 }) {
			t.Fatalf("%+v: sources not dealt out once each: %v", c, used)
		}
	}
}
