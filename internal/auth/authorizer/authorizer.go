package authorizer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/event"
)

// Errors of Authorize. Each wraps one of them; Status maps them to the
// HTTP status of the refused handshake.
var (
	// ErrUnauthorized (401): an identity source is missing or empty (the
	// integration was not called), or the authorizer threw "Unauthorized"
	// (an HTTP backend answers 401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden (403): the policy does not allow execute-api:Invoke on
	// the methodArn (a Deny applies, or no Allow does).
	ErrForbidden = errors.New("forbidden")
	// ErrFailed (500): the authorizer could not decide: the integration
	// failed or timed out (the integration's error is wrapped too, so
	// errors.Is(err, integration.ErrTimeout) works), its output is not a
	// valid authorizer output, or ctx ended.
	ErrFailed = errors.New("authorizer failed")
)

// Status returns the HTTP status AWS refuses a handshake with when
// Authorize returned err: 401 for ErrUnauthorized, 403 for ErrForbidden,
// 500 ("Internal Server Error") for ErrFailed and anything else; 200 for
// nil.
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrFailed):
		return http.StatusInternalServerError
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// Invoker calls the authorizer's integration; the gateway passes the
// integration the config names. It must be safe for concurrent use.
type Invoker interface {
	Invoke(ctx context.Context, req *event.Request) (*event.Response, error)
}

// functionError is implemented by an Invoker's error when the function ran
// and threw: ErrorMessage is Lambda's errorMessage. An authorizer that
// throws "Unauthorized" refuses the handshake with 401 instead of 500.
type functionError interface {
	error
	ErrorMessage() string
}

// thrownUnauthorized is the errorMessage with which a Lambda authorizer
// asks for a 401 (callback("Unauthorized"), raise Exception('Unauthorized')).
const thrownUnauthorized = "Unauthorized"

// Options configure an Authorizer.
type Options struct {
	// Config is the API's auth.authorizer section. Config.Integration is
	// only used in log lines; the gateway resolves it to Invoker.
	Config config.Authorizer
	// Invoker calls the authorizer integration. Required.
	Invoker Invoker
	// Now is the clock (requestTime of the event, cache expiry,
	// integrationLatency). Default time.Now.
	Now func() time.Time
	// Logger receives a Debug line per decision. Default: discard.
	Logger *slog.Logger
	// MaxCacheEntries bounds the cache when Config.CacheTTL is not 0; the
	// oldest entry goes first. Default DefaultMaxCacheEntries (10000).
	MaxCacheEntries int
}

// Authorizer runs an AWS-format Lambda REQUEST authorizer for $connect. It
// is safe for concurrent use.
type Authorizer struct {
	// Immutable after New.
	integration string
	invoker     Invoker
	sources     []identitySource
	now         func() time.Time
	log         *slog.Logger

	mu       sync.Mutex
	cache    *cache             // guarded by mu; nil when caching is off
	inflight map[string]*flight // guarded by mu: calls running, by identity key
}

// flight is one authorizer call that identical concurrent handshakes wait
// for instead of calling too (only when caching is on: the result would
// be cached anyway). Its fields are written before done is closed.
type flight struct {
	done  chan struct{}
	res   *result
	err   error
	retry bool // the caller gave up or panicked: waiters call themselves
}

