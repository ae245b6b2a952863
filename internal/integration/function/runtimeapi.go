package function

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
)

// Runtime API paths (version 2018-06-01).
const (
	pathPrefix    = "/2018-06-01/runtime/"
	pathNext      = pathPrefix + "invocation/next"
	pathInitError = pathPrefix + "init/error"
)

// Runtime API headers.
const (
	headerRequestID     = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline      = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN   = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID       = "Lambda-Runtime-Trace-Id"
	headerErrorType     = "Lambda-Runtime-Function-Error-Type"
	headerErrorBody     = "Lambda-Runtime-Function-Error-Body" // trailer of a failed streamed response
	contentTypeJSON     = "application/json"
	maxErrorBytes       = 1 << 20
	maxErrorMessageRune = 4096
)

// apiError is a Runtime API error reply: the status and AWS's
// {"errorMessage", "errorType"} body.
type apiError struct {
	status  int
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

var (
	errInvalidRequestID = &apiError{http.StatusBadRequest, "Invalid request ID", "InvalidRequestID"}
	errTooLarge         = &apiError{http.StatusRequestEntityTooLarge,
		fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxResponseBytes), "RequestEntityTooLarge"}
)

func errStateTransition(from, to string) *apiError {
	return &apiError{http.StatusForbidden,
		fmt.Sprintf("State transition from %s to %s failed for runtime.", from, to), "InvalidStateTransition"}
}

// apiHandler serves one Runtime API endpoint for the worker w; a returned
// error is rendered by route.
type apiHandler func(rw http.ResponseWriter, r *http.Request, w *worker) error

// runtimeAPI returns the Runtime API handler. Every request is served for
// the worker that owns the listener it arrived on.
func (f *Function) runtimeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+pathNext, f.route(f.serveNext))
	mux.Handle("POST "+pathPrefix+"invocation/{id}/response", f.route(f.serveResponse))
	mux.Handle("POST "+pathPrefix+"invocation/{id}/error", f.route(f.serveError))
	mux.Handle("POST "+pathInitError, f.route(f.serveInitError))
	mux.Handle("/", f.route(func(rw http.ResponseWriter, r *http.Request, _ *worker) error {
		return &apiError{http.StatusNotFound, fmt.Sprintf("No route for %s %s", r.Method, r.URL.Path), "NotFound"}
	}))
	return mux
}

func (f *Function) route(h apiHandler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w, _ := r.Context().Value(workerKey{}).(*worker)
		var err error
		if w == nil {
			err = &apiError{http.StatusInternalServerError, "Internal Server Error", "InternalServerError"}
		} else {
			err = h(rw, r, w)
		}
		if err == nil {
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			f.log.Warn("runtime API", slog.String("path", r.URL.Path), slog.Any("error", err))
			ae = &apiError{http.StatusInternalServerError, "Internal Server Error", "InternalServerError"}
		}
		writeJSON(rw, ae.status, ae)
	})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	rw.Header().Set("Content-Type", contentTypeJSON)
	rw.WriteHeader(status)
	rw.Write(b)
}

func accepted(rw http.ResponseWriter) {
	writeJSON(rw, http.StatusAccepted, struct {
		Status string `json:"status"`
	}{"OK"})
}

