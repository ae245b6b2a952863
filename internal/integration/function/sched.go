package function

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/integration"
)

// invState is where an invocation is. Transitions, all under Function.mu:
//
//	queued   -> assigned (a worker's /next takes it) | finished (wait timeout, Close, init failure) | dropped (caller gone)
//	assigned -> running (the event is written to the worker) | queued (the worker vanished first) | dropped (caller gone)
//	running  -> finished (result, error, timeout, crash)
type invState uint8

const (
	invQueued invState = iota
	invAssigned
	invRunning
	invFinished
)

// invocation is one call of Invoke.
type invocation struct {
	// Immutable.
	id      string // Lambda-Runtime-Aws-Request-Id
	eventID string // requestContext.requestId, for logs
	trace   string // X-Amzn-Trace-Id of the caller's span; "" when not traced
	payload []byte
	done    chan result // buffered; receives exactly one result

	// Guarded by Function.mu.
	state      invState
	worker     *worker
	abandoned  bool        // Invoke returned (ctx ended); the result is dropped
	responding bool        // the worker is posting its result
	waitUntil  time.Time   // end of the wait for a worker
	started    time.Time   // hand-off to the worker
	deadline   time.Time   // started + Timeout
	waitTimer  *time.Timer // fires at waitUntil
	runTimer   *time.Timer // the function's timeout
}

type result struct {
	resp *event.Response
	err  error
}

// workerState is where a worker is in its life. Transitions, under
// Function.mu:
//
//	starting  -> idle (first /next) | stopping (init error, init timeout, Close) | gone (exit)
//	idle      -> busy (assigned an invocation) | detached (its /next went away) | stopping (idle timeout, Close)
//	busy      -> finishing (result posted) | idle (invocation dropped before delivery) | stopping (timeout, Close) | gone
//	finishing -> idle (next /next) | stopping (Close)
//	detached  -> idle (next /next)
//	stopping  -> gone (reaped)
type workerState uint8

const (
	stateStarting workerState = iota
	stateIdle
	stateBusy
	stateFinishing
	stateDetached
	stateStopping
)

// worker is one runtime process and its Runtime API listener.
type worker struct {
	// Immutable after reservation.
	id        int
	logStream string
	assign    chan *invocation // buffered 1: the invocation handed to the pending /next
	exited    chan struct{}    // closed once the process is reaped

	// current is the invocation the worker's output belongs to, for the
	// log lines: set when an invocation is assigned and kept until the
	// next one, since output is read from the pipes after it was written.
	current atomic.Pointer[invocation]

	// Guarded by Function.mu.
	state        workerState
	inv          *invocation // assigned or running
	pid          int         // 0 until started
	started      time.Time
	initDone     bool // called /next once
	initReported bool // posted /runtime/init/error (a waiter was failed)
	stopReason   string
	closeKilled  bool // killed by Close with work in flight
	reaped       bool
	exitErr      error
	idleSince    time.Time
	idleTimer    *time.Timer
	initTimer    *time.Timer
	killTimer    *time.Timer
}

// enqueueLocked queues inv and dispatches.
func (f *Function) enqueueLocked(inv *invocation) {
	inv.state = invQueued
	inv.waitUntil = time.Now().Add(f.cfg.Timeout)
	f.queue = append(f.queue, inv)
	inv.waitTimer = time.AfterFunc(f.cfg.Timeout, func() { f.waitExpired(inv) })
	f.dispatchLocked()
}

// waitExpired fails inv if it is still waiting for a worker.
func (f *Function) waitExpired(inv *invocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if inv.state != invQueued {
		return
	}
	f.unqueueLocked(inv)
	busy := 0
	for w := range f.workers {
		if w.state == stateBusy {
			busy++
		}
	}
	err := fmt.Errorf("function %q: no worker free within %v (%d workers, %d busy, maxConcurrency %d): %w",
		f.name, f.cfg.Timeout, len(f.workers), busy, f.cfg.MaxConcurrency, integration.ErrTimeout)
	f.finishLocked(inv, result{err: err}, outcomeTimeout)
}

