// Package event defines what Switchboard exchanges with integrations: the
// AWS Lambda proxy events of API Gateway WebSocket APIs (Request) and what
// an integration answers (Response), plus the ids, timestamps and error
// frames that go with them.
//
// # Events
//
// Connect, Message and Disconnect build the three event types; AppendJSON
// writes them in the shape of AWS's 2024 captures (the null keys of the
// 2019-2021 format are omitted), with the keys in AWS's order:
//
//   - CONNECT: headers, multiValueHeaders (client header names in their
//     original case, sorted without regard to case as AWS writes them),
//     queryStringParameters and
//     multiValueQueryStringParameters only when the query string is not
//     empty, requestContext, isBase64Encoded false. No body.
//   - MESSAGE: requestContext (with messageId), body (the frame payload as
//     a JSON string), isBase64Encoded. No headers or query maps.
//   - DISCONNECT: the fixed headers {"Host", "x-api-key", "X-Forwarded-For",
//     "x-restapi"} and the same as multiValueHeaders, requestContext (with
//     disconnectStatusCode and disconnectReason), isBase64Encoded false.
//
// AuthorizerRequest builds the event of a Lambda REQUEST authorizer for
// $connect: type "REQUEST", methodArn, the CONNECT headers maps, both query
// maps always ({} when empty), stageVariables {}, and the CONNECT
// requestContext without "authorizer"; no isBase64Encoded.
//
// requestContext always holds routeKey, eventType, extendedRequestId,
// requestTime, messageDirection "IN", stage, connectedAt and
// requestTimeEpoch (integer milliseconds), identity ({"userAgent",
// "sourceIp"}, userAgent omitted when empty), requestId (equal to
// extendedRequestId), domainName, connectionId, apiId, and authorizer when
// the connection has one.
//
// # Responses: the rule for the http integration
//
// ParseHTTP reads a backend's HTTP reply with this rule:
//
//  1. If the reply body, after trimming JSON whitespace (space, tab, CR,
//     LF), is a JSON object with a "statusCode" member whose value is a JSON
//     number, it is a Lambda proxy response object, whatever the HTTP status
//     of the reply:
//     {"statusCode": 200, "headers": {"K": "v"}, "multiValueHeaders": {"K": ["v"]}, "body": "...", "isBase64Encoded": false}.
//     It is malformed, and the call is an integration failure, if
//     statusCode is not an integer from 100 to 599, headers is not an
//     object of strings, multiValueHeaders is not an object of arrays of
//     strings, body is not a string, isBase64Encoded is not true or false,
//     or isBase64Encoded is true and body is not standard, padded base64
//     (line breaks are allowed). Every member but statusCode may be absent
//     or null; an absent body is an empty body. Member names are
//     case-sensitive, unknown members are ignored, and of duplicate members
//     the last counts. A "statusCode" that is not a JSON number (such as
//     "200" in quotes) does not make a proxy object.
//  2. Otherwise the reply is a plain HTTP response. An HTTP status of 500 or
//     more (or below 100) is an integration failure, like a Lambda function
//     that threw (to return a 5xx status on purpose, answer with a proxy
//     object). Any other status gives a response with that status, the
//     reply's headers and the reply body unchanged.
//
// Errors say what was wrong ("backend response: statusCode is a string,
// want an integer"); malformed proxy objects wrap ErrMalformedResponse and
// plain 5xx replies are a *StatusError.
//
// # Concurrency
//
// The package has no state. A Request is immutable once built and may be
// encoded by several goroutines at once; it keeps pointers to its
// Connection and, for MESSAGE, to the body slice, which the caller must not
// modify while the Request is in use. Responses are plain values owned by
// whoever received them. NewID is safe for concurrent use.
package event
