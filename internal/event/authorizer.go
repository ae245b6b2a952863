package event

import (
	"slices"
	"time"

	"github.com/switchboardhq/switchboard/internal/jsonenc"
)

// TypeRequest is the "type" of the authorizer event: AWS WebSocket APIs
// have REQUEST authorizers only (no TOKEN).
const TypeRequest = "REQUEST"

// AuthorizerRequest builds the event a Lambda REQUEST authorizer gets for
// a $connect handshake, in the shape of AWS's captures (the 2023
// developer guide example and powertools' 2025
// apiGatewayAuthorizerWebSocketEvent.json):
//
//	{"type": "REQUEST", "methodArn": "...", "headers": {...},
//	 "multiValueHeaders": {...}, "queryStringParameters": {...},
//	 "multiValueQueryStringParameters": {...}, "stageVariables": {},
//	 "requestContext": {...}}
//
// It differs from the $connect event (Connect) in that it starts with type
// and methodArn, always has both query maps ({} when the query string is
// empty), has an empty stageVariables (Switchboard has no stage
// variables), has no isBase64Encoded, and its requestContext never has an
// "authorizer" key (requestContext is otherwise the CONNECT one: routeKey
// $connect, eventType CONNECT, the connection's id already assigned).
//
// headers are the handshake headers as the authorizer should see them: AWS
// keeps Connection and Upgrade here (they are dropped from the $connect
// event) and adds content-length: 0, X-Amzn-Trace-Id and
// X-Forwarded-For/-Port/-Proto; that is the caller's job. They are grouped
// and sorted as Connect does (names folded without regard to ASCII case,
// the last value in "headers"); query is grouped as Connect does (names
// case-sensitive, client order). methodARN is
// arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/$connect. The slices are
// not retained.
//
// EventType reports EventConnect, as requestContext.eventType says; use
// IsAuthorizer to tell the authorizer event from the $connect event.
func AuthorizerRequest(c *Connection, now time.Time, requestID, methodARN string, headers []HeaderField, query []QueryParam) *Request {
	r := &Request{
		conn:      c,
		kind:      kindAuthorizer,
		routeKey:  RouteConnect,
		eventType: EventConnect,
		requestID: requestID,
		time:      now,
		methodARN: methodARN,
	}
	r.headers = groupFields(len(headers), func(i int) (string, string) { return headers[i].Name, headers[i].Value }, true)
	slices.SortStableFunc(r.headers, func(a, b field) int { return compareFold(a.name, b.name) })
	r.query = groupFields(len(query), func(i int) (string, string) { return query[i].Name, query[i].Value }, false)
	return r
}

// IsAuthorizer reports whether r is a REQUEST authorizer event (built by
// AuthorizerRequest) rather than a route's event.
func (r *Request) IsAuthorizer() bool { return r.kind == kindAuthorizer }

// MethodARN returns the authorizer event's methodArn; "" for other events.
func (r *Request) MethodARN() string { return r.methodARN }

// appendAuthorizerJSON is AppendJSON for kindAuthorizer.
func (r *Request) appendAuthorizerJSON(dst []byte) []byte {
	dst = append(dst, `{"type":"`+TypeRequest+`","methodArn":`...)
	dst = jsonenc.AppendString(dst, r.methodARN)
	dst = appendFieldsSingle(dst, `,"headers":`, r.headers)
	dst = appendFieldsMulti(dst, `,"multiValueHeaders":`, r.headers)
	dst = appendFieldsSingle(dst, `,"queryStringParameters":`, r.query)
	dst = appendFieldsMulti(dst, `,"multiValueQueryStringParameters":`, r.query)
	dst = append(dst, `,"stageVariables":{},`...)
	dst = r.appendRequestContext(dst)
	return append(dst, '}')
}
