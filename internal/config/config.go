package config

// Config is the whole configuration of one Switchboard process. Its zero
// value, after ApplyDefaults, is a server with no APIs; Default returns the
// seed chat configuration that `switchboard serve` runs without a file.
type Config struct {
	// Listen is the TCP address of the single listener that serves
	// WebSocket clients, the management API, the demo page, /healthz,
	// /readyz and /metrics. Default ":8080".
	Listen string `yaml:"listen"`

	Log        Log        `yaml:"log"`
	Shutdown   Shutdown   `yaml:"shutdown"`
	Management Management `yaml:"management"`
	Transport  Transport  `yaml:"transport"`
	// TLS terminates TLS on the listener when set.
	TLS *TLS `yaml:"tls"`
	// HTTP bounds what a client may send before a handshake is handled.
	HTTP HTTP `yaml:"http"`
	// Metrics configures where /metrics is served.
	Metrics Metrics `yaml:"metrics"`
	// Cluster, when set, makes this process one node of a cluster that
	// shares its state through Redis (decision 0024, docs/clustering.md).
	Cluster *Cluster `yaml:"cluster"`

	// APIs are the real-time APIs this process serves, each under its own
	// stage path (/{stage}).
	APIs []API `yaml:"apis"`
	// Pusher serves Pusher Channels apps (pusher-js clients at
	// /app/{key}, the HTTP API at /apps/{id}/...) on the channels of the
	// APIs they map to. Default: none.
	Pusher Pusher `yaml:"pusher"`
	// Admin serves the admin console (off by default).
	Admin Admin `yaml:"admin"`
}

// Log configures the structured log written to stderr.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json or text. Default json.
	Format string `yaml:"format"`
}

// Shutdown configures the graceful shutdown on SIGTERM/SIGINT.
type Shutdown struct {
	// ReadinessDelay is how long /readyz answers 503 after SIGTERM while
	// the listener still accepts and serves new connections, so that a
	// load balancer takes the node out of rotation before it stops
	// accepting; the drain starts after it. SIGINT (an operator's Ctrl-C)
	// skips it, and so does a second SIGTERM. Default 5s; 0 to 10m (0
	// drains at once; unset means the default). The seed configuration
	// sets 0. Read it with Shutdown.Readiness.
	ReadinessDelay *Duration `yaml:"readinessDelay"`
	// DrainWindow is the time over which going-away closes (1001) are
	// spread across the open connections. Default 5s.
	DrainWindow Duration `yaml:"drainWindow"`
	// Timeout bounds the drain (it starts after ReadinessDelay): after
	// it, remaining connections are dropped and pending $disconnect calls
	// abandoned (and logged). Default 30s.
	Timeout Duration `yaml:"timeout"`
}

// TLS is the listener's certificate, reloaded when the files change.
type TLS struct {
	// CertFile is a PEM certificate chain. Relative paths are relative to
	// the config file's directory (Load makes them absolute). Required.
	CertFile string `yaml:"certFile"`
	// KeyFile is its PEM private key, relative like CertFile. Required.
	KeyFile string `yaml:"keyFile"`
	// ReloadInterval is how often the files are checked for changes.
	// Default 5s; 1s to 1h.
	ReloadInterval Duration `yaml:"reloadInterval"`
}

// HTTP bounds the HTTP part of every request (handshakes, management
// calls): slow or oversized requests are cut off before they cost more.
type HTTP struct {
	// ReadHeaderTimeout bounds the time to send the request head
	// (slowloris). Default 10s; 100ms to 5m.
	ReadHeaderTimeout Duration `yaml:"readHeaderTimeout"`
	// MaxHeaderBytes bounds the request head: the request line, the header
	// lines and the blank line that ends them, in bytes as sent. A larger
	// head gets 431. Default 16KiB; 8KiB to 1MiB.
	MaxHeaderBytes ByteSize `yaml:"maxHeaderBytes"`
	// MaxConnections bounds open connections of the whole process
	// (WebSocket and HTTP); past it new handshakes get 503. Default 0: no
	// bound besides the open-files limit.
	MaxConnections int `yaml:"maxConnections"`
	// Demo serves the demo chat page at / (and its icon at /favicon.ico).
	// Default true; false answers 404 there, as for any unknown path.
	Demo *bool `yaml:"demo"`
}

