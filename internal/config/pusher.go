package config

import (
	"slices"
	"time"
)

// Pusher configures the Pusher Channels front-end: pusher-js clients at
// /app/{key} and the Pusher HTTP API at /apps/{id}/... on the listener,
// for each app (docs/configuration.md, "Pusher apps"). A Pusher app is not
// a second server: its channels are the hub channels of one API, so a
// publication from any protocol reaches its clients. Without apps the
// Pusher endpoints are not served.
type Pusher struct {
	// Apps are the Pusher apps this process serves. Default: none.
	Apps []PusherApp `yaml:"apps"`
}

// PusherApp is one Pusher app: the credentials the Pusher SDKs are given
// (appId, key, secret), the API whose channels it serves, its features and
// its limits.
type PusherApp struct {
	// ID is the app id the server SDKs call /apps/{id}/... with: 1 to 15
	// digits without a leading zero (Pusher.forURL reads it with
	// parseInt, so "0123" would become 123). Unique. Required.
	ID string `yaml:"id"`
	// Key is the public app key clients connect with (/app/{key}) and that
	// prefixes every auth signature ("key:signature"): letters, digits, '-'
	// and '_', at most 64 characters. Unique. Required.
	Key string `yaml:"key"`
	// Secret signs channel authorizations, user sign-ins, HTTP API
	// requests and webhooks (HMAC-SHA256): at least 16 characters, no
	// spaces, not the key, not another app's secret. Use ${ENV_VAR}; it is
	// never logged or printed. Required.
	Secret string `yaml:"secret"`
	// API is the id of the API (apis[].id) whose hub channels this app's
	// channels are. Exactly one API has that id, and no other app uses it
	// (two apps on one API would share every channel). Required.
	API string `yaml:"api"`
	// ActivityTimeout is sent in pusher:connection_established (in whole
	// seconds): a client pings after this long without hearing from the
	// server. Default 120s, as hosted Pusher; 1s to 1h, whole seconds,
	// shorter than the API's limits.idleTimeout. Read it with
	// ActivityTimeoutSeconds.
	ActivityTimeout Duration `yaml:"activityTimeout"`
	// ClientEvents accepts client-* events from clients on private and
	// presence channels. Default false, as on Pusher and soketi.
	ClientEvents bool `yaml:"clientEvents"`
	// UserAuthentication accepts pusher:signin (and with it the
	// #server-to-user-{id} channel and terminate_connections). Default
	// true, as hosted Pusher, which always accepts it: a sign-in is only
	// accepted with the app's signature, so it opens nothing the app's
	// server did not sign. false answers pusher:signin with an error. Read
	// it with UserAuthenticationEnabled.
	UserAuthentication *bool `yaml:"userAuthentication"`
	// SubscriptionCount sends pusher_internal:subscription_count to the
	// subscribers of non-presence channels when their count changes, and
	// allows the subscription_count webhook. Default false (opt-in, as on
	// Pusher).
	SubscriptionCount bool `yaml:"subscriptionCount"`
	// Limits bound what the app's clients and HTTP API callers may do.
	Limits PusherLimits `yaml:"limits"`
	// Webhooks receive the app's events (channel_occupied, ...). Default:
	// none.
	Webhooks []PusherWebhook `yaml:"webhooks"`
	// CacheTTL is how long a cache channel (cache-, private-cache-, ...)
	// keeps its last event. Default 30m, Pusher's longest; 1s to 24h.
	CacheTTL Duration `yaml:"cacheTTL"`
}

