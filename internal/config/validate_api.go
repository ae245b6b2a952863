package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Route keys with a meaning of their own. Custom route keys must not start
// with "$" (as on AWS).
const (
	routeConnect    = "$connect"
	routeDisconnect = "$disconnect"
	routeDefault    = "$default"
)

var predefinedRoutes = []string{routeConnect, routeDisconnect, routeDefault}

func (v *validator) api(path string, a *API) {
	v.name(path+".id", a.ID, maxIDLen, "the API id reported as requestContext.apiId, e.g. id: chat")
	if v.name(path+".stage", a.Stage, maxStageLen, "the first path segment clients connect to, e.g. stage: production") {
		if slices.Contains(reservedStages, a.Stage) {
			v.add(path+".stage", "%q is reserved for Switchboard's own endpoints (%s); choose another stage", a.Stage, strings.Join(reservedStages, ", "))
		}
	}
	if a.DomainName != "" {
		if msg := checkDomainName(a.DomainName); msg != "" {
			v.add(path+".domainName", "%s", msg)
		}
	}
	v.selectionExpression(path+".routeSelectionExpression", a.RouteSelectionExpression)
	v.oneOf(path+".binary", a.Binary, "a binary frame mode", binaryModes)
	v.limits(path+".limits", &a.Limits)
	v.compression(path+".compression", &a.Compression)
	namespacesOK := v.channels(path, &a.Channels, a.Integrations)
	v.auth(path, &a.Auth, a.Integrations)

	if len(a.Routes) > maxRoutes {
		v.add(path+".routes", "has %d routes; AWS allows at most %d per API, and so does Switchboard: split the API or route on a wider key", len(a.Routes), maxRoutes)
	}
	for _, key := range slices.Sorted(maps.Keys(a.Routes)) {
		r := a.Routes[key]
		v.route(path, joinKey(path+".routes", key), key, &r, a, namespacesOK)
	}
	for _, name := range slices.Sorted(maps.Keys(a.Integrations)) {
		in := a.Integrations[name]
		v.integration(joinKey(path+".integrations", name), name, &in)
	}

	v.intRange(path+".disconnect.attempts", a.Disconnect.Attempts, 1, maxDisconnectTries)
	v.duration(path+".disconnect.backoff", a.Disconnect.Backoff, time.Millisecond, time.Minute)
}

// name checks a required id or stage: letters, digits, '-' and '_', at
// most maxLen characters. It reports whether the name is well formed.
func (v *validator) name(field, s string, maxLen int, what string) bool {
	if s == "" {
		v.add(field, "is required; set %s", what)
		return false
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return !isNameRune(r) }); i >= 0 {
		r := []rune(s[i:])[0]
		v.add(field, "%q contains %q; use only letters, digits, '-' and '_'", s, r)
		return false
	}
	if len(s) > maxLen {
		v.add(field, "is %d characters long; shorten it to at most %d", len(s), maxLen)
		return false
	}
	return true
}

// isNameRune reports whether r may appear in an id, a stage or a Lambda
// function name: an ASCII letter or digit, '-' or '_'.
func isNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// checkDomainName returns what is wrong with a host[:port], or "".
func checkDomainName(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		return fmt.Sprintf("%q has a scheme; write only the host (and port), e.g. %q", s, strings.SplitN(s[i+3:], "/", 2)[0])
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		return fmt.Sprintf("%q has a path; write only the host (and port), e.g. %q", s, s[:i])
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		host = h
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
			return fmt.Sprintf("port %q of %q is not a number from 1 to 65535; write host or host:port", port, s)
		}
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	} else if strings.Contains(s, ":") {
		return fmt.Sprintf("%q is not host or host:port (an IPv6 address goes in brackets: [::1]:8080)", s)
	}
	if host == "" {
		return fmt.Sprintf("%q has no host; write host or host:port, e.g. chat.example.com", s)
	}
	if msg := checkHost(host); msg != "" {
		return fmt.Sprintf("host %q %s; write host or host:port, e.g. chat.example.com", host, msg)
	}
	return ""
}

// selectionExpression checks only that an expression is there and looks
// like one; the route package compiles it and reports syntax errors.
func (v *validator) selectionExpression(field, expr string) {
	const fix = `write $request.body.action (the JSON field "action" of each message) or \$default (every message to the $default route)`
	switch {
	case expr == "":
		v.add(field, "is required; %s", fix)
	case !strings.HasPrefix(expr, "$") && !strings.HasPrefix(expr, `\$`) && !strings.Contains(expr, "${"):
		v.add(field, "%q is not a selection expression; %s", expr, fix)
	}
}

