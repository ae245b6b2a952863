// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP
// requests, as the AWS SDKs sign calls to the API Gateway management API
// (service "execute-api"): the Authorization header
//
//	AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/execute-api/aws4_request,
//	  SignedHeaders=content-length;content-type;host;x-amz-date, Signature=<64 hex>
//
// with X-Amz-Date (or, without it, Date), and X-Amz-Security-Token and
// X-Amz-Content-Sha256 when the client sends them.
//
// # What is checked
//
// Parse checks everything that needs neither the body nor the secret: the
// header's shape, the algorithm (SigV4a and presigned URLs are refused
// with ErrUnsupported), the credential scope (service execute-api, any
// non-empty region, the terminator aws4_request, a date equal to the date
// of X-Amz-Date), that host and the date header are signed, and the clock:
// X-Amz-Date may be at most MaxSkew (5 minutes) before or after now, both
// bounds included, to the second. Signed.Verify then rebuilds the canonical request from
// the request as it arrived, derives the signing key from the secret and
// compares the signatures with hmac.Equal. Verify does both around a key
// lookup.
//
// # The canonical request, as the SDKs build it for execute-api
//
//   - Method: r.Method, as sent.
//   - Canonical URI: the request path exactly as it arrived on the wire
//     (r.RequestURI up to '?', which the SDK has already percent-encoded
//     once), percent-encoded a second time: every byte but A-Z a-z 0-9
//     '-' '.' '_' '~' and '/' becomes %XX (upper-case hex), '%' included.
//     So /prod/@connections/abc%3D is signed as
//     /prod/%40connections/abc%253D, and /prod/%40connections/x as
//     /prod/%2540connections/x. This is aws-sdk-go-v2's signer for every
//     service but S3 (v4.Signer without DisableURIPathEscaping:
//     httpbinding.EscapePath(URL.EscapedPath(), false)); the JavaScript
//     and Python SDKs produce the same string for paths without empty,
//     "." or ".." segments, which they would normalize away first. Such
//     paths are not normalized here.
//   - Canonical query: the query parsed as url.ParseQuery does ('+' is a
//     space, malformed pairs are dropped), each name and value encoded
//     with the RFC 3986 unreserved set (space as %20), sorted by encoded
//     name, then encoded value, joined with '&'.
//   - Canonical headers: each name of SignedHeaders (which must be lower
//     case, sorted and unique), a colon, and the request's values of that
//     header, each with leading and trailing spaces removed and runs of
//     spaces collapsed to one, joined with ','. host is r.Host;
//     content-length falls back to r.ContentLength when the header map
//     lacks it (net/http removes it from client requests).
//   - Payload hash: X-Amz-Content-Sha256 when present (it must then equal
//     the body's hash and be signed), else the hex SHA-256 of the body.
//     UNSIGNED-PAYLOAD and the STREAMING-* values are refused: no SDK
//     sends them to execute-api (aws-sdk-go-v2's apigatewaymanagementapi
//     operations hash the payload with ComputePayloadSHA256), and they
//     would leave the body unsigned.
//
// # Session tokens
//
// X-Amz-Security-Token must be signed when it is present, but its value
// is not checked: configured keys have no token, so a request signed with
// session credentials is accepted when its access key id and secret match
// a configured key. Result.SessionToken reports that a token was sent.
//
// # Errors
//
// Every error is an *Error whose Kind is one of the Err sentinels (so
// errors.Is works) and whose Message is AWS API Gateway's wording where
// it is known ("Signature expired: ... is now earlier than ...", "The
// request signature we calculated does not match the signature you
// provided. ...", with the canonical request and the string to sign as
// API Gateway appends them). Messages never contain the secret.
//
// # Prepared secrets
//
// Signed.VerifySecret verifies with a Secret (NewSecret), which keeps the
// signing key it derived for the last credential scope (date, region,
// service) and a pool of HMAC states keyed with it: a stream of requests
// of one scope then costs one HMAC each instead of five. It keeps one
// scope only, so requests naming arbitrary regions cannot grow it; the
// derived key is what the secret and the scope make whoever asks, so the
// verdict is the same as Verify's. The management API keeps a Secret per
// access key.
//
// # Concurrency
//
// The package has no global state: Parse, Verify and Signed.Verify may be
// called concurrently, and a Secret may be shared by any number of
// goroutines. A Signed refers to its request and must not outlive it.
package sigv4