// requeueLocked puts back, first in line, an invocation whose worker
// vanished before the event was delivered; past its wait it fails.
func (f *Function) requeueLocked(inv *invocation) {
	inv.state = invQueued
	inv.worker = nil
	if f.closing {
		f.finishLocked(inv, result{err: fmt.Errorf("function %q: %w", f.name, ErrClosed)}, "")
		return
	}
	if time.Now().After(inv.waitUntil) {
		f.finishLocked(inv, result{err: fmt.Errorf("function %q: no worker took the invocation within %v: %w",
			f.name, f.cfg.Timeout, integration.ErrTimeout)}, outcomeTimeout)
		return
	}
	f.queue = slices.Insert(f.queue, 0, inv)
}

func (f *Function) unqueueLocked(inv *invocation) {
	if i := slices.Index(f.queue, inv); i >= 0 {
		f.queue = slices.Delete(f.queue, i, i+1)
	}
}

// abandonLocked handles an Invoke whose ctx ended: a queued or not yet
// delivered invocation is withdrawn; a running one goes on and its result
// is dropped.
func (f *Function) abandonLocked(inv *invocation) {
	inv.abandoned = true
	switch inv.state {
	case invQueued:
		f.unqueueLocked(inv)
		f.finishLocked(inv, result{}, "")
	case invAssigned:
		w := inv.worker
		select {
		case <-w.assign: // not yet taken by the /next handler
		default: // taken: the handler sees the invocation finished
		}
		w.inv = nil
		f.finishLocked(inv, result{}, "")
		if w.state != stateBusy {
			return
		}
		if f.closing {
			f.stopLocked(w, "closing")
			return
		}
		f.setIdleLocked(w)
		f.dispatchLocked()
	}
}

// dispatchLocked hands queued invocations to idle workers, starts workers
// for the invocations that no starting or finishing worker will take
// (within MaxConcurrency), and keeps MinWorkers running.
func (f *Function) dispatchLocked() {
	for len(f.queue) > 0 && len(f.idle) > 0 {
		w := f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		inv := f.queue[0]
		f.queue = slices.Delete(f.queue, 0, 1)
		f.assignLocked(w, inv)
	}
	if f.closing {
		return
	}
	pending, live := 0, 0
	for w := range f.workers {
		switch w.state {
		case stateStarting, stateFinishing:
			pending++
		}
		if w.state != stateStopping {
			live++
		}
	}
	for n := len(f.queue) - pending; n > 0 && len(f.workers) < f.cfg.MaxConcurrency; n-- {
		f.startLocked(true)
		live++
	}
	if live >= f.cfg.MinWorkers || len(f.workers) >= f.cfg.MaxConcurrency {
		return
	}
	if f.initFailures > 0 {
		if wait := time.Until(f.warmRetryAt); wait > 0 {
			if f.warmTimer == nil {
				f.warmTimer = time.AfterFunc(wait, func() {
					f.mu.Lock()
					defer f.mu.Unlock()
					f.warmTimer = nil
					f.dispatchLocked()
				})
			}
			return
		}
	}
	for ; live < f.cfg.MinWorkers && len(f.workers) < f.cfg.MaxConcurrency; live++ {
		f.startLocked(false)
	}
}

// assignLocked gives inv to the idle worker w, whose /next handler is
// waiting on w.assign.
func (f *Function) assignLocked(w *worker, inv *invocation) {
	if w.idleTimer != nil {
		w.idleTimer.Stop()
		w.idleTimer = nil
	}
	w.state = stateBusy
	w.inv = inv
	inv.state = invAssigned
	inv.worker = w
	w.assign <- inv
}

// setIdleLocked makes w idle (its /next handler is waiting) and arms its
// idle timer.
func (f *Function) setIdleLocked(w *worker) {
	w.state = stateIdle
	f.idle = append(f.idle, w)
	f.armIdleLocked(w)
}

