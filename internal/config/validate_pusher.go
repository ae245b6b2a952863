package config

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Bounds of a Pusher app.
const (
	// maxPusherAppIDDigits keeps an app id below 2^53, so that the SDKs
	// that read it as a JavaScript number (Pusher.forURL) read it exactly.
	maxPusherAppIDDigits       = 15
	maxPusherKeyLen            = 64
	minPusherSecretLen         = minAPIKeyLen
	minPusherActivityTimeout   = time.Second
	maxPusherActivityTimeout   = time.Hour
	minPusherCacheTTL          = time.Second
	maxPusherCacheTTL          = 24 * time.Hour
	maxPusherPresenceMembers   = 10000
	maxPusherPresenceMember    = ByteSize(64 << 10)
	maxPusherPerEventOrSecond  = 1000 // clientEventsPerSecond, channelsPerEvent, batchEvents
	minPusherWebhookBatch      = time.Millisecond
	maxPusherWebhookBatch      = 10 * time.Second
	minPusherWebhookRetryFor   = time.Second
	maxPusherWebhookRetryFor   = time.Hour
	minPusherWebhookTimeout    = 100 * time.Millisecond
	maxPusherWebhookTimeout    = time.Minute
	pusherEnvelopeBytes        = 64 // the JSON of an event around its name, channel and data
	pusherPresenceMemberFixed  = PusherMaxUserIDBytes
	pusherStringEncodingFactor = 2 // a JSON value written as a JSON string grows up to about twice
)

// pusherStages are the first path segments the Pusher endpoints take on
// the listener: /app/{key} for clients and /apps/{id}/... for the HTTP API.
// Neither can move: the Node server SDK cannot add a path prefix.
var pusherStages = []string{"app", "apps"}

// pusherReservedHeaders are set on every webhook request by Switchboard or
// by HTTP itself, so a webhook's headers may not set them.
var pusherReservedHeaders = []string{"Content-Type", "Content-Length", "Host", "Transfer-Encoding", "X-Pusher-Key", "X-Pusher-Signature"}

// pusher checks pusher.apps against the APIs they map to.
func (v *validator) pusher(c *Config) {
	apps := c.Pusher.Apps
	if len(apps) == 0 {
		return
	}
	for i, a := range c.APIs {
		if slices.Contains(pusherStages, a.Stage) {
			v.add(joinIndex("apis", i)+".stage", "%q is taken by the Pusher endpoints while pusher.apps is configured (/app/{key} for clients, /apps/{id}/... for the HTTP API, paths the Pusher SDKs cannot move); choose another stage", a.Stage)
		}
	}
	ids := map[string]int{}
	keys := map[string]int{}
	secrets := map[string]int{}
	usedAPIs := map[string]int{}
	for i := range apps {
		a := &apps[i]
		f := joinIndex("pusher.apps", i)
		if v.pusherAppID(f+".id", a.ID) {
			if first, ok := ids[a.ID]; ok {
				v.add(f+".id", "%q is already the id of pusher.apps[%d]; give each app its own id", a.ID, first)
			} else {
				ids[a.ID] = i
			}
		}
		if v.name(f+".key", a.Key, maxPusherKeyLen, "the public key clients connect with (/app/{key}), e.g. key: app-key") {
			if first, ok := keys[a.Key]; ok {
				v.add(f+".key", "%q is already the key of pusher.apps[%d]; give each app its own key", a.Key, first)
			} else {
				keys[a.Key] = i
			}
		}
		v.pusherSecret(f+".secret", a, apps, secrets, i)

		api := v.pusherAPI(f+".api", a.API, c.APIs)
		if api >= 0 {
			if first, ok := usedAPIs[a.API]; ok {
				v.add(f+".api", "%q is already the API of pusher.apps[%d], and an app's channels are its API's channels, so the two apps would share every channel; give each app its own API", a.API, first)
			} else {
				usedAPIs[a.API] = i
			}
		}
		v.pusherApp(f, a, api, c.APIs)
	}
}

