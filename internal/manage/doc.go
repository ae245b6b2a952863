// Package manage is the HTTP layer of the management API: what backends
// call, through AWS SDK ApiGatewayManagementApi clients or plain HTTP, to
// send to, inspect, close and list WebSocket connections (@connections, as
// on AWS API Gateway), and beyond AWS to publish to channels, manage their
// members, read their history and presence, reach every connection of a
// user, broadcast, and send many messages in one batch. It decodes
// requests, checks credentials and renders responses and errors the way
// AWS API Gateway does; the data operations themselves are the gateway's,
// reached through the Backend interface, so that the CLI and tests reuse
// them without HTTP. docs/management-api.md is the user's reference.
//
// # Routes
//
// The stage is the first path segment, as in the endpoint
// https://{domainName}/{stage} that SDK clients are given. The path is
// split on '/' before each segment is percent-decoded, so an id, channel
// or user may contain %2F or %3D ("a%2Fb" is the channel "a/b"), and
// "@connections" may arrive as "%40connections" (so may the other
// management segments).
//
//	POST   /{stage}/@connections/{id}  200  body = the data, any Content-Type
//	GET    /{stage}/@connections/{id}  200  {"connectedAt","identity":{"sourceIp","userAgent"},"lastActiveAt"}
//	DELETE /{stage}/@connections/{id}  204
//	GET    /{stage}/@connections[/]    200  {"connections":[...],"nextCursor"}  (?limit=1..1000&cursor=)
//
//	PUT    /{stage}/@channels/{channel}/connections/{id}  204  join
//	DELETE /{stage}/@channels/{channel}/connections/{id}  204  leave
//	POST   /{stage}/@channels/{channel}          200  {"recipients","epoch","offset"}  (?exclude=id)
//	GET    /{stage}/@channels/{channel}          200  {"channel","members","presence","nextCursor","epoch","offset"}  (?limit&cursor)
//	GET    /{stage}/@channels/{channel}/history  200  {"epoch","offset","truncated","publications"}  (?since&epoch&limit)
//	POST   /{stage}/@users/{user}                200  {"recipients"}
//	GET    /{stage}/@users/{user}                200  {"user","connections":[...]}
//	DELETE /{stage}/@users/{user}                200  {"disconnected"}
//	POST   /{stage}/@broadcast                   200  {"recipients"}  (?exclude=id)
//	POST   /{stage}/@batch                       200  {"results":[...]}  body {"operations":[...]}
//
// Timestamps are RFC 3339 in UTC with milliseconds. A POST body that
// carries data (every POST but @batch) larger than the stage's
// maxMessageBytes is refused with 413; a batch body may be 16 MiB, and
// each of its payloads is held to maxMessageBytes. Publications in
// responses carry their bytes in "data", "text" or "b64" by the rule of
// docs/protocol.md, "Payloads". Known query parameters are parsed
// strictly (a 400 names the parameter); unknown ones are ignored. A known
// path with another method gets 405 with an Allow header; any other path
// under a management segment gets 404 with AWS's message "No method found
// matching route ... for http method ...". IsManagementPath tells the
// server's router which paths belong here.
//
// The routes are one table (routes.go): serve dispatches on it and a 405's
// Allow lists its methods; Operations and RouteOf expose it.
//
// # OpenAPI
//
// openapi.yaml, embedded (OpenAPIYAML) and served by ServeOpenAPI at
// /openapi.yaml and /openapi.json, is the OpenAPI 3.1 document of every
// route above; docs/openapi.yaml is a copy. Its tests validate the
// document, check every operation's live responses against it on a real
// server, and fail when the route table and the document disagree
// (decision 0029).
//
// # Errors
//
// Every error response carries the type twice, as SDKs look in either
// place: the header x-amzn-ErrorType and a JSON body
// {"__type":"<Type>","message":"<text>"}. Types: 400 BadRequestException
// (malformed id, channel, user, cursor, query parameter, batch or path; a
// channel no namespace matches; history asked of a namespace that keeps
// none), 403 ForbiddenException (credentials, a key not allowed on the
// stage, or a stage that is not served: "Forbidden" as on AWS), 404 NotFoundException, 405
// MethodNotAllowedException, 409 ConflictException (a history epoch that
// is no longer the stream's), 410 GoneException (the connection is
// unknown, closed, or still in $connect), 413 PayloadTooLargeException,
// 429 LimitExceededException (the connection is in too many channels), 500
// InternalServerErrorException (logged). Every response carries a random
// x-amzn-RequestId. In a batch, each failed operation gets
// {"error":{"type","message"}} with the type and message a single request
// would get, and the batch itself answers 200.
//
// # Authentication
//
// A request is admitted when every credential it carries is right and
// allowed on the request's stage (Key.Stages, AccessKey.Stages; empty
// means every stage):
//
//   - an AWS Signature Version 4 by one of Auth.AccessKeys, as the AWS
//     SDKs sign every call (internal/auth/sigv4: service execute-api, any
//     region, 5 minutes of clock skew, the body hashed);
//   - a SigV4 signature by one of Auth.Generated, the keys Switchboard
//     generates for the workers of its function integrations, each
//     allowed on its API's stage only; the set is apart from the
//     configured keys and shared by every Auth given it, so a new Auth
//     (a reload) keeps them;
//   - an API key of Auth.APIKeys, as "Authorization: Bearer <key>" or
//     "x-api-key: <key>", compared in constant time against every key.
//
// A request without credentials is admitted only when Auth.AllowLoopback
// is set, its TCP peer is a loopback address and it carries none of the
// headers a proxy adds (Forwarded, X-Forwarded-For, X-Real-IP,
// X-Forwarded-Host, X-Forwarded-Proto, Via: a reverse proxy on the same
// host must not open the API to everyone); otherwise it gets 403
// ForbiddenException "Missing Authentication Token: ...". A wrong
// credential (an unknown key, a bad or expired signature, a key of another
// stage) gets 403 even from loopback, so that a misconfigured client
// learns it in development. A credential of a kind for which no key is
// configured cannot be judged: loopback admits it as if it were absent
// (so an unmodified SDK, which always signs, works on a laptop), anything
// else is refused. Generated keys do not count as configured here: with
// no AccessKeys, loopback still admits a signature by an unknown key, but
// a signature by a generated key is verified. SigV4 failures carry AWS's messages ("The request
// signature we calculated does not match the signature you provided.
// ...", "Signature expired: ... is now earlier than ...", "The security
// token included in the request is invalid."); presigned URLs and SigV4a
// are refused.
//
// A signed request's body is read before the handler runs, to be hashed,
// at most as far as the route's own limit (the stage's maxMessageBytes for
// data, 16 MiB for @batch, 64 KiB for routes that ignore the body; a
// larger body gets the same 413 as it would after admission); the handler
// then reads the same bytes from memory. The header, the credential scope,
// the date and the key are checked before the body is read.
//
// Rejections are logged at info (remote address, path, reason; never a
// secret, a session token or the canonical request), and every call at
// debug (method, stage, id, channel, user, status, latency, principal:
// "loopback", the API key's name or the access key id).
//
// # Concurrency
//
// A Handler is safe for concurrent use: it holds no mutable state after
// NewHandler but the GeneratedKeys it was given (guarded by their own
// lock), and calls the Backend concurrently from the server's request
// goroutines. It starts no goroutines of its own. The operations of one
// batch run one after the other on the request's goroutine.
//
// # Tracing
//
// With SetTracerProvider, each request is a server span named by its
// method and route pattern (POST /{stage}/@connections/{connectionId}),
// the child of the caller's traceparent or X-Amzn-Trace-Id (package
// tracing), and the parent of the Backend calls, which get it in their
// ctx.
package manage