func (v *validator) limits(path string, l *Limits) {
	// The sizes that depend on maxMessageBytes are only compared with a
	// valid one, so that one mistake is reported once.
	switch {
	case l.MaxMessageBytes < 1 || l.MaxMessageBytes > maxMessageLimit:
		v.add(path+".maxMessageBytes", "%s is out of range; use a size from 1 to %s (AWS allows 128KiB)", l.MaxMessageBytes, maxMessageLimit)
	case l.MaxFrameBytes < 1:
		v.add(path+".maxFrameBytes", "%s is out of range; use a size from 1 to maxMessageBytes (%s)", l.MaxFrameBytes, l.MaxMessageBytes)
	case l.MaxFrameBytes > l.MaxMessageBytes:
		v.add(path+".maxFrameBytes", "%s is larger than maxMessageBytes (%s), so a frame could never be accepted whole; lower it or raise maxMessageBytes", l.MaxFrameBytes, l.MaxMessageBytes)
	}
	if need := l.MaxMessageBytes + frameOverhead; l.MaxMessageBytes >= 1 && l.MaxMessageBytes <= maxMessageLimit && l.OutboundQueueBytes < need {
		v.add(path+".outboundQueueBytes", "%s cannot hold one message of maxMessageBytes (%s) with its frame header; raise it to at least %d bytes or lower maxMessageBytes",
			l.OutboundQueueBytes, l.MaxMessageBytes, int64(need))
	}
	v.duration(path+".idleTimeout", l.IdleTimeout, time.Second, 24*time.Hour)
	v.duration(path+".maxConnectionDuration", l.MaxConnectionDuration, time.Second, 7*24*time.Hour)
	v.duration(path+".pingInterval", l.PingInterval, time.Second, time.Hour)
	v.duration(path+".pongTimeout", l.PongTimeout, time.Second, 10*time.Minute)
	v.duration(path+".writeTimeout", l.WriteTimeout, 100*time.Millisecond, 10*time.Minute)
	v.intRange(path+".inboundQueueMessages", l.InboundQueueMessages, 1, maxInboundQueue)
	v.admissionLimits(path, l)
}

// compression checks permessage-deflate's settings.
func (v *validator) compression(path string, c *Compression) {
	switch {
	case !c.Enabled && c.MinBytes != 0:
		v.add(path+".minBytes", "is set but compression is not enabled; add enabled: true or remove minBytes")
	case c.Enabled && (c.MinBytes < 1 || c.MinBytes > maxMessageLimit):
		v.add(path+".minBytes", "%s is out of range; use a size from 1 byte to %s", c.MinBytes, maxMessageLimit)
	}
}

// Bounds of the connection and message limits (0 is always "no limit").
const (
	maxRateLimit       = 1_000_000  // per second, and bursts
	maxConnectionLimit = 10_000_000 // open connections
)

// admissionLimits checks the connection-rate, open-connection and message
// rate limits of an API.
func (v *validator) admissionLimits(path string, l *Limits) {
	v.rate(path, "connectionsPerSecond", l.ConnectionsPerSecond, "connectionBurst", l.ConnectionBurst)
	v.intRange(path+".connectionsPerSecondPerIP", l.ConnectionsPerSecondPerIP, 0, maxRateLimit)
	for _, f := range []struct {
		name string
		n    int
	}{
		{"maxConnections", l.MaxConnections},
		{"maxConnectionsPerIP", l.MaxConnectionsPerIP},
		{"maxConnectionsPerUser", l.MaxConnectionsPerUser},
	} {
		v.intRange(path+"."+f.name, f.n, 0, maxConnectionLimit)
	}
	if l.MaxConnections > 0 && l.MaxConnections <= maxConnectionLimit {
		for _, f := range []struct {
			name, per string
			n         int
		}{
			{"maxConnectionsPerIP", "IP address", l.MaxConnectionsPerIP},
			{"maxConnectionsPerUser", "user", l.MaxConnectionsPerUser},
		} {
			if f.n > l.MaxConnections && f.n <= maxConnectionLimit {
				v.add(path+"."+f.name, "%d is more than maxConnections (%d), the API's total, so it could never be reached; lower it to at most %d, or raise maxConnections",
					f.n, l.MaxConnections, l.MaxConnections)
			}
		}
	}
	v.rate(path, "messagesPerSecond", l.MessagesPerSecond, "messageBurst", l.MessageBurst)
}

// rate checks a token bucket: its rate and its burst, which must not be
// below the rate and has no meaning without one. The burst is only checked
// with a valid rate: ApplyDefaults sets an unset burst to the rate, whose
// mistake is then reported once.
func (v *validator) rate(path, rateName string, rate int, burstName string, burst int) {
	if rate < 0 || rate > maxRateLimit {
		v.intRange(path+"."+rateName, rate, 0, maxRateLimit)
		return
	}
	switch {
	case burst < 0 || burst > maxRateLimit:
		v.intRange(path+"."+burstName, burst, 0, maxRateLimit)
	case rate == 0 && burst != 0:
		v.add(path+"."+burstName, "has no effect without %s; set %s, or remove %s", rateName, rateName, burstName)
	case burst < rate:
		v.add(path+"."+burstName, "%d is less than %s (%d); a burst is at least one second's worth at the rate: raise it to at least %d, or leave it out to make it equal the rate",
			burst, rateName, rate, rate)
	}
}