// pusherAppID checks an app id and reports whether it is well formed.
func (v *validator) pusherAppID(field, id string) bool {
	switch {
	case id == "":
		v.add(field, `is required; set the numeric app id your server SDKs are given (appId), e.g. id: "123"`)
	case strings.IndexFunc(id, func(r rune) bool { return r < '0' || r > '9' }) >= 0:
		v.add(field, `%q is not a numeric app id; use digits only, such as "123": the Pusher SDKs read the id as a number (Pusher.forURL parses it with parseInt)`, id)
	case strings.TrimLeft(id, "0") == "":
		v.add(field, `%q is not a valid app id; use a positive number such as "123"`, id)
	case id[0] == '0':
		v.add(field, "%q starts with 0, which the Pusher SDKs drop when they read the id as a number (Pusher.forURL would call /apps/%s); write it without leading zeros", id, strings.TrimLeft(id, "0"))
	case len(id) > maxPusherAppIDDigits:
		v.add(field, "has %d digits; use at most %d, so that the SDKs that read it as a JavaScript number read it exactly", len(id), maxPusherAppIDDigits)
	default:
		return true
	}
	return false
}

// pusherSecret checks app i's secret; secrets maps the secrets seen so far
// to their app. No message shows a secret.
func (v *validator) pusherSecret(field string, a *PusherApp, apps []PusherApp, secrets map[string]int, i int) {
	const make_ = "such as the output of `openssl rand -hex 20`"
	switch s := a.Secret; {
	case s == "":
		v.add(field, "is required; read it from the environment with ${NAME} (the secret your server SDKs sign with; make one with `openssl rand -hex 20`)")
	case hasSpaceOrControl(s):
		v.add(field, "contains spaces or control characters; use a random string %s", make_)
	case len(s) < minPusherSecretLen:
		v.add(field, "is %d characters; use at least %d, %s (read it from the environment with ${NAME})", len(s), minPusherSecretLen, make_)
	case s == a.Key:
		v.add(field, "is the app's key, which is public (clients send it in the URL); use a random secret %s", make_)
	default:
		if first, ok := secrets[s]; ok {
			v.add(field, "is the same secret as pusher.apps[%d] (id %q); give each app its own secret", first, apps[first].ID)
			return
		}
		secrets[s] = i
	}
}

// pusherAPI checks an app's api and returns the index of its API, or -1.
func (v *validator) pusherAPI(field, id string, apis []API) int {
	if id == "" {
		v.add(field, "is required; name the API (apis[].id) whose channels this app's channels are, e.g. api: chat")
		return -1
	}
	var found []int
	var known []string
	for i, a := range apis {
		if a.ID == id {
			found = append(found, i)
		}
		if a.ID != "" && !slices.Contains(known, a.ID) {
			known = append(known, a.ID)
		}
	}
	switch {
	case len(found) == 1:
		return found[0]
	case len(found) > 1:
		v.add(field, "%q is the id of apis[%d] and apis[%d]; an app needs exactly one API: give one of them another id", id, found[0], found[1])
	case len(known) == 0:
		v.add(field, "%q is not the id of any API: the configuration has none; add the API under apis", id)
	default:
		hint := ""
		if s := suggest(id, known); s != "" {
			hint = " (did you mean " + quote(s) + "?)"
		}
		v.add(field, "%q is not the id of any API%s; the API ids are %s", id, hint, quotedList(known))
	}
	return -1
}

