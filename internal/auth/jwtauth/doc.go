// Package jwtauth authenticates a WebSocket handshake by a JSON Web Token,
// as an API's auth.jwt block configures (config.JWT). New builds a
// Verifier; Authenticate finds the token in the handshake (query
// parameter, then header, then a Sec-WebSocket-Protocol entry), verifies
// it and returns the Identity the gateway puts on the connection: User
// (X-Switchboard-User, the @users addressing) and Context
// (requestContext.authorizer, with principalId as AWS writes it).
//
// # Keys and algorithms
//
// Signatures are checked by github.com/golang-jwt/jwt/v5. Every key is
// pinned to one algorithm: a static key (keys[]) to its algorithm, a JWKS
// key to its own "alg" or, when it names none, to jwt.algorithms (default
// RS256). A token is only ever tried against keys pinned to the alg its
// header names, so an HS256 token "signed" with an RSA public key is
// refused, and "none" is never accepted. The parser is also given the
// union of the allowed algorithms (jwt.WithValidMethods). HMAC secrets
// must be at least as long as the hash (32, 48, 64 bytes: RFC 7518 section
// 3.2); RSA keys at least 2048 bits; ECDSA keys on the algorithm's curve.
// A JWKS never supplies HMAC keys (a key set is public) and keys with use
// other than "sig" or key_ops without "verify" are skipped.
//
// When the token names a kid, only keys with that ID, or static keys with
// no ID, are tried; without a kid, every key pinned to the alg is tried.
//
// # JWKS
//
// With jwksUrl, github.com/MicahParks/keyfunc/v3 (over jwkset) holds the
// key set: New fetches it once (5 s at most; a failure is logged and New
// carries on), a goroutine fetches it again every jwksRefresh (default
// 1h), and a token naming a kid that is not cached makes it fetch again
// before answering, at most once a minute (a token bucket of one); past
// that the token is refused with "unknown key id" at once (or after
// waiting for the bucket, when it refills within 5 s), so made-up kids
// cost the issuer one request a minute. While nothing is cached (the first
// fetch failed), any token triggers that same rate-limited fetch and is
// refused with "signing keys unavailable" until one succeeds. Each fetch
// replaces the whole cache, so a key removed from the set stops working
// at the next fetch. Responses over 1 MiB are refused.
//
// # Claims
//
// exp, nbf and iat are checked with jwt.leeway (default 30s); exp is
// optional. Each of them, when it is a number, must be finite and lie
// between 0 and MaxNumericDate (253402300799, 9999-12-31T23:59:59Z)
// seconds, or the token is refused with "time claim out of range" before
// the jwt library converts it (it would overflow int64 and turn nbf 1e30
// into a date in the past). iss must equal jwt.issuer when set; aud must contain one of
// jwt.audience when set (a missing iss or aud is then refused). The user
// claim (default sub) must be a non-empty string or a number. Claims are
// checked only after the signature, so a forged token learns nothing from
// the reason it is refused.
//
// # Errors
//
// Authenticate returns ErrNoToken when there is no token (the caller lets
// the client in unauthenticated if jwt.optional), and otherwise an *Error
// whose Reason is a fixed phrase safe to log and to return to the client.
// Nothing in this package logs or returns the token.
//
// # Concurrency
//
// A Verifier is immutable after New and safe for concurrent use;
// Authenticate may block while the JWKS is fetched for an unknown kid
// (bounded by 5 s and by the request's context). The only goroutine is
// keyfunc's refresher, started by New when jwksUrl is set and stopped by
// Close.
package jwtauth
