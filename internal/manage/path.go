package manage

import (
	"net/url"
	"strings"
)

// connectionsSegment is the second segment of every management path, after
// percent-decoding: /{stage}/@connections[/{id}].
const connectionsSegment = "@connections"

// routeKind tells which operation a path addresses.
type routeKind int

const (
	// routeNone: not a path this API serves (404 for every method).
	routeNone routeKind = iota
	// routeList: /{stage}/@connections or /{stage}/@connections/ (GET).
	routeList
	// routeConnection: /{stage}/@connections/{id} (GET, POST, DELETE).
	routeConnection
	// routeNoStage: /@connections/... — an endpoint configured without
	// its stage, which AWS answers with 403 Forbidden.
	routeNoStage
)

// route is a parsed management path. stage and id are percent-decoded.
type route struct {
	kind  routeKind
	stage string
	id    string
	// name is the decoded path after the stage, without a leading slash,
	// as AWS quotes it in "No method found matching route <name> ...".
	name string
}

// IsManagementPath reports whether an escaped URL path (r.URL.EscapedPath())
// is a management path: its second segment, percent-decoded, is exactly
// "@connections". So "/prod/@connections/x", "/prod/%40connections/x" and
// "/prod/%40%63onnections" all match, while "/prod/@Connections/x" does not
// (resource paths are case-sensitive). The server's router sends matching
// paths to the Handler, which answers 404 for shapes it does not serve, such
// as extra segments. It does not allocate unless the segment is
// percent-encoded.
//
// A path whose first segment is "@connections" is a management path too:
// an SDK endpoint that lacks the stage, answered with 403 as AWS does.
func IsManagementPath(escapedPath string) bool {
	rest, ok := strings.CutPrefix(escapedPath, "/")
	if !ok {
		return false
	}
	first, rest, ok := strings.Cut(rest, "/")
	if isConnectionsSegment(first) {
		return true
	}
	if !ok {
		return false
	}
	seg, _, _ := strings.Cut(rest, "/")
	return isConnectionsSegment(seg)
}

// isConnectionsSegment reports whether one escaped segment decodes to
// "@connections".
func isConnectionsSegment(seg string) bool {
	if seg == connectionsSegment {
		return true
	}
	if !strings.Contains(seg, "%") {
		return false
	}
	s, err := url.PathUnescape(seg)
	return err == nil && s == connectionsSegment
}

// parsePath splits an escaped path on '/' and percent-decodes each segment,
// so that an id containing %2F or %3D decodes correctly. It returns a
// BadRequestException for malformed percent-encoding (net/http rejects
// those before the handler runs, but the handler does not rely on it) and a
// route of kind routeNone for any path that is not /{stage}/@connections,
// /{stage}/@connections/ or /{stage}/@connections/{id}.
func parsePath(escapedPath string) (route, error) {
	// Five parts at most: "", stage, "@connections", id, and the rest,
	// whose presence alone makes the path unknown. This bounds the work
	// on paths made of many slashes.
	segs := strings.SplitN(escapedPath, "/", 5)
	if len(segs) >= 2 && segs[0] == "" && isConnectionsSegment(segs[1]) {
		name, err := url.PathUnescape(strings.TrimPrefix(escapedPath, "/"))
		if err != nil {
			return route{}, errMalformedPath
		}
		return route{kind: routeNoStage, name: name}, nil
	}
	if len(segs) < 3 || segs[0] != "" || !isConnectionsSegment(segs[2]) {
		name, err := url.PathUnescape(strings.TrimPrefix(escapedPath, "/"))
		if err != nil {
			return route{}, errMalformedPath
		}
		return route{kind: routeNone, name: name}, nil
	}
	dec := make([]string, len(segs))
	for i, s := range segs {
		d, err := url.PathUnescape(s)
		if err != nil {
			return route{}, errMalformedPath
		}
		dec[i] = d
	}
	rt := route{stage: dec[1], name: strings.Join(dec[2:], "/")}
	switch {
	case len(segs) == 3 || (len(segs) == 4 && segs[3] == ""):
		rt.kind = routeList
	case len(segs) == 4:
		rt.kind = routeConnection
		rt.id = dec[3]
	default:
		rt.kind = routeNone
	}
	return rt, nil
}