// New checks o and returns an Authorizer. Errors name the config field
// ("identitySources[1]: ...") and join every problem found.
func New(o Options) (*Authorizer, error) {
	var errs []error
	if o.Invoker == nil {
		errs = append(errs, errors.New("no integration to call (Options.Invoker is nil)"))
	}
	a := &Authorizer{
		integration: o.Config.Integration,
		invoker:     o.Invoker,
		now:         o.Now,
		log:         o.Logger,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for i, s := range o.Config.IdentitySources {
		src, err := parseIdentitySource(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("identitySources[%d]: %w", i, err))
			continue
		}
		a.sources = append(a.sources, src)
	}
	ttl := o.Config.CacheTTL.Std()
	switch {
	case ttl < 0:
		errs = append(errs, fmt.Errorf("cacheTTL: %s is negative; 0 turns the cache off", ttl))
	case ttl > time.Hour:
		errs = append(errs, fmt.Errorf("cacheTTL: %s is more than 1h, the most AWS allows", ttl))
	case ttl > 0 && len(o.Config.IdentitySources) == 0:
		errs = append(errs, errors.New("cacheTTL: the cache is keyed by the identity sources and there are none; set identitySources or set cacheTTL to 0"))
	}
	if o.MaxCacheEntries < 0 {
		errs = append(errs, fmt.Errorf("MaxCacheEntries is %d, want 0 (default %d) or more", o.MaxCacheEntries, DefaultMaxCacheEntries))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if ttl > 0 {
		a.cache = newCache(ttl, cmp.Or(o.MaxCacheEntries, DefaultMaxCacheEntries))
		a.inflight = make(map[string]*flight)
	}
	return a, nil
}

// Decision is what an authorizer decided for a handshake it allowed.
type Decision struct {
	// PrincipalID is the output's principalId.
	PrincipalID string
	// Context becomes requestContext.authorizer of every later event of the
	// connection (event.Connection.Authorizer): the output's context with
	// its values stringified (numbers as their JSON text, booleans as
	// "true"/"false", null kept), plus "principalId" and
	// "integrationLatency" (milliseconds of the authorizer call, as a
	// float64; 0 when Cached). These two win over context keys of the same
	// name. A new map for every call; the caller owns it.
	Context map[string]any
	// UsageIdentifierKey is the output's usageIdentifierKey; "" if none.
	UsageIdentifierKey string
	// Cached reports that the decision came from the cache, or from an
	// identical handshake's call that was running, not from a call of
	// its own.
	Cached bool
}

// Authorize runs the authorizer for one handshake. conn is the
// connection as the $connect event will show it (its ID already assigned);
// headers and query are the handshake's as the authorizer event should
// show them (see event.AuthorizerRequest: the caller keeps Connection and
// Upgrade and adds content-length: 0, X-Amzn-Trace-Id and
// X-Forwarded-*); methodARN is MethodARN(...) of the API's stage.
//
//   - An identity source missing or empty (header names match without
//     regard to case, query names exactly): ErrUnauthorized, without
//     calling the integration.
//   - Otherwise the decision comes from the cache (when Config.CacheTTL is
//     set, by the identity source values) or from calling the integration
//     with event.AuthorizerRequest. Successful outputs are cached, Deny
//     policies included; errors are not.
//   - The policy allows execute-api:Invoke on methodARN: a Decision and
//     nil. It does not: ErrForbidden, with the Decision's PrincipalID and
//     Cached set for the log. An error from the integration, a status
//     other than 2xx, or an output that is not valid: ErrFailed; "throw
//     Unauthorized" (or HTTP 401): ErrUnauthorized.
//
// Cancelling ctx abandons the call (ErrFailed wrapping ctx's error).
func (a *Authorizer) Authorize(ctx context.Context, conn *event.Connection, headers []event.HeaderField, query []event.QueryParam, methodARN string) (Decision, error) {
	if methodARN == "" {
		return Decision{}, fmt.Errorf("%w: no methodArn", ErrFailed)
	}
	var key []byte
	for i := range a.sources {
		s := &a.sources[i]
		var ok bool
		if key, ok = s.appendValues(key, headers, query); !ok {
			a.log.Debug("authorizer: identity source missing", "connectionId", conn.ID, "identitySource", s.spec)
			return Decision{}, fmt.Errorf("%w: identity source %s is missing or empty", ErrUnauthorized, s.spec)
		}
	}
	res, cached, err := a.decide(ctx, string(key), func(ctx context.Context) (*result, error) {
		return a.call(ctx, conn, headers, query, methodARN)
	})
	if err != nil {
		a.log.Debug("authorizer: failed", "connectionId", conn.ID, "integration", a.integration, "error", err.Error())
		return Decision{}, err
	}
	d := Decision{PrincipalID: res.principalID, UsageIdentifierKey: res.usageIdentifierKey, Cached: cached}
	eff := res.policy.evaluate(InvokeAction, methodARN)
	a.log.Debug("authorizer: decided", "connectionId", conn.ID, "integration", a.integration,
		"principalId", res.principalID, "effect", eff.String(), "cached", cached)
	switch eff {
	case effectDeny:
		return d, fmt.Errorf("%w: the policy of principal %q denies %s on %s", ErrForbidden, res.principalID, InvokeAction, methodARN)
	case effectNone:
		return d, fmt.Errorf("%w: the policy of principal %q does not allow %s on %s", ErrForbidden, res.principalID, InvokeAction, methodARN)
	}
	latency := float64(0)
	if !cached {
		latency = float64(res.latency.Milliseconds())
	}
	d.Context = make(map[string]any, len(res.context)+2)
	maps.Copy(d.Context, res.context)
	d.Context["principalId"] = res.principalID
	d.Context["integrationLatency"] = latency
	return d, nil
}

// decide returns the result for key: from the cache, from an identical
// call already running, or from call. cached reports that call was not run
// for this caller.
func (a *Authorizer) decide(ctx context.Context, key string, call func(context.Context) (*result, error)) (res *result, cached bool, err error) {
	if a.cache == nil {
		res, err := call(ctx)
		return res, false, err
	}
	for {
		a.mu.Lock()
		if res, ok := a.cache.get(key, a.now()); ok {
			a.mu.Unlock()
			return res, true, nil
		}
		if f, ok := a.inflight[key]; ok {
			a.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, false, fmt.Errorf("%w: %w", ErrFailed, ctx.Err())
			}
			if f.retry {
				continue
			}
			return f.res, f.err == nil, f.err
		}
		f := &flight{done: make(chan struct{})}
		a.inflight[key] = f
		a.mu.Unlock()
		res, err := a.lead(ctx, key, f, call)
		return res, false, err
	}
}

