package config

import (
	"maps"
	"net"
	"slices"
	"strings"
	"time"
)

// Defaults of the fields whose zero value means "use the default". The doc
// comments of the fields in config.go state the same values; keep them in
// step.
const (
	defaultListen      = ":8080"
	defaultLogLevel    = "info"
	defaultLogFormat   = "json"
	defaultDrainWindow = Duration(5 * time.Second)
	defaultShutdown    = Duration(30 * time.Second)
	// defaultReadinessDelay gives a load balancer time to see /readyz fail
	// (Kubernetes endpoint propagation takes about a second or two).
	defaultReadinessDelay = Duration(5 * time.Second)

	defaultTLSReloadInterval = Duration(5 * time.Second)
	defaultReadHeaderTimeout = Duration(10 * time.Second)
	defaultMaxHeaderBytes    = ByteSize(16 << 10)

	defaultBinary                = "reject"
	defaultCompressionMinBytes   = ByteSize(128)
	defaultMaxMessageBytes       = ByteSize(128 << 10)
	defaultIdleTimeout           = Duration(10 * time.Minute)
	defaultMaxConnectionDuration = Duration(2 * time.Hour)
	defaultPingInterval          = Duration(30 * time.Second)
	defaultPongTimeout           = Duration(20 * time.Second)
	defaultOutboundQueueBytes    = ByteSize(1 << 20)
	defaultWriteTimeout          = Duration(10 * time.Second)
	defaultInboundQueueMessages  = 64

	defaultMaxChannelsPerConnection = 128
	defaultMaxChannelNameBytes      = 255
	defaultNamespacePattern         = "*"
	defaultSubscribeRule            = "allow"
	defaultPublishRule              = "subscribers"
	defaultHistoryTTL               = Duration(5 * time.Minute)
	defaultHistoryMetaTTL           = Duration(24 * time.Hour)

	defaultIntegrationTimeout   = Duration(29 * time.Second)
	defaultMaxConcurrency       = 256 // http and lambda
	defaultFunctionConcurrency  = 4   // function: one worker process per call
	defaultFunctionMemory       = 128 // MB, as on AWS
	defaultFunctionIdleTimeout  = Duration(5 * time.Minute)
	defaultFunctionNameFallback = "function"
	defaultFunctionCredentials  = "generated" // function.credentials

	defaultDisconnectAttempts = 3
	defaultDisconnectBackoff  = Duration(200 * time.Millisecond)

	defaultJWKSRefresh       = Duration(time.Hour)
	defaultJWKSAlgorithm     = "RS256"
	defaultJWTQuery          = "token"
	defaultJWTHeader         = "Authorization"
	defaultSubprotocolPrefix = "bearer."
	defaultJWTLeeway         = Duration(30 * time.Second)
	defaultUserClaim         = "sub"

	defaultClusterLease        = Duration(10 * time.Second)
	defaultRedisKeyPrefix      = "switchboard:"
	defaultRedisDialTimeout    = Duration(5 * time.Second)
	defaultRedisCommandTimeout = Duration(2 * time.Second)

	// Pusher apps: hosted Pusher's values.
	defaultPusherActivityTimeout       = Duration(120 * time.Second)
	defaultPusherCacheTTL              = Duration(30 * time.Minute)
	defaultPusherPresenceMembers       = 100
	defaultPusherPresenceMemberBytes   = ByteSize(1 << 10)
	defaultPusherEventBytes            = ByteSize(10 << 10)
	defaultPusherClientEventsPerSecond = 10
	defaultPusherChannelsPerEvent      = 100
	defaultPusherBatchEvents           = 10
	defaultPusherChannelNameBytes      = 200
	defaultPusherWebhookBatchWindow    = Duration(50 * time.Millisecond)
	defaultPusherWebhookRetryFor       = Duration(5 * time.Minute)
	defaultPusherWebhookTimeout        = Duration(10 * time.Second)
)

// ApplyDefaults fills every zero field of c with its documented default.
// Fields set to a non-zero value, valid or not, are left for Validate to
// judge. DomainName stays empty: its default (the client's Host header) is
// only known per connection. It is idempotent.
func (c *Config) ApplyDefaults() {
	setDefault(&c.Listen, defaultListen)
	setDefault(&c.Log.Level, defaultLogLevel)
	setDefault(&c.Log.Format, defaultLogFormat)
	setDefault(&c.Shutdown.DrainWindow, defaultDrainWindow)
	setDefault(&c.Shutdown.Timeout, defaultShutdown)
	if c.Shutdown.ReadinessDelay == nil {
		d := defaultReadinessDelay
		c.Shutdown.ReadinessDelay = &d
	}
	setDefault(&c.Transport.Driver, "auto")
	if c.TLS != nil {
		setDefault(&c.TLS.ReloadInterval, defaultTLSReloadInterval)
	}
	setDefault(&c.HTTP.ReadHeaderTimeout, defaultReadHeaderTimeout)
	setDefault(&c.HTTP.MaxHeaderBytes, defaultMaxHeaderBytes)
	if c.Cluster != nil {
		c.Cluster.applyDefaults()
	}
	if c.Admin.Enabled {
		c.Admin.applyDefaults()
	}
	// Management.AllowLoopback has no default: nil means false (see
	// LoopbackAllowed), so development mode is on only where a
	// configuration says so.
	for i := range c.APIs {
		c.APIs[i].applyDefaults()
	}
	for i := range c.Pusher.Apps {
		c.Pusher.Apps[i].applyDefaults()
	}
	c.applyPusherNamespaces()
}