// DemoEnabled reports whether the demo page is served (Demo, default true).
func (h HTTP) DemoEnabled() bool { return h.Demo == nil || *h.Demo }

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen, when set, is a second TCP address (host:port) that serves
	// /metrics over plain HTTP, and only /metrics; the main listener then
	// answers 404 at /metrics. Default "": /metrics is on the main
	// listener.
	Listen string `yaml:"listen"`
}

// Transport tunes how WebSocket connections are run
// (docs/decisions/0002-websocket-transport.md).
type Transport struct {
	// Driver is "auto", "epoll" or "goroutine". epoll (Linux only) runs
	// plain TCP connections on a few event loops, so an idle connection
	// costs no goroutine; goroutine gives each connection a reader
	// goroutine. auto picks epoll on Linux. Default auto.
	Driver string `yaml:"driver"`
	// Loops is the number of epoll event loops. Default: the number of
	// CPUs Go may use (GOMAXPROCS).
	Loops int `yaml:"loops"`
}

// Management configures access to the management API
// (/{stage}/@connections...).
type Management struct {
	// APIKeys are accepted as "Authorization: Bearer <key>" (or
	// "x-api-key: <key>"), compared in constant time.
	APIKeys []APIKey `yaml:"apiKeys"`
	// AccessKeys verify AWS Signature Version 4 requests, as the AWS SDKs
	// sign them (service execute-api, any region, 5 minutes of clock skew).
	AccessKeys []AccessKey `yaml:"accessKeys"`
	// AllowLoopback admits requests whose TCP peer is a loopback address
	// without credentials: a development mode, logged loudly at start-up.
	// Default false: it must be switched on explicitly (the seed
	// configuration that `switchboard serve` runs without a file does).
	AllowLoopback *bool `yaml:"allowLoopback"`
}

// AccessKey is an AWS-style key pair that management callers sign with.
type AccessKey struct {
	// ID is the access key id (AKIA..., or any 16–128 characters of
	// letters and digits). Required.
	ID string `yaml:"id"`
	// Secret is the secret access key. Use ${ENV_VAR}. Required.
	Secret string `yaml:"secret"`
	// Stages limits the key to these stages. Default: every stage.
	Stages []string `yaml:"stages"`
}

// APIKey is one management credential.
type APIKey struct {
	// Name identifies the key in logs; it is never the secret.
	Name string `yaml:"name"`
	// Key is the secret, at least 16 characters. Use ${ENV_VAR} to keep it
	// out of the file.
	Key string `yaml:"key"`
	// Stages limits the key to these stages. Default: every stage.
	Stages []string `yaml:"stages"`
}

// API is one configured real-time API.
type API struct {
	// ID is reported as requestContext.apiId. Letters, digits, '-' and
	// '_', at most 64 characters. Required.
	ID string `yaml:"id"`
	// Stage is the first path segment: clients connect to /{stage},
	// backends call /{stage}/@connections. Letters, digits, '-' and '_',
	// at most 128 characters, unique per process. Required.
	Stage string `yaml:"stage"`
	// DomainName is reported as requestContext.domainName. Default: the
	// Host header of the client's handshake (with its port), so that
	// http://{domainName}/{stage} reaches this server.
	DomainName string `yaml:"domainName"`
	// RouteSelectionExpression picks the route of each message, as on AWS
	// ($request.body.action, ${request.body.a}/${request.body.b}, \$default).
	// Required.
	RouteSelectionExpression string `yaml:"routeSelectionExpression"`
	// Binary is what happens to binary frames from raw clients: "reject"
	// closes the connection with 1003 as AWS does; "base64" delivers them
	// to the route base64-encoded with isBase64Encoded: true. Default reject.
	// A switchboard.v1 client's binary frame is always a 400 error reply.
	Binary string `yaml:"binary"`

	Limits   Limits   `yaml:"limits"`
	Channels Channels `yaml:"channels"`
	// Compression offers permessage-deflate (RFC 7692) to clients. Off by
	// default.
	Compression Compression `yaml:"compression"`
	// Auth authenticates clients when they connect (docs/SECURITY.md).
	Auth Auth `yaml:"auth"`

	// Routes maps route keys ($connect, $disconnect, $default or a custom
	// key) to what they call.
	Routes map[string]Route `yaml:"routes"`
	// Integrations are the named backends that routes refer to.
	Integrations map[string]Integration `yaml:"integrations"`

	Disconnect Disconnect `yaml:"disconnect"`
}