// route checks one route of API a. namespacesOK reports that every
// namespace pattern of a is well formed, so that a channel can be matched
// against them.
func (v *validator) route(apiPath, path, key string, r *Route, a *API, namespacesOK bool) {
	integrations := a.Integrations
	switch {
	case key == "":
		v.add(path, "a route key must not be empty; use $connect, $disconnect, $default or the value your routeSelectionExpression yields, e.g. sendMessage")
		return
	case strings.HasPrefix(key, "$") && !slices.Contains(predefinedRoutes, key):
		msg := fmt.Sprintf("custom route keys must not start with \"$\" (as on AWS), and the only predefined keys are %s; rename the route", strings.Join(predefinedRoutes, ", "))
		if s := suggest(key, predefinedRoutes); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		v.add(path, "%s", msg)
		return
	}
	lifecycle := key == routeConnect || key == routeDisconnect

	switch {
	case r.Integration != "" && r.Action != nil:
		v.add(path, "sets both integration and action; keep one")
	case r.Integration == "" && r.Action == nil:
		if lifecycle {
			v.add(path, "sets neither integration nor action; set integration (a name from %s.integrations), or remove the route", apiPath)
		} else {
			v.add(path, "sets neither integration nor action; set integration (a name from %s.integrations) or action (%s)", apiPath, orList(actionTypes))
		}
	case r.Integration != "":
		if _, ok := integrations[r.Integration]; !ok {
			v.add(path+".integration", "%s", unknownIntegration(apiPath, r.Integration, integrations))
		}
	case lifecycle:
		v.add(path+".action", "actions are not allowed on %s; use an integration, or remove the route (%s)", key,
			map[string]string{routeConnect: "then every connection is accepted", routeDisconnect: "then nothing is called"}[key])
	default:
		v.action(apiPath, path+".action", r.Action, &a.Channels, namespacesOK)
	}

	switch rr := r.RouteResponseSelectionExpression; {
	case rr == "":
	case rr != routeDefault:
		v.add(path+".routeResponseSelectionExpression", "%q is not supported; AWS only supports $default (send the integration's response back to the client); write $default, or remove it for a one-way route", rr)
	case lifecycle:
		v.add(path+".routeResponseSelectionExpression", "is not allowed on %s, which has no client message to answer; remove it", key)
	case r.Action != nil && r.Integration == "":
		v.add(path+".routeResponseSelectionExpression", "is only for routes with an integration (an action has no response to send back; use type: echo to answer the sender); remove it")
	}
}

func unknownIntegration(apiPath, name string, integrations map[string]Integration) string {
	if len(integrations) == 0 {
		return fmt.Sprintf("%q is not defined: this API has no integrations; add it under %s.integrations", name, apiPath)
	}
	known := slices.Sorted(maps.Keys(integrations))
	msg := fmt.Sprintf("%q is not defined in %s.integrations (defined: %s); fix the name or add the integration", name, apiPath, strings.Join(known, ", "))
	if s := suggest(name, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// actionEffect says what an action other than broadcast does, for the
// problems with the fields only broadcast uses.
var actionEffect = map[string]string{
	"echo":  "echo sends the message back unchanged",
	"join":  "join only puts the sender in the channel",
	"leave": "leave only takes the sender out of the channel",
}

func (v *validator) action(apiPath, path string, a *Action, ch *Channels, namespacesOK bool) {
	if a.Type == "" {
		v.add(path+".type", "is required; use %s", orList(actionTypes))
		return
	}
	if !v.oneOf(path+".type", a.Type, "an action type", actionTypes) {
		return
	}
	switch {
	case a.Type == "echo" && a.Channel != "":
		v.add(path+".channel", "is not used by type echo, which sends the message back to its sender; remove it, or use type broadcast to publish to the channel")
	case a.Channel != "":
		v.channelExpression(apiPath, path+".channel", a.Channel, ch, namespacesOK)
	case a.Type == "join" || a.Type == "leave":
		v.add(path+".channel", "is required for type %s; name the channel with a selection expression, e.g. channel: $request.body.room or channel: room:${request.body.room}", a.Type)
	}
	if a.Type == "broadcast" {
		if a.Payload != nil {
			if _, err := json.Marshal(a.Payload); err != nil {
				v.add(path+".payload", "cannot be sent as JSON (%v); quote values such as .inf or .nan", err)
			}
		}
		return
	}
	if a.Payload != nil {
		v.add(path+".payload", "is only used by type broadcast; remove it (%s)", actionEffect[a.Type])
	}
	if a.ExcludeSender {
		v.add(path+".excludeSender", "is only used by type broadcast; remove it")
	}
}