// serveNext blocks until an invocation is handed to w and writes its
// event.
func (f *Function) serveNext(rw http.ResponseWriter, r *http.Request, w *worker) error {
	f.mu.Lock()
	switch w.state {
	case stateStarting:
		w.initDone = true
		if w.initTimer != nil {
			w.initTimer.Stop()
		}
		f.initFailures = 0
		d := time.Since(w.started)
		if f.m.init != nil {
			f.m.init.Observe(d.Seconds())
		}
		f.log.LogAttrs(r.Context(), slog.LevelDebug, "worker ready", slog.Int("worker", w.id), slog.Duration("init", d))
	case stateFinishing, stateDetached:
	case stateStopping:
		f.mu.Unlock()
		select { // the runtime is being shut down: /next never returns
		case <-w.exited:
		case <-r.Context().Done():
		}
		return nil
	case stateBusy:
		f.mu.Unlock()
		return errStateTransition("invocation", "next")
	default: // stateIdle: a second /next at the same time
		f.mu.Unlock()
		return errStateTransition("next", "next")
	}
	// w.current keeps the invocation just answered until the next one is
	// assigned: output it wrote may still be in the pipes, and is read and
	// logged with its request id after the result arrived.
	if f.closing {
		f.stopLocked(w, "closing")
		f.mu.Unlock()
		select {
		case <-w.exited:
		case <-r.Context().Done():
		}
		return nil
	}
	f.setIdleLocked(w)
	f.dispatchLocked()
	f.mu.Unlock()

	for {
		select {
		case inv := <-w.assign:
			f.mu.Lock()
			if inv.state != invAssigned || inv.worker != w {
				f.mu.Unlock() // withdrawn; w is idle again
				continue
			}
			f.runLocked(w, inv)
			f.mu.Unlock()
			h := rw.Header()
			h.Set(headerRequestID, inv.id)
			h.Set(headerDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
			h.Set(headerFunctionARN, f.arn)
			// The runtime client puts it into _X_AMZN_TRACE_ID for this
			// invocation: the caller's span when traced, else a fresh
			// unsampled id, as Lambda gives without active tracing.
			if inv.trace != "" {
				h.Set(headerTraceID, inv.trace)
			} else {
				h.Set(headerTraceID, newTraceID(inv.started))
			}
			h.Set("Content-Type", contentTypeJSON)
			rw.WriteHeader(http.StatusOK)
			rw.Write(inv.payload)
			return nil
		case <-r.Context().Done():
			f.mu.Lock()
			f.nextGoneLocked(w)
			f.mu.Unlock()
			return nil
		case <-w.exited:
			return nil
		}
	}
}

// nextGoneLocked handles a /next whose connection closed before it got an
// event: an invocation handed to it goes back to the queue.
func (f *Function) nextGoneLocked(w *worker) {
	switch w.state {
	case stateIdle:
		f.removeIdleLocked(w)
	case stateBusy:
		inv := w.inv
		if inv == nil || inv.state != invAssigned {
			return
		}
		select {
		case <-w.assign:
		default:
		}
		w.inv = nil
		f.requeueLocked(inv)
	default:
		return
	}
	// Detached: it may ask again; if it does not within IdleTimeout, it
	// is stopped.
	w.state = stateDetached
	f.armIdleLocked(w)
	f.dispatchLocked()
}

// claim checks that id is w's running invocation and that no
// result was posted for it yet, and marks it responding.
func (f *Function) claim(w *worker, id string) (*invocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv := w.inv
	if inv == nil || inv.id != id || inv.state != invRunning || inv.responding {
		return nil, errInvalidRequestID
	}
	inv.responding = true
	return inv, nil
}

// complete delivers the result of inv posted by w; false if the
// invocation had already ended (timed out meanwhile).
func (f *Function) complete(w *worker, inv *invocation, r result, outcome string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if inv.state != invRunning {
		return false
	}
	f.finishLocked(inv, r, outcome)
	return true
}

func (f *Function) serveResponse(rw http.ResponseWriter, r *http.Request, w *worker) error {
	inv, err := f.claim(w, r.PathValue("id"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes+1))
	if err != nil {
		f.complete(w, inv, result{err: fmt.Errorf("function %q: %w", f.name, f.bodyError(w, err))}, outcomeCrash)
		return nil
	}
	if len(body) > MaxResponseBytes {
		fe := &FunctionError{Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxResponseBytes)}
		f.complete(w, inv, result{err: fmt.Errorf("function %q: %w", f.name, fe)}, outcomeError)
		return errTooLarge
	}
	// A streamed response that failed midway carries the error in
	// trailers (aws-lambda-go does this when the handler's reader fails).
	if t := r.Trailer.Get(headerErrorType); t != "" {
		fe := &FunctionError{Type: t, Message: "the response stream failed"}
		if raw, err := base64.StdEncoding.DecodeString(r.Trailer.Get(headerErrorBody)); err == nil {
			fe = parseFunctionError(raw, t)
		}
		f.complete(w, inv, result{err: fmt.Errorf("function %q: %w", f.name, fe)}, outcomeError)
		accepted(rw)
		return nil
	}
	res, outcome := f.parseResult(body)
	if !f.complete(w, inv, res, outcome) {
		return errInvalidRequestID
	}
	accepted(rw)
	return nil
}