// Limits bound what one connection of an API may do. Defaults equal the
// AWS quotas where AWS has one.
type Limits struct {
	// MaxMessageBytes is the largest message a client may send (after
	// reassembly of fragments) and the largest management API POST body.
	// Larger client messages close the connection with 1009. Default 128KiB.
	MaxMessageBytes ByteSize `yaml:"maxMessageBytes"`
	// MaxFrameBytes is the largest single frame a client may send (1009
	// when exceeded). Default: MaxMessageBytes. (AWS also caps frames at
	// 32 KB; browsers send each message as one frame, so Switchboard's
	// default accepts any message that fits MaxMessageBytes. Set 32KiB to
	// behave exactly as AWS.)
	MaxFrameBytes ByteSize `yaml:"maxFrameBytes"`
	// IdleTimeout closes a connection (1001) when no data message went in
	// either direction for this long. Default 10m; 0 keeps the default,
	// "off" is not offered.
	IdleTimeout Duration `yaml:"idleTimeout"`
	// MaxConnectionDuration closes a connection (1001) this long after it
	// opened. Default 2h.
	MaxConnectionDuration Duration `yaml:"maxConnectionDuration"`
	// PingInterval is how long a connection may be silent before the server
	// sends a WebSocket ping. Default 30s.
	PingInterval Duration `yaml:"pingInterval"`
	// PongTimeout is how long the server waits for any frame after a ping
	// before it drops the connection (reported as 1006). Default 20s.
	PongTimeout Duration `yaml:"pongTimeout"`
	// OutboundQueueBytes bounds the bytes queued for one connection but not
	// yet written to its socket. When a send would exceed it the connection
	// is closed as a slow consumer (1013). Default 1MiB.
	OutboundQueueBytes ByteSize `yaml:"outboundQueueBytes"`
	// WriteTimeout closes a connection as a slow consumer (1013) when its
	// socket accepted no bytes for this long while output was pending.
	// Default 10s.
	WriteTimeout Duration `yaml:"writeTimeout"`
	// ConnectionsPerSecond and ConnectionBurst limit new connections of
	// the API (a token bucket); past them the handshake gets 429. Default
	// 0: no limit. ConnectionBurst defaults to ConnectionsPerSecond, may
	// not be below it, and is only for a rate.
	ConnectionsPerSecond int `yaml:"connectionsPerSecond"`
	ConnectionBurst      int `yaml:"connectionBurst"`
	// ConnectionsPerSecondPerIP limits new connections per source IP
	// (burst: twice the rate). Default 0: no limit.
	ConnectionsPerSecondPerIP int `yaml:"connectionsPerSecondPerIP"`
	// MaxConnections, MaxConnectionsPerIP and MaxConnectionsPerUser bound
	// the API's open connections; past them the handshake gets 429.
	// Default 0: no limit. With MaxConnections set, the other two are at
	// most MaxConnections.
	MaxConnections        int `yaml:"maxConnections"`
	MaxConnectionsPerIP   int `yaml:"maxConnectionsPerIP"`
	MaxConnectionsPerUser int `yaml:"maxConnectionsPerUser"`
	// MessagesPerSecond and MessageBurst limit messages from one
	// connection; past them it is closed with 1008 "message rate
	// exceeded". Default 0: no limit. MessageBurst defaults to
	// MessagesPerSecond, may not be below it, and is only for a rate.
	MessagesPerSecond int `yaml:"messagesPerSecond"`
	MessageBurst      int `yaml:"messageBurst"`
	// InboundQueueMessages is how many received messages of one connection
	// may wait for their route; past it the server stops reading that
	// socket until the backlog drains (TCP back-pressure). Default 64.
	InboundQueueMessages int `yaml:"inboundQueueMessages"`
}

