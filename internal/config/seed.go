package config

// SeedYAML is the configuration `switchboard serve` runs without a file,
// written out as a commented example to start from. Parse(SeedYAML) equals
// Default().
const SeedYAML = `# Switchboard configuration. Every key is optional unless marked required;
# omitted keys take the defaults listed in docs/configuration.md.
# Values may use ${NAME} or ${NAME:-default} to read environment variables.

# One listener for WebSocket clients, the management API, /healthz,
# /readyz and /metrics. This machine only: use ":8080" (or serve --listen
# :8080) to accept clients from other machines.
listen: "127.0.0.1:8080"

log:
  level: info       # debug, info, warn or error
  format: json      # json or text

shutdown:
  readinessDelay: 0s  # /readyz fails this long before the drain (default 5s, for load balancers)
  drainWindow: 5s   # going-away closes are spread over this window
  timeout: 30s      # after this, remaining connections are dropped

management:
  # Requests from a loopback address need no key (development only).
  allowLoopback: true
  # Backends call POST /{stage}/@connections/{id} with
  # "Authorization: Bearer <key>". Keep keys out of the file with ${VAR}.
  # apiKeys:
  #   - name: backend
  #     key: ${SWITCHBOARD_BACKEND_KEY}

apis:
  # The demo chat: clients connect to ws://localhost:8080/production and
  # send {"action": "sendMessage", "message": "hi"}; every client of the
  # API receives {"message": "hi", "sender": ..., "timestamp": ...}.
  - id: chat                     # reported as requestContext.apiId
    stage: production            # clients connect to /production
    # Picks the route of each message, as on AWS.
    routeSelectionExpression: $request.body.action
    binary: reject               # raw clients' binary frames close with 1003, as on AWS
    limits:                      # the defaults equal the AWS quotas
      maxMessageBytes: 128KiB
      idleTimeout: 10m
      maxConnectionDuration: 2h
    routes:
      sendMessage:
        action:
          type: broadcast        # send to every connection of this API
          payload:
            message: $request.body.message
            sender: $context.connectionId
            timestamp: $context.requestTimeEpoch
      # Routes can call your backend instead: the AWS Lambda proxy event is
      # POSTed as JSON to the integration's URL.
      # $connect:
      #   integration: backend
      # $default:
      #   integration: backend
      #   routeResponseSelectionExpression: $default   # send the reply back
    # integrations:
    #   backend:
    #     type: http
    #     url: http://localhost:3000/websocket
`

// Default returns the seed configuration that `switchboard serve` runs
// without a file (SeedYAML), with every default applied. It is valid.
func Default() *Config {
	c := &Config{
		Listen: "127.0.0.1:8080",
		// Development mode: the seed serves a laptop (SeedYAML says why).
		Management: Management{AllowLoopback: new(true)},
		Shutdown:   Shutdown{ReadinessDelay: new(Duration(0))},
		APIs: []API{{
			ID:                       "chat",
			Stage:                    "production",
			RouteSelectionExpression: "$request.body.action",
			Routes: map[string]Route{
				"sendMessage": {Action: &Action{
					Type: "broadcast",
					Payload: map[string]any{
						"message":   "$request.body.message",
						"sender":    "$context.connectionId",
						"timestamp": "$context.requestTimeEpoch",
					},
				}},
			},
		}},
	}
	c.ApplyDefaults()
	return c
}
