package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/internal/config"
)

// Defaults of the config.JWT fields whose zero value means "use the
// default"; config.go documents the same values.
const (
	defaultJWKSRefresh       = time.Hour
	defaultAlgorithm         = "RS256"
	defaultQuery             = "token"
	defaultHeader            = "Authorization"
	defaultSubprotocolPrefix = "bearer."
	defaultLeeway            = 30 * time.Second
	defaultUserClaim         = "sub"
)

// MaxTokenBytes is the largest token Authenticate parses (8 KiB); a longer
// one is refused before any decoding. Real tokens are well under 2 KiB.
const MaxTokenBytes = 8 << 10

// PrincipalIDKey is the key of Identity.Context that holds the user id, the
// name AWS gives it in requestContext.authorizer.
const PrincipalIDKey = "principalId"

// ErrNoToken is returned by Authenticate when the handshake carries no
// token in any of the configured places. The caller lets the connection in
// unauthenticated if the API's jwt.optional is set, and refuses it (401)
// otherwise.
var ErrNoToken = errors.New("jwtauth: no token")

// Error is a token that was present but not accepted. Reason is a short,
// fixed phrase that is safe to log and to send to the client: it never
// holds the token or a claim value. The reasons are "token too large",
// "malformed token", "algorithm not allowed", "unsupported critical
// header", "unknown key id", "no key for algorithm", "signing keys
// unavailable" (JWKS not fetched yet), "bad signature", "token expired",
// "token not valid yet", "token issued in the future", "time claim out
// of range" (exp, nbf or iat not within 0 to MaxNumericDate seconds),
// "wrong issuer", "missing issuer", "wrong audience", "missing audience", "missing
// required claim", "invalid claims", "missing user claim" and "user claim
// is not a string". Err, when not nil, is the underlying cause (for
// errors.Is against the jwt.ErrToken* sentinels and for operators' logs);
// it never holds the token either, but may hold the kid.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "jwt: " + e.Reason
	}
	return "jwt: " + e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Identity is who an accepted token says the client is.
type Identity struct {
	// User is the value of the user claim (jwt.userClaim, default "sub"): a
	// string as is, a number in decimal without exponent. Never empty.
	User string
	// Context is what the gateway puts in requestContext.authorizer: the
	// jwt.contextClaims present in the token, stringified as AWS does for an
	// authorizer's context (string as is, number in decimal, bool "true" or
	// "false", object or array as compact JSON; null and absent claims are
	// left out), plus PrincipalIDKey set to User, as AWS adds principalId
	// for a Lambda authorizer. A context claim named principalId is
	// ignored: the key always holds User. Never nil.
	Context map[string]any
	// ExpiresAt is the exp claim; zero if the token has none.
	ExpiresAt time.Time
	// Subprotocol is the Sec-WebSocket-Protocol entry that carried the token
	// (prefix included), empty when the token came from the query or a
	// header. The caller removes it from the subprotocols it offers to the
	// backend and may select: the browser expects the server to pick a real
	// subprotocol, and echoing the entry would put the token in the
	// response.
	Subprotocol string
}

// Options configure New.
type Options struct {
	// Config is the API's jwt block. Zero fields take their documented
	// defaults (also when config has already applied them).
	Config config.JWT
	// BaseDir resolves relative keys[].publicKeyFile paths (the directory
	// of the configuration file).
	BaseDir string
	// HTTPClient fetches the JWKS. Nil: a client with a 10 s timeout.
	// Response bodies larger than 1 MiB are refused whichever client is
	// used.
	HTTPClient *http.Client
	// Logger receives JWKS fetch failures. Nil: discard.
	Logger *slog.Logger
	// Now is the clock for exp, nbf and iat. Nil: time.Now.
	Now func() time.Time

	// Tests shorten these: defaultUnknownKIDInterval, jwksFetchTimeout.
	unknownKIDInterval time.Duration
	fetchTimeout       time.Duration
}

// Verifier checks tokens against one API's jwt configuration. It is safe
// for concurrent use; Close stops its JWKS refresher.
type Verifier struct {
	// Immutable after New.
	query, header, prefix string
	userClaim             string
	issuer                string
	audience              bool
	contextClaims         []string
	parser                *jwt.Parser     // signature only
	validator             *jwt.Validator  // exp, nbf, iat, iss, aud
	allowed               map[string]bool // algorithms a token may name
	static                []staticKey
	staticByAlg           map[string]any // alg → jwt.VerificationKeySet, for tokens without kid
	jwks                  jwkset.Storage // nil without jwksUrl
	jwksAlgs              map[string]bool
	log                   *slog.Logger
	cancel                context.CancelFunc
}

