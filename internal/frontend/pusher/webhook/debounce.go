package webhook

import (
	"container/list"
	"time"
)

// DefaultDebounce is how long channel_vacated and member_removed are held
// (Pusher: "delayed up to 3 s"; reference §10).
const DefaultDebounce = 3 * time.Second

// AppEvent is an event of one app, as the Debouncer takes and returns it.
type AppEvent struct {
	App   string
	Event *Event
}

// Debouncer holds channel_vacated and member_removed for a delay, as Pusher
// does, so that a client that drops and comes back at once (a page reload,
// a reconnect) does not produce vacated+occupied or removed+added:
//
//   - channel_vacated(c) is held; channel_occupied(c) within the delay
//     cancels it and is not sent either.
//   - member_removed(c, u) is held; member_added(c, u) within the delay
//     cancels it and is not sent either.
//   - Every other event passes through at once. A held event whose delay
//     has passed is released before any later event is handled, so an
//     occupied after the delay follows its vacated.
//
// It is a pure component: it never reads a clock nor starts a goroutine;
// the caller passes the time and asks for due events (Next tells when).
// Not safe for concurrent use.
type Debouncer struct {
	delay time.Duration
	held  map[heldKey]*list.Element
	order list.List // of *heldEvent, by due time (the delay is constant)
}

type heldKey struct {
	app, name, channel, user string
}

type heldEvent struct {
	key heldKey
	ev  AppEvent
	due time.Time
}

// NewDebouncer returns a Debouncer holding events for delay; delay <= 0
// passes every event through.
func NewDebouncer(delay time.Duration) *Debouncer {
	return &Debouncer{delay: delay, held: make(map[heldKey]*list.Element)}
}

// Add takes an event at now and returns what to send now, in order: held
// events due by now, then ev unless it is held or cancelled.
func (d *Debouncer) Add(now time.Time, ae AppEvent) []AppEvent {
	out := d.Due(now)
	if d.delay <= 0 {
		return append(out, ae)
	}
	ev := ae.Event
	switch ev.Name {
	case ChannelVacated, MemberRemoved:
		k := heldKey{ae.App, ev.Name, ev.Channel, ev.UserID}
		if _, dup := d.held[k]; dup {
			// Two vacated without an occupied between them: the upstream
			// state is off; send the second rather than lose it.
			return append(out, ae)
		}
		d.held[k] = d.order.PushBack(&heldEvent{key: k, ev: ae, due: now.Add(d.delay)})
		return out
	case ChannelOccupied, MemberAdded:
		cancels := ChannelVacated
		if ev.Name == MemberAdded {
			cancels = MemberRemoved
		}
		k := heldKey{ae.App, cancels, ev.Channel, ev.UserID}
		if e, ok := d.held[k]; ok {
			d.order.Remove(e)
			delete(d.held, k)
			return out
		}
	}
	return append(out, ae)
}

// Due removes and returns the held events whose delay has passed by now,
// oldest first.
func (d *Debouncer) Due(now time.Time) []AppEvent {
	var out []AppEvent
	for e := d.order.Front(); e != nil; e = d.order.Front() {
		h := e.Value.(*heldEvent)
		if h.due.After(now) {
			break
		}
		d.order.Remove(e)
		delete(d.held, h.key)
		out = append(out, h.ev)
	}
	return out
}

// Flush removes and returns every held event, oldest first (at shutdown,
// or when an app's webhooks are removed).
func (d *Debouncer) Flush(app string) []AppEvent {
	var out []AppEvent
	for e := d.order.Front(); e != nil; {
		next := e.Next()
		h := e.Value.(*heldEvent)
		if app == "" || h.key.app == app {
			d.order.Remove(e)
			delete(d.held, h.key)
			out = append(out, h.ev)
		}
		e = next
	}
	return out
}

// Next returns when the oldest held event is due, and false when nothing
// is held.
func (d *Debouncer) Next() (time.Time, bool) {
	e := d.order.Front()
	if e == nil {
		return time.Time{}, false
	}
	return e.Value.(*heldEvent).due, true
}

// Len is the number of held events.
func (d *Debouncer) Len() int { return d.order.Len() }
