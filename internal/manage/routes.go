package manage

import (
	"net/http"
	"strings"
)

// routeSpec is what one route kind serves: its path, as the OpenAPI
// document (openapi.yaml) writes it, and its methods, in the order the
// Allow header of a 405 lists them.
type routeSpec struct {
	path    string
	methods []routeMethod
}

// routeMethod is one method of a route and the handler func that serves
// it.
type routeMethod struct {
	method string
	serve  func(h *Handler, w *statusWriter, r *http.Request, rt route) error
}

// allow is the Allow header of a 405 on the route.
func (s *routeSpec) allow() string {
	names := make([]string, len(s.methods))
	for i, m := range s.methods {
		names[i] = m.method
	}
	return strings.Join(names, ", ")
}

// routeTable is the management API's routes: Handler.serve dispatches on
// it and answers 405 with its methods, Operations lists it, and the
// OpenAPI test checks that it and the document describe the same
// (path, method) pairs. Indexed by routeKind; routeNone and routeNoStage
// (404 and 403 for every method) have no entry. parsePath decides the
// kind, and so which path shapes a template stands for: the template of
// routeList also covers its trailing-slash form.
var routeTable = [routeNoStage]routeSpec{
	routeList: {"/{stage}/@connections", []routeMethod{
		{http.MethodGet, (*Handler).listConnections},
	}},
	routeConnection: {"/{stage}/@connections/{connectionId}", []routeMethod{
		{http.MethodGet, (*Handler).getConnection},
		{http.MethodPost, (*Handler).postToConnection},
		{http.MethodDelete, (*Handler).deleteConnection},
	}},
	routeChannel: {"/{stage}/@channels/{channel}", []routeMethod{
		{http.MethodGet, (*Handler).getChannel},
		{http.MethodPost, (*Handler).publish},
	}},
	routeHistory: {"/{stage}/@channels/{channel}/history", []routeMethod{
		{http.MethodGet, (*Handler).history},
	}},
	routeMember: {"/{stage}/@channels/{channel}/connections/{connectionId}", []routeMethod{
		{http.MethodPut, (*Handler).join},
		{http.MethodDelete, (*Handler).leave},
	}},
	routeUser: {"/{stage}/@users/{user}", []routeMethod{
		{http.MethodGet, (*Handler).userConnections},
		{http.MethodPost, (*Handler).postToUser},
		{http.MethodDelete, (*Handler).disconnectUser},
	}},
	routeBroadcast: {"/{stage}/@broadcast", []routeMethod{
		{http.MethodPost, (*Handler).broadcast},
	}},
	routeBatch: {"/{stage}/@batch", []routeMethod{
		{http.MethodPost, (*Handler).batch},
	}},
}

// Operation is one (path, method) pair the management API serves.
type Operation struct {
	// Method is the HTTP method, such as "GET".
	Method string
	// Path is the path template as the OpenAPI document writes it, such
	// as "/{stage}/@connections/{connectionId}". Its parameters are
	// stage, connectionId, channel and user.
	Path string
}

// Operations returns every (path, method) pair the management API serves,
// from the table its Handler dispatches on: the operations of the OpenAPI
// document (OpenAPIYAML).
func Operations() []Operation {
	var ops []Operation
	for _, spec := range routeTable {
		for _, m := range spec.methods {
			ops = append(ops, Operation{Method: m.method, Path: spec.path})
		}
	}
	return ops
}

// RouteOf tells which path template of Operations an escaped request path
// (r.URL.EscapedPath()) has, and the methods it is served with (the Allow
// of a 405); ok is false for a path of no template, which the Handler
// answers with 404 (or 403 without a stage, or 400 when malformed).
func RouteOf(escapedPath string) (path string, methods []string, ok bool) {
	rt, err := parsePath(escapedPath)
	if err != nil || rt.kind == routeNone || rt.kind == routeNoStage {
		return "", nil, false
	}
	spec := &routeTable[rt.kind]
	for _, m := range spec.methods {
		methods = append(methods, m.method)
	}
	return spec.path, methods, true
}
