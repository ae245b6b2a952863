package httpint

import (
	"net"
	"net/http"
	"time"
)

// Transport defaults. There is deliberately no ResponseHeaderTimeout: each
// call's deadline (Config.Timeout, up to 15 minutes) already bounds the
// wait for the reply, and a shorter transport-wide limit would cut off
// integrations configured with longer timeouts.
const (
	dialTimeout         = 5 * time.Second
	tcpKeepAlive        = 30 * time.Second
	tlsHandshakeTimeout = 5 * time.Second
	idleConnTimeout     = 90 * time.Second
	// defaultIdlePerHost equals the default MaxConcurrency, so a burst of
	// calls to one backend leaves its connections open for the next.
	defaultIdlePerHost = defaultMaxConcurrency
)

// NewTransport returns the tuned *http.Transport that New uses when it is
// given no client, so a server can build one client on it and share it
// across all its http integrations:
//
//   - keep-alive on, idle connections kept 90 s, up to 256 idle connections
//     per backend host (the default MaxConcurrency; raise
//     MaxIdleConnsPerHost when an integration allows more) and no limit
//     across hosts;
//   - dial timeout 5 s, TCP keep-alive probes every 30 s, TLS handshake
//     timeout 5 s;
//   - HTTP/2 attempted for https backends;
//   - no proxy: HTTP_PROXY/HTTPS_PROXY from the environment are ignored,
//     because a gateway's backends are usually on a private network. Set
//     Proxy (for example to http.ProxyFromEnvironment) to change that.
//
// Response time is bounded per call by Config.Timeout, not here.
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no limit across hosts; MaxIdleConnsPerHost bounds each.
		MaxIdleConnsPerHost:   defaultIdlePerHost,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
	}
}
