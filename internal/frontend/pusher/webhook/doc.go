// Package webhook sends the webhooks of Pusher apps (reference §10):
// channel_occupied, channel_vacated, member_added, member_removed,
// client_event, cache_miss and subscription_count, POSTed as
// {"time_ms":…,"events":[…]} with exactly Content-Type: application/json,
// X-Pusher-Key (the app key) and X-Pusher-Signature (hex HMAC-SHA256 of the
// exact body bytes with the app secret), so that the official SDKs'
// webhook checks accept them.
//
// One Sender serves the process. The front-end calls Emit(app, Event) when
// something happens; the Sender fans the event out to the app's targets
// (each with its own event filter), and one goroutine per target delivers
// its queue.
//
// # Guarantees
//
//   - Emit never blocks on the network and never returns an error: it
//     takes Sender's mutex for a map lookup and non-blocking channel sends
//     (and, when it drops, at most one log line per target every 10 s).
//     A slow or dead endpoint costs memory up to its queue bound, never
//     the caller's time.
//   - At-least-once within the retry window: an event is retried until a
//     2xx answer or until RetryWindow (default 5 minutes) has passed since
//     the event's Time. A request whose answer is lost (timeout after the
//     endpoint processed it) is sent again, so endpoints may see an event
//     twice.
//   - Per-target order: a target sends one request at a time and retries
//     it before the next, so its events arrive in Emit order (after the
//     debounce below). A failing target only holds up its own queue; other
//     targets of the app, and other apps, are not affected.
//   - Without batching a request holds one event; with batching, what was
//     queued within BatchWindow after the first event, at most
//     BatchMaxEvents events and about BatchMaxBytes of body. time_ms is the
//     Time of the oldest event in the request. A request keeps its body
//     across retries unless some of its events expire, then it is rebuilt
//     from the rest; it is signed again at every attempt (with the secret
//     current at the time).
//   - Debounce: channel_vacated and member_removed are held for the
//     debounce delay (default 3 s, as Pusher); channel_occupied for the
//     same channel (member_added for the same channel and user) within the
//     delay cancels both. See Debouncer.
//   - client_event data is always sent as a JSON string (the SDKs read it
//     into a string): a JSON string as it is, any other value as its text.
//
// # What is lost, and when
//
// Every event given up is counted in Metrics.Dropped by app and reason and
// logged (at most one line per app, target and reason every 10 s, with the
// number of lines suppressed):
//
//   - queue_full: at Emit, the target's queue (QueueSize, default 1000)
//     is full; the event is lost for that target only.
//   - expired: not delivered within RetryWindow of its Time.
//   - shutdown: still queued, held or in flight when Close's ctx ended.
//   - invalid: Emit got an unknown event name (a bug of the caller).
//
// Events emitted after Close, or for an app without targets, are ignored
// and not counted. A Reload keeps every queue whose app id and URL stay;
// a removed target delivers its queue and ends.
//
// # Concurrency
//
// Emit, Reload and Close are safe for concurrent use. Sender.mu guards the
// app table and the Debouncer; each target's settings are an immutable
// value behind an atomic pointer, its queue a buffered channel, and
// everything else of a target is owned by its goroutine. Goroutines: one
// per target and one that releases debounced events; all have ended when
// Close returns. Time (event times, batch windows, backoff waits, the
// debounce delay, log rate limits) comes from the injected Clock; only the
// per-attempt timeout uses the real clock, through the request's context.
package webhook
