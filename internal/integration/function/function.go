package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/integration"
	"github.com/switchboardhq/switchboard/internal/integration/function/nodejs"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/tracing"
)

// Runtimes.
const (
	RuntimeProvided = "provided"
	RuntimeNodejs   = "nodejs"
	RuntimePython   = "python"
)

// Defaults for the zero values of Config.
const (
	defaultTimeout        = 29 * time.Second
	defaultMaxConcurrency = 4
	defaultMemory         = 128
	defaultIdleTimeout    = 5 * time.Minute
	defaultRegion         = "us-east-1"
)

// Process and protocol limits.
const (
	// MaxResponseBytes is the largest result a worker may post: 6 MiB,
	// AWS Lambda's synchronous response limit. A larger one is answered
	// 413 and fails the invocation.
	MaxResponseBytes = 6 << 20
	// stopGrace is how long a worker being stopped gets between SIGTERM
	// and SIGKILL.
	stopGrace = 2 * time.Second
	// minInitTimeout is the least time a worker gets from its start to
	// its first /next before it is killed (AWS's init limit); the
	// function's Timeout raises it.
	minInitTimeout = 10 * time.Second
)

// ErrClosed is wrapped by Invoke's error once Close has begun.
var ErrClosed = errors.New("function integration closed")

// Config configures one function. The zero value of each field means its
// documented default; config.Function documents the user-facing side.
type Config struct {
	// Name is AWS_LAMBDA_FUNCTION_NAME and the function's name in its ARN.
	// Default: the name given to New.
	Name string
	// Runtime is RuntimeProvided, RuntimeNodejs or RuntimePython. Required.
	Runtime string
	// Directory is the function's code: LAMBDA_TASK_ROOT and the workers'
	// working directory. Required, absolute, an existing directory.
	Directory string
	// Handler is _HANDLER. Required for nodejs and python.
	Handler string
	// Command is, for runtime provided only, the executable (relative to
	// Directory, or absolute) and its arguments. Default ["bootstrap"].
	Command []string
	// Memory is AWS_LAMBDA_FUNCTION_MEMORY_SIZE in MB, 128 to 10240;
	// reported, not enforced. Default 128.
	Memory int
	// Timeout is the function's timeout, counted from the hand-off of an
	// invocation to a worker; past it the worker is killed. It also bounds
	// the wait for a free worker. Default 29s.
	Timeout time.Duration
	// Environment is added to the workers' environment. It overrides the
	// variables passed through from Switchboard's environment and
	// AWS_REGION/AWS_DEFAULT_REGION, but may not set the Lambda runtime's
	// reserved variables (New fails).
	Environment map[string]string
	// MaxConcurrency is the most workers, and so the most invocations in
	// flight. Default 4.
	MaxConcurrency int
	// MinWorkers are started by New and kept running. Default 0. At most
	// MaxConcurrency.
	MinWorkers int
	// IdleTimeout stops a worker above MinWorkers that had no invocation
	// for this long. Default 5m.
	IdleTimeout time.Duration
	// Credentials says which AWS credentials the workers get:
	// CredentialsGenerated (the default, also for "") gives them
	// Options.Credentials and none of Switchboard's AWS variables;
	// CredentialsEnvironment passes Switchboard's own AWS credential and
	// configuration variables through (PassThroughEnv).
	Credentials string
}

// Credential modes, the values of Config.Credentials.
const (
	CredentialsGenerated   = "generated"
	CredentialsEnvironment = "environment"
)