// New checks o.Config, parses the static keys and, when jwksUrl is set,
// fetches the key set once (waiting at most 5 s) and starts the refresher
// goroutine, which runs until Close. ctx bounds New only: if it is done
// before New returns, New returns its error. A failed first fetch is
// logged, not returned: the keys arrive with a later refresh and tokens
// that need them fail meanwhile with "signing keys unavailable". Errors
// name the field of the jwt block at fault ("keys[1].secret: ...").
func New(ctx context.Context, o Options) (*Verifier, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := o.Config
	setDefault(&cfg.JWKSRefresh, config.Duration(defaultJWKSRefresh))
	setDefault(&cfg.Query, defaultQuery)
	setDefault(&cfg.Header, defaultHeader)
	setDefault(&cfg.SubprotocolPrefix, defaultSubprotocolPrefix)
	setDefault(&cfg.Leeway, config.Duration(defaultLeeway))
	setDefault(&cfg.UserClaim, defaultUserClaim)
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{defaultAlgorithm}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}

	v := &Verifier{
		query:         cfg.Query,
		header:        cfg.Header,
		prefix:        cfg.SubprotocolPrefix,
		userClaim:     cfg.UserClaim,
		issuer:        cfg.Issuer,
		audience:      len(cfg.Audience) > 0,
		contextClaims: slices.Clone(cfg.ContextClaims),
		allowed:       make(map[string]bool),
		staticByAlg:   make(map[string]any),
		log:           log,
	}
	for i, k := range cfg.Keys {
		sk, err := parseStaticKey(i, k, o.BaseDir)
		if err != nil {
			return nil, err
		}
		v.static = append(v.static, sk)
		v.allowed[sk.alg] = true
	}
	byAlg := make(map[string][]jwt.VerificationKey)
	for _, k := range v.static {
		byAlg[k.alg] = append(byAlg[k.alg], k.key)
	}
	for alg, keys := range byAlg {
		v.staticByAlg[alg] = jwt.VerificationKeySet{Keys: keys}
	}

	if cfg.JWKSURL == "" {
		if len(v.static) == 0 {
			return nil, errors.New("keys: none given and no jwksUrl; give at least one key or a jwksUrl")
		}
	} else {
		v.jwksAlgs = make(map[string]bool)
		for i, a := range cfg.Algorithms {
			info, ok := algorithms[a]
			if !ok || a == "none" {
				return nil, fmt.Errorf("algorithms[%d]: %q is not one of %s", i, a, algorithmList)
			}
			if info.kind == kindHMAC {
				return nil, fmt.Errorf("algorithms[%d]: %s keys are secret and cannot come from a JWKS; put the secret in keys[].secret", i, a)
			}
			v.jwksAlgs[a] = true
		}
		// A JWK that names its own alg may name any asymmetric one.
		for a, info := range algorithms {
			if info.kind != kindHMAC {
				v.allowed[a] = true
			}
		}
		if err := v.startJWKS(ctx, o, cfg); err != nil {
			return nil, err
		}
	}

	valid := make([]string, 0, len(v.allowed))
	for a := range v.allowed {
		valid = append(valid, a)
	}
	slices.Sort(valid)
	// The parser checks the signature only; Verify checks the range of
	// the time claims, then the validator checks the claims.
	v.parser = jwt.NewParser(jwt.WithValidMethods(valid), jwt.WithJSONNumber(), jwt.WithoutClaimsValidation())
	opts := []jwt.ParserOption{
		jwt.WithLeeway(cfg.Leeway.Std()),
		jwt.WithTimeFunc(now),
		jwt.WithIssuedAt(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if len(cfg.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(cfg.Audience...))
	}
	v.validator = jwt.NewValidator(opts...)
	return v, nil
}

// Close stops the JWKS refresher: its context is cancelled, which ends the
// goroutine and any fetch in flight at once. Close is idempotent; the
// Verifier keeps verifying with the keys it has.
func (v *Verifier) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