// armIdleLocked (re)starts w's idle timer.
func (f *Function) armIdleLocked(w *worker) {
	w.idleSince = time.Now()
	if w.idleTimer != nil {
		w.idleTimer.Stop()
	}
	w.idleTimer = time.AfterFunc(f.cfg.IdleTimeout, func() { f.idleExpired(w) })
}

func (f *Function) removeIdleLocked(w *worker) {
	if i := slices.Index(f.idle, w); i >= 0 {
		f.idle = slices.Delete(f.idle, i, i+1)
	}
}

// idleExpired stops w if it is still idle and above MinWorkers, or still
// detached.
func (f *Function) idleExpired(w *worker) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if (w.state != stateIdle && w.state != stateDetached) || time.Since(w.idleSince) < f.cfg.IdleTimeout {
		return
	}
	if w.state == stateDetached {
		f.stopLocked(w, "detached")
		return
	}
	live := 0
	for o := range f.workers {
		if o.state != stateStopping {
			live++
		}
	}
	if live <= f.cfg.MinWorkers {
		return
	}
	f.stopLocked(w, "idle timeout")
}

// runLocked marks inv running on w (its event is about to be written)
// and arms the function's timeout.
func (f *Function) runLocked(w *worker, inv *invocation) {
	inv.state = invRunning
	inv.started = time.Now()
	inv.deadline = inv.started.Add(f.cfg.Timeout)
	inv.runTimer = time.AfterFunc(f.cfg.Timeout, func() { f.runExpired(inv) })
	w.current.Store(inv)
}

// runExpired kills the worker of an invocation past its timeout.
func (f *Function) runExpired(inv *invocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if inv.state != invRunning {
		return
	}
	w := inv.worker
	f.log.LogAttrs(context.Background(), slog.LevelWarn, "function timed out; killing its worker",
		slog.Int("worker", w.id), slog.String("requestId", inv.eventID), slog.String("awsRequestId", inv.id),
		slog.Duration("timeout", f.cfg.Timeout))
	f.finishLocked(inv, result{err: f.errTimeout()}, outcomeTimeout)
	w.stopReason = "timeout"
	w.state = stateStopping
	f.killLocked(w)
}

// finishLocked delivers inv's result once, counts it under outcome (none
// if empty) and frees its worker.
func (f *Function) finishLocked(inv *invocation, r result, outcome string) {
	if inv.state == invFinished {
		return
	}
	wasRunning := inv.state == invRunning
	inv.state = invFinished
	if inv.waitTimer != nil {
		inv.waitTimer.Stop()
	}
	if inv.runTimer != nil {
		inv.runTimer.Stop()
	}
	if outcome != "" {
		f.m.count(outcome)
		if wasRunning && f.m.duration != nil {
			f.m.duration.Observe(time.Since(inv.started).Seconds())
		}
	}
	if !inv.abandoned {
		inv.done <- r
	}
	if w := inv.worker; w != nil && w.inv == inv {
		w.inv = nil
		if w.state == stateBusy {
			w.state = stateFinishing
		}
		if f.closing && w.state != stateStopping {
			f.stopLocked(w, "closing")
		}
	}
	f.checkClosingLocked()
}

// failWaiterLocked fails the oldest queued invocation with err: the one a
// worker that failed to initialize was started for.
func (f *Function) failWaiterLocked(err *FunctionError) {
	if len(f.queue) == 0 {
		return
	}
	inv := f.queue[0]
	f.queue = slices.Delete(f.queue, 0, 1)
	f.finishLocked(inv, result{err: fmt.Errorf("function %q: %w", f.name, err)}, outcomeError)
}

// exitError describes a runtime that exited, in AWS's words.
func exitError(err error) *FunctionError {
	if err == nil {
		return &FunctionError{Type: "Runtime.ExitError", Message: "Runtime exited without providing a reason"}
	}
	return &FunctionError{Type: "Runtime.ExitError", Message: "Runtime exited with error: " + err.Error()}
}