// parseResult reads a function's result: null or nothing is an empty 200,
// anything else goes through event.ParseHTTP as a 200 reply.
func (f *Function) parseResult(body []byte) (result, string) {
	if t := bytes.TrimSpace(body); len(t) == 0 || string(t) == "null" {
		return result{resp: &event.Response{StatusCode: http.StatusOK}}, outcomeOK
	}
	resp, err := event.ParseHTTP(http.StatusOK, nil, body)
	if err != nil {
		return result{err: fmt.Errorf("function %q: %w", f.name, err)}, outcomeError
	}
	return result{resp: resp}, outcomeOK
}

func (f *Function) serveError(rw http.ResponseWriter, r *http.Request, w *worker) error {
	inv, err := f.claim(w, r.PathValue("id"))
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	if err != nil {
		f.complete(w, inv, result{err: fmt.Errorf("function %q: %w", f.name, f.bodyError(w, err))}, outcomeCrash)
		return nil
	}
	fe := parseFunctionError(raw, r.Header.Get(headerErrorType))
	if !f.complete(w, inv, result{err: fmt.Errorf("function %q: %w", f.name, fe)}, outcomeError) {
		return errInvalidRequestID
	}
	accepted(rw)
	return nil
}

// serveInitError takes the report of a runtime that failed to initialize:
// the invocation waiting longest fails with it, and the worker is stopped.
func (f *Function) serveInitError(rw http.ResponseWriter, r *http.Request, w *worker) error {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxErrorBytes))
	if err != nil {
		return nil // the runtime went away
	}
	fe := parseFunctionError(raw, r.Header.Get(headerErrorType))
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.state != stateStarting || w.initReported {
		return errStateTransition("ready", "init error")
	}
	w.initReported = true
	f.log.LogAttrs(r.Context(), slog.LevelWarn, "function failed to initialize",
		slog.Int("worker", w.id), slog.String("errorType", fe.Type), slog.String("errorMessage", fe.Message))
	f.failWaiterLocked(fe)
	f.stopLocked(w, "init error")
	accepted(rw)
	return nil
}

// bodyError describes a result that could not be read: usually the
// runtime died while sending it.
func (f *Function) bodyError(w *worker, err error) *FunctionError {
	select {
	case <-w.exited:
		f.mu.Lock()
		defer f.mu.Unlock()
		return exitError(w.exitErr)
	case <-time.After(100 * time.Millisecond):
	}
	return &FunctionError{Type: "Runtime.Unknown", Message: "reading the result: " + err.Error()}
}

// parseFunctionError reads an error report: AWS's
// {"errorMessage", "errorType", "stackTrace"}, with errorType defaulting
// to the Lambda-Runtime-Function-Error-Type header; a body that is not
// such an object becomes the message.
func parseFunctionError(raw []byte, headerType string) *FunctionError {
	var body struct {
		Message    *string         `json:"errorMessage"`
		Type       string          `json:"errorType"`
		StackTrace json.RawMessage `json:"stackTrace"`
	}
	fe := &FunctionError{Type: headerType}
	if err := json.Unmarshal(raw, &body); err == nil && (body.Message != nil || body.Type != "") {
		if body.Type != "" {
			fe.Type = body.Type
		}
		if body.Message != nil {
			fe.Message = *body.Message
		}
		if len(body.StackTrace) > 0 && string(body.StackTrace) != "null" {
			fe.StackTrace = body.StackTrace
		}
	} else {
		fe.Message = string(bytes.TrimSpace(raw))
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	if r := []rune(fe.Message); len(r) > maxErrorMessageRune {
		fe.Message = string(r[:maxErrorMessageRune]) + "…"
	}
	return fe
}

// workerKey is the context key of the worker a Runtime API connection
// belongs to.
type workerKey struct{}

// workerListener tags the connections it accepts with its worker.
type workerListener struct {
	net.Listener
	w *worker
}

type workerConn struct {
	net.Conn
	w *worker
}

func (l workerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return workerConn{c, l.w}, nil
}

func workerConnContext(ctx context.Context, c net.Conn) context.Context {
	if wc, ok := c.(workerConn); ok {
		return context.WithValue(ctx, workerKey{}, wc.w)
	}
	return ctx
}