// pusherApp checks an app's settings, its limits against those of its API
// (apis[api], or none when api is -1), and its webhooks.
func (v *validator) pusherApp(path string, a *PusherApp, api int, apis []API) {
	v.duration(path+".activityTimeout", a.ActivityTimeout, minPusherActivityTimeout, maxPusherActivityTimeout)
	switch d := a.ActivityTimeout.Std(); {
	case d < minPusherActivityTimeout || d > maxPusherActivityTimeout:
	case d%time.Second != 0:
		v.add(path+".activityTimeout", "%s is not a whole number of seconds, which is how pusher:connection_established sends it; write whole seconds such as 120s", fmtDuration(a.ActivityTimeout))
	case api >= 0 && apis[api].Limits.IdleTimeout > 0 && a.ActivityTimeout >= apis[api].Limits.IdleTimeout:
		v.add(path+".activityTimeout", "%s is not shorter than apis[%d].limits.idleTimeout (%s): an idle client pings only every activityTimeout, so the API would close it first; shorten activityTimeout or raise idleTimeout",
			fmtDuration(a.ActivityTimeout), api, fmtDuration(apis[api].Limits.IdleTimeout))
	}
	v.duration(path+".cacheTTL", a.CacheTTL, minPusherCacheTTL, maxPusherCacheTTL)
	v.pusherLimits(path+".limits", &a.Limits, api, apis)

	urls := map[string]int{}
	for i := range a.Webhooks {
		w := &a.Webhooks[i]
		f := joinIndex(path+".webhooks", i)
		if v.webhookURL(f+".url", w.URL) {
			if first, ok := urls[w.URL]; ok {
				v.add(f+".url", "is already the url of %s; list each URL once and merge their events", joinIndex(path+".webhooks", first))
			} else {
				urls[w.URL] = i
			}
		}
		v.pusherWebhook(f, w, a)
	}
}

// pusherLimits checks an app's limits, and sizes them against the limits
// of its API (apis[api]) when api is not -1.
func (v *validator) pusherLimits(path string, l *PusherLimits, api int, apis []API) {
	v.intRange(path+".connections", l.Connections, 0, maxConnectionLimit)
	membersOK := l.PresenceMembers >= 1 && l.PresenceMembers <= maxPusherPresenceMembers
	v.intRange(path+".presenceMembers", l.PresenceMembers, 1, maxPusherPresenceMembers)
	memberOK := l.PresenceMemberBytes >= 1 && l.PresenceMemberBytes <= maxPusherPresenceMember
	if !memberOK {
		v.add(path+".presenceMemberBytes", "%s is out of range; use a size from 1 to %s (hosted Pusher allows 1KiB)", l.PresenceMemberBytes, maxPusherPresenceMember)
	}
	eventOK := l.EventBytes >= 1 && l.EventBytes <= maxMessageLimit
	if !eventOK {
		v.add(path+".eventBytes", "%s is out of range; use a size from 1 to %s (hosted Pusher allows 10KiB)", l.EventBytes, maxMessageLimit)
	}
	v.intRange(path+".clientEventsPerSecond", l.ClientEventsPerSecond, 1, maxPusherPerEventOrSecond)
	v.intRange(path+".channelsPerEvent", l.ChannelsPerEvent, 1, maxPusherPerEventOrSecond)
	v.intRange(path+".batchEvents", l.BatchEvents, 1, maxPusherPerEventOrSecond)
	nameOK := l.ChannelNameBytes >= 1 && l.ChannelNameBytes <= maxChannelNameLimit
	v.intRange(path+".channelNameBytes", l.ChannelNameBytes, 1, maxChannelNameLimit)
	if api < 0 {
		return
	}

	// A Pusher app's channels are its API's channels, and its events go
	// out (and client events come in) as frames of its API's connections.
	al, ch := &apis[api].Limits, &apis[api].Channels
	apiPath := joinIndex("apis", api)
	if nameOK && ch.MaxNameBytes >= 1 && l.ChannelNameBytes > ch.MaxNameBytes {
		v.add(path+".channelNameBytes", "%d is more than %s.channels.maxNameBytes (%d), the longest channel name that API accepts, and an app's channels are its API's channels; lower it or raise maxNameBytes",
			l.ChannelNameBytes, apiPath, ch.MaxNameBytes)
	}
	if eventOK && nameOK && al.MaxFrameBytes >= 1 && al.MaxFrameBytes <= maxMessageLimit {
		envelope := ByteSize(PusherMaxEventNameBytes + l.ChannelNameBytes + pusherEnvelopeBytes)
		if l.EventBytes+envelope > al.MaxFrameBytes {
			v.add(path+".eventBytes", "%s with the envelope of one event (%d bytes: an event name of up to %d bytes, a channel name of up to channelNameBytes and the JSON around them) is more than %s.limits.maxFrameBytes (%s), so a client event of that size would close its connection; lower eventBytes to at most %d or raise maxFrameBytes",
				l.EventBytes, int64(envelope), PusherMaxEventNameBytes, apiPath, al.MaxFrameBytes, int64(al.MaxFrameBytes-envelope))
		}
	}
	if membersOK && memberOK && al.OutboundQueueBytes >= 1 {
		need := ByteSize(pusherStringEncodingFactor*l.PresenceMembers) * (l.PresenceMemberBytes + pusherPresenceMemberFixed)
		if need > al.OutboundQueueBytes {
			v.add(path+".presenceMembers", "%d members of up to %s each do not fit %s.limits.outboundQueueBytes (%s): the pusher_internal:subscription_succeeded of a full channel lists every member's id (up to %d bytes) and user_info, string-encoded (up to twice the size), %d bytes in all; lower presenceMembers or presenceMemberBytes, or raise outboundQueueBytes to at least %d",
				l.PresenceMembers, l.PresenceMemberBytes, apiPath, al.OutboundQueueBytes, PusherMaxUserIDBytes, int64(need), int64(need))
		}
	}
}