// Compression configures permessage-deflate (RFC 7692, decision 0018).
// When enabled, a client that offers the extension (browsers do) gets it,
// without context takeover in either direction: each message is
// compressed on its own, so an idle connection keeps no compression state.
type Compression struct {
	// Enabled offers permessage-deflate. Default false.
	Enabled bool `yaml:"enabled"`
	// MinBytes: outbound messages with a shorter payload are sent
	// uncompressed. Default 128 bytes (only with enabled); 1 byte to 16MiB.
	MinBytes ByteSize `yaml:"minBytes"`
}

// Channels configures the API's channels: named groups of connections
// that clients join and publish to with the switchboard.v1 protocol
// (docs/protocol.md), backends through the management API, and routes
// through the join, leave and broadcast actions.
type Channels struct {
	// MaxPerConnection bounds the channels one connection may be in; past
	// it a subscribe is refused (429). Default 128; 1 to 100000.
	MaxPerConnection int `yaml:"maxPerConnection"`
	// MaxNameBytes bounds the length of channel names, in bytes. Default
	// 255; 1 to 1024.
	MaxNameBytes int `yaml:"maxNameBytes"`
	// Namespaces give channels their rules: the first whose pattern
	// matches a channel's name applies, and a channel that no pattern
	// matches cannot be used (400). Default (also for an empty list): one
	// namespace with pattern "*" and the namespace defaults.
	Namespaces []Namespace `yaml:"namespaces"`
}

// Namespace is the rules of the channels whose names match its pattern.
type Namespace struct {
	// Pattern matches channel names: literal characters, '*' (any run of
	// characters, possibly empty) and at most one "{user}" (a non-empty
	// run of characters other than ':', which must be the connection's
	// user id where a rule is "user"). Examples: "chat:*", "user:{user}",
	// "*". See Match. Required.
	Pattern string `yaml:"pattern"`
	// Subscribe says who may subscribe from a client (a switchboard.v1
	// subscribe or a join route action): "allow" anyone, "deny" no one,
	// "user" the connection whose user id is the {user} part of the name,
	// "authorizer" whom the Authorizer integration allows. Membership set
	// by the management API or a $connect response is not checked.
	// Default allow.
	Subscribe string `yaml:"subscribe"`
	// Publish says who may publish from a client (a switchboard.v1 publish
	// or a broadcast route action with a channel): "deny", "allow",
	// "subscribers" (connections in the channel), "user" or "authorizer",
	// as for Subscribe. The management API may always publish. Default
	// subscribers.
	Publish string `yaml:"publish"`
	// Authorizer names an integration of the API that decides the
	// subscribe and publish requests whose rule is "authorizer". Required
	// when a rule is authorizer; not allowed otherwise.
	Authorizer string `yaml:"authorizer"`
	// History keeps each channel's recent publications, so that a client
	// that resubscribes can recover what it missed. Off by default.
	History History `yaml:"history"`
	// Presence keeps the channel's members (connection, user, info)
	// queryable by clients and the management API. Default true.
	Presence *bool `yaml:"presence"`
	// JoinLeave sends join and leave messages to the channel's
	// switchboard.v1 subscribers when a connection joins or leaves.
	// Requires presence. Default false.
	JoinLeave bool `yaml:"joinLeave"`
}

// History configures the stream of publications kept per channel
// (docs/protocol.md, "Recovery"). With Size 0, the default, nothing is
// kept and the other fields must stay unset.
type History struct {
	// Size is how many publications each channel keeps. 0 (default): no
	// history, no offsets, no recovery. At most 100000.
	Size int `yaml:"size"`
	// TTL is how long each publication is kept. Default 5m; 1s to 720h
	// (30 days).
	TTL Duration `yaml:"ttl"`
	// MetaTTL is how long a channel's epoch and offset survive without
	// publications; after it the stream starts again under a new epoch.
	// Default 24h, or TTL when that is longer; at least TTL, at most 720h.
	MetaTTL Duration `yaml:"metaTTL"`
	// RecoveryLimit is the most publications replayed to one resubscribing
	// client; a client that missed more gets recovered: false. Default
	// Size; 1 to Size.
	RecoveryLimit int `yaml:"recoveryLimit"`
}

