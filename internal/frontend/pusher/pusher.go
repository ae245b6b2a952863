package pusher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/frontend"
	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
	"github.com/switchboardhq/switchboard/internal/frontend/pusher/webhook"
	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/limit"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// Core is what the front-end needs of the gateway (frontend.Core, named
// publications, and for the HTTP API: the channel list, a cache channel's
// last event and closing a connection on whichever node holds it).
type Core interface {
	frontend.Core
	PublishEvent(ctx context.Context, stage, channel string, e hub.Event) (gateway.PublishResult, error)
	Admits(stage, channel string) error
	Channels(ctx context.Context, stage, prefix string) ([]gateway.ChannelCount, error)
	History(ctx context.Context, stage, channel string, q gateway.HistoryQuery) (gateway.HistoryPage, error)
	DeleteConnection(ctx context.Context, stage, id string) error
}

var _ Core = (*gateway.Gateway)(nil)

// Options configure New.
type Options struct {
	// Config holds the apps (config.Pusher) and the APIs they map to. It
	// must be valid (config.Validate).
	Config *config.Config
	// Core is the gateway; Codec the id Codec got in its hubs
	// (gateway.Options.Codecs).
	Core  Core
	Codec hub.CodecID
	// Registerer takes the front-end's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// HTTPClient sends the webhooks (nil: a client of its own).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock of the HTTP API's timestamp check (default
	// time.Now).
	Now func() time.Time
	// Debounce holds channel_vacated and member_removed webhooks this long
	// and sends them only if the channel is still empty (the user still
	// absent) cluster-wide then (default 3s, as Pusher; < 0: at once).
	Debounce time.Duration
}

// Frontend serves every configured Pusher app: pusher-js connections at
// /app/{key} and the HTTP API at /apps/{id}/...
type Frontend struct {
	core  Core
	codec hub.CodecID
	log   *slog.Logger
	now   func() time.Time
	hooks *webhook.Sender
	m     *metrics

	// Held vacated and member_removed webhooks (later), in the order they
	// happened, checked again by one goroutine when each is due (at once
	// after Shutdown began: flush).
	debounce time.Duration
	heldMu   sync.Mutex
	heldQ    []heldCheck
	heldWake chan struct{} // a check was queued
	flush    chan struct{} // closed by Shutdown
	heldDone chan struct{} // the goroutine has ended

	apps atomic.Pointer[appSet] // replaced by Reload
}

// app is one configured app, ready to serve.
type app struct {
	cfg         config.PusherApp
	stage       string // the API's
	clientRate  *limit.Rate
	conns       *limit.Counter // the app's connections on this node
	hasWebhooks bool
}

type appSet struct {
	byKey, byID, byStage map[string]*app
}

// New builds the front-end.
func New(o Options) (*Frontend, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	f := &Frontend{core: o.Core, codec: o.Codec, log: o.Logger.With("frontend", "pusher"), now: o.Now, m: newMetrics(o.Registerer),
		debounce: o.Debounce, heldWake: make(chan struct{}, 1), flush: make(chan struct{}), heldDone: make(chan struct{})}
	if f.debounce == 0 {
		f.debounce = 3 * time.Second
	}
	set, hookApps, err := buildApps(o.Config, nil)
	if err != nil {
		return nil, err
	}
	f.apps.Store(set)
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	// The front-end debounces vacated and member_removed itself, against the
	// cluster-wide state (later); the Sender's own debounce, per process,
	// would send a member_removed for a user who came back on another node.
	if f.hooks, err = webhook.New(webhook.Options{Client: client, Metrics: webhook.NewMetrics(o.Registerer), Logger: f.log, Debounce: -1}, hookApps); err != nil {
		return nil, fmt.Errorf("pusher webhooks: %w", err)
	}
	go f.runHeld()
	return f, nil
}

