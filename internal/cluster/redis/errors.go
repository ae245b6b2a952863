package redcluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/rueidis"
	"github.com/switchboardhq/switchboard/internal/cluster"
)

// cmdCtx bounds one command or script by Options.CommandTimeout.
func (n *Node) cmdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.o.CommandTimeout)
}

// transientPrefixes are the Redis error replies that say "the shared state
// is not available right now" rather than "this call is wrong".
var transientPrefixes = []string{"READONLY", "MASTERDOWN", "BUSY", "NOREPLICAS", "OOM"}

// isUnavailable reports whether err from a Redis call means the shared
// state could not be reached or could not take the call now: a network
// error, a timeout, a closed client, or CLUSTERDOWN, TRYAGAIN, LOADING,
// MOVED/ASK (a redirect the client gave up on, as during a failover) and
// the transientPrefixes replies.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	re, ok := rueidis.IsRedisErr(err)
	if !ok {
		return true
	}
	if _, moved := re.IsRedirect(); moved {
		return true
	}
	if re.IsClusterDown() || re.IsTryAgain() || re.IsLoading() {
		return true
	}
	msg := re.Error()
	for _, p := range transientPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// wrap turns the error of a Redis call made under ctx (the caller's) into
// the package's: the caller's own cancellation or deadline as such,
// unavailability wrapping cluster.ErrUnavailable (the call may or may not
// have taken effect), anything else as it is.
func wrap(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("redcluster: %s: %w", what, ctxErr)
	}
	if isUnavailable(err) {
		return fmt.Errorf("redcluster: %s: %w: %w", what, cluster.ErrUnavailable, err)
	}
	return fmt.Errorf("redcluster: %s: %w", what, err)
}

// errKilled is returned by calls on a killed node (tests only).
var errKilled = fmt.Errorf("redcluster: node killed: %w", cluster.ErrUnavailable)
