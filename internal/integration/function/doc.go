// Package function is the "function" integration: Switchboard runs a
// Lambda handler itself, as worker processes, and serves them the AWS
// Lambda Runtime API (version 2018-06-01), so that a handler written for
// AWS Lambda runs unmodified, whatever its language.
//
// # Runtimes
//
//   - provided: Config.Command (default Directory/bootstrap) is the
//     runtime, as on provided.al2023: a binary built with aws-lambda-go, the
//     Rust or C++ runtime clients, or any program that speaks the Runtime
//     API.
//   - nodejs: `node <bootstrap.mjs>`, the bootstrap being package nodejs's
//     script, written once into the function's temporary directory.
//   - python: `python3 <bootstrap.py>`, the bootstrap being this package's
//     python_bootstrap.py (standard library only): it imports _HANDLER
//     ("module.function") from LAMBDA_TASK_ROOT and calls handler(event,
//     context).
//
// The interpreter is looked up in Switchboard's PATH when New runs.
//
// # Workers
//
// Each worker is one process, started in Directory in its own process
// group (and, on Linux, killed by the kernel if Switchboard dies). It gets
// a Lambda environment, not Switchboard's: PATH (Switchboard's), LANG,
// TZ=:UTC, HOME (Switchboard's, else the function's temporary directory),
// AWS_REGION and AWS_DEFAULT_REGION (Config.Environment, else
// Switchboard's AWS_REGION, else us-east-1), NODE_PATH when Switchboard
// has it, AWS credentials by Config.Credentials (generated, the default:
// Options.Credentials as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or
// none, and none of Switchboard's AWS variables; environment: the
// variables of PassThroughEnv that Switchboard has), Config.Environment
// (which overrides all of these), and the reserved Lambda variables: _HANDLER,
// LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR, AWS_LAMBDA_RUNTIME_API,
// AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION ($LATEST),
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME,
// AWS_LAMBDA_LOG_STREAM_NAME (one per worker),
// AWS_LAMBDA_INITIALIZATION_TYPE (on-demand) and AWS_EXECUTION_ENV
// (AWS_Lambda_nodejs20.x, AWS_Lambda_python3.12; none for provided).
//
// New logs which credentials the workers get: at info the generated
// access key id (never the secret), or at warn, naming the variables, that
// Switchboard's own are passed through.
//
// A worker's stdout and stderr are logged line by line, at info and warn,
// with the attributes function, worker, and requestId (the event's
// requestContext.requestId, as the gateway logs it) and awsRequestId (the
// Lambda request id) of the invocation it is running. Lines longer than
// 16 KiB are cut and marked truncated=true.
//
// # Telling workers apart
//
// The Runtime API's /next request carries no identity, yet it must be
// answered with work for the process that asked, and a result must come
// from the worker the invocation was given to. Each worker therefore gets
// its own listener (127.0.0.1, a port of its own) and its own
// AWS_LAMBDA_RUNTIME_API; one http.Server serves all of them and tags
// each connection with the worker of the listener it arrived on. This
// needs no cooperation from the runtime, and a worker can only ever see
// and answer its own invocations. Invocation ids are fresh UUIDs; a result
// for any other id than the worker's running invocation, or a second
// result, is answered 400 InvalidRequestID, as by AWS.
//
// # Scheduling
//
// Invoke queues the invocation (FIFO) and hands it to an idle worker, the
// most recently idle first (so surplus workers stay idle and are
// stopped). A worker is idle while its /next request waits; it serves
// one invocation at a time. When none is idle, Invoke starts a worker (a
// cold start) unless MaxConcurrency workers exist or enough workers are
// already starting or just finished an invocation (they will ask for work
// in a moment) to take the queue. A worker counts against MaxConcurrency
// from the moment it is decided until it is reaped. MinWorkers are started
// by New and replaced when they exit; after workers fail to initialize,
// replacements back off (1 s doubling to 1 min), while invocations still
// start workers on demand. A worker above MinWorkers idle for IdleTimeout
// is stopped: SIGTERM to its process group, SIGKILL 2 s later.
//
// # Timeouts and failures
//
// An invocation waits at most Config.Timeout for a worker (an error
// wrapping integration.ErrTimeout). From its hand-off it has Timeout to
// post a result (Lambda-Runtime-Deadline-Ms); past it the worker's process
// group is killed and Invoke fails with "Task timed out after N.NN
// seconds", wrapping ErrTimeout. A worker that does not ask for work
// within max(10 s, Timeout) of its start is killed.
//
// A failed invocation is a *FunctionError: the error the runtime posted;
// Runtime.ExitError ("Runtime exited with error: exit status 2") when the
// runtime exits during the invocation, or during its initialization while
// an invocation waits for it; the runtime's /runtime/init/error report,
// which fails the longest-waiting invocation and stops the worker;
// Runtime.InvalidEntrypoint when the process cannot be started;
// Function.ResponseSizeTooLarge for a result over 6 MiB. A result that is
// a malformed Lambda proxy object is event.ErrMalformedResponse. A worker
// that exits while idle is removed and logged. Replacements are started
// on demand.
//
// Each /next answer carries Lambda-Runtime-Trace-Id, which the runtime
// clients put into _X_AMZN_TRACE_ID for that invocation: the X-Ray form of
// the caller's span when ctx carries one (tracing on; package tracing),
// else a fresh unsampled id.
//
// A result is read with event.ParseHTTP as a 200 reply (a Lambda proxy
// object, or a plain body), except that JSON null or nothing is an empty
// 200.
//
// # Concurrency
//
// A Function is safe for concurrent use. All of its mutable state, and
// that of its workers and invocations, is guarded by one mutex,
// Function.mu; it is held only for bookkeeping, sending signals and
// writing log records, never across network or pipe I/O. Each
// worker has one supervising goroutine (it starts the process, waits for
// it, and reaps it), two goroutines reading its output and one serving its
// Runtime API listener; the Runtime API's handlers run on net/http's
// connection goroutines. Invoke starts no goroutine: it waits for its
// result while timers (wait, function timeout, idle, init, kill) act on
// the shared state. Every goroutine is tracked, and Close returns only
// after all of them ended, every process was reaped, the Runtime API was
// shut down and the temporary directory removed. After Close begins,
// Invoke fails with ErrClosed and no worker is started.
//
// An invocation whose caller's ctx ends is withdrawn if it has not reached
// a worker; a running one goes on until its result or its timeout, and
// the result is dropped.
//
// The Runtime API listens on loopback only, unauthenticated, as inside a
// Lambda sandbox: any local process that finds a worker's port can speak
// for that worker.
//
// # Metrics
//
// switchboard_function_invocations_total{api,function,outcome} (ok,
// error, timeout, crash), switchboard_function_cold_starts_total,
// switchboard_function_init_seconds (start to first /next),
// switchboard_function_duration_seconds (hand-off to result) and
// switchboard_function_workers, labelled with Options.APIID and the
// integration's name. An invocation withdrawn before it reached a worker
// is not counted.
package function