// buildApps prepares cfg's apps; prev, when set, keeps each app's
// connection counter (a reload must not forget open connections).
func buildApps(cfg *config.Config, prev *appSet) (*appSet, []webhook.App, error) {
	set := &appSet{byKey: map[string]*app{}, byID: map[string]*app{}, byStage: map[string]*app{}}
	var hooks []webhook.App
	for i := range cfg.Pusher.Apps {
		c := cfg.Pusher.Apps[i]
		api := cfg.PusherAPI(&c)
		if api < 0 {
			return nil, nil, fmt.Errorf("pusher.apps[%s]: no API %q", c.ID, c.API)
		}
		a := &app{cfg: c, stage: cfg.APIs[api].Stage, hasWebhooks: len(c.Webhooks) > 0}
		var err error
		if a.clientRate, err = limit.NewRate(float64(c.Limits.ClientEventsPerSecond), c.Limits.ClientEventsPerSecond); err != nil {
			return nil, nil, fmt.Errorf("pusher.apps[%s].limits.clientEventsPerSecond: %w", c.ID, err)
		}
		if old := prev.app(c.ID); old != nil {
			a.conns = old.conns
			if err := a.conns.SetLimits(0, c.Limits.Connections); err != nil {
				return nil, nil, err
			}
		} else if a.conns, err = limit.NewCounter(0, c.Limits.Connections); err != nil {
			return nil, nil, fmt.Errorf("pusher.apps[%s].limits.connections: %w", c.ID, err)
		}
		set.byKey[c.Key], set.byID[c.ID], set.byStage[a.stage] = a, a, a
		h := webhook.App{ID: c.ID, Key: c.Key, Secret: c.Secret}
		for _, w := range c.Webhooks {
			h.Targets = append(h.Targets, webhook.Target{URL: w.URL, Events: w.Events, Batch: w.Batching,
				BatchWindow: w.BatchWindow.Std(), RetryWindow: w.RetryFor.Std(), AttemptTimeout: w.Timeout.Std(), Headers: w.Headers})
		}
		hooks = append(hooks, h)
	}
	return set, hooks, nil
}

func (s *appSet) app(id string) *app {
	if s == nil {
		return nil
	}
	return s.byID[id]
}

// Reload applies a reloaded configuration: keys, secrets, features,
// limits and webhooks of the apps the running configuration has
// (config.ApplyReload keeps the rest for a restart).
func (f *Frontend) Reload(cfg *config.Config) error {
	set, hooks, err := buildApps(cfg, f.apps.Load())
	if err != nil {
		return err
	}
	if err := f.hooks.Reload(hooks); err != nil {
		return fmt.Errorf("pusher webhooks: %w", err)
	}
	f.apps.Store(set)
	return nil
}

// Name implements frontend.Frontend.
func (f *Frontend) Name() string { return "pusher" }

// Routes implements frontend.Frontend: pusher-js connects to /app/{key},
// the server SDKs call /apps/{id}/...
func (f *Frontend) Routes() []frontend.Route {
	return []frontend.Route{
		{Prefix: "/app/", Handler: http.HandlerFunc(f.serveWebSocket)},
		{Prefix: "/apps/", Handler: http.HandlerFunc(f.serveAPI)},
	}
}

// Shutdown implements frontend.Frontend: the held webhooks are checked
// now, and what is queued is delivered until ctx ends.
func (f *Frontend) Shutdown(ctx context.Context) error {
	close(f.flush)
	<-f.heldDone
	return f.hooks.Close(ctx)
}

// heldCheck is a held webhook: check runs when due.
type heldCheck struct {
	due   time.Time
	check func()
}

// later queues check to run after the debounce delay (at once when there
// is none, or after Shutdown began).
func (f *Frontend) later(check func()) {
	f.heldMu.Lock()
	f.heldQ = append(f.heldQ, heldCheck{due: time.Now().Add(max(f.debounce, 0)), check: check})
	f.heldMu.Unlock()
	select {
	case f.heldWake <- struct{}{}:
	default:
	}
}

