package client

import (
	"context"
	"sync"
)

// queue runs the application's callbacks one at a time, in the order they
// were pushed, off the reader goroutine. It is unbounded: the reader never
// waits for a callback.
type queue struct {
	mu     sync.Mutex
	items  []func()
	signal chan struct{} // capacity 1: something was pushed
}

func (q *queue) push(f func()) {
	q.mu.Lock()
	q.items = append(q.items, f)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// run calls the callbacks until ctx ends.
func (q *queue) run(ctx context.Context) {
	for {
		q.mu.Lock()
		items := q.items
		q.items = nil
		q.mu.Unlock()
		for _, f := range items {
			if ctx.Err() != nil {
				return
			}
			f()
		}
		if len(items) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
	}
}
