package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// quietGrace is how long a connection may have sent no request before a
// shutdown closes it. A client sends its request within a round trip of
// connecting; a connection that stays silent for a second is a browser's
// speculative preconnect, which the browser replaces without an error
// when it is closed unused.
const quietGrace = time.Second

// quietConns tracks the listener's connections that have not sent a
// request yet (http.StateNew). net/http's Shutdown waits up to 5 s for
// such a connection before it counts as idle: without the sweep, a
// browser's preconnected socket holds every drain, and with it a restart,
// 5 s longer than its WebSockets need.
type quietConns struct {
	conns sync.Map // net.Conn → time.Time: since when
}

// track is the http.Server's ConnState. It runs twice per request on a
// kept-alive connection (active, idle), where the delete of an absent key
// takes no lock.
func (q *quietConns) track(c net.Conn, st http.ConnState) {
	if st == http.StateNew {
		q.conns.Store(c, time.Now())
	} else {
		q.conns.Delete(c)
	}
}

// closeQuiet closes the connections silent since before cutoff and
// returns how many.
func (q *quietConns) closeQuiet(cutoff time.Time) int {
	n := 0
	q.conns.Range(func(k, v any) bool {
		if v.(time.Time).Before(cutoff) {
			if _, ok := q.conns.LoadAndDelete(k); ok {
				_ = k.(net.Conn).Close()
				n++
			}
		}
		return true
	})
	return n
}

// sweep closes, every tick until stop is called or ctx ends, the
// connections that have been silent for grace. Run calls it once the
// listener is closed, so no connection starts meanwhile.
func (q *quietConns) sweep(ctx context.Context, grace, tick time.Duration, closed func(n int)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			if n := q.closeQuiet(time.Now().Add(-grace)); n > 0 {
				closed(n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}
