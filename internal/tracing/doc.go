// Package tracing is Switchboard's OpenTelemetry tracing: a
// trace.TracerProvider built from the standard OTEL_* variables (off
// unless they ask for it), the propagation of trace context to backends
// and from management callers, and the conversion between W3C trace ids
// and AWS X-Ray trace headers.
//
// # No global state
//
// Nothing here touches otel's globals (otel.SetTracerProvider,
// otel.SetTextMapPropagator). The server builds one Provider and passes
// its TracerProvider down through Options; with tracing off it is a noop
// provider, and Enabled tells the hot paths to skip span work entirely.
//
// # What goes where
//
//   - HTTP integrations and HTTP authorizers get the W3C traceparent (and
//     tracestate) of the span of the call (InjectHTTP).
//   - Lambda invocations get X-Amzn-Trace-Id (XRayHeader of the span); the
//     function integration hands the same value to its workers as the
//     Runtime API's Lambda-Runtime-Trace-Id, which the runtime clients put
//     into _X_AMZN_TRACE_ID.
//   - Management requests are children of the caller's traceparent, or,
//     without one, of its X-Amzn-Trace-Id (what an AWS SDK in a Lambda
//     handler sends): Extract.
//
// # Ids
//
// New trace ids are X-Ray compatible (IDGenerator): their first four
// bytes are the Unix time in seconds, as X-Ray requires of the Root it
// receives, the other twelve random.
//
// # Concurrency
//
// A Provider is safe for concurrent use; the functions are pure.
package tracing
