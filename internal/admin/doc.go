// Package admin is the admin console (issue 13; decision 0031): a web UI,
// embedded in the binary, from which an operator watches the gateway and
// acts on its connections and channels. It serves, under one path prefix
// (config admin.path, default /admin):
//
//	GET    {prefix}/                 the single page (ui/index.html), its script and stylesheet
//	GET    {prefix}/api/session      who is signed in and the CSRF token (401 when nobody)
//	POST   {prefix}/api/session      sign in: {"key":"<management API key>"}
//	DELETE {prefix}/api/session      sign out
//	GET    {prefix}/api/overview     the sampled series of the last 10 minutes
//	GET    {prefix}/api/stages       the stages the session may reach
//	GET    {prefix}/api/connections  search (?stage&field=id|user|channel|ip&q)
//	GET    {prefix}/api/users        users with open connections (?stage)
//	GET    {prefix}/api/channels     occupied channels (?stage&prefix)
//	GET    {prefix}/api/nodes        cluster nodes (a lone node lists itself)
//	GET    {prefix}/api/config       the configuration in force, secrets redacted
//	*      {prefix}/api/manage/{stage}/@...  the management API, in-process
//
// Actions (send, disconnect, publish, history, presence) are not
// implemented here: {prefix}/api/manage/ hands the request, already
// admitted by the console's session, to manage.Handler.ServeAdmitted, so
// the console does exactly what the management API does.
//
// # Sign-in and sessions
//
// An operator signs in with one of management.apiKeys, compared in
// constant time against every key (SHA-256 digests, as in manage). A
// sign-in creates a server-side session: a random 256-bit id in a cookie
// that is HttpOnly, SameSite=Strict, Secure when the request came over TLS
// (or through a proxy that says X-Forwarded-Proto: https), and scoped to
// the console's path. Sessions expire after admin.sessionTimeout; at most
// admin.maxSessions are kept (a new one signs the oldest out). A key
// limited to stages limits the session to them. Failed sign-ins are
// logged (peer address, never the key) and limited per peer address:
// after maxFailures in failureWindow the sign-in answers 429.
//
// Every request that changes something (any method but GET and HEAD,
// sign-in included) must carry a same-origin proof — Sec-Fetch-Site:
// same-origin, or an Origin whose host is the request's Host, and no
// cross-site value in either — and, once signed in, the session's CSRF
// token in the X-CSRF-Token header. With admin.development the console
// opens without credentials (a session is made on the first
// GET api/session); the CSRF rules still apply.
//
// # Live data
//
// The page polls (every 2 seconds) instead of holding a Server-Sent Events
// stream: each poll is an ordinary request, checked against the session
// like any other, so a sign-out or an expiry takes effect at once, and
// there is no long-lived request for the server's graceful shutdown to
// wait on. The overview's series come from the process's own Prometheus
// registry: a Sampler gathers it every second into a ring of the last 10
// minutes (no second metrics system).
//
// # Concurrency
//
// A Console is safe for concurrent use: the session store and the
// sign-in limiter each have a mutex, the Sampler a mutex around its ring
// (written by its one Run goroutine, read by requests). The configuration
// is read through Options.Config at each request, so a reload's new keys
// count at once.
package admin
