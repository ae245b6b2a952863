// Package lambdaint is the "lambda" integration: it invokes an AWS Lambda
// function through the Lambda Invoke API (aws-sdk-go-v2), sending each
// Lambda proxy event (package event) as the payload of a synchronous
// (RequestResponse) invocation, as API Gateway's Lambda proxy integration
// does.
//
// New loads the AWS SDK configuration once: the standard credential chain
// (environment, shared config and credentials files, SSO, web identity,
// container and instance roles), fetched lazily and refreshed by the SDK;
// the region from Config.Region, else from a full function ARN, else the
// SDK's; Config.Endpoint as the endpoint override. The SDK's defaults_mode
// setting is ignored (its "auto" mode would query the instance metadata
// service while loading).
//
// # What the function's result becomes
//
// The mapping mirrors API Gateway's Lambda proxy integration:
//
//   - Success (no X-Amz-Function-Error): the payload is the function's
//     return value, read with event.ParseHTTP as an HTTP 200 reply with no
//     headers. A Lambda proxy response object ({"statusCode": 200,
//     "headers": ..., "body": "...", "isBase64Encoded": false}) gives its
//     status, headers and body; a malformed one is an error wrapping
//     event.ErrMalformedResponse. Any other JSON value is a 200 response
//     whose body is that JSON text unchanged (a returned string keeps its
//     quotes). null or an empty payload (a handler that returns nothing) is
//     a 200 response with an empty body.
//   - The function failed (X-Amz-Function-Error set; it threw, exited or
//     ran out of memory): a *FunctionError naming the payload's errorType
//     and errorMessage. The gateway answers 502 on $connect and
//     "Internal server error" on messages. A function that ran out of its
//     own timeout (errorType "Sandbox.Timedout", or an errorMessage with
//     "Task timed out after") is such a failure too, as on API Gateway;
//     FunctionError.TimedOut tells it apart. Only the integration's own
//     timeout wraps integration.ErrTimeout.
//   - The Invoke API failed (throttling: TooManyRequestsException, HTTP
//     429; permissions; no such function; a network error): an error
//     wrapping the SDK's, so errors.As finds *types.TooManyRequestsException
//     and the like. It is not retried: Invoke is not idempotent, and a
//     retry would spend the call's time on backoff.
//
// # Payload limits
//
// Lambda's synchronous payload limit is 6 MiB each way (MaxPayloadBytes).
// An event whose JSON is larger is an error wrapping ErrRequestTooLarge,
// and the function is not called; a larger response is an error wrapping
// ErrResponseTooLarge, and no more than the limit is read.
//
// # Timeouts
//
// Each call has a deadline of Config.Timeout (default 29 s, AWS's
// integration timeout) that covers waiting for a free slot, fetching
// credentials, the invocation, and reading the response. Missing it gives
// an error wrapping integration.ErrTimeout. If the caller's context ends
// first (shutdown), Invoke returns an error wrapping that context's error
// instead. Errors start with "invoke FUNCTION[:QUALIFIER]: ".
//
// # Concurrency
//
// An Integration is immutable after New and safe for concurrent use. At
// most Config.MaxConcurrency calls (default 256) are in flight at once;
// further calls wait for a slot, within their deadline. Invoke starts no
// goroutines of its own (net/http's connection goroutines belong to the
// transport, and the SDK's credential cache refreshes in a goroutine of
// its own that ends with the refresh). Connections are kept alive and
// shared through the *http.Client given to New, or through the transport
// New builds without one, released with CloseIdleConnections.
//
// # Tracing
//
// When ctx carries a span (tracing on), the Invoke request carries its
// X-Amzn-Trace-Id (Root derived from the W3C trace id, Parent the span
// id, Sampled; package tracing), as Lambda's callers with active tracing
// send it.
package lambdaint
