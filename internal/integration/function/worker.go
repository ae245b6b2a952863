package function

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// outputGrace is how long a reaped worker's output readers get to drain
// the pipes before they are closed under them (a descendant that left the
// process group may hold them open).
const outputGrace = time.Second

// startLocked reserves a worker (it counts against MaxConcurrency at
// once) and launches its process in the background.
func (f *Function) startLocked(cold bool) {
	f.nextWorkerID++
	w := &worker{
		id:        f.nextWorkerID,
		logStream: newLogStream(),
		assign:    make(chan *invocation, 1),
		exited:    make(chan struct{}),
		state:     stateStarting,
		started:   time.Now(),
	}
	f.workers[w] = struct{}{}
	if f.m.workers != nil {
		f.m.workers.Inc()
	}
	if cold && f.m.coldStarts != nil {
		f.m.coldStarts.Inc()
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.runWorker(w)
	}()
}

// runWorker supervises w's process: listener, start, output, reaping.
func (f *Function) runWorker(w *worker) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.launchFailed(w, &FunctionError{Type: "Runtime.Unknown", Message: "listening for the Runtime API: " + err.Error()})
		return
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.srv.Serve(workerListener{ln, w})
	}()

	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		ln.Close()
		f.launchFailed(w, &FunctionError{Type: "Runtime.Unknown", Message: err.Error()})
		return
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		ln.Close()
		stdoutR.Close()
		stdoutW.Close()
		f.launchFailed(w, &FunctionError{Type: "Runtime.Unknown", Message: err.Error()})
		return
	}
	cmd := &exec.Cmd{
		Path:        f.exe,
		Args:        append([]string{f.exe}, f.args...),
		Dir:         f.cfg.Directory,
		Env:         append(slices.Clip(f.baseEnv()), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(), "AWS_LAMBDA_LOG_STREAM_NAME="+w.logStream),
		Stdout:      stdoutW,
		Stderr:      stderrW,
		SysProcAttr: sysProcAttr(),
	}
	err = cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		ln.Close()
		stdoutR.Close()
		stderrR.Close()
		// AWS's error for a bootstrap that cannot be executed.
		f.launchFailed(w, &FunctionError{Type: "Runtime.InvalidEntrypoint", Message: err.Error()})
		return
	}
	f.mu.Lock()
	w.pid = cmd.Process.Pid
	switch w.state {
	case stateStopping: // stopped (Close) while launching
		f.signalLocked(w, syscall.SIGKILL)
	case stateStarting:
		w.initTimer = time.AfterFunc(f.initTimeout, func() { f.initExpired(w) })
	}
	f.mu.Unlock()
	f.log.LogAttrs(context.Background(), slog.LevelDebug, "worker started",
		slog.Int("worker", w.id), slog.Int("pid", w.pid), slog.String("runtimeApi", ln.Addr().String()))

	outDone := make(chan struct{}, 2)
	for _, p := range []struct {
		r     *os.File
		level slog.Level
	}{{stdoutR, slog.LevelInfo}, {stderrR, slog.LevelWarn}} {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.logOutput(w, p.r, p.level)
			outDone <- struct{}{}
		}()
	}

	waitErr := cmd.Wait()

	f.mu.Lock()
	// Descendants left in the group die with the runtime. The leader is
	// reaped, but the group id stays allocated while any member lives.
	killGroup(w.pid, syscall.SIGKILL)
	w.reaped = true
	w.exitErr = waitErr
	f.mu.Unlock()
	ln.Close()

	// Closing the pipes unblocks readers stuck on a descendant that
	// escaped the process group and still holds them.
	grace := time.AfterFunc(outputGrace, func() {
		stdoutR.Close()
		stderrR.Close()
	})
	<-outDone
	<-outDone
	grace.Stop()
	stdoutR.Close()
	stderrR.Close()

	f.reap(w, waitErr)
}

// launchFailed removes a worker whose process could not be started.
func (f *Function) launchFailed(w *worker, fe *FunctionError) {
	f.log.LogAttrs(context.Background(), slog.LevelError, "cannot start worker",
		slog.Int("worker", w.id), slog.String("command", f.exe), slog.String("error", fe.Message))
	f.mu.Lock()
	defer f.mu.Unlock()
	w.reaped = true
	close(w.exited)
	if w.state != stateStopping {
		f.failWaiterLocked(fe)
	}
	f.removeLocked(w, true)
}