// webhookURL checks a webhook's url and reports whether it is well formed.
func (v *validator) webhookURL(field, s string) bool {
	const example = "e.g. https://example.com/pusher/webhook"
	if s == "" {
		v.add(field, "is required; set the http or https URL that receives the app's webhooks, %s", example)
		return false
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		v.add(field, "%q is not a URL (%v); write an absolute http or https URL, %s", s, unwrapURLError(err), example)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(field, "%q is not an http or https URL; write an absolute URL with its scheme, %s", s, example)
	case u.Host == "" || u.Hostname() == "":
		v.add(field, "%q has no host; write an absolute URL, %s", s, example)
	default:
		return true
	}
	return false
}

// pusherWebhook checks a webhook's events, timing and headers; app is the
// app it belongs to, whose features decide which events it can send.
func (v *validator) pusherWebhook(path string, w *PusherWebhook, app *PusherApp) {
	for j, e := range w.Events {
		f := joinIndex(path+".events", j)
		switch {
		case !slices.Contains(pusherWebhookEvents, e):
			msg := fmt.Sprintf("%q is not a webhook event; use %s", e, orList(pusherWebhookEvents))
			if s := suggest(e, pusherWebhookEvents); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			v.add(f, "%s", msg)
		case slices.Index(w.Events[:j], e) >= 0:
			v.add(f, "%q is listed twice; list each event once", e)
		case e == PusherWebhookClientEvent && !app.ClientEvents:
			v.add(f, "is never sent: the app does not accept client events; set clientEvents: true, or remove %s", e)
		case e == PusherWebhookSubscriptionCount && !app.SubscriptionCount:
			v.add(f, "is never sent: the app does not count subscriptions; set subscriptionCount: true, or remove %s", e)
		}
	}
	switch {
	case !w.Batching && w.BatchWindow != 0:
		v.add(path+".batchWindow", "has no effect without batching; set batching: true, or remove batchWindow")
	case w.Batching:
		v.duration(path+".batchWindow", w.BatchWindow, minPusherWebhookBatch, maxPusherWebhookBatch)
	}
	v.duration(path+".retryFor", w.RetryFor, minPusherWebhookRetryFor, maxPusherWebhookRetryFor)
	v.duration(path+".timeout", w.Timeout, minPusherWebhookTimeout, maxPusherWebhookTimeout)
	for _, h := range slices.Sorted(maps.Keys(w.Headers)) {
		f := joinKey(path+".headers", h)
		switch {
		case !validHeaderName(h):
			v.add(f, "%q is not a valid HTTP header name; use letters, digits and - (e.g. Authorization)", h)
		case slices.Contains(pusherReservedHeaders, http.CanonicalHeaderKey(h)):
			v.add(f, "is set by Switchboard on every webhook request (%s); remove it", strings.Join(pusherReservedHeaders, ", "))
		case strings.ContainsAny(w.Headers[h], "\r\n\x00"):
			v.add(f, "the value contains a line break or NUL, which an HTTP header cannot; remove it")
		}
	}
}
