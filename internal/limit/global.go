package limit

import (
	"time"

	"golang.org/x/time/rate"
)

// Global is one token bucket shared by every caller, such as the new
// connections of one API. It wraps golang.org/x/time/rate's Limiter with
// an injected clock. Global is safe for concurrent use; a nil *Global
// admits everything.
type Global struct {
	lim *rate.Limiter
	now func() time.Time
}

// NewGlobal returns a bucket of perSecond events per second with bursts of
// burst (as NewRate). now is the clock; nil means time.Now.
func NewGlobal(perSecond float64, burst int, now func() time.Time) (*Global, error) {
	if _, err := newRate(perSecond, burst); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Global{lim: rate.NewLimiter(rate.Limit(perSecond), burst), now: now}, nil
}

// Allow takes one token and reports whether there was one.
func (g *Global) Allow() bool {
	if g == nil {
		return true
	}
	return g.lim.AllowN(g.now(), 1)
}
