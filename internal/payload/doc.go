// Package payload renders the payload templates of the built-in broadcast
// action: the YAML value under a broadcast route's "payload" key, which
// shapes the JSON sent for each message. For example
//
//	payload:
//	  message: $request.body.message
//	  sender: $context.connectionId
//	  timestamp: $context.requestTimeEpoch
//
// renders, for the body {"action":"sendMessage","message":"hi"}, as
//
//	{"message":"hi","sender":"<connection id>","timestamp":1700000000000}
//
// # Rules
//
// Compile takes the template as decoded from YAML and Render fills it for
// each message:
//
//   - No template (nil) sends the message body unchanged.
//   - A string that is exactly one variable becomes a typed JSON value:
//     $request.body.<path> is the raw JSON value at that path, or null when
//     the path is missing or the body is not JSON; $request.body is the
//     whole body, or, when the body is not JSON, the body as a JSON string;
//     $context.<name> is a JSON string, except $context.connectedAt and
//     $context.requestTimeEpoch, which are numbers (ms since the Unix
//     epoch). The wrapped form ${context.connectionId} works the same.
//   - A string that mixes variables and text, such as
//     "from ${context.connectionId}: ${request.body.message}", becomes a
//     JSON string in which each variable is replaced by its text: body
//     values as route.Stringify renders them (strings unquoted, numbers as
//     written, null and missing paths as ""), $request.body on a non-JSON
//     body as the body itself, $context numbers in decimal.
//   - Variables are written as in route selection expressions (see
//     route.Tokenize): an unwrapped variable extends over letters, digits,
//     '_', '-', '.' and bracket segments, so write "${context.stage}." to
//     put a dot after one. \$ is a literal dollar sign, and every other '$'
//     must start a variable.
//   - The $context names are apiId, connectedAt, connectionId, domainName,
//     eventType, identity.sourceIp, identity.userAgent, messageId,
//     requestId, requestTimeEpoch, routeKey and stage, as in AWS's
//     requestContext. Other names, other $request variables and malformed
//     paths are Compile errors.
//   - Everything else is copied as JSON: strings without variables (with
//     \$ turned into $), numbers, booleans, null and lists. Maps are
//     written with their keys in sorted byte order (YAML decoding does not
//     keep the document's order); keys are literal text, never variables.
//     YAML timestamps, NaN, infinities and non-string keys are Compile
//     errors.
//   - Strings are escaped as encoding/json does, without its HTML escaping;
//     invalid UTF-8 becomes U+FFFD (\ufffd), also inside JSON values copied
//     from the body. The output is always valid JSON.
//
// # Performance
//
// Compile reduces a template to literal JSON chunks and holes; Render
// appends chunks and fills holes without reflection, checking the body
// with json.Valid at most once. Its only allocation is growing dst, which
// it does once up front (the literal size plus the body's length).
//
// # Concurrency
//
// A Template is immutable after Compile and safe for concurrent use; the
// package has no mutable state.
package payload