// runHeld runs the held checks in order, each when due, until Shutdown;
// then the rest at once.
func (f *Frontend) runHeld() {
	defer close(f.heldDone)
	flushing := false
	for {
		f.heldMu.Lock()
		var next *heldCheck
		if len(f.heldQ) > 0 {
			next = &f.heldQ[0]
		}
		f.heldMu.Unlock()
		if next == nil {
			if flushing {
				return
			}
			select {
			case <-f.heldWake:
			case <-f.flush:
				flushing = true
			}
			continue
		}
		if d := time.Until(next.due); d > 0 && !flushing {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-f.flush:
				flushing = true
				t.Stop()
			}
			continue
		}
		f.heldMu.Lock()
		h := f.heldQ[0]
		f.heldQ[0] = heldCheck{}
		f.heldQ = f.heldQ[1:]
		f.heldMu.Unlock()
		h.check()
	}
}

// stillVacant reports whether channel has no connection, cluster-wide; on
// an error it says yes (the webhook goes out: a spurious vacated is
// better than a lost one).
func (f *Frontend) stillVacant(stage, channel string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := f.core.Channel(ctx, stage, channel, "", 1)
	return err != nil || info.Members == 0
}

// userAbsent reports whether user has no connection in channel,
// cluster-wide (yes on an error, as stillVacant).
func (f *Frontend) userAbsent(stage, channel, user string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for cursor := ""; ; {
		info, err := f.core.Channel(ctx, stage, channel, cursor, 1000)
		if err != nil {
			return true
		}
		for _, m := range info.Presence {
			if m.User == user {
				return false
			}
		}
		if info.Next == "" {
			return true
		}
		cursor = info.Next
	}
}

// OnMembership is the gateway's membership callback (gateway.Options.
// OnMembership): the facts of each join and leave, decided once
// cluster-wide, become the app's webhooks.
func (f *Frontend) OnMembership(stage, channel string, ev hub.MembershipEvent) {
	a := f.apps.Load().byStage[stage]
	if a == nil || !a.hasWebhooks {
		return
	}
	ch, err := pusherproto.ParseChannel(channel)
	if err != nil || ch.Type == pusherproto.ServerToUser {
		return
	}
	now, id := f.now(), a.cfg.ID
	switch {
	case ev.Join && ev.Occupied:
		f.hooks.Emit(id, webhook.Event{Name: webhook.ChannelOccupied, Channel: channel, Time: now})
	case !ev.Join && ev.Vacated:
		// Held, then sent only if the channel is still empty everywhere:
		// a client that came back within the delay, on any node, cancels
		// it (reference §10). Its channel_occupied has gone out meanwhile.
		f.later(func() {
			if f.stillVacant(stage, channel) {
				// Timed when decided: the retry window (retryFor) starts
				// now, not at the leave 3 s ago.
				f.hooks.Emit(id, webhook.Event{Name: webhook.ChannelVacated, Channel: channel, Time: f.now()})
			}
		})
	}
	if ch.Type == pusherproto.Presence && ev.UserEdge && ev.Member.User != "" {
		user := ev.Member.User
		if ev.Join {
			f.hooks.Emit(id, webhook.Event{Name: webhook.MemberAdded, Channel: channel, UserID: user, Time: now})
		} else {
			f.later(func() {
				if f.userAbsent(stage, channel, user) {
					f.hooks.Emit(id, webhook.Event{Name: webhook.MemberRemoved, Channel: channel, UserID: user, Time: f.now()})
				}
			})
		}
	}
	if a.cfg.SubscriptionCount && ch.Type != pusherproto.Presence {
		f.hooks.Emit(a.cfg.ID, webhook.Event{Name: webhook.SubscriptionCount, Channel: channel, Count: ev.Members, Time: now})
	}
}

