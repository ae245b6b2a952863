package gateway

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/limit"
	"github.com/switchboardhq/switchboard/internal/origin"
)

// Rejection reasons of handshakes, as counted in
// switchboard_handshake_rejections_total and logged.
const (
	rejectRate        = "connection_rate"
	rejectRatePerIP   = "connection_rate_per_ip"
	rejectConnections = "max_connections" // per API, total or per IP
	rejectPerUser     = "max_connections_per_user"
	rejectServerFull  = "server_full" // http.maxConnections
	rejectOrigin      = "origin"
)

// admission holds an API state's origin allowlist and rate limits. Nil
// fields are limits that are off. The open-connection counters belong to
// the API (API.perIP, API.perUser), so that they outlive a reload.
type admission struct {
	lim       config.Limits   // what the limiters were built from
	origins   *origin.Checker // nil: any origin
	rate      *limit.Global   // new connections of the API
	ratePerIP *limit.Keyed    // new connections per source IP
	messages  *limit.Rate     // messages per connection
}

// maxTrackedIPs bounds the per-IP rate limiter's memory; past it idle
// entries are evicted and, failing that, new IPs are refused.
const maxTrackedIPs = 100_000

// newAdmission builds the limiters of l. The limiters of old (nil: none)
// whose settings are unchanged are reused, so that a reload does not
// refill their buckets.
func newAdmission(l *config.Limits, origins []string, now func() time.Time, old *admission) (*admission, error) {
	ad := &admission{lim: *l}
	var err error
	if len(origins) > 0 {
		if ad.origins, err = origin.New(origins); err != nil {
			return nil, fmt.Errorf("auth.origins: %w", err)
		}
	}
	if old != nil {
		o := &old.lim
		if o.ConnectionsPerSecond == l.ConnectionsPerSecond && o.ConnectionBurst == l.ConnectionBurst {
			ad.rate = old.rate
		}
		if o.ConnectionsPerSecondPerIP == l.ConnectionsPerSecondPerIP {
			ad.ratePerIP = old.ratePerIP
		}
		if o.MessagesPerSecond == l.MessagesPerSecond && o.MessageBurst == l.MessageBurst {
			ad.messages = old.messages
		}
	}
	if l.ConnectionsPerSecond > 0 && ad.rate == nil {
		burst := max(l.ConnectionBurst, l.ConnectionsPerSecond)
		if ad.rate, err = limit.NewGlobal(float64(l.ConnectionsPerSecond), burst, now); err != nil {
			return nil, fmt.Errorf("limits.connectionsPerSecond: %w", err)
		}
	}
	if l.ConnectionsPerSecondPerIP > 0 && ad.ratePerIP == nil {
		r := l.ConnectionsPerSecondPerIP
		if ad.ratePerIP, err = limit.NewKeyed(float64(r), 2*r, maxTrackedIPs, time.Minute, now); err != nil {
			return nil, fmt.Errorf("limits.connectionsPerSecondPerIP: %w", err)
		}
	}
	if l.MessagesPerSecond > 0 && ad.messages == nil {
		burst := max(l.MessageBurst, l.MessagesPerSecond)
		if ad.messages, err = limit.NewRate(float64(l.MessagesPerSecond), burst); err != nil {
			return nil, fmt.Errorf("limits.messagesPerSecond: %w", err)
		}
	}
	return ad, nil
}

// ipKey is the limiter key of a source address ("" when unparsable, which
// is then one shared key).
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	return limit.IPKey(a)
}

// admit applies the connection-rate limits of st and the API's
// open-connection limits to a new handshake from ip. On success release
// must be called when the connection ends (or the handshake fails).
func (a *API) admit(st *apiState, ip string) (release func(), reason string) {
	ad := st.admit
	// Per IP first: one address past its own rate must not spend the
	// API-wide budget and lock everyone else out.
	key := ipKey(ip)
	if !ad.ratePerIP.Allow(key) {
		return nil, rejectRatePerIP
	}
	if !ad.rate.Allow() {
		return nil, rejectRate
	}
	release, ok := a.perIP.TryAcquire(key)
	if !ok {
		return nil, rejectConnections
	}
	return release, ""
}

// admitUser applies the per-user limit once $connect named the user.
func (a *API) admitUser(user string) (release func(), ok bool) {
	if user == "" {
		return func() {}, true
	}
	return a.perUser.TryAcquire(user)
}