// Credentials is an AWS access key pair given to the workers as
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (without
// AWS_SESSION_TOKEN).
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// Options are what New needs besides the Config.
type Options struct {
	// Logger receives the workers' output and lifecycle events. Default:
	// discard.
	Logger *slog.Logger
	// Metrics, if not nil, receives the switchboard_function_* series.
	Metrics *metrics.Metrics
	// APIID is the "api" label of the metrics and log lines.
	APIID string
	// Env looks up Switchboard's environment, for PATH, HOME, the AWS
	// region and the pass-through variables. Default os.LookupEnv.
	Env func(string) (string, bool)
	// Credentials, with Config.Credentials generated, are the key pair
	// the workers get: Switchboard's server generates one per function,
	// accepted by its own management API for the API's stage. Nil: the
	// workers get no AWS credentials at all. Unused with
	// CredentialsEnvironment.
	Credentials *Credentials

	// bootstrap replaces the runtime's bootstrap script (nodejs, python);
	// for tests.
	bootstrap []byte
}

// FunctionError is the error (wrapped by Invoke's) of an invocation that
// the function failed: it reported an error (/error), failed to
// initialize (/runtime/init/error), its runtime exited, its result was too
// large or malformed. Type and Message are AWS's errorType and
// errorMessage ("Runtime.ExitError", "Runtime exited with error: exit
// status 2").
type FunctionError struct {
	Type    string
	Message string
	// StackTrace is the stackTrace the runtime reported, as it sent it
	// (an array of strings for Node.js and Python, of frame objects for
	// Go); nil when there was none.
	StackTrace json.RawMessage
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// Function runs one Lambda handler as worker processes. It is safe for
// concurrent use; see the package documentation for its lifecycle.
type Function struct {
	// Immutable after New.
	name        string // integration name: metrics label and log attribute
	fnName      string // AWS_LAMBDA_FUNCTION_NAME
	cfg         Config // with defaults applied
	log         *slog.Logger
	arn         string
	exe         string   // resolved executable
	args        []string // argv after the executable
	runtimeDir  string   // LAMBDA_RUNTIME_DIR
	tmpDir      string   // owned; removed by Close
	baseEnv     func() []string
	initTimeout time.Duration
	srv         *http.Server // the Runtime API; one listener per worker
	m           fnMetrics

	// wg tracks every goroutine the Function starts (worker supervisors,
	// their output readers and Runtime API listeners).
	wg sync.WaitGroup

	// mu guards everything below, every worker's mutable fields and every
	// invocation's mutable fields. It is the only lock of the package.
	mu           sync.Mutex
	workers      map[*worker]struct{}
	idle         []*worker     // LIFO: the most recently idle is reused first
	queue        []*invocation // waiting for a worker, oldest first
	nextWorkerID int
	initFailures int       // consecutive workers that died before their first /next
	warmRetryAt  time.Time // MinWorkers top-up waits until then after init failures
	warmTimer    *time.Timer
	closing      bool
	drained      chan struct{} // closed once closing and no worker is busy
	allExited    chan struct{} // closed once closing and every worker is reaped
	closeDone    chan struct{} // closed when the first Close returns
	closeErr     error
}

// fnMetrics holds the Function's series, resolved once; all nil-safe.
type fnMetrics struct {
	ok, fail, timeout, crash prometheus.Counter
	coldStarts               prometheus.Counter
	init, duration           prometheus.Observer
	workers                  prometheus.Gauge
}

// Outcomes, the values of the outcome label.
const (
	outcomeOK      = "ok"
	outcomeError   = "error"
	outcomeTimeout = "timeout"
	outcomeCrash   = "crash"
)

func (m *fnMetrics) count(outcome string) {
	var c prometheus.Counter
	switch outcome {
	case outcomeOK:
		c = m.ok
	case outcomeError:
		c = m.fail
	case outcomeTimeout:
		c = m.timeout
	case outcomeCrash:
		c = m.crash
	}
	if c != nil {
		c.Inc()
	}
}

// New validates cfg, starts the Runtime API server and, in the
// background, cfg.MinWorkers workers (a worker that fails to start is
// logged; it does not fail New). Errors name the integration and the
// field at fault. Call Close to stop the workers and release the
// function's temporary directory.
func New(name string, cfg Config, o Options) (*Function, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("function integration %q: "+format, append([]any{name}, args...)...)
	}
	if o.Env == nil {
		o.Env = os.LookupEnv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		cfg.Name = name
	}
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, ":/ \t\r\n\x00") {
		return nil, fail("name %q: want a non-empty Lambda function name without ':', '/' or spaces", cfg.Name)
	}
	switch cfg.Runtime {
	case RuntimeProvided:
		if len(cfg.Command) == 0 {
			cfg.Command = []string{"bootstrap"}
		}
		if cfg.Command[0] == "" {
			return nil, fail("command: the executable is empty")
		}
	case RuntimeNodejs, RuntimePython:
		if cfg.Handler == "" {
			return nil, fail(`handler is required for runtime %s (for example "index.handler")`, cfg.Runtime)
		}
		if len(cfg.Command) > 0 {
			return nil, fail("command is only for runtime provided")
		}
	case "":
		return nil, fail("runtime is required: provided, nodejs or python")
	default:
		return nil, fail("runtime %q: want provided, nodejs or python", cfg.Runtime)
	}
	if cfg.Directory == "" {
		return nil, fail("directory is required")
	}
	if !filepath.IsAbs(cfg.Directory) {
		return nil, fail("directory %q is not absolute", cfg.Directory)
	}
	if fi, err := os.Stat(cfg.Directory); err != nil {
		return nil, fail("directory: %v", err)
	} else if !fi.IsDir() {
		return nil, fail("directory %q is not a directory", cfg.Directory)
	}
	switch {
	case cfg.Memory == 0:
		cfg.Memory = defaultMemory
	case cfg.Memory < 128 || cfg.Memory > 10240:
		return nil, fail("memory %d MB: want 128 to 10240", cfg.Memory)
	}
	if cfg.Timeout < 0 {
		return nil, fail("timeout %v is negative; use 0 for the default (29s)", cfg.Timeout)
	} else if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.MaxConcurrency < 0 {
		return nil, fail("maxConcurrency %d is negative; use 0 for the default (4)", cfg.MaxConcurrency)
	} else if cfg.MaxConcurrency == 0 {
		cfg.MaxConcurrency = defaultMaxConcurrency
	}
	if cfg.MinWorkers < 0 || cfg.MinWorkers > cfg.MaxConcurrency {
		return nil, fail("minWorkers %d: want 0 to maxConcurrency (%d)", cfg.MinWorkers, cfg.MaxConcurrency)
	}
	if cfg.IdleTimeout < 0 {
		return nil, fail("idleTimeout %v is negative; use 0 for the default (5m)", cfg.IdleTimeout)
	} else if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if err := checkEnvironment(cfg.Environment); err != nil {
		return nil, fail("environment: %v", err)
	}
	switch cfg.Credentials {
	case "":
		cfg.Credentials = CredentialsGenerated
	case CredentialsGenerated, CredentialsEnvironment:
	default:
		return nil, fail("credentials %q: want %s or %s", cfg.Credentials, CredentialsGenerated, CredentialsEnvironment)
	}
	if o.Credentials != nil && (o.Credentials.AccessKeyID == "" || o.Credentials.SecretAccessKey == "") {
		return nil, fail("credentials: the access key id or secret is empty")
	}

	f := &Function{
		name:        name,
		fnName:      cfg.Name,
		cfg:         cfg,
		log:         o.Logger.With(slog.String("function", name)),
		initTimeout: max(minInitTimeout, cfg.Timeout),
		workers:     make(map[*worker]struct{}),
		drained:     make(chan struct{}),
		allExited:   make(chan struct{}),
		closeDone:   make(chan struct{}),
	}
	if o.APIID != "" {
		f.log = o.Logger.With(slog.String("api", o.APIID), slog.String("function", name))
	}
	if m := o.Metrics; m != nil {
		f.m = fnMetrics{
			ok:         m.FunctionInvocations.WithLabelValues(o.APIID, name, outcomeOK),
			fail:       m.FunctionInvocations.WithLabelValues(o.APIID, name, outcomeError),
			timeout:    m.FunctionInvocations.WithLabelValues(o.APIID, name, outcomeTimeout),
			crash:      m.FunctionInvocations.WithLabelValues(o.APIID, name, outcomeCrash),
			coldStarts: m.FunctionColdStarts.WithLabelValues(o.APIID, name),
			init:       m.FunctionInitSeconds.WithLabelValues(o.APIID, name),
			duration:   m.FunctionSeconds.WithLabelValues(o.APIID, name),
			workers:    m.FunctionWorkers.WithLabelValues(o.APIID, name),
		}
	}

	env := newEnvironment(cfg, o.Env, o.Credentials)
	f.arn = "arn:aws:lambda:" + env.region + ":000000000000:function:" + cfg.Name

	if err := supported(); err != nil {
		return nil, fail("%v", err)
	}
	var err error
	if f.tmpDir, err = os.MkdirTemp("", "switchboard-function-"); err != nil {
		return nil, fail("temporary directory: %v", err)
	}
	if err := f.setRuntime(o, env.path); err != nil {
		os.RemoveAll(f.tmpDir)
		return nil, fail("%v", err)
	}
	env.logCredentials(f.log)
	f.baseEnv = sync.OnceValue(func() []string { return env.build(f, f.executionEnv()) })

	f.srv = &http.Server{
		Handler:           f.runtimeAPI(),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext:       workerConnContext,
		ErrorLog:          slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
	}

	f.mu.Lock()
	f.dispatchLocked()
	f.mu.Unlock()
	return f, nil
}