// PresenceEnabled reports the effective Presence: true unless it was set
// to false.
func (n *Namespace) PresenceEnabled() bool {
	return n.Presence == nil || *n.Presence
}

// Route says what a route key calls. Exactly one of Integration and Action
// is set.
type Route struct {
	// Integration names an entry of API.Integrations.
	Integration string `yaml:"integration"`
	// Action is a built-in action that needs no backend. Not allowed on
	// $connect and $disconnect.
	Action *Action `yaml:"action"`
	// RouteResponseSelectionExpression "$default" makes the route two-way:
	// the integration's response body is sent back to the client, as AWS
	// does when a route response is defined. The only accepted value is
	// "$default" (as on AWS); empty means one-way.
	RouteResponseSelectionExpression string `yaml:"routeResponseSelectionExpression"`
}

// Action is a built-in route action.
type Action struct {
	// Type is "broadcast" (send to every connection of the API, or to the
	// members of Channel), "echo" (send the message back to its sender),
	// "join" (put the sender in Channel) or "leave" (take the sender out
	// of Channel). Required.
	Type string `yaml:"type"`
	// Channel names the channel, with the syntax of
	// routeSelectionExpression: $request.body.room,
	// room:${request.body.room} or literal text. Required for join and
	// leave; optional for broadcast (absent: every connection of the API,
	// present: publish to the channel, as the namespace's publish rule
	// allows); not allowed for echo.
	Channel string `yaml:"channel"`
	// Payload shapes what broadcast sends (see docs/configuration.md,
	// "Payload templates"). Absent: the message body is sent unchanged.
	// Only for broadcast.
	Payload any `yaml:"payload"`
	// ExcludeSender leaves the sending connection out of a broadcast.
	// Only for broadcast.
	ExcludeSender bool `yaml:"excludeSender"`
}

// Integration is a named backend.
type Integration struct {
	// Type is "http" (the AWS Lambda proxy event is POSTed as JSON to URL),
	// "lambda" (an AWS Lambda function invoked through the Lambda Invoke
	// API) or "function" (a Lambda handler that Switchboard runs itself as
	// worker processes, serving them the Lambda Runtime API). Required.
	Type string `yaml:"type"`
	// URL is the endpoint for type http (http or https).
	URL string `yaml:"url"`
	// Timeout bounds one call, as AWS's integration timeout. Between 50ms
	// and 29s on AWS; Switchboard accepts 1ms to 15m (1s to 15m, Lambda's
	// range, for a function). Default 29s. For a function it is also the
	// function's timeout: an invocation past it kills its worker.
	Timeout Duration `yaml:"timeout"`
	// MaxConcurrency bounds the calls in flight to this integration; more
	// wait (within their timeout) for a free slot. Default 256 for http and
	// lambda (at most 100000), 4 for function (one worker process per
	// concurrent call; at most 1000).
	MaxConcurrency int `yaml:"maxConcurrency"`
	// MaxWaiting bounds the calls waiting for one of the MaxConcurrency
	// slots; past it calls fail at once (shed: 502 on $connect, "Internal
	// server error" on messages) instead of queueing until their timeout,
	// so a slow backend does not hold every connection's work. Default:
	// MaxConcurrency.
	MaxWaiting int `yaml:"maxWaiting"`
	// Headers are added to every request (for example a shared secret).
	// Only for http.
	Headers map[string]string `yaml:"headers"`

	// Lambda configures type lambda.
	Lambda Lambda `yaml:"lambda"`
	// Function configures type function.
	Function Function `yaml:"function"`
}