// applyDefaults fills a Pusher app's defaults. A webhook's batchWindow only
// gets one with batching: without it the field must stay unset, and
// Validate reports it if it is not.
func (a *PusherApp) applyDefaults() {
	setDefault(&a.ActivityTimeout, defaultPusherActivityTimeout)
	setDefault(&a.CacheTTL, defaultPusherCacheTTL)
	if a.UserAuthentication == nil {
		enabled := true
		a.UserAuthentication = &enabled
	}
	l := &a.Limits
	setDefault(&l.PresenceMembers, defaultPusherPresenceMembers)
	setDefault(&l.PresenceMemberBytes, defaultPusherPresenceMemberBytes)
	setDefault(&l.EventBytes, defaultPusherEventBytes)
	setDefault(&l.ClientEventsPerSecond, defaultPusherClientEventsPerSecond)
	setDefault(&l.ChannelsPerEvent, defaultPusherChannelsPerEvent)
	setDefault(&l.BatchEvents, defaultPusherBatchEvents)
	setDefault(&l.ChannelNameBytes, defaultPusherChannelNameBytes)
	for i := range a.Webhooks {
		w := &a.Webhooks[i]
		if len(w.Events) == 0 {
			w.Events = defaultPusherWebhookEvents(a)
		}
		if w.Batching {
			setDefault(&w.BatchWindow, defaultPusherWebhookBatchWindow)
		}
		setDefault(&w.RetryFor, defaultPusherWebhookRetryFor)
		setDefault(&w.Timeout, defaultPusherWebhookTimeout)
	}
}

func (a *API) applyDefaults() {
	setDefault(&a.Binary, defaultBinary)
	if a.Compression.Enabled {
		setDefault(&a.Compression.MinBytes, defaultCompressionMinBytes)
	}

	l := &a.Limits
	setDefault(&l.MaxMessageBytes, defaultMaxMessageBytes)
	setDefault(&l.MaxFrameBytes, l.MaxMessageBytes)
	setDefault(&l.IdleTimeout, defaultIdleTimeout)
	setDefault(&l.MaxConnectionDuration, defaultMaxConnectionDuration)
	setDefault(&l.PingInterval, defaultPingInterval)
	setDefault(&l.PongTimeout, defaultPongTimeout)
	setDefault(&l.OutboundQueueBytes, defaultOutboundQueueBytes)
	setDefault(&l.WriteTimeout, defaultWriteTimeout)
	setDefault(&l.InboundQueueMessages, defaultInboundQueueMessages)
	// A burst defaults to its rate; without a rate it stays unset, and
	// Validate reports it if it is not.
	setDefault(&l.ConnectionBurst, l.ConnectionsPerSecond)
	setDefault(&l.MessageBurst, l.MessagesPerSecond)

	if a.Auth.JWT != nil {
		a.Auth.JWT.applyDefaults()
	}
	a.Channels.applyDefaults()

	for name, in := range a.Integrations {
		in.applyDefaults(name)
		a.Integrations[name] = in
	}

	setDefault(&a.Disconnect.Attempts, defaultDisconnectAttempts)
	setDefault(&a.Disconnect.Backoff, defaultDisconnectBackoff)
}

// applyDefaults fills the defaults of the integration called name. The
// fields of Function only get defaults for type function: for another type
// they must stay unset, and Validate reports them if they are not.
func (in *Integration) applyDefaults(name string) {
	setDefault(&in.Timeout, defaultIntegrationTimeout)
	if in.Type != "function" {
		setDefault(&in.MaxConcurrency, defaultMaxConcurrency)
		setDefault(&in.MaxWaiting, in.MaxConcurrency)
		return
	}
	setDefault(&in.MaxConcurrency, defaultFunctionConcurrency)
	setDefault(&in.MaxWaiting, in.MaxConcurrency)
	f := &in.Function
	setDefault(&f.Name, defaultFunctionName(name))
	setDefault(&f.Memory, defaultFunctionMemory)
	setDefault(&f.IdleTimeout, defaultFunctionIdleTimeout)
	setDefault(&f.Credentials, defaultFunctionCredentials)
}

