package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/event"
)

// errShed is the error of a call refused because its integration already
// has maxWaiting calls waiting for a slot: the backend is slow
// and more waiting would only hold memory and time (the caller answers as
// for a failed call: 502 on $connect, "Internal server error" on a
// message).
var errShed = errors.New("integration overloaded: call shed")

// shedding bounds the calls of one integration that are in flight or
// waiting for one of its slots to maxConcurrency + maxWaiting; past that,
// calls fail at once instead of queueing until their timeout.
type shedding struct {
	Integration
	name    string
	max     int64
	pending atomic.Int64
	shed    prometheus.Counter
}

func newShedding(in Integration, name string, maxConcurrency, maxWaiting int, shed prometheus.Counter) *shedding {
	return &shedding{Integration: in, name: name, max: int64(max(maxConcurrency, 1) + max(maxWaiting, 0)), shed: shed}
}

// Invoke implements Integration.
func (s *shedding) Invoke(ctx context.Context, req *event.Request) (*event.Response, error) {
	if s.pending.Add(1) > s.max {
		s.pending.Add(-1)
		s.shed.Inc()
		return nil, fmt.Errorf("%s: %w (%d calls in flight or waiting)", s.name, errShed, s.max)
	}
	defer s.pending.Add(-1)
	return s.Integration.Invoke(ctx, req)
}
