// Package route evaluates AWS API Gateway route selection expressions: it
// turns each inbound message body into the route key that picks its route.
// Matching the key against the configured routes (exactly and
// case-sensitively, falling back to $default) is the gateway's job.
//
// # Expressions
//
// An expression is parsed once by Parse and evaluated for every message by
// Expression.Evaluate:
//
//	$request.body.action                        the value of "action"
//	${request.body.action}                      the same, wrapped
//	${request.body.service}/${request.body.action}   a template: "chat/send"
//	$request.body.service.do                    a nested member
//	$request.body.items[0]                      an array element
//	$request.body['odd.key']                    a key that is not a plain name
//	\$default                                   the static key "$default"
//
// The syntax (see Tokenize) is:
//
//   - An unwrapped variable $request.body... extends over every character
//     that can continue its path: .name segments (letters, digits, '_',
//     '-'), [index] and ['key'] or ["key"] segments. It ends at the first
//     other character, so "$request.body.a/b" is the value of "a" followed
//     by "/b". A '.' or '[' right after it must start a valid segment; to
//     put such a character after a variable, use the wrapped form
//     "${request.body.a}.txt".
//   - ${...} wraps the same path and ends at '}'.
//   - \$ is a literal dollar sign; any other backslash is literal. Every
//     other '$' must start a variable: only $request.body and paths below
//     it are supported ($request.header.x, $context.x and the like are
//     errors).
//   - An expression without variables is static: it selects its text
//     whatever the body.
//
// Evaluation happens once: text produced by a variable is never evaluated
// again. A body that is not valid JSON selects nothing (Evaluate returns
// ok false, and the gateway uses $default). A path that does not exist
// yields "", so ${request.body.action}-${request.body.invalidPath} on
// {"action":"join"} is "join-". A selected value is turned into text by
// Stringify: strings unquoted, numbers as written, arrays as "[a, b]",
// objects as "{k=v}", null as "".
//
// Lookups follow encoding/json: keys match after escapes are decoded
// ("\u0041" is "A"), and when a key appears twice in an object the last
// one wins.
//
// # Performance
//
// Evaluate checks the body with json.Valid and then runs one Lookup per
// variable. Lookup scans the raw bytes and skips what it does not need; it
// neither decodes the document nor allocates. Evaluate allocates only the
// returned key.
//
// # Concurrency
//
// Expression and Path values are immutable after Parse and ParsePath and
// safe for concurrent use. The package has no mutable state.
package route
