package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/hub"
)

// The HTTP API's endpoints, as the metrics name them.
const (
	epEvents       = "events"
	epBatchEvents  = "batch_events"
	epChannels     = "channels"
	epChannel      = "channel"
	epChannelUsers = "channel_users"
	epTerminate    = "terminate_connections"
	epUnknown      = "unknown"
)

// apiError is an HTTP API failure: its status and the reason sent as the
// body (text/plain), as Pusher answers (reference §12.1).
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func apiErrorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// apiCall is one verified HTTP API request.
type apiCall struct {
	app    *app
	params url.Values // the decoded query (pusherproto.VerifyAPIRequest)
	body   []byte
	arg    string // the channel or user id of the path, unescaped
}

// serveAPI answers the Pusher HTTP API at /apps/{app_id}/... (reference
// §12). The order of the checks: the app (404), the body's size (413),
// the request's signature (401), then the endpoint and its method (404,
// 405) and its parameters (400, 413).
func (f *Frontend) serveAPI(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/apps/")
	id, sub, _ := strings.Cut(rest, "/")
	endpoint, method, arg := apiRoute(sub)
	a := f.apps.Load().byID[id]
	appLabel := "unknown" // an unknown id is not a label: callers choose it
	if a != nil {
		appLabel = a.cfg.ID
	}
	res, err := f.apiRequest(r, a, id, endpoint, method, arg)
	status := http.StatusOK
	var body []byte
	if err == nil {
		body, err = json.Marshal(res)
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			f.log.Warn("pusher HTTP API request failed", "app", appLabel, "endpoint", endpoint, "error", err.Error())
			ae = &apiError{status: http.StatusInternalServerError, msg: "internal error: " + err.Error()}
		}
		status, body = ae.status, []byte(ae.msg)
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", method)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	f.m.api.WithLabelValues(appLabel, endpoint, strconv.Itoa(status)).Inc()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// apiRoute names the endpoint of sub (the escaped path after
// /apps/{id}/), its method and its path argument, unescaped.
func apiRoute(sub string) (endpoint, method, arg string) {
	parts := strings.Split(sub, "/")
	unescape := func(s string) string {
		u, err := url.PathUnescape(s)
		if err != nil {
			return ""
		}
		return u
	}
	switch {
	case len(parts) == 1 && parts[0] == "events":
		return epEvents, http.MethodPost, ""
	case len(parts) == 1 && parts[0] == "batch_events":
		return epBatchEvents, http.MethodPost, ""
	case len(parts) == 1 && parts[0] == "channels":
		return epChannels, http.MethodGet, ""
	case len(parts) == 2 && parts[0] == "channels" && parts[1] != "":
		return epChannel, http.MethodGet, unescape(parts[1])
	case len(parts) == 3 && parts[0] == "channels" && parts[1] != "" && parts[2] == "users":
		return epChannelUsers, http.MethodGet, unescape(parts[1])
	case len(parts) == 3 && parts[0] == "users" && parts[1] != "" && parts[2] == "terminate_connections":
		return epTerminate, http.MethodPost, unescape(parts[1])
	}
	return epUnknown, "", ""
}

// apiRequest checks and serves one request; the result is marshalled as
// the JSON answer.
func (f *Frontend) apiRequest(r *http.Request, a *app, id, endpoint, method, arg string) (any, error) {
	if a == nil {
		return nil, apiErrorf(http.StatusNotFound, "Unknown app %q", id)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.maxBodyBytes()))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apiErrorf(http.StatusRequestEntityTooLarge, "Request body larger than %d bytes", tooBig.Limit)
		}
		return nil, apiErrorf(http.StatusBadRequest, "Reading the request body failed: %v", err)
	}
	params, err := pusherproto.VerifyAPIRequest(pusherproto.APIRequest{
		Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Body: body,
	}, a.cfg.Key, a.cfg.Secret, f.now(), pusherproto.DefaultMaxSkew)
	if err != nil {
		return nil, apiErrorf(http.StatusUnauthorized, "%s", err.Error())
	}
	if endpoint == epUnknown {
		return nil, apiErrorf(http.StatusNotFound, "Unknown endpoint %s %s", r.Method, r.URL.EscapedPath())
	}
	if r.Method != method {
		return nil, apiErrorf(http.StatusMethodNotAllowed, "%s answers %s only", endpoint, method)
	}
	call := apiCall{app: a, params: params, body: body, arg: arg}
	ctx := r.Context()
	switch endpoint {
	case epEvents:
		return f.apiEvents(ctx, call)
	case epBatchEvents:
		return f.apiBatchEvents(ctx, call)
	case epChannels:
		return f.apiChannels(ctx, call)
	case epChannel:
		return f.apiChannel(ctx, call)
	case epChannelUsers:
		return f.apiChannelUsers(ctx, call)
	default:
		return f.apiTerminate(ctx, call)
	}
}

