package manage

import (
	"net/url"
	"strings"
)

// The second segment of every management path, after percent-decoding:
// /{stage}/@connections/..., /{stage}/@channels/..., and so on.
const (
	connectionsSegment = "@connections"
	channelsSegment    = "@channels"
	usersSegment       = "@users"
	broadcastSegment   = "@broadcast"
	batchSegment       = "@batch"
)

// routeKind tells which operation a path addresses.
type routeKind int

const (
	// routeNone: not a path this API serves (404 for every method).
	routeNone routeKind = iota
	// routeList: /{stage}/@connections or /{stage}/@connections/ (GET).
	routeList
	// routeConnection: /{stage}/@connections/{id} (GET, POST, DELETE).
	routeConnection
	// routeChannel: /{stage}/@channels/{channel} (GET, POST).
	routeChannel
	// routeHistory: /{stage}/@channels/{channel}/history (GET).
	routeHistory
	// routeMember: /{stage}/@channels/{channel}/connections/{id} (PUT,
	// DELETE).
	routeMember
	// routeUser: /{stage}/@users/{user} (GET, POST, DELETE).
	routeUser
	// routeBroadcast: /{stage}/@broadcast (POST).
	routeBroadcast
	// routeBatch: /{stage}/@batch (POST).
	routeBatch
	// routeNoStage: /@connections/... (or another management segment
	// first) — an endpoint configured without its stage, which AWS
	// answers with 403 Forbidden.
	routeNoStage
)

// route is a parsed management path. All its strings are percent-decoded.
type route struct {
	kind    routeKind
	stage   string
	id      string // the connection id of routeConnection and routeMember
	channel string // the channel of routeChannel, routeHistory, routeMember
	user    string // the user id of routeUser
	// name is the decoded path after the stage, without a leading slash,
	// as AWS quotes it in "No method found matching route <name> ...".
	name string
}

// IsManagementPath reports whether an escaped URL path (r.URL.EscapedPath())
// is a management path: its second segment, percent-decoded, is exactly one
// of "@connections", "@channels", "@users", "@broadcast" or "@batch". So
// "/prod/@connections/x", "/prod/%40connections/x", "/prod/%40%63onnections"
// and "/prod/%40channels/a" all match, while "/prod/@Connections/x" does
// not (resource paths are case-sensitive). The server's router sends
// matching paths to the Handler, which answers 404 for shapes it does not
// serve, such as extra segments. It does not allocate unless the segment is
// percent-encoded.
//
// A path whose first segment is one of those is a management path too: an
// SDK endpoint that lacks the stage, answered with 403 as AWS does.
func IsManagementPath(escapedPath string) bool {
	rest, ok := strings.CutPrefix(escapedPath, "/")
	if !ok {
		return false
	}
	first, rest, ok := strings.Cut(rest, "/")
	if segmentKind(first) != segNone {
		return true
	}
	if !ok {
		return false
	}
	seg, _, _ := strings.Cut(rest, "/")
	return segmentKind(seg) != segNone
}

// segKind is which management segment an escaped path segment is.
type segKind int

const (
	segNone segKind = iota
	segConnections
	segChannels
	segUsers
	segBroadcast
	segBatch
)

// segmentKind tells which management segment one escaped segment decodes
// to, if any. It allocates only for a percent-encoded segment.
func segmentKind(seg string) segKind {
	if k := literalSegmentKind(seg); k != segNone || !strings.Contains(seg, "%") {
		return k
	}
	s, err := url.PathUnescape(seg)
	if err != nil {
		return segNone
	}
	return literalSegmentKind(s)
}

func literalSegmentKind(s string) segKind {
	switch s {
	case connectionsSegment:
		return segConnections
	case channelsSegment:
		return segChannels
	case usersSegment:
		return segUsers
	case broadcastSegment:
		return segBroadcast
	case batchSegment:
		return segBatch
	}
	return segNone
}

// maxPathParts bounds the split of a path: "", stage, "@channels",
// channel, "connections", id, and the rest, whose presence alone makes the
// path unknown. This bounds the work on paths made of many slashes.
const maxPathParts = 7

// parsePath splits an escaped path on '/' and percent-decodes each segment,
// so that an id, channel or user containing %2F or %3D decodes correctly.
// It returns a BadRequestException for malformed percent-encoding (net/http
// rejects those before the handler runs, but the handler does not rely on
// it) and a route of kind routeNone for any path that is not one of the
// shapes listed on routeKind. An empty channel, user or id segment matches
// no shape (except the trailing slash of /{stage}/@connections/).
func parsePath(escapedPath string) (route, error) {
	var segBuf [maxPathParts]string
	segs := splitPath(segBuf[:0], escapedPath)
	if len(segs) >= 2 && segs[0] == "" && segmentKind(segs[1]) != segNone {
		name, err := url.PathUnescape(strings.TrimPrefix(escapedPath, "/"))
		if err != nil {
			return route{}, errMalformedPath
		}
		return route{kind: routeNoStage, name: name}, nil
	}
	var seg segKind
	if len(segs) >= 3 && segs[0] == "" {
		seg = segmentKind(segs[2])
	}
	if seg == segNone {
		name, err := url.PathUnescape(strings.TrimPrefix(escapedPath, "/"))
		if err != nil {
			return route{}, errMalformedPath
		}
		return route{kind: routeNone, name: name}, nil
	}
	var decBuf [maxPathParts]string
	dec := decBuf[:len(segs)]
	for i, s := range segs {
		d, err := url.PathUnescape(s)
		if err != nil {
			return route{}, errMalformedPath
		}
		dec[i] = d
	}
	rt := route{stage: dec[1], name: joinPath(dec[2:])}
	// params are the decoded segments after the management segment.
	params := dec[3:]
	switch {
	case seg == segConnections && (len(params) == 0 || len(params) == 1 && params[0] == ""):
		rt.kind = routeList
	case seg == segConnections && len(params) == 1:
		rt.kind, rt.id = routeConnection, params[0]
	case seg == segChannels && len(params) == 1 && params[0] != "":
		rt.kind, rt.channel = routeChannel, params[0]
	case seg == segChannels && len(params) == 2 && params[0] != "" && params[1] == "history":
		rt.kind, rt.channel = routeHistory, params[0]
	case seg == segChannels && len(params) == 3 && params[0] != "" && params[1] == "connections" && params[2] != "":
		rt.kind, rt.channel, rt.id = routeMember, params[0], params[2]
	case seg == segUsers && len(params) == 1 && params[0] != "":
		rt.kind, rt.user = routeUser, params[0]
	case seg == segBroadcast && len(params) == 0:
		rt.kind = routeBroadcast
	case seg == segBatch && len(params) == 0:
		rt.kind = routeBatch
	default:
		rt.kind = routeNone
	}
	return rt, nil
}

// splitPath is strings.SplitN(p, "/", maxPathParts) into buf, which has
// room for maxPathParts parts, without allocating.
func splitPath(buf []string, p string) []string {
	for len(buf) < maxPathParts-1 {
		seg, rest, ok := strings.Cut(p, "/")
		if !ok {
			break
		}
		buf = append(buf, seg)
		p = rest
	}
	return append(buf, p)
}

// joinPath is strings.Join(segs, "/"), without allocating for one segment.
func joinPath(segs []string) string {
	if len(segs) == 1 {
		return segs[0]
	}
	return strings.Join(segs, "/")
}
