// Package authorizer runs AWS-format Lambda REQUEST authorizers for
// $connect, as API Gateway WebSocket APIs do (§5 of the AWS reference,
// /work/shared/reference/aws-apigw-websocket.md): an integration gets the
// REQUEST authorizer event and answers an IAM policy, and the handshake is
// allowed, refused with 401 or 403, or fails with 500.
//
// # The exchange
//
// Authorize first checks the identity sources (route.request.header.NAME,
// route.request.querystring.NAME): every one must be present and non-empty,
// or the handshake gets 401 without a call. It then sends
// event.AuthorizerRequest through the Invoker (the gateway passes the
// integration the config names) and reads the Response body as the
// authorizer's return value:
//
//	{"principalId": "user",
//	 "policyDocument": {"Version": "2012-10-17", "Statement": [
//	   {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:..."}]},
//	 "context": {"tenant": "acme", "n": 1, "admin": true},
//	 "usageIdentifierKey": "..."}
//
// The policy is evaluated as IAM does for execute-api:Invoke on the
// methodArn: a Deny that applies wins, else an Allow that applies allows,
// else the request is denied. Action and Resource (or NotAction and
// NotResource) are a string or an array of strings with * and ?
// wildcards: actions compare without regard to case, resources
// case-sensitively, and a * ending an ARN segment may cross colons (so "*",
// "arn:aws:execute-api:*" and "arn:aws:execute-api:us-east-1:*:*" work).
// Conditions are refused, not ignored. The rules for a valid output are in
// output.go and policy.go; an output that breaks them, one larger than
// 8 KB, a Lambda proxy response ({"statusCode": ...}), an integration
// error or timeout, or an HTTP status other than 2xx and 401 is a failed
// authorizer: 500, as AWS answers an authorizer it cannot use
// ("AuthorizerConfigurationException"). A function that throws
// "Unauthorized" (its errorMessage; the Invoker's error must implement
// ErrorMessage() string) or an HTTP backend that answers 401 refuses with
// 401.
//
// Decision.Context is what the gateway stores in event.Connection.Authorizer
// and so writes as requestContext.authorizer in every later event of the
// connection: the context with values stringified, plus principalId and
// integrationLatency.
//
// # Caching
//
// With Config.CacheTTL (0 turns it off; at most 1h), parsed outputs are
// cached by the identity source values, in order (all values of a
// repeated header or parameter), for the TTL, at most MaxCacheEntries of
// them (default 10000; the oldest goes first). The policy is cached, not
// the decision, so a Deny is cached too and each handshake's methodArn is
// evaluated against it. Failures and 401s are not cached. Identical
// handshakes that arrive while a call for their identity runs wait for it
// instead of calling too; if the caller that runs it gives up, one of them
// calls again.
//
// # Concurrency
//
// An Authorizer is safe for concurrent use. Its configuration is immutable
// after New; mu guards the cache and the map of running calls and is never
// held while calling the Invoker. A Decision's Context is a new map per
// call, owned by the caller; cached outputs are immutable and shared.
package authorizer
