package payload

import (
	"slices"
	"strings"
)

// Context is what $context variables read: the request context of the
// message being rendered, with AWS's requestContext names.
type Context struct {
	ConnectionID string // $context.connectionId
	RequestID    string // $context.requestId
	MessageID    string // $context.messageId
	RouteKey     string // $context.routeKey
	Stage        string // $context.stage
	DomainName   string // $context.domainName
	APIID        string // $context.apiId
	EventType    string // $context.eventType (MESSAGE for routed messages)

	ConnectedAt      int64 // $context.connectedAt, ms since the Unix epoch
	RequestTimeEpoch int64 // $context.requestTimeEpoch, ms since the Unix epoch

	SourceIP  string // $context.identity.sourceIp
	UserAgent string // $context.identity.userAgent
}

// contextVar names one field of Context.
type contextVar uint8

const (
	ctxConnectionID contextVar = iota
	ctxRequestID
	ctxMessageID
	ctxRouteKey
	ctxStage
	ctxDomainName
	ctxAPIID
	ctxEventType
	ctxConnectedAt
	ctxRequestTimeEpoch
	ctxSourceIP
	ctxUserAgent
)

// contextVars maps the names after "$context." to fields. Read-only.
var contextVars = map[string]contextVar{
	"connectionId":       ctxConnectionID,
	"requestId":          ctxRequestID,
	"messageId":          ctxMessageID,
	"routeKey":           ctxRouteKey,
	"stage":              ctxStage,
	"domainName":         ctxDomainName,
	"apiId":              ctxAPIID,
	"eventType":          ctxEventType,
	"connectedAt":        ctxConnectedAt,
	"requestTimeEpoch":   ctxRequestTimeEpoch,
	"identity.sourceIp":  ctxSourceIP,
	"identity.userAgent": ctxUserAgent,
}

// contextNames lists the $context variables for error messages.
func contextNames() string {
	names := make([]string, 0, len(contextVars))
	for n := range contextVars {
		names = append(names, "$context."+n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// isNumber reports whether v renders as a JSON number.
func (v contextVar) isNumber() bool { return v == ctxConnectedAt || v == ctxRequestTimeEpoch }

// number returns a numeric variable.
func (v contextVar) number(c *Context) int64 {
	if v == ctxConnectedAt {
		return c.ConnectedAt
	}
	return c.RequestTimeEpoch
}

// text returns a string variable.
func (v contextVar) text(c *Context) string {
	switch v {
	case ctxConnectionID:
		return c.ConnectionID
	case ctxRequestID:
		return c.RequestID
	case ctxMessageID:
		return c.MessageID
	case ctxRouteKey:
		return c.RouteKey
	case ctxStage:
		return c.Stage
	case ctxDomainName:
		return c.DomainName
	case ctxAPIID:
		return c.APIID
	case ctxEventType:
		return c.EventType
	case ctxSourceIP:
		return c.SourceIP
	case ctxUserAgent:
		return c.UserAgent
	}
	return ""
}