// setRuntime resolves the executable, its arguments and
// LAMBDA_RUNTIME_DIR, writing the bootstrap script of nodejs and python
// into the temporary directory.
func (f *Function) setRuntime(o Options, path string) error {
	cfg := f.cfg
	switch cfg.Runtime {
	case RuntimeProvided:
		f.exe = cfg.Command[0]
		if !filepath.IsAbs(f.exe) {
			f.exe = filepath.Join(cfg.Directory, f.exe)
		}
		f.args = cfg.Command[1:]
		f.runtimeDir = filepath.Dir(f.exe)
		return nil
	case RuntimeNodejs:
		return f.setInterpreter(path, "node", "bootstrap.mjs", nodejs.Bootstrap, o.bootstrap)
	default:
		return f.setInterpreter(path, "python3", "bootstrap.py", pythonBootstrap, o.bootstrap)
	}
}

func (f *Function) setInterpreter(path, interp, file string, script, override []byte) error {
	exe, ok := lookPath(interp, path)
	if !ok {
		return fmt.Errorf("runtime %s: %s not found in PATH (%s)", f.cfg.Runtime, interp, path)
	}
	if override != nil {
		script = override
	}
	boot := filepath.Join(f.tmpDir, file)
	if err := os.WriteFile(boot, script, 0o644); err != nil {
		return fmt.Errorf("writing the bootstrap: %v", err)
	}
	f.exe, f.args, f.runtimeDir = exe, []string{boot}, f.tmpDir
	return nil
}