// Lambda is an AWS Lambda function called through the Invoke API with the
// AWS SDK's standard credential chain (environment, shared config and
// credentials files, SSO, web identity, container and instance roles).
type Lambda struct {
	// FunctionName is the function's name, partial ARN
	// (ACCOUNT:function:NAME) or full ARN
	// (arn:aws:lambda:REGION:ACCOUNT:function:NAME), each optionally
	// followed by :QUALIFIER, as the Invoke API accepts. Required.
	FunctionName string `yaml:"functionName"`
	// Qualifier is a version or alias to invoke. Default: none ($LATEST, or
	// the qualifier in FunctionName's ARN).
	Qualifier string `yaml:"qualifier"`
	// Region is the function's region. Default: the region of a full ARN,
	// else the SDK's (AWS_REGION, the shared config file).
	Region string `yaml:"region"`
	// Endpoint overrides the Lambda endpoint, for Lambda-compatible
	// servers (LocalStack, the runtime interface emulator): http(s)://host[:port].
	Endpoint string `yaml:"endpoint"`
}

// Function is a Lambda handler run locally: Switchboard starts worker
// processes in Directory and serves them the Lambda Runtime API, so a
// handler written for AWS Lambda runs unmodified.
type Function struct {
	// Runtime is "provided" (Directory holds an executable, by default
	// "bootstrap", that speaks the Runtime API, as on provided.al2023),
	// "nodejs" (Switchboard's bootstrap loads Handler with the AWS Node.js
	// programming model) or "python". Required.
	Runtime string `yaml:"runtime"`
	// Directory is the function's code: LAMBDA_TASK_ROOT and the workers'
	// working directory. Relative paths are relative to the config file's
	// directory (Load makes them absolute; without a file they stay
	// relative to the working directory). Required; must exist.
	Directory string `yaml:"directory"`
	// Handler is _HANDLER: "file.export" for nodejs ("index.handler" loads
	// index.js or index.mjs and calls its handler export; "file.a.b" is a
	// nested export) and "module.function" for python ("app.handler",
	// "pkg/app.handler"), without the file's extension or ".."; passed as
	// is to a provided runtime. Required for nodejs and python.
	Handler string `yaml:"handler"`
	// Command overrides the executable of a provided runtime, relative to
	// Directory or absolute, with arguments. Default ["bootstrap"]. Only
	// for provided.
	Command []string `yaml:"command"`
	// Name is AWS_LAMBDA_FUNCTION_NAME: letters, digits, '-' and '_', at
	// most 64 characters. Default: the integration's name, with other
	// characters replaced by '-' (and cut to 64).
	Name string `yaml:"name"`
	// Memory is AWS_LAMBDA_FUNCTION_MEMORY_SIZE and the context's
	// memoryLimitInMB, in MB (128 to 10240, as on AWS). It is reported,
	// not enforced. Default 128.
	Memory int `yaml:"memory"`
	// Environment is added to the workers' environment (after the
	// standard Lambda variables, which it cannot set; AWS_REGION and
	// AWS_DEFAULT_REGION are allowed). Names match [A-Za-z_][A-Za-z0-9_]*.
	Environment map[string]string `yaml:"environment"`
	// MinWorkers is how many workers are started at once and kept warm, at
	// most MaxConcurrency. Default 0: the first call starts one (a cold
	// start).
	MinWorkers int `yaml:"minWorkers"`
	// IdleTimeout stops a worker above MinWorkers that had no invocation
	// for this long. Default 5m; 1s to 24h.
	IdleTimeout Duration `yaml:"idleTimeout"`
	// Credentials says which AWS credentials the workers get. "generated"
	// (default): an access key pair Switchboard makes at start, held in
	// memory only and accepted by its own management API for this API's
	// stage only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, no
	// AWS_SESSION_TOKEN); none of Switchboard's own AWS variables reach
	// the workers. "environment": Switchboard's AWS credential and
	// configuration variables (keys, session token, profile, config
	// files, container and web-identity roles) are passed through
	// instead, for handlers that also call real AWS services; a warning
	// at start says so. Environment still overrides either.
	Credentials string `yaml:"credentials"`
}

// Disconnect configures delivery of $disconnect events.
type Disconnect struct {
	// Attempts is the total number of tries of a failed $disconnect call.
	// Default 3.
	Attempts int `yaml:"attempts"`
	// Backoff is the wait before the second try; it doubles for each
	// further try. Default 200ms.
	Backoff Duration `yaml:"backoff"`
}

