// Package manage calls Switchboard's management API from Go: send to a
// connection, a channel, a user or every connection of a stage, describe,
// list and close connections, read a channel's members, presence and
// history, and send many messages in one batch. It is what
// `switchboard send`, `switchboard connections` and `switchboard channels`
// are built on; docs/management-api.md is the reference of the API itself.
//
// A Client is made from the stage's management endpoint,
// http(s)://{host}/{stage} (ws:// and wss:// are taken as http:// and
// https://), and one credential: an API key of management.apiKeys (sent as
// "Authorization: Bearer"), or an access key pair of
// management.accessKeys, which signs every request with AWS Signature
// Version 4 for service execute-api, as the AWS SDKs do (aws-sdk-go-v2's
// signer). With neither, requests carry no credentials, which only a
// server in development mode (management.allowLoopback) admits from
// loopback.
//
// # Errors
//
// Every answer the server refuses is an *Error carrying the HTTP status
// and the AWS error type (x-amzn-ErrorType, or the body's __type) and
// message; errors.As finds it. Failures to reach the server are the
// net/http client's errors, wrapped with the method and URL.
//
// # Payloads
//
// Data sent and received is bytes. Where the API carries bytes inside
// JSON (history, batch), this package encodes and decodes them by the rule
// of docs/protocol.md, "Payloads": a JSON value as "data", other UTF-8 as
// "text", anything else as "b64".
//
// # Concurrency
//
// A Client is safe for concurrent use by any number of goroutines; it
// holds no mutable state after New. It starts no goroutines.
package manage
