package client

import (
	"context"
	"time"
)

// refresher sends a new token RefreshMargin before the current one
// expires, retrying a failed fetch or refresh with backoff until the
// connection ends (at expiry the server closes it with 1008 "token
// expired", and the client reconnects with a fresh token).
func (c *Client) refresher(ctx context.Context, cn *conn) {
	exp := cn.tokenExp
	for !exp.IsZero() {
		margin := min(c.opts.RefreshMargin, time.Until(exp)/2)
		if !sleep(ctx, time.Until(exp)-margin) {
			return
		}
		for attempt := 0; ; attempt++ {
			next, err := c.refreshOnce(ctx, cn)
			if err == nil {
				exp = next
				break
			}
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("switchboard token refresh failed, retrying", "attempt", attempt+1, "error", err.Error())
			if !sleep(ctx, c.backoff(attempt)) {
				return
			}
		}
	}
}

// refreshOnce fetches a token and sends it on cn; it returns the new
// token's expiry (zero: it has none, no more refreshes).
func (c *Client) refreshOnce(ctx context.Context, cn *conn) (time.Time, error) {
	tctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	tok, err := c.opts.GetToken(tctx)
	if err != nil {
		return time.Time{}, err
	}
	ch := make(chan inMsg, 1)
	if err := c.send(tctx, cn, map[string]any{"type": "refresh", "token": tok}, func(m inMsg) { ch <- m }); err != nil {
		return time.Time{}, err
	}
	select {
	case m := <-ch:
		if m.gone {
			return time.Time{}, ErrDisconnected
		}
		if m.Error != nil {
			return time.Time{}, m.Error
		}
	case <-tctx.Done():
		return time.Time{}, tctx.Err()
	}
	exp, _ := tokenExpiry(tok)
	c.mu.Lock()
	cn.tokenExp = exp
	c.mu.Unlock()
	return exp, nil
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