// maxBodyBytes bounds an HTTP API request body: a batch of the app's
// batchEvents events, each with data of eventBytes fully JSON-escaped
// (\u00XX: 6 bytes a byte), an event name of the same, channelsPerEvent
// channel names and room for the other fields. Any valid request fits.
func (a *app) maxBodyBytes() int64 {
	l := a.cfg.Limits
	perEvent := 6*int64(l.EventBytes.Int()) + 6*pusherproto.MaxEventNameLen +
		int64(l.ChannelsPerEvent)*int64(l.ChannelNameBytes+3) + 1024
	return int64(max(l.BatchEvents, 1))*perEvent + 1024
}

// eventLimits are the bounds decodeEvents and decodeBatch check.
type eventLimits struct {
	eventBytes, channelsPerEvent, channelNameBytes, batchEvents int
}

func (a *app) eventLimits() eventLimits {
	l := a.cfg.Limits
	return eventLimits{eventBytes: l.EventBytes.Int(), channelsPerEvent: l.ChannelsPerEvent,
		channelNameBytes: l.ChannelNameBytes, batchEvents: l.BatchEvents}
}

// apiEvent is one checked event of POST events or batch_events.
type apiEvent struct {
	name     string
	data     []byte
	channels []string
	exclude  string // the connection id of socket_id, or ""
	info     infoAttrs
}

// infoAttrs are the attributes an info parameter asks for.
type infoAttrs struct {
	userCount, subscriptionCount, cache bool
}

func (i infoAttrs) any() bool { return i.userCount || i.subscriptionCount || i.cache }

// parseInfo reads an info parameter: attribute names joined by ','.
// allowCache admits "cache" (GET channels/{name} only).
func parseInfo(s string, allowCache bool) (infoAttrs, error) {
	var in infoAttrs
	if s == "" {
		return in, nil
	}
	for attr := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(attr) {
		case "user_count":
			in.userCount = true
		case "subscription_count":
			in.subscriptionCount = true
		case "cache":
			if !allowCache {
				return in, apiErrorf(http.StatusBadRequest, "info attribute %q is not available here", attr)
			}
			in.cache = true
		default:
			return in, apiErrorf(http.StatusBadRequest, "unknown info attribute %q: use user_count, subscription_count or cache", attr)
		}
	}
	return in, nil
}

// eventJSON is an event as the SDKs send it.
type eventJSON struct {
	Name     string   `json:"name"`
	Data     *string  `json:"data"`
	Channels []string `json:"channels"`
	Channel  string   `json:"channel"`
	SocketID string   `json:"socket_id"`
	Info     string   `json:"info"`
}

