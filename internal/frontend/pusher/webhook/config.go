package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of a Target's zero fields.
const (
	DefaultRetryWindow    = 5 * time.Minute // Pusher retries "for 5 minutes"
	DefaultAttemptTimeout = 10 * time.Second
	DefaultBatchWindow    = time.Second
	DefaultBatchMaxEvents = 100
	DefaultBatchMaxBytes  = 256 << 10
	DefaultQueueSize      = 1000
)

// App is the webhook configuration of one Pusher app.
type App struct {
	// ID is the app id Emit is called with.
	ID string
	// Key and Secret sign every request: X-Pusher-Key is the key,
	// X-Pusher-Signature the hex HMAC-SHA256 of the body with the secret.
	Key, Secret string
	// Targets receive the app's events; none means no webhooks.
	Targets []Target
}

// Target is one webhook endpoint of an app. Zero fields mean the defaults.
type Target struct {
	// URL is the http or https endpoint; it identifies the target across
	// a Reload (same URL = same queue).
	URL string
	// Events are the names sent to this target (see Names); empty means
	// every event.
	Events []string
	// Batch sends everything queued within BatchWindow of the first
	// event in one request, at most BatchMaxEvents events and about
	// BatchMaxBytes of body (an event larger than that goes alone).
	// Without Batch every request holds exactly one event.
	Batch          bool
	BatchWindow    time.Duration // default 1 s
	BatchMaxEvents int           // default 100
	BatchMaxBytes  int           // default 256 KiB
	// RetryWindow bounds the retries, measured from each event's Time;
	// an event not delivered by then is dropped (reason "expired").
	// Default 5 minutes.
	RetryWindow time.Duration
	// AttemptTimeout bounds one request, answer included. Default 10 s.
	AttemptTimeout time.Duration
	// Headers are added to every request; they cannot replace
	// Content-Type, X-Pusher-Key or X-Pusher-Signature.
	Headers map[string]string
	// QueueSize bounds the events waiting for this target; Emit drops
	// (reason "queue_full") when it is full. Default 1000. A Reload
	// keeps the size of an existing target's queue.
	QueueSize int
}

// Options are the Sender's process-wide settings. Zero fields mean the
// defaults.
type Options struct {
	// Client sends the requests; default a client of its own (no
	// redirects followed: a 3xx is a failed attempt).
	Client *http.Client
	// Metrics receives the counts; default collectors registered nowhere.
	Metrics *Metrics
	// Clock gives the time of events, the batch window, the backoff
	// waits and the debounce delay; default the system clock.
	Clock Clock
	// Backoff returns the wait before retry number attempt (1 for the
	// first retry); default DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// Debounce is how long channel_vacated and member_removed are held
	// (see Debouncer); 0 means DefaultDebounce, negative disables it.
	Debounce time.Duration
	// Logger gets the drop and failure lines (rate-limited); default
	// slog.Default().
	Logger *slog.Logger
}

// Clock is the time source of a Sender.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// DefaultBackoff waits 1 s before the first retry and doubles up to 60 s,
// each wait drawn uniformly from its upper half (jitter, so that targets
// failing together do not retry together).
func DefaultBackoff(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < time.Minute; i++ {
		d *= 2
	}
	d = min(d, time.Minute)
	return d/2 + rand.N(d/2+1)
}

func (t *Target) withDefaults() Target {
	c := *t
	if c.BatchWindow == 0 {
		c.BatchWindow = DefaultBatchWindow
	}
	if c.BatchMaxEvents == 0 {
		c.BatchMaxEvents = DefaultBatchMaxEvents
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = DefaultBatchMaxBytes
	}
	if c.RetryWindow == 0 {
		c.RetryWindow = DefaultRetryWindow
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	return c
}

// ErrConfig is wrapped by every configuration error of New and Reload.
var ErrConfig = errors.New("webhook config")

func validate(apps []App) error {
	seen := make(map[string]bool)
	for i, a := range apps {
		if err := validateApp(a); err != nil {
			return fmt.Errorf("%w: apps[%d] (%q): %v", ErrConfig, i, a.ID, err)
		}
		if seen[a.ID] {
			return fmt.Errorf("%w: apps[%d]: app %q listed twice", ErrConfig, i, a.ID)
		}
		seen[a.ID] = true
	}
	return nil
}

func validateApp(a App) error {
	if a.ID == "" {
		return errors.New("id is empty")
	}
	if len(a.Targets) > 0 && (a.Key == "" || a.Secret == "") {
		return errors.New("key and secret are needed to sign webhooks")
	}
	urls := make(map[string]bool)
	for j, t := range a.Targets {
		if err := validateTarget(t); err != nil {
			return fmt.Errorf("targets[%d]: %v", j, err)
		}
		if urls[t.URL] {
			return fmt.Errorf("targets[%d]: url %q listed twice", j, t.URL)
		}
		urls[t.URL] = true
	}
	return nil
}

func validateTarget(t Target) error {
	u, err := url.Parse(t.URL)
	if err != nil {
		return fmt.Errorf("url: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want http:// or https:// and a host", u.Redacted())
	}
	for _, n := range t.Events {
		if !knownName(n) {
			return fmt.Errorf("events: unknown event %q (one of %v)", n, Names)
		}
	}
	if t.BatchWindow < 0 || t.RetryWindow < 0 || t.AttemptTimeout < 0 {
		return errors.New("durations must not be negative")
	}
	if t.BatchMaxEvents < 0 || t.BatchMaxBytes < 0 || t.QueueSize < 0 {
		return errors.New("sizes must not be negative")
	}
	for k, v := range t.Headers {
		if !validHeaderName(k) || strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("headers: %q is not a valid header name and value", k)
		}
		switch http.CanonicalHeaderKey(k) {
		case "Content-Type", "X-Pusher-Key", "X-Pusher-Signature", "Content-Length", "Host":
			return fmt.Errorf("headers: %q is set by the sender", k)
		}
	}
	return nil
}

// validHeaderName reports whether k is an RFC 9110 token (net/http refuses
// any other name at every attempt).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