// Authenticate finds the token in r, verifies it and returns the identity
// it carries. The token is looked for, in this order, and the first place
// that has one wins (a bad token there is not rescued by a good one
// further down):
//
//  1. the query parameter jwt.query (default "token");
//  2. the header jwt.header (default Authorization), with or without a
//     "Bearer " prefix (scheme matched without regard to case);
//  3. the first Sec-WebSocket-Protocol entry starting with
//     jwt.subprotocolPrefix (default "bearer."): the token is the rest of
//     the entry, and Identity.Subprotocol is the entry.
//
// An empty value counts as no token. Authenticate returns ErrNoToken when
// no place has a token, and an *Error for a token it does not accept. It
// may block while the JWKS is refreshed for an unknown kid (at most 5 s,
// and only as often as the rate limit allows); cancelling r's context
// unblocks it.
func (v *Verifier) Authenticate(r *http.Request) (Identity, error) {
	tok, subprotocol := v.findToken(r)
	if tok == "" {
		return Identity{}, ErrNoToken
	}
	id, err := v.Verify(r.Context(), tok)
	if err != nil {
		return Identity{}, err
	}
	id.Subprotocol = subprotocol
	return id, nil
}

// Verify checks one token (a refresh sent over an open connection) with
// the same rules as Authenticate.
func (v *Verifier) Verify(ctx context.Context, tok string) (Identity, error) {
	if tok == "" {
		return Identity{}, ErrNoToken
	}
	if len(tok) > MaxTokenBytes {
		return Identity{}, &Error{Reason: "token too large"}
	}
	claims := jwt.MapClaims{}
	token, err := v.parser.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		return v.keysFor(ctx, t)
	})
	if err != nil {
		return Identity{}, v.classify(token, claims, err)
	}
	if err := checkTimeClaims(claims); err != nil {
		return Identity{}, err
	}
	if err := v.validator.Validate(claims); err != nil {
		return Identity{}, v.classify(token, claims, fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err))
	}
	return v.identity(claims)
}

// MaxNumericDate is the latest time claim (exp, nbf, iat) a token may
// carry: 253402300799, 9999-12-31T23:59:59Z, in seconds since the epoch.
// Far beyond any real token's lifetime, and far below what overflows
// int64 seconds or nanoseconds in time.Time arithmetic.
const MaxNumericDate = 253402300799

// timeClaimNames are the registered claims that hold a NumericDate.
var timeClaimNames = [...]string{"exp", "nbf", "iat"}

// checkTimeClaims refuses a token whose exp, nbf or iat is a number that
// is not finite or lies outside [0, MaxNumericDate] seconds. The jwt
// library converts a NumericDate to time.Time through int64 without a
// range check, so that nbf 1e30 becomes a date in the distant past and is
// accepted; this check runs before the library's validator sees the
// claims. A time claim that is not a number at all is left to the
// validator, which refuses it ("invalid claims").
func checkTimeClaims(claims jwt.MapClaims) error {
	for _, name := range timeClaimNames {
		n, ok := claims[name].(json.Number)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(string(n), 64) // ±Inf with an error past float64
		if err != nil || math.IsNaN(f) || f < 0 || f > MaxNumericDate {
			return &Error{Reason: "time claim out of range", Err: fmt.Errorf("%w: %s is not a number of seconds from 0 to %d (9999-12-31T23:59:59Z)", jwt.ErrTokenInvalidClaims, name, MaxNumericDate)}
		}
	}
	return nil
}

// classify turns a jwt parse error into an *Error with a public reason.
// Signatures are checked before claims, so a forged token learns nothing
// about claim checks.
func (v *Verifier) classify(token *jwt.Token, claims jwt.MapClaims, err error) error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	reason := "invalid token"
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		reason = "malformed token"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// alg missing, not a string, or unknown to the jwt library.
		reason = "malformed token"
		if token != nil {
			if _, ok := token.Header["alg"].(string); ok {
				reason = "algorithm not allowed"
			}
		}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		reason = "bad signature"
		if token != nil && token.Method != nil && !v.allowed[token.Method.Alg()] {
			reason = "algorithm not allowed"
		}
	case errors.Is(err, jwt.ErrTokenExpired):
		reason = "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		reason = "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		reason = "token issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		reason = "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		reason = "wrong audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		reason = "missing required claim"
		if iss, _ := claims.GetIssuer(); v.issuer != "" && iss == "" {
			reason = "missing issuer"
		} else if aud, _ := claims.GetAudience(); v.audience && len(slices.DeleteFunc(aud, func(a string) bool { return a == "" })) == 0 {
			reason = "missing audience"
		}
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		reason = "invalid claims"
	}
	return &Error{Reason: reason, Err: err}
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
