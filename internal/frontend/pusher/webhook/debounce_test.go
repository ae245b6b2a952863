package webhook

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func ev(name, channel, user string) *Event {
	return &Event{Name: name, Channel: channel, UserID: user}
}

func short(out []AppEvent) string {
	var s []string
	for _, ae := range out {
		e := ae.Event
		x := ae.App + ":" + e.Name + ":" + e.Channel
		if e.UserID != "" {
			x += ":" + e.UserID
		}
		s = append(s, x)
	}
	return strings.Join(s, " ")
}

func TestDebouncer(t *testing.T) {
	const delay = 3 * time.Second
	type step struct {
		at   time.Duration // since the start
		add  *Event        // nil: call Due
		app  string        // default "1"
		want string        // what Add or Due returns
	}
	occ := func(c string) *Event { return ev(ChannelOccupied, c, "") }
	vac := func(c string) *Event { return ev(ChannelVacated, c, "") }
	add := func(c, u string) *Event { return ev(MemberAdded, c, u) }
	rem := func(c, u string) *Event { return ev(MemberRemoved, c, u) }
	tests := []struct {
		name  string
		steps []step
	}{
		{"occupied vacated occupied within the delay: only the first occupied", []step{
			{0, occ("a"), "", "1:channel_occupied:a"},
			{time.Second, vac("a"), "", ""},
			{2 * time.Second, occ("a"), "", ""},
			{10 * time.Second, nil, "", ""},
		}},
		{"occupied vacated, delay passes: vacated released by Due", []step{
			{0, occ("a"), "", "1:channel_occupied:a"},
			{time.Second, vac("a"), "", ""},
			{time.Second + delay - time.Nanosecond, nil, "", ""},
			{time.Second + delay, nil, "", "1:channel_vacated:a"},
		}},
		{"occupied after the delay without Due in between: vacated goes first", []step{
			{0, vac("a"), "", ""},
			{delay, occ("a"), "", "1:channel_vacated:a 1:channel_occupied:a"},
		}},
		{"occupied exactly at the due time is after the delay", []step{
			{0, vac("a"), "", ""},
			{delay, occ("a"), "", "1:channel_vacated:a 1:channel_occupied:a"},
		}},
		{"another channel does not cancel", []step{
			{0, vac("a"), "", ""},
			{time.Second, occ("b"), "", "1:channel_occupied:b"},
			{delay, nil, "", "1:channel_vacated:a"},
		}},
		{"another app does not cancel", []step{
			{0, vac("a"), "", ""},
			{time.Second, occ("a"), "2", "2:channel_occupied:a"},
			{delay, nil, "", "1:channel_vacated:a"},
		}},
		{"member removed then added again within the delay: neither", []step{
			{0, add("p", "u1"), "", "1:member_added:p:u1"},
			{time.Second, rem("p", "u1"), "", ""},
			{2 * time.Second, add("p", "u1"), "", ""},
			{time.Minute, nil, "", ""},
		}},
		{"another user added does not cancel a removal", []step{
			{0, rem("p", "u1"), "", ""},
			{time.Second, add("p", "u2"), "", "1:member_added:p:u2"},
			{delay, nil, "", "1:member_removed:p:u1"},
		}},
		{"removal and vacate both cancelled by a quick return", []step{
			{0, rem("p", "u1"), "", ""},
			{0, vac("p"), "", ""},
			{time.Second, occ("p"), "", ""},
			{time.Second, add("p", "u1"), "", ""},
			{time.Minute, nil, "", ""},
		}},
		{"released in the order held", []step{
			{0, rem("p", "u1"), "", ""},
			{time.Second, vac("p"), "", ""},
			{time.Minute, nil, "", "1:member_removed:p:u1 1:channel_vacated:p"},
		}},
		{"other events pass through while something is held", []step{
			{0, vac("a"), "", ""},
			{time.Second, ev(ClientEvent, "a", ""), "", "1:client_event:a"},
			{time.Second, ev(SubscriptionCount, "a", ""), "", "1:subscription_count:a"},
			{time.Second, ev(CacheMiss, "a", ""), "", "1:cache_miss:a"},
			{delay, nil, "", "1:channel_vacated:a"},
		}},
		{"a second vacated while one is held is sent", []step{
			{0, vac("a"), "", ""},
			{time.Second, vac("a"), "", "1:channel_vacated:a"},
			{delay, nil, "", "1:channel_vacated:a"},
		}},
		{"vacated again after a cancelled pair is held again", []step{
			{0, vac("a"), "", ""},
			{time.Second, occ("a"), "", ""},
			{2 * time.Second, vac("a"), "", ""},
			{2*time.Second + delay, nil, "", "1:channel_vacated:a"},
		}},
	}
	start := time.Unix(1700000000, 0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDebouncer(delay)
			for i, s := range tc.steps {
				now := start.Add(s.at)
				app := s.app
				if app == "" {
					app = "1"
				}
				var got []AppEvent
				if s.add != nil {
					got = d.Add(now, AppEvent{App: app, Event: s.add})
				} else {
					got = d.Due(now)
				}
				if g := short(got); g != s.want {
					t.Fatalf("step %d (%s at %v): got %q, want %q", i, fmt.Sprint(s.add != nil), s.at, g, s.want)
				}
			}
		})
	}
}

func TestDebouncerNextAndFlush(t *testing.T) {
	start := time.Unix(1700000000, 0)
	d := NewDebouncer(3 * time.Second)
	if _, ok := d.Next(); ok {
		t.Fatal("Next on an empty debouncer")
	}
	d.Add(start, AppEvent{"1", ev(ChannelVacated, "a", "")})
	d.Add(start.Add(time.Second), AppEvent{"2", ev(ChannelVacated, "b", "")})
	d.Add(start.Add(2*time.Second), AppEvent{"1", ev(MemberRemoved, "p", "u")})
	if next, ok := d.Next(); !ok || !next.Equal(start.Add(3*time.Second)) {
		t.Fatalf("Next = %v %v, want %v", next, ok, start.Add(3*time.Second))
	}
	if got := short(d.Flush("1")); got != "1:channel_vacated:a 1:member_removed:p:u" {
		t.Fatalf("Flush(1) = %q", got)
	}
	if next, ok := d.Next(); !ok || !next.Equal(start.Add(4*time.Second)) {
		t.Fatalf("Next after Flush(1) = %v %v", next, ok)
	}
	if got := short(d.Flush("")); got != "2:channel_vacated:b" || d.Len() != 0 {
		t.Fatalf("Flush all = %q, Len %d", got, d.Len())
	}
}

func TestDebouncerDisabled(t *testing.T) {
	d := NewDebouncer(0)
	now := time.Unix(1700000000, 0)
	for _, e := range []*Event{ev(ChannelVacated, "a", ""), ev(ChannelOccupied, "a", "")} {
		if got := d.Add(now, AppEvent{"1", e}); len(got) != 1 || got[0].Event != e {
			t.Fatalf("disabled debouncer held %s", e.Name)
		}
	}
}