// Name returns the integration's name as given to New.
func (f *Function) Name() string { return f.name }

// Invoke runs req on a worker and returns the function's result, read
// with the rule of event.ParseHTTP (a Lambda proxy object, or a plain
// 200 reply; null or nothing is an empty 200). It waits for a free worker
// (starting one if fewer than MaxConcurrency exist) for at most Timeout,
// then gives the function Timeout to answer. Errors: a timeout wraps
// integration.ErrTimeout; a failed function is a *FunctionError; after
// Close, ErrClosed; if ctx ends first, ctx.Err() (an invocation already
// running then goes on until its result or its timeout, and its result is
// dropped).
func (f *Function) Invoke(ctx context.Context, req *event.Request) (*event.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("function %q: %w", f.name, err)
	}
	inv := &invocation{
		id:      newRequestID(),
		eventID: req.RequestID(),
		trace:   tracing.XRayFromContext(ctx),
		payload: req.AppendJSON(nil),
		done:    make(chan result, 1),
	}
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		return nil, fmt.Errorf("function %q: %w", f.name, ErrClosed)
	}
	f.enqueueLocked(inv)
	f.mu.Unlock()

	select {
	case r := <-inv.done:
		return r.resp, r.err
	case <-ctx.Done():
		f.mu.Lock()
		f.abandonLocked(inv)
		f.mu.Unlock()
		return nil, fmt.Errorf("function %q: %w", f.name, ctx.Err())
	}
}

// Close stops accepting invocations (queued ones fail with ErrClosed),
// stops the idle workers, lets the running invocations finish until ctx
// ends, then kills every worker's process group. It returns once every
// worker process is reaped, the Runtime API is closed and the temporary
// directory removed: ctx.Err() if it had to kill running invocations, nil
// otherwise. Later calls wait for the first one (within their own ctx)
// and return its result.
func (f *Function) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		select {
		case <-f.closeDone:
			return f.closeErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.closing = true
	for _, inv := range f.queue {
		f.finishLocked(inv, result{err: fmt.Errorf("function %q: %w", f.name, ErrClosed)}, "")
	}
	f.queue = nil
	if f.warmTimer != nil {
		f.warmTimer.Stop()
	}
	for w := range f.workers {
		if w.state != stateBusy {
			f.stopLocked(w, "closing")
		}
	}
	f.checkClosingLocked()
	f.mu.Unlock()

	var err error
	select {
	case <-f.drained:
	case <-ctx.Done():
		err = ctx.Err()
		f.mu.Lock()
		for w := range f.workers {
			w.closeKilled = true
			f.killLocked(w)
		}
		f.mu.Unlock()
	}
	<-f.allExited

	sctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	if f.srv.Shutdown(sctx) != nil {
		f.srv.Close()
	}
	cancel()
	f.wg.Wait()
	if rerr := os.RemoveAll(f.tmpDir); rerr != nil {
		f.log.Warn("removing the function's temporary directory", slog.String("dir", f.tmpDir), slog.Any("error", rerr))
	}
	f.closeErr = err
	close(f.closeDone)
	return err
}

// checkClosingLocked closes drained and allExited when their time has
// come.
func (f *Function) checkClosingLocked() {
	if !f.closing {
		return
	}
	busy := false
	for w := range f.workers {
		if w.state == stateBusy {
			busy = true
			break
		}
	}
	if !busy {
		closeOnce(f.drained)
	}
	if len(f.workers) == 0 {
		closeOnce(f.allExited)
	}
}

func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}

// errTimeout is the error of an invocation that ran past the function's
// timeout, in AWS's words.
func (f *Function) errTimeout() error {
	return fmt.Errorf("function %q: Task timed out after %.2f seconds: %w", f.name, f.cfg.Timeout.Seconds(), integration.ErrTimeout)
}

// ErrorMessage is the function's errorMessage (a REQUEST authorizer that
// throws "Unauthorized" means 401).
func (e *FunctionError) ErrorMessage() string { return e.Message }