// reap removes an exited worker, failing or requeueing its invocation.
func (f *Function) reap(w *worker, waitErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(w.exited)
	attrs := []slog.Attr{slog.Int("worker", w.id), slog.Int("pid", w.pid), slog.String("status", exitStatus(waitErr))}
	level := slog.LevelInfo
	if w.stopReason != "" {
		attrs = append(attrs, slog.String("reason", w.stopReason))
		level = slog.LevelDebug
	}
	if inv := w.inv; inv != nil {
		w.inv = nil
		switch {
		case inv.state == invAssigned:
			f.requeueLocked(inv)
		case inv.state == invRunning && inv.responding:
			// The result handler finishes it once the body is read.
		case inv.state == invRunning:
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("requestId", inv.eventID), slog.String("awsRequestId", inv.id))
			if w.closeKilled {
				f.finishLocked(inv, result{err: fmt.Errorf("function %q: worker killed by shutdown: %w", f.name, ErrClosed)}, outcomeCrash)
			} else {
				f.finishLocked(inv, result{err: fmt.Errorf("function %q: %w", f.name, exitError(waitErr))}, outcomeCrash)
			}
		}
	}
	if !w.initDone && w.stopReason == "" && !w.initReported {
		// Died during init: the invocation it was started for fails.
		level = slog.LevelWarn
		f.failWaiterLocked(exitError(waitErr))
	}
	f.log.LogAttrs(context.Background(), level, "worker exited", attrs...)
	f.removeLocked(w, !w.initDone)
}

// removeLocked forgets w and dispatches: the queue may need a new worker.
func (f *Function) removeLocked(w *worker, initFailed bool) {
	for _, t := range []*time.Timer{w.idleTimer, w.initTimer, w.killTimer} {
		if t != nil {
			t.Stop()
		}
	}
	f.removeIdleLocked(w)
	delete(f.workers, w)
	if f.m.workers != nil {
		f.m.workers.Dec()
	}
	if initFailed && w.stopReason != "closing" {
		f.initFailures++
		f.warmRetryAt = time.Now().Add(min(time.Second<<min(f.initFailures-1, 6), time.Minute))
	}
	f.dispatchLocked()
	f.checkClosingLocked()
}

// initExpired stops a worker that has not asked for work within the init
// timeout.
func (f *Function) initExpired(w *worker) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.state != stateStarting {
		return
	}
	f.log.LogAttrs(context.Background(), slog.LevelWarn, "worker did not call /next in time; killing it",
		slog.Int("worker", w.id), slog.Duration("initTimeout", f.initTimeout))
	w.stopReason = "init timeout"
	w.state = stateStopping
	f.killLocked(w)
}

// stopLocked asks w to exit: SIGTERM to its process group, SIGKILL after
// stopGrace.
func (f *Function) stopLocked(w *worker, reason string) {
	if w.state == stateStopping {
		return
	}
	if w.state == stateIdle {
		f.removeIdleLocked(w)
	}
	if w.idleTimer != nil {
		w.idleTimer.Stop()
		w.idleTimer = nil
	}
	w.state = stateStopping
	w.stopReason = reason
	f.log.LogAttrs(context.Background(), slog.LevelDebug, "stopping worker", slog.Int("worker", w.id), slog.String("reason", reason))
	if w.pid == 0 {
		return // runWorker kills it once started
	}
	f.signalLocked(w, syscall.SIGTERM)
	w.killTimer = time.AfterFunc(stopGrace, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.killLocked(w)
	})
}

// killLocked sends SIGKILL to w's process group.
func (f *Function) killLocked(w *worker) {
	if w.state != stateStopping {
		f.removeIdleLocked(w)
		w.state = stateStopping
		if w.stopReason == "" {
			w.stopReason = "killed"
		}
	}
	if w.pid != 0 {
		f.signalLocked(w, syscall.SIGKILL)
	}
}

// signalLocked signals w's process group, unless the process is reaped
// (its pid may then be reused).
func (f *Function) signalLocked(w *worker, sig syscall.Signal) {
	if w.reaped || w.pid == 0 {
		return
	}
	if err := killGroup(w.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		f.log.Warn("signalling worker", slog.Int("worker", w.id), slog.Any("error", err))
	}
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// newRequestID returns a random (version 4) UUID, the shape of AWS
// Lambda request ids.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// newTraceID returns an X-Ray trace header, unsampled.
func newTraceID(t time.Time) string {
	var b [20]byte
	rand.Read(b[:])
	return "Root=1-" + strconv.FormatInt(t.Unix(), 16) + "-" + hex.EncodeToString(b[:12]) +
		";Parent=" + hex.EncodeToString(b[12:]) + ";Sampled=0"
}

// newLogStream returns a log stream name shaped like AWS's:
// 2024/01/20/[$LATEST]<32 hex digits>.
func newLogStream() string {
	var b [16]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + hex.EncodeToString(b[:])
}
