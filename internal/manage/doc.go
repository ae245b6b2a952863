// Package manage is the HTTP layer of the @connections management API:
// what backends call, through AWS SDK ApiGatewayManagementApi clients or
// plain HTTP, to send to, inspect, close and list WebSocket connections.
// It decodes requests, checks credentials and renders responses and errors
// the way AWS API Gateway does; the data operations themselves are the
// gateway's, reached through the Backend interface, so that the CLI and
// tests reuse them without HTTP.
//
// # Routes
//
// The stage is the first path segment, as in the endpoint
// https://{domainName}/{stage} that SDK clients are given. The path is
// split on '/' before each segment is percent-decoded, so an id may contain
// %2F or %3D, and "@connections" may arrive as "%40connections".
//
//	POST   /{stage}/@connections/{id}  200  body = the data, any Content-Type
//	GET    /{stage}/@connections/{id}  200  {"connectedAt","identity":{"sourceIp","userAgent"},"lastActiveAt"}
//	DELETE /{stage}/@connections/{id}  204
//	GET    /{stage}/@connections[/]    200  {"connections":[...],"nextCursor"}  (Switchboard's own; ?limit=1..1000&cursor=)
//
// Timestamps are RFC 3339 in UTC with milliseconds. A POST body larger
// than the stage's maxMessageBytes is refused with 413. A known path with
// another method gets 405 with an Allow header; any other path under
// @connections gets 404 with AWS's message "No method found matching route
// ... for http method ...". IsManagementPath tells the server's router
// which paths belong here.
//
// # Errors
//
// Every error response carries the type twice, as SDKs look in either
// place: the header x-amzn-ErrorType and a JSON body
// {"__type":"<Type>","message":"<text>"}. Types: 400 BadRequestException
// (malformed id, cursor, limit or path), 403 ForbiddenException
// (credentials, or a stage that is not served: "Forbidden" as on AWS), 404
// NotFoundException, 405 MethodNotAllowedException, 410 GoneException (the
// connection is unknown, closed, or still in $connect), 413
// PayloadTooLargeException, 500 InternalServerErrorException (logged).
// Every response carries a random x-amzn-RequestId.
//
// # Authentication
//
// A request is admitted if Auth.AllowLoopback is set and its TCP peer is a
// loopback address (headers such as X-Forwarded-For are never consulted),
// or if it carries "Authorization: Bearer <secret>" matching one of
// Auth.APIKeys. Otherwise it gets 403 ForbiddenException "Missing or
// invalid API key". SigV4 request signing is not verified yet; use an API
// key (Authorization: Bearer) or call from loopback in development mode. A
// SigV4-signed request (Authorization: AWS4-HMAC-SHA256 ...) that loopback
// does not admit gets 403 with that sentence as its message. Rejections are
// logged at info (remote address, path, reason; never the key), and every
// call at debug (method, stage, id, status, latency).
//
// # Concurrency
//
// A Handler is safe for concurrent use: it holds no mutable state after
// NewHandler, and calls the Backend concurrently from the server's request
// goroutines. It starts no goroutines of its own.
package manage