// serveWebSocket answers GET /app/{key}: protocol 7 (reference §1).
func (f *Frontend) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if herr := ws.CheckRequest(r); herr != nil {
		ws.WriteHandshakeError(w, herr)
		return
	}
	key := strings.TrimPrefix(r.URL.EscapedPath(), "/app/")
	a := f.apps.Load().byKey[key]
	if a == nil {
		f.m.refused.WithLabelValues("app_unknown").Inc()
		f.refuse(w, r, pusherproto.CodeAppUnknown, fmt.Sprintf("App key %s does not exist", key))
		return
	}
	if p := r.URL.Query().Get("protocol"); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 5 {
			f.m.refused.WithLabelValues("protocol").Inc()
			f.refuse(w, r, pusherproto.CodeUnsupportedProtocol, "Unsupported protocol version "+p+": Switchboard speaks protocol 7")
			return
		}
	}
	release, ok := a.conns.TryAcquire("")
	if !ok {
		f.m.refused.WithLabelValues("over_quota").Inc()
		f.refuse(w, r, pusherproto.CodeOverConnectionQuota, "Application is over connection quota")
		return
	}
	var s *session
	_, err := f.core.Accept(w, r, gateway.AcceptOptions{
		Stage:       a.stage,
		Protocol:    "pusher",
		Codec:       f.codec,
		DrainCode:   ws.CloseCode(pusherproto.CodeReconnect),
		DrainReason: "server shutting down: reconnect",
		Refuse: func(w http.ResponseWriter, r *http.Request, _ int, reason string) {
			// pusher-js reconnects at once on 42xx (another node, behind a
			// load balancer) and after a second on 41xx (reference §3).
			code, msg := pusherproto.CodeOverCapacity, "Over capacity: "+reason+"; retry"
			if reason == "draining" || reason == "lease_lost" {
				code, msg = pusherproto.CodeReconnect, "This node is shutting down; reconnect"
			}
			f.m.refused.WithLabelValues(reason).Inc()
			f.refuse(w, r, code, msg)
		},
		NewSession: func(c *gateway.Conn) (gateway.Session, error) {
			socketID, err := pusherproto.SocketID(c.ID())
			if err != nil {
				return nil, err
			}
			s = &session{f: f, app: a, c: c, socketID: socketID, release: release, bucket: limit.NewBucket(a.clientRate)}
			// Queued before the upgrade: written with the 101 response.
			_ = c.Send(ws.TextFrame(pusherproto.AppendConnectionEstablished(nil, socketID, a.cfg.ActivityTimeoutSeconds())))
			return s, nil
		},
	})
	if err != nil {
		release()
		if !errors.Is(err, gateway.ErrRefused) {
			f.log.Warn("pusher connection failed", "app", a.cfg.ID, "error", err.Error())
		}
		return
	}
	f.m.connections.WithLabelValues(a.cfg.ID).Inc()
}

// refuse opens the WebSocket only to send pusher:error with code and close
// with the same code, as pusher-js expects for a refused connection
// (reference §1.1, §3).
func (f *Frontend) refuse(w http.ResponseWriter, r *http.Request, code pusherproto.Code, msg string) {
	frame := ws.TextFrame(pusherproto.AppendError(nil, "", code, msg))
	_ = ws.Refuse(w, r, []ws.Frame{frame}, ws.CloseCode(code), msg, 2*time.Second)
}

// metrics of the front-end.
type metrics struct {
	connections *prometheus.CounterVec
	refused     *prometheus.CounterVec
	events      *prometheus.CounterVec
	api         *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_pusher_connections_total",
			Help: "Pusher connections opened, by app."}, []string{"app"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_pusher_refused_total",
			Help: "Pusher connections refused before they opened, by reason (app_unknown, protocol, over_quota)."}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_pusher_client_events_total",
			Help: "Pusher client events, by app and result (sent, rejected)."}, []string{"app", "result"}),
		api: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_pusher_api_requests_total",
			Help: "Pusher HTTP API requests, by app (\"unknown\" for an unknown id), endpoint and status."}, []string{"app", "endpoint", "status"}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.refused, m.events, m.api)
	}
	return m
}
