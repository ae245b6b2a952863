package integration

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errCallTimeout is the cancellation cause of a call that ran out of its
// integration's timeout.
var errCallTimeout = errors.New("call timeout")

// StartCall begins one call of an integration whose calls in flight are
// bounded by sem (one token per call) and each last at most timeout: it
// waits, within the timeout, for a token and returns the call's context
// and end, which frees the token and the context. If no token comes in
// time, the error is Expired's ("no free slot within ...").
func StartCall(parent context.Context, sem chan struct{}, timeout time.Duration) (ctx context.Context, end func(), err error) {
	ctx, cancel := context.WithTimeoutCause(parent, timeout, errCallTimeout)
	select {
	case sem <- struct{}{}:
	default:
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			err := Expired(parent, ctx, fmt.Sprintf("no free slot within %v (%d calls in flight)", timeout, cap(sem)))
			cancel()
			return nil, nil, err
		}
	}
	return ctx, func() { <-sem; cancel() }, nil
}

// Expired describes a call whose context (from StartCall) ended: the
// parent's error if the caller gave up, what and ErrTimeout if the call's
// own timeout passed, ctx.Err() otherwise. Callers prefix it with what
// they called.
func Expired(parent, ctx context.Context, what string) error {
	if err := parent.Err(); err != nil {
		return err
	}
	if context.Cause(ctx) == errCallTimeout {
		return fmt.Errorf("%s: %w", what, ErrTimeout)
	}
	return ctx.Err()
}