// lead runs call for f and publishes its outcome, also when call panics.
func (a *Authorizer) lead(ctx context.Context, key string, f *flight, call func(context.Context) (*result, error)) (res *result, err error) {
	defer func() {
		a.mu.Lock()
		delete(a.inflight, key)
		if res != nil && err == nil {
			a.cache.put(key, res, a.now())
		}
		a.mu.Unlock()
		f.res, f.err = res, err
		// Waiters should not inherit this caller's cancellation (or a
		// panic, where both are nil): they call themselves.
		f.retry = res == nil && (err == nil || ctx.Err() != nil)
		close(f.done)
	}()
	return call(ctx)
}

// call invokes the integration once and parses its output.
func (a *Authorizer) call(ctx context.Context, conn *event.Connection, headers []event.HeaderField, query []event.QueryParam, methodARN string) (*result, error) {
	start := a.now()
	req := event.AuthorizerRequest(conn, start, event.NewID(), methodARN, headers, query)
	resp, err := a.invoker.Invoke(ctx, req)
	latency := a.now().Sub(start)
	if err != nil {
		var fe functionError
		if errors.As(err, &fe) && fe.ErrorMessage() == thrownUnauthorized {
			return nil, fmt.Errorf("%w: the authorizer threw %q", ErrUnauthorized, thrownUnauthorized)
		}
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	switch {
	case resp == nil:
		return nil, fmt.Errorf("%w: the integration returned no response", ErrFailed)
	case resp.Proxy:
		// A Lambda function that returned {"statusCode": ...}: AWS fails
		// with "Could not parse policy" (AuthorizerConfigurationException).
		return nil, fmt.Errorf("%w: %w", ErrFailed, malformed(`the authorizer returned a Lambda proxy response ({"statusCode": %d, ...}), want {"principalId": ..., "policyDocument": ...}; to refuse with 401, throw "Unauthorized"`, resp.StatusCode))
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("%w: the authorizer answered HTTP 401", ErrUnauthorized)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, fmt.Errorf("%w: the authorizer answered HTTP %d, want 200 with the authorizer output (or 401 to refuse)", ErrFailed, resp.StatusCode)
	}
	res, err := parseOutput(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	res.latency = latency
	return res, nil
}

// MethodARN returns the methodArn of an API's $connect route:
// arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/$connect (§5.1 of the AWS
// reference; there is no HTTP method in it).
func MethodARN(region, accountID, apiID, stage string) string {
	return "arn:aws:execute-api:" + region + ":" + accountID + ":" + apiID + "/" + stage + "/" + event.RouteConnect
}