// decodeEvents decodes and checks the body of POST events (reference
// §12.3): one event on one or more channels.
func decodeEvents(body []byte, lim eventLimits) (apiEvent, error) {
	var ej eventJSON
	if err := json.Unmarshal(body, &ej); err != nil {
		return apiEvent{}, apiErrorf(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	return checkEvent(ej, lim, "")
}

// decodeBatch decodes and checks the body of POST batch_events: at most
// lim.batchEvents events, each on one channel.
func decodeBatch(body []byte, lim eventLimits) ([]apiEvent, error) {
	var bj struct {
		Batch *[]eventJSON `json:"batch"`
	}
	if err := json.Unmarshal(body, &bj); err != nil {
		return nil, apiErrorf(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	if bj.Batch == nil {
		return nil, apiErrorf(http.StatusBadRequest, `the body needs "batch": a list of events`)
	}
	batch := *bj.Batch
	if len(batch) > lim.batchEvents {
		return nil, apiErrorf(http.StatusBadRequest, "batch of %d events: at most %d are allowed", len(batch), lim.batchEvents)
	}
	out := make([]apiEvent, len(batch))
	for i, ej := range batch {
		if len(ej.Channels) > 0 {
			return nil, apiErrorf(http.StatusBadRequest, `batch[%d]: a batch event has one "channel", not "channels"`, i)
		}
		ev, err := checkEvent(ej, lim, fmt.Sprintf("batch[%d]: ", i))
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

// checkEvent applies the rules of one event; where prefixes the errors.
func checkEvent(ej eventJSON, lim eventLimits, where string) (apiEvent, error) {
	bad := func(format string, args ...any) (apiEvent, error) {
		return apiEvent{}, apiErrorf(http.StatusBadRequest, where+format, args...)
	}
	switch {
	case ej.Name == "":
		return bad(`"name" is required`)
	case len(ej.Name) > pusherproto.MaxEventNameLen:
		return bad("event name of %d bytes is over the limit of %d", len(ej.Name), pusherproto.MaxEventNameLen)
	case ej.Data == nil:
		return bad(`"data" is required: a string`)
	case len(*ej.Data) > lim.eventBytes:
		return apiEvent{}, apiErrorf(http.StatusRequestEntityTooLarge, "%sevent data of %d bytes is over the limit of %d bytes", where, len(*ej.Data), lim.eventBytes)
	}
	channels := ej.Channels
	switch {
	case len(channels) > 0 && ej.Channel != "":
		return bad(`give "channels" or "channel", not both`)
	case ej.Channel != "":
		channels = []string{ej.Channel}
	case len(channels) == 0:
		return bad(`"channels" (a list) or "channel" is required`)
	case len(channels) > lim.channelsPerEvent:
		return bad("%d channels: at most %d are allowed in one event", len(channels), lim.channelsPerEvent)
	}
	for _, name := range channels {
		ch, err := pusherproto.ParseChannel(name)
		if err != nil {
			return bad("%v", err)
		}
		if len(name) > lim.channelNameBytes {
			return bad("channel name %q is longer than %d bytes", name, lim.channelNameBytes)
		}
		if ch.Type == pusherproto.PrivateEncrypted && len(channels) > 1 {
			return bad("cannot trigger on several channels when one is encrypted (%s)", name)
		}
	}
	ev := apiEvent{name: ej.Name, data: []byte(*ej.Data), channels: channels}
	if ej.SocketID != "" {
		id, err := pusherproto.ConnectionID(ej.SocketID)
		if err != nil {
			return bad("%v", err)
		}
		ev.exclude = id
	}
	info, err := parseInfo(ej.Info, false)
	if err != nil {
		return bad("%v", err)
	}
	ev.info = info
	return ev, nil
}

// admitted checks that a namespace of the API admits every channel of
// the events, before any is published: a refused channel is a 400 that
// names it, and nothing was sent.
func (f *Frontend) admitted(a *app, events ...apiEvent) error {
	for _, ev := range events {
		for _, name := range ev.channels {
			if err := f.core.Admits(a.stage, name); err != nil {
				if errors.Is(err, hub.ErrNoNamespace) || errors.Is(err, hub.ErrInvalidChannel) {
					return apiErrorf(http.StatusBadRequest, "no channel namespace of the API admits channel %s", name)
				}
				return err
			}
		}
	}
	return nil
}

// publish sends ev on each of its channels, in order (admitted checked
// them).
func (f *Frontend) publish(ctx context.Context, a *app, ev apiEvent) error {
	for _, name := range ev.channels {
		_, err := f.core.PublishEvent(ctx, a.stage, name, hub.Event{Name: ev.name, Data: ev.data, Exclude: ev.exclude})
		switch {
		case errors.Is(err, gateway.ErrPayloadTooLarge):
			return apiErrorf(http.StatusRequestEntityTooLarge, "event data of %d bytes is over the API's message limit", len(ev.data))
		case err != nil:
			return fmt.Errorf("publish on %s: %w", name, err)
		}
	}
	return nil
}

// channelAttrs are a channel's attributes as the API reports them; nil
// pointers are left out.
type channelAttrs struct {
	Occupied          *bool       `json:"occupied,omitempty"`
	UserCount         *int        `json:"user_count,omitempty"`
	SubscriptionCount *int        `json:"subscription_count,omitempty"`
	Cache             *cacheAttrs `json:"cache,omitempty"`
}

// cacheAttrs are a cache channel's last event: its data and the seconds
// it is kept for still.
type cacheAttrs struct {
	Data string `json:"data"`
	TTL  int    `json:"ttl"`
}

// triggerAttrs are what info asks of one channel after a trigger: only
// the attributes that apply to its type (user_count on presence
// channels, subscription_count on the others).
func (f *Frontend) triggerAttrs(ctx context.Context, a *app, name string, info infoAttrs) (channelAttrs, error) {
	ch, _ := pusherproto.ParseChannel(name) // checked by checkEvent
	var at channelAttrs
	if info.userCount && ch.Type == pusherproto.Presence {
		users, err := f.presenceUsers(ctx, a, name)
		if err != nil {
			return at, err
		}
		at.UserCount = ptr(len(users))
	}
	if info.subscriptionCount && ch.Type != pusherproto.Presence {
		ci, err := f.core.Channel(ctx, a.stage, name, "", 1)
		if err != nil {
			return at, err
		}
		at.SubscriptionCount = ptr(ci.Members)
	}
	return at, nil
}

func ptr[T any](v T) *T { return &v }

// apiEvents serves POST /apps/{id}/events.
func (f *Frontend) apiEvents(ctx context.Context, c apiCall) (any, error) {
	ev, err := decodeEvents(c.body, c.app.eventLimits())
	if err != nil {
		return nil, err
	}
	if err := f.admitted(c.app, ev); err != nil {
		return nil, err
	}
	if err := f.publish(ctx, c.app, ev); err != nil {
		return nil, err
	}
	if !ev.info.any() {
		return struct{}{}, nil
	}
	out := map[string]channelAttrs{}
	for _, name := range ev.channels {
		at, err := f.triggerAttrs(ctx, c.app, name, ev.info)
		if err != nil {
			return nil, err
		}
		out[name] = at
	}
	return map[string]any{"channels": out}, nil
}

// apiBatchEvents serves POST /apps/{id}/batch_events.
func (f *Frontend) apiBatchEvents(ctx context.Context, c apiCall) (any, error) {
	batch, err := decodeBatch(c.body, c.app.eventLimits())
	if err != nil {
		return nil, err
	}
	if err := f.admitted(c.app, batch...); err != nil {
		return nil, err
	}
	withInfo := false
	for i, ev := range batch {
		if err := f.publish(ctx, c.app, ev); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				ae.msg = fmt.Sprintf("batch[%d]: %s (the events before it were published)", i, ae.msg)
			}
			return nil, err
		}
		withInfo = withInfo || ev.info.any()
	}
	if !withInfo {
		return struct{}{}, nil
	}
	out := make([]channelAttrs, len(batch))
	for i, ev := range batch {
		if out[i], err = f.triggerAttrs(ctx, c.app, ev.channels[0], ev.info); err != nil {
			return nil, err
		}
	}
	return map[string]any{"batch": out}, nil
}

// apiChannels serves GET /apps/{id}/channels: the occupied channels,
// optionally by prefix, with user_count for presence channels, all
// cluster-wide (gateway.Channels).
func (f *Frontend) apiChannels(ctx context.Context, c apiCall) (any, error) {
	prefix := c.params.Get("filter_by_prefix")
	info, err := parseInfo(c.params.Get("info"), false)
	if err != nil {
		return nil, err
	}
	if info.subscriptionCount {
		return nil, apiErrorf(http.StatusBadRequest, "info=subscription_count is not available on the channel list: ask channels/{name}")
	}
	if info.userCount && !strings.HasPrefix(prefix, "presence-") {
		return nil, apiErrorf(http.StatusBadRequest, "info=user_count needs filter_by_prefix=presence-")
	}
	list, err := f.core.Channels(ctx, c.app.stage, prefix)
	if err != nil {
		return nil, err
	}
	out := map[string]channelAttrs{}
	for _, cc := range list {
		ch, err := pusherproto.ParseChannel(cc.Channel)
		if err != nil || ch.Type == pusherproto.ServerToUser {
			continue // not a Pusher channel, or a user's own
		}
		var at channelAttrs
		if info.userCount {
			users, err := f.presenceUsers(ctx, c.app, cc.Channel)
			if err != nil {
				return nil, err
			}
			at.UserCount = ptr(len(users))
		}
		out[cc.Channel] = at
	}
	return map[string]any{"channels": out}, nil
}

// channelArg checks the channel name of the path.
func channelArg(c apiCall) (pusherproto.Channel, error) {
	ch, err := pusherproto.ParseChannel(c.arg)
	if err != nil {
		return ch, apiErrorf(http.StatusBadRequest, "%v", err)
	}
	if len(c.arg) > c.app.cfg.Limits.ChannelNameBytes {
		return ch, apiErrorf(http.StatusBadRequest, "channel name %q is longer than %d bytes", c.arg, c.app.cfg.Limits.ChannelNameBytes)
	}
	return ch, nil
}

// channelInfo is f.core.Channel with the API's errors.
func (f *Frontend) channelInfo(ctx context.Context, a *app, name, cursor string) (gateway.ChannelInfo, error) {
	ci, err := f.core.Channel(ctx, a.stage, name, cursor, 1000)
	switch {
	case errors.Is(err, hub.ErrNoNamespace), errors.Is(err, hub.ErrInvalidChannel):
		return ci, apiErrorf(http.StatusBadRequest, "no channel namespace of the API admits channel %s", name)
	case err != nil:
		return ci, fmt.Errorf("read channel %s: %w", name, err)
	}
	return ci, nil
}

// apiChannel serves GET /apps/{id}/channels/{name}: occupied, and the
// info attributes that apply to the channel (400 for one that does not).
func (f *Frontend) apiChannel(ctx context.Context, c apiCall) (any, error) {
	ch, err := channelArg(c)
	if err != nil {
		return nil, err
	}
	info, err := parseInfo(c.params.Get("info"), true)
	if err != nil {
		return nil, err
	}
	switch {
	case info.userCount && ch.Type != pusherproto.Presence:
		return nil, apiErrorf(http.StatusBadRequest, "info=user_count is only available on presence channels")
	case info.subscriptionCount && ch.Type == pusherproto.Presence:
		return nil, apiErrorf(http.StatusBadRequest, "info=subscription_count is not available on presence channels: ask user_count")
	case info.cache && !ch.Cache:
		return nil, apiErrorf(http.StatusBadRequest, "info=cache is only available on cache channels")
	}
	ci, err := f.channelInfo(ctx, c.app, c.arg, "")
	if err != nil {
		return nil, err
	}
	out := map[string]any{"occupied": ci.Members > 0}
	if info.subscriptionCount {
		out["subscription_count"] = ci.Members
	}
	if info.userCount {
		users, err := f.presenceUsers(ctx, c.app, c.arg)
		if err != nil {
			return nil, err
		}
		out["user_count"] = len(users)
	}
	if info.cache {
		cache, err := f.cached(ctx, c.app, c.arg)
		if err != nil {
			return nil, err
		}
		out["cache"] = cache // null when the cache is empty
	}
	return out, nil
}

// cached is a cache channel's last event, or nil.
func (f *Frontend) cached(ctx context.Context, a *app, name string) (*cacheAttrs, error) {
	page, err := f.core.History(ctx, a.stage, name, gateway.HistoryQuery{Limit: 1})
	if errors.Is(err, hub.ErrNoHistory) {
		return nil, nil // the API configured this pattern without history
	}
	if err != nil {
		return nil, fmt.Errorf("read the cache of %s: %w", name, err)
	}
	if len(page.Publications) == 0 {
		return nil, nil
	}
	p := page.Publications[len(page.Publications)-1]
	left := a.cfg.CacheTTL.Std() - f.now().Sub(p.Time)
	return &cacheAttrs{Data: string(p.Data), TTL: max(0, int(math.Ceil(left.Seconds())))}, nil
}

// presenceUsers returns the distinct user ids of a channel's presence,
// in the order of their first connection id, cluster-wide.
func (f *Frontend) presenceUsers(ctx context.Context, a *app, name string) ([]string, error) {
	var users []string
	seen := map[string]bool{}
	err := f.eachMember(ctx, a, name, func(m gateway.Member) {
		if m.User != "" && !seen[m.User] {
			seen[m.User] = true
			users = append(users, m.User)
		}
	})
	return users, err
}

// eachMember calls fn for each member of a channel's presence, page by
// page.
func (f *Frontend) eachMember(ctx context.Context, a *app, name string, fn func(gateway.Member)) error {
	for cursor := ""; ; {
		ci, err := f.channelInfo(ctx, a, name, cursor)
		if err != nil {
			return err
		}
		for _, m := range ci.Presence {
			fn(m)
		}
		if ci.Next == "" {
			return nil
		}
		cursor = ci.Next
	}
}

// apiChannelUsers serves GET /apps/{id}/channels/{name}/users.
func (f *Frontend) apiChannelUsers(ctx context.Context, c apiCall) (any, error) {
	ch, err := channelArg(c)
	if err != nil {
		return nil, err
	}
	if ch.Type != pusherproto.Presence {
		return nil, apiErrorf(http.StatusBadRequest, "users are only available on presence channels")
	}
	users, err := f.presenceUsers(ctx, c.app, c.arg)
	if err != nil {
		return nil, err
	}
	type user struct {
		ID string `json:"id"`
	}
	out := make([]user, len(users))
	for i, u := range users {
		out[i] = user{ID: u}
	}
	return map[string]any{"users": out}, nil
}

// apiTerminate serves POST /apps/{id}/users/{user_id}/terminate_connections:
// it closes every connection signed in as the user, cluster-wide. A
// signed-in connection is a member of the user's server-to-user channel
// (session.signin), so that channel's presence lists them, and
// DeleteConnection closes each on the node that holds it. The user may
// connect again (reference §11).
func (f *Frontend) apiTerminate(ctx context.Context, c apiCall) (any, error) {
	ch, err := pusherproto.ParseChannel(pusherproto.ServerToUserChannel(c.arg))
	if err != nil || ch.Type != pusherproto.ServerToUser {
		return nil, apiErrorf(http.StatusBadRequest, "invalid user id %q", c.arg)
	}
	var ids []string
	if err := f.eachMember(ctx, c.app, ch.Name, func(m gateway.Member) { ids = append(ids, m.ConnectionID) }); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := f.core.DeleteConnection(ctx, c.app.stage, id); err != nil && !errors.Is(err, gateway.ErrGone) {
			return nil, fmt.Errorf("close connection %s of user %s: %w", id, c.arg, err)
		}
	}
	return struct{}{}, nil
}