// PusherLimits bound one Pusher app. Defaults equal hosted Pusher's.
type PusherLimits struct {
	// Connections bounds the app's open connections on this node (in a
	// cluster each node counts its own, as for apis[].limits); past it a
	// new connection is closed with 4004. Default 0: no bound. 0 to
	// 10000000.
	Connections int `yaml:"connections"`
	// PresenceMembers is the most distinct users in one presence channel;
	// a subscribe past it is refused. Default 100; 1 to 10000.
	PresenceMembers int `yaml:"presenceMembers"`
	// PresenceMemberBytes bounds a member's user_info, as JSON. Default
	// 1KiB (hosted Pusher: 1 KB); 1 byte to 64KiB.
	PresenceMemberBytes ByteSize `yaml:"presenceMemberBytes"`
	// EventBytes bounds the data of one event: an HTTP API event's data
	// string and a client event's data. Default 10KiB (hosted Pusher: 10
	// KB); 1 byte to 16MiB, and one event with its envelope must fit the
	// API's limits.maxFrameBytes.
	EventBytes ByteSize `yaml:"eventBytes"`
	// ClientEventsPerSecond bounds the client events of one connection;
	// past it an event is refused with error 4301 and the connection stays
	// open. Default 10; 1 to 1000.
	ClientEventsPerSecond int `yaml:"clientEventsPerSecond"`
	// ChannelsPerEvent bounds the channels of one HTTP API event. Default
	// 100; 1 to 1000.
	ChannelsPerEvent int `yaml:"channelsPerEvent"`
	// BatchEvents bounds the events of one batch_events call. Default 10;
	// 1 to 1000.
	BatchEvents int `yaml:"batchEvents"`
	// ChannelNameBytes bounds a channel name, prefix included. Default 200
	// (what the SDKs accept); 1 to the API's channels.maxNameBytes.
	ChannelNameBytes int `yaml:"channelNameBytes"`
}

// PusherWebhook is one endpoint that receives an app's webhooks: POSTs of
// {"time_ms":...,"events":[...]} signed with the app's secret
// (X-Pusher-Key, X-Pusher-Signature).
type PusherWebhook struct {
	// URL is the absolute http or https URL the webhooks are POSTed to.
	// Each URL once per app. Required.
	URL string `yaml:"url"`
	// Events are the webhook events sent to URL: channel_occupied,
	// channel_vacated, member_added, member_removed, client_event (only
	// with clientEvents), cache_miss and subscription_count (only with
	// subscriptionCount). Default (also for an empty list): every one
	// the app's features produce, filled in by ApplyDefaults. Read it
	// with Sends.
	Events []string `yaml:"events"`
	// Batching sends the events of BatchWindow in one request; without it
	// each request carries exactly one event, as on Pusher. Default false.
	Batching bool `yaml:"batching"`
	// BatchWindow is how long events are gathered into one request. Only
	// with Batching. Default 50ms; 1ms to 10s.
	BatchWindow Duration `yaml:"batchWindow"`
	// RetryFor is how long a request that failed (no 2xx answer) is
	// retried, with backoff; after it the events are dropped, counted and
	// logged. Default 5m, as on Pusher; 1s to 1h.
	RetryFor Duration `yaml:"retryFor"`
	// Timeout bounds one attempt. Default 10s; 100ms to 1m.
	Timeout Duration `yaml:"timeout"`
	// Headers are added to every request (for example a token the
	// receiver checks). Not Content-Type, Content-Length, Host,
	// Transfer-Encoding, X-Pusher-Key or X-Pusher-Signature, which
	// Switchboard sets.
	Headers map[string]string `yaml:"headers"`
}

// The webhook events of Pusher, in the order the documentation lists them.
const (
	PusherWebhookChannelOccupied   = "channel_occupied"
	PusherWebhookChannelVacated    = "channel_vacated"
	PusherWebhookMemberAdded       = "member_added"
	PusherWebhookMemberRemoved     = "member_removed"
	PusherWebhookClientEvent       = "client_event"
	PusherWebhookCacheMiss         = "cache_miss"
	PusherWebhookSubscriptionCount = "subscription_count"
)

// pusherWebhookEvents lists every webhook event a PusherWebhook may name.
var pusherWebhookEvents = []string{
	PusherWebhookChannelOccupied, PusherWebhookChannelVacated,
	PusherWebhookMemberAdded, PusherWebhookMemberRemoved,
	PusherWebhookClientEvent, PusherWebhookCacheMiss,
	PusherWebhookSubscriptionCount,
}

// Fixed limits of the Pusher protocol that the front-end enforces and
// Validate sizes the configurable limits against.
const (
	// PusherMaxEventNameBytes bounds an event name (the Pusher SDKs refuse
	// longer ones).
	PusherMaxEventNameBytes = 200
	// PusherMaxUserIDBytes bounds a user id (presence user_id, sign-in
	// id), as on hosted Pusher.
	PusherMaxUserIDBytes = 128
)