// defaultFunctionName derives AWS_LAMBDA_FUNCTION_NAME from an integration
// name: characters a Lambda function name cannot have (anything but
// letters, digits, '-' and '_') become '-', and the result is cut to 64
// characters. An empty integration name, which Validate reports, gives
// "function".
func defaultFunctionName(integration string) string {
	if integration == "" {
		return defaultFunctionNameFallback
	}
	s := strings.Map(func(r rune) rune {
		if isNameRune(r) {
			return r
		}
		return '-'
	}, integration)
	if len(s) > maxFunctionNameLen {
		s = s[:maxFunctionNameLen] // every rune is one byte now
	}
	return s
}

// applyDefaults fills the defaults of a jwt block. The JWKS fields only get
// defaults with a jwksUrl: without one they must stay unset, and Validate
// reports them if they are not.
func (j *JWT) applyDefaults() {
	if j.JWKSURL != "" {
		setDefault(&j.JWKSRefresh, defaultJWKSRefresh)
		if len(j.Algorithms) == 0 {
			j.Algorithms = []string{defaultJWKSAlgorithm}
		}
	}
	setDefault(&j.Query, defaultJWTQuery)
	setDefault(&j.Header, defaultJWTHeader)
	setDefault(&j.SubprotocolPrefix, defaultSubprotocolPrefix)
	setDefault(&j.Leeway, defaultJWTLeeway)
	setDefault(&j.UserClaim, defaultUserClaim)
}

func (c *Channels) applyDefaults() {
	setDefault(&c.MaxPerConnection, defaultMaxChannelsPerConnection)
	setDefault(&c.MaxNameBytes, defaultMaxChannelNameBytes)
	if len(c.Namespaces) == 0 {
		c.Namespaces = []Namespace{{Pattern: defaultNamespacePattern}}
	}
	for i := range c.Namespaces {
		c.Namespaces[i].applyDefaults()
	}
}

func (n *Namespace) applyDefaults() {
	setDefault(&n.Subscribe, defaultSubscribeRule)
	setDefault(&n.Publish, defaultPublishRule)
	if n.Presence == nil {
		presence := true
		n.Presence = &presence
	}
	// Without history the other history fields have no default: Validate
	// reports any of them that is set.
	h := &n.History
	if h.Size > 0 {
		setDefault(&h.TTL, defaultHistoryTTL)
		// A stream's epoch must outlive its publications: a long ttl
		// raises the default metaTTL with it (up to the largest valid
		// metaTTL, so that a ttl out of range is reported once).
		setDefault(&h.MetaTTL, max(defaultHistoryMetaTTL, min(h.TTL, maxHistoryTTL)))
		setDefault(&h.RecoveryLimit, h.Size)
	}
}

// applyDefaults fills the cluster section's defaults. NodeID stays empty:
// its default, the incarnation, is made anew at every process start.
func (c *Cluster) applyDefaults() {
	setDefault(&c.Lease, defaultClusterLease)
	// One third of the lease leaves two more tries before it lapses.
	setDefault(&c.LeaseRenewal, c.Lease/3)
	r := &c.Redis
	setDefault(&r.KeyPrefix, defaultRedisKeyPrefix)
	setDefault(&r.DialTimeout, defaultRedisDialTimeout)
	setDefault(&r.CommandTimeout, defaultRedisCommandTimeout)
	// The internal listener defaults to every interface on the advertised
	// port; without a valid advertise address Validate reports that one.
	if c.Internal.Listen == "" {
		if _, port, err := net.SplitHostPort(c.Internal.Advertise); err == nil && port != "" {
			c.Internal.Listen = ":" + port
		}
	}
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Readiness reports the effective ReadinessDelay: the default when unset.
func (s Shutdown) Readiness() time.Duration {
	if s.ReadinessDelay == nil {
		return defaultReadinessDelay.Std()
	}
	return s.ReadinessDelay.Std()
}

// LoopbackAllowed reports the effective AllowLoopback: development mode is
// on only when the configuration says so (the seed configuration does).
func (m Management) LoopbackAllowed() bool {
	return m.AllowLoopback != nil && *m.AllowLoopback
}

// clone returns a copy of c that ApplyDefaults can modify without touching
// c: the slices, maps and pointed-to blocks that ApplyDefaults writes to
// are copied; the rest is shared.
func (c *Config) clone() *Config {
	cp := *c
	if c.TLS != nil {
		t := *c.TLS
		cp.TLS = &t
	}
	if c.Cluster != nil {
		cl := *c.Cluster
		cl.Redis.Addresses = slices.Clone(cl.Redis.Addresses)
		cp.Cluster = &cl
	}
	cp.Pusher.Apps = slices.Clone(c.Pusher.Apps)
	for i := range cp.Pusher.Apps {
		cp.Pusher.Apps[i].Webhooks = slices.Clone(cp.Pusher.Apps[i].Webhooks)
	}
	cp.APIs = slices.Clone(c.APIs)
	for i := range cp.APIs {
		a := &cp.APIs[i]
		a.Integrations = maps.Clone(a.Integrations)
		a.Channels.Namespaces = slices.Clone(a.Channels.Namespaces)
		if a.Auth.JWT != nil {
			j := *a.Auth.JWT
			a.Auth.JWT = &j
		}
	}
	return &cp
}
