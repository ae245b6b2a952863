package jwtauth

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/switchboardhq/switchboard/internal/config"
)

const (
	// jwksFetchTimeout bounds one JWKS fetch: the first one in New, each
	// periodic one, and the wait for the rate limiter plus the fetch when a
	// token names an unknown kid.
	jwksFetchTimeout = 5 * time.Second
	// jwksClientTimeout is the timeout of the default HTTP client.
	jwksClientTimeout = 10 * time.Second
	// maxJWKSBytes is the largest JWKS response read; a key set is a few
	// KiB.
	maxJWKSBytes = 1 << 20
	// defaultUnknownKIDInterval is how often, at most, a token naming an
	// unknown kid makes the set be fetched again. The first such token
	// after a quiet minute fetches at once, so a rotation is picked up by
	// the first token signed with the new key; a flood of made-up kids
	// costs the issuer one request a minute.
	defaultUnknownKIDInterval = time.Minute
)

var errJWKSTooLarge = fmt.Errorf("JWKS response larger than %d bytes", maxJWKSBytes)

// startJWKS fetches the key set once and starts keyfunc's refresher.
func (v *Verifier) startJWKS(ctx context.Context, o Options, cfg config.JWT) error {
	if err := checkJWKSURL(cfg.JWKSURL); err != nil {
		return fmt.Errorf("jwksUrl: %w", err)
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: jwksClientTimeout}
	}
	limited := *client
	rt := limited.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	limited.Transport = limitTransport{rt}
	interval := o.unknownKIDInterval
	if interval <= 0 {
		interval = defaultUnknownKIDInterval
	}

	fetchTimeout := o.fetchTimeout
	if fetchTimeout <= 0 {
		fetchTimeout = jwksFetchTimeout
	}

	// The refresher lives until Close, not until ctx is done: ctx only
	// bounds New (keyfunc takes one context for both).
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	keepGoing := true
	kf, err := keyfunc.NewDefaultOverrideCtx(runCtx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:                    &limited,
		HTTPTimeout:               fetchTimeout,
		NoErrorReturnFirstHTTPReq: &keepGoing,
		RateLimitWaitMax:          fetchTimeout,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				if runCtx.Err() != nil {
					return // closed: the fetch was cancelled, not failed
				}
				v.log.Warn("jwtauth: JWKS fetch failed", "url", u, "err", err)
			}
		},
		RefreshInterval:   cfg.JWKSRefresh.Std(),
		RefreshUnknownKID: rate.NewLimiter(rate.Every(interval), 1),
	})
	if !stop() {
		cancel()
		return ctx.Err() // cancelled during the first fetch
	}
	if err != nil {
		cancel()
		return fmt.Errorf("jwksUrl: %w", err)
	}
	v.jwks = kf.Storage()
	v.cancel = cancel
	if keys, _ := v.jwks.KeyReadAll(ctx); len(keys) == 0 {
		v.log.Warn("jwtauth: no JWKS keys yet; tokens needing them are refused until a fetch succeeds",
			"url", cfg.JWKSURL, "refresh", cfg.JWKSRefresh.Std(), "unknownKidRefresh", interval)
	}
	return nil
}

// checkJWKSURL allows https, and http only to a loopback host (a sidecar
// or a test): key sets fetched in the clear could be replaced on the way.
func checkJWKSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host; write it as https://host/path", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%q is plain http to a host that is not loopback; use https", s)
	}
	return fmt.Errorf("%q: scheme %q is not https", s, u.Scheme)
}

// jwksKeys returns the JWKS keys a token signed with alg and naming kid
// (maybe "") may be verified with. A kid not in the cache makes keyfunc
// fetch the set again first, rate-limited (jwkset's HTTP client waits for
// the limiter at most jwksFetchTimeout, so past the first refresh in an
// interval the lookup fails at once).
func (v *Verifier) jwksKeys(ctx context.Context, alg, kid string) ([]jwt.VerificationKey, error) {
	if kid != "" {
		jwk, err := v.jwks.KeyRead(ctx, kid)
		if err != nil {
			if v.jwksEmpty(ctx) {
				return nil, &Error{Reason: "signing keys unavailable", Err: err}
			}
			return nil, &Error{Reason: "unknown key id", Err: err}
		}
		k, ok := v.jwkKey(jwk, alg)
		if !ok {
			return nil, &Error{Reason: "algorithm not allowed"}
		}
		return []jwt.VerificationKey{k}, nil
	}
	all, err := v.jwks.KeyReadAll(ctx)
	if err == nil && len(all) == 0 {
		// Nothing cached (the first fetch failed, or the set is empty):
		// reading a key ID that is not cached is how jwkset is asked for a
		// rate-limited refresh.
		_, _ = v.jwks.KeyRead(ctx, "")
		all, err = v.jwks.KeyReadAll(ctx)
	}
	if err != nil || len(all) == 0 {
		return nil, &Error{Reason: "signing keys unavailable", Err: err}
	}
	var keys []jwt.VerificationKey
	for _, j := range all {
		if k, ok := v.jwkKey(j, alg); ok {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (v *Verifier) jwksEmpty(ctx context.Context) bool {
	all, err := v.jwks.KeyReadAll(ctx)
	return err == nil && len(all) == 0
}

// jwkKey returns j's public key if a token signed with alg may be verified
// with it: the JWK is for signatures (use "sig" or none, key_ops with
// "verify" or none), its alg is alg (or, when it names none, alg is one of
// jwt.algorithms), and the key fits alg (type, curve, RSA size).
// Symmetric JWKs are never used: a key set is public.
func (v *Verifier) jwkKey(j jwkset.JWK, alg string) (any, bool) {
	m := j.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, false
	}
	if len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
		return nil, false
	}
	if a := m.ALG.String(); a != "" {
		if a != alg {
			return nil, false
		}
	} else if !v.jwksAlgs[alg] {
		return nil, false
	}
	if algorithms[alg].kind == kindHMAC {
		return nil, false
	}
	key := publicOf(j.Key())
	if checkKey(alg, key) != nil {
		return nil, false
	}
	return key, true
}

// limitTransport refuses JWKS responses larger than maxJWKSBytes, so a
// misbehaving key server cannot make the process buffer without bound.
type limitTransport struct{ rt http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxJWKSBytes}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errJWKSTooLarge
	}
	// Reading one byte past the limit tells a body that ends there from a
	// longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errJWKSTooLarge
	}
	return n, err
}