// UserAuthenticationEnabled reports the effective UserAuthentication: true
// unless it was set to false.
func (a *PusherApp) UserAuthenticationEnabled() bool {
	return a.UserAuthentication == nil || *a.UserAuthentication
}

// ActivityTimeoutSeconds is ActivityTimeout in whole seconds, as
// pusher:connection_established sends it (the default when unset).
func (a *PusherApp) ActivityTimeoutSeconds() int {
	d := a.ActivityTimeout
	if d == 0 {
		d = defaultPusherActivityTimeout
	}
	return int(d.Std() / time.Second)
}

// Sends reports whether the webhook receives event (one of the
// PusherWebhook* names). ApplyDefaults (which Load and Default run) fills
// an empty Events with its default.
func (w *PusherWebhook) Sends(event string) bool {
	return slices.Contains(w.Events, event)
}

// AppByKey returns the app whose key is key, or nil.
func (p *Pusher) AppByKey(key string) *PusherApp {
	for i := range p.Apps {
		if p.Apps[i].Key == key {
			return &p.Apps[i]
		}
	}
	return nil
}

// AppByID returns the app whose id is id, or nil.
func (p *Pusher) AppByID(id string) *PusherApp {
	for i := range p.Apps {
		if p.Apps[i].ID == id {
			return &p.Apps[i]
		}
	}
	return nil
}

// PusherAPI returns the index in c.APIs of the API that app maps to, or
// -1. In a valid configuration exactly one API has the app's api id.
func (c *Config) PusherAPI(app *PusherApp) int {
	return slices.IndexFunc(c.APIs, func(a API) bool { return a.ID == app.API })
}

// defaultPusherWebhookEvents is every webhook event that app's features
// produce: all of them but client_event without clientEvents and
// subscription_count without subscriptionCount.
func defaultPusherWebhookEvents(app *PusherApp) []string {
	var events []string
	for _, e := range pusherWebhookEvents {
		if e == PusherWebhookClientEvent && !app.ClientEvents || e == PusherWebhookSubscriptionCount && !app.SubscriptionCount {
			continue
		}
		events = append(events, e)
	}
	return events
}

// pusherNamespaces are the channel namespaces a Pusher app adds to its API
// (ApplyDefaults), most specific first so that they match before the
// API's own (first match wins). Private, presence and server-to-user
// channels are the Pusher front-end's to admit, with the app's
// signatures: switchboard.v1 clients and route actions may neither
// subscribe to them nor publish to them (the management API may). Cache
// channels keep their last publication for the app's cacheTTL. Presence
// channels send join and leave notices (Pusher's member_added and
// member_removed).
func pusherNamespaces(app *PusherApp) []Namespace {
	cache := History{Size: 1, TTL: app.CacheTTL}
	deny := func(pattern string, joinLeave bool, h History) Namespace {
		return Namespace{Pattern: pattern, Subscribe: "deny", Publish: "deny", JoinLeave: joinLeave, History: h}
	}
	return []Namespace{
		deny(PusherServerToUserPrefix+"*", false, History{}),
		deny("presence-cache-*", true, cache),
		deny("private-encrypted-cache-*", false, cache),
		deny("private-cache-*", false, cache),
		{Pattern: "cache-*", Subscribe: "allow", Publish: "deny", History: cache},
		deny("presence-*", true, History{}),
		deny("private-*", false, History{}),
	}
}

// PusherServerToUserPrefix starts the channel of a signed-in user's
// server-to-user events.
const PusherServerToUserPrefix = "#server-to-user-"

// applyPusherNamespaces puts each app's namespaces (pusherNamespaces) in
// front of its API's, once: a pattern the API already has is left as the
// API configures it.
func (c *Config) applyPusherNamespaces() {
	for i := range c.Pusher.Apps {
		app := &c.Pusher.Apps[i]
		api := c.PusherAPI(app)
		if api < 0 {
			continue // Validate reports it
		}
		ch := &c.APIs[api].Channels
		var add []Namespace
		for _, ns := range pusherNamespaces(app) {
			if !slices.ContainsFunc(ch.Namespaces, func(n Namespace) bool { return n.Pattern == ns.Pattern }) {
				ns.applyDefaults()
				add = append(add, ns)
			}
		}
		if len(add) > 0 {
			ch.Namespaces = append(add, ch.Namespaces...)
		}
	}
}