// Auth says how an API authenticates clients at connect. JWT and Authorizer
// may both be set: the token is checked first, then the authorizer runs.
type Auth struct {
	// Origins, when not empty, is the allowlist of Origin headers a browser
	// handshake may carry ("https://app.example.com", "https://*.example.com");
	// others get 403 (cross-site WebSocket hijacking). Handshakes without
	// Origin (non-browser clients) are allowed. Default: any origin.
	Origins []string `yaml:"origins"`
	JWT     *JWT     `yaml:"jwt"`
	// Authorizer is a REQUEST authorizer in the AWS format.
	Authorizer *Authorizer `yaml:"authorizer"`
}

// JWT verifies a JSON Web Token at connect.
type JWT struct {
	// Keys are static verification keys, each pinned to one algorithm.
	Keys []JWTKey `yaml:"keys"`
	// JWKSURL is a JSON Web Key Set to fetch keys from (https, or http on
	// loopback); refreshed every JWKSRefresh and, rate-limited, when a
	// token names an unknown kid.
	JWKSURL string `yaml:"jwksUrl"`
	// JWKSRefresh is how often the key set is fetched again. Default 1h;
	// 1m to 24h. Only with JWKSURL.
	JWKSRefresh Duration `yaml:"jwksRefresh"`
	// Algorithms allowed for JWKS keys that do not name theirs (not HS*: a
	// key set is public). Default [RS256]. Only with JWKSURL.
	Algorithms []string `yaml:"algorithms"`
	// Query is the query parameter carrying the token. Default "token".
	Query string `yaml:"query"`
	// Header is the header carrying the token ("Bearer " prefix optional).
	// Default "Authorization".
	Header string `yaml:"header"`
	// SubprotocolPrefix: a Sec-WebSocket-Protocol entry starting with it
	// carries the token after the prefix (browsers cannot set headers).
	// Default "bearer.".
	SubprotocolPrefix string `yaml:"subprotocolPrefix"`
	// Issuer, when set, must equal the iss claim.
	Issuer string `yaml:"issuer"`
	// Audience, when set, must contain one of the aud values.
	Audience []string `yaml:"audience"`
	// Leeway tolerates clock skew on exp, nbf and iat. Default 30s; at
	// most 5m.
	Leeway Duration `yaml:"leeway"`
	// UserClaim is the claim that becomes the connection's user id.
	// Default "sub".
	UserClaim string `yaml:"userClaim"`
	// ContextClaims are copied into requestContext.authorizer.
	ContextClaims []string `yaml:"contextClaims"`
	// Optional lets connections without a token in (unauthenticated, no
	// user); a token that is present must still be valid. Default false.
	Optional bool `yaml:"optional"`
}

// JWTKey is one static verification key.
type JWTKey struct {
	// ID matches the token's kid header. Default: matches any kid.
	ID string `yaml:"id"`
	// Algorithm is pinned: HS256/384/512, RS256/384/512, PS256/384/512,
	// ES256/384/512 or EdDSA. Required.
	Algorithm string `yaml:"algorithm"`
	// Secret is the HMAC secret (HS*); at least the hash size: 32, 48 or
	// 64 bytes. Use ${ENV_VAR}.
	Secret string `yaml:"secret"`
	// PublicKey is a PEM public key (RS*, PS*, ES*, EdDSA), inline or as
	// PublicKeyFile, which is relative to the config file's directory
	// (Load makes it absolute). Exactly one of them for those algorithms.
	PublicKey     string `yaml:"publicKey"`
	PublicKeyFile string `yaml:"publicKeyFile"`
}

// Authorizer is a REQUEST authorizer in the AWS format: an integration
// that gets the authorizer event and answers an IAM policy.
type Authorizer struct {
	// Integration names an integration of the API. Required.
	Integration string `yaml:"integration"`
	// IdentitySources are route.request.header.NAME and
	// route.request.querystring.NAME; a handshake missing any is refused
	// with 401 without calling the integration. They also key the cache.
	IdentitySources []string `yaml:"identitySources"`
	// CacheTTL caches the decision per identity (0: no cache; AWS allows
	// up to 1h, and so does Switchboard). Default 0. Needs
	// IdentitySources, which key the cache.
	CacheTTL Duration `yaml:"cacheTTL"`
}
