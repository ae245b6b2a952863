package admin

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// Bounds of the searches: a search walks at most maxScan connections of
// the stage (the management API's listing, 1000 a page) and returns at
// most maxResults of them, or maxUsers users.
const (
	maxScan    = 20000
	maxResults = 200
	maxUsers   = 500
	scanPage   = 1000
)

// unescape decodes a percent-encoded path.
func unescape(p string) (string, error) { return url.PathUnescape(p) }

// overview answers the sampled series.
func (c *Console) overview(w http.ResponseWriter, _ *http.Request) {
	series := []Sample{}
	if c.o.Sampler != nil {
		series = c.o.Sampler.Series()
	}
	writeJSON(w, http.StatusOK, map[string]any{"interval": sampleEvery.Seconds(), "samples": series})
}

// connectionJSON is one connection in the console's search results.
type connectionJSON struct {
	ID           string    `json:"connectionId"`
	User         string    `json:"user,omitempty"`
	SourceIP     string    `json:"sourceIp"`
	UserAgent    string    `json:"userAgent"`
	ConnectedAt  time.Time `json:"connectedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	Channels     []string  `json:"channels"`
	// SendQueueBytes waits to be written to the client's socket; Inbox
	// counts the client's messages waiting for their route.
	SendQueueBytes int `json:"sendQueueBytes"`
	Inbox          int `json:"inbox"`
}

// matcher returns the search of field for q ("" matches everything).
func matcher(field, q string) (func(gateway.ConnectionInfo) bool, bool) {
	if q == "" {
		return func(gateway.ConnectionInfo) bool { return true }, true
	}
	switch field {
	case "", "id":
		return func(ci gateway.ConnectionInfo) bool { return strings.Contains(ci.ID, q) }, true
	case "user":
		return func(ci gateway.ConnectionInfo) bool { return strings.Contains(ci.User, q) }, true
	case "channel":
		return func(ci gateway.ConnectionInfo) bool {
			for _, ch := range ci.Channels {
				if strings.Contains(ch, q) {
					return true
				}
			}
			return false
		}, true
	case "ip":
		return func(ci gateway.ConnectionInfo) bool { return strings.HasPrefix(ci.SourceIP, q) }, true
	}
	return nil, false
}

// walk calls f with the stage's connections, oldest first, until f
// returns false or maxScan were seen; it reports whether it stopped
// before the end.
func (c *Console) walk(r *http.Request, stage string, f func(gateway.ConnectionInfo) bool) (truncated bool, err error) {
	seen := 0
	for cursor := ""; ; {
		page, err := c.o.Data.ListConnections(r.Context(), stage, cursor, scanPage)
		if err != nil {
			return false, err
		}
		for _, ci := range page.Connections {
			seen++
			if !f(ci) {
				return true, nil
			}
		}
		if page.Next == "" {
			return false, nil
		}
		if seen >= maxScan {
			return true, nil
		}
		cursor = page.Next
	}
}

// connections searches a stage's connections by id, user, channel or
// source IP (?stage&field&q).
func (c *Console) connections(w http.ResponseWriter, r *http.Request, s *session) {
	stage, ok := c.stageParam(w, r, s)
	if !ok {
		return
	}
	q := r.URL.Query()
	match, ok := matcher(q.Get("field"), strings.TrimSpace(q.Get("q")))
	if !ok {
		apiError(w, http.StatusBadRequest, "field %q is not id, user, channel or ip", q.Get("field"))
		return
	}
	out := []connectionJSON{}
	truncated, err := c.walk(r, stage, func(ci gateway.ConnectionInfo) bool {
		if match(ci) {
			out = append(out, connectionJSON{ID: ci.ID, User: ci.User, SourceIP: ci.SourceIP, UserAgent: ci.UserAgent,
				ConnectedAt: ci.ConnectedAt.UTC(), LastActiveAt: ci.LastActiveAt.UTC(), Channels: nonNil(ci.Channels),
				SendQueueBytes: ci.SendQueueBytes, Inbox: ci.Inbox})
		}
		return len(out) < maxResults
	})
	if err != nil {
		apiError(w, errStatus(err), "listing the connections of %q: %v", stage, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out, "truncated": truncated})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// users lists the users with open connections on a stage, with their
// connection counts (?stage&q: a substring of the user id).
func (c *Console) users(w http.ResponseWriter, r *http.Request, s *session) {
	stage, ok := c.stageParam(w, r, s)
	if !ok {
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	counts := map[string]int{}
	anonymous := 0
	truncated, err := c.walk(r, stage, func(ci gateway.ConnectionInfo) bool {
		switch {
		case ci.User == "":
			anonymous++
		case strings.Contains(ci.User, q):
			counts[ci.User]++
		}
		return len(counts) < maxUsers
	})
	if err != nil {
		apiError(w, errStatus(err), "listing the connections of %q: %v", stage, err)
		return
	}
	type userJSON struct {
		User        string `json:"user"`
		Connections int    `json:"connections"`
	}
	out := make([]userJSON, 0, len(counts))
	for u, n := range counts {
		out = append(out, userJSON{u, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "anonymous": anonymous, "truncated": truncated})
}

// channels lists a stage's occupied channels (?stage&prefix).
func (c *Console) channels(w http.ResponseWriter, r *http.Request, s *session) {
	stage, ok := c.stageParam(w, r, s)
	if !ok {
		return
	}
	list, err := c.o.Data.Channels(r.Context(), stage, r.URL.Query().Get("prefix"))
	if err != nil {
		apiError(w, errStatus(err), "listing the channels of %q: %v", stage, err)
		return
	}
	type channelJSON struct {
		Channel string `json:"channel"`
		Members int    `json:"members"`
	}
	out := make([]channelJSON, 0, len(list))
	for _, ch := range list {
		out = append(out, channelJSON{ch.Channel, ch.Members})
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": out})
}

// nodes lists the cluster's live nodes, or this process alone.
func (c *Console) nodes(w http.ResponseWriter, r *http.Request) {
	type nodeJSON struct {
		ID          string    `json:"id"`
		Incarnation string    `json:"incarnation,omitempty"`
		Advertise   string    `json:"advertise,omitempty"`
		StartedAt   time.Time `json:"startedAt"`
		Self        bool      `json:"self"`
	}
	if c.o.Nodes == nil {
		n := c.o.Self
		writeJSON(w, http.StatusOK, map[string]any{"clustered": false,
			"nodes": []nodeJSON{{ID: n.ID, StartedAt: n.StartedAt.UTC(), Self: true}}})
		return
	}
	list, err := c.o.Nodes(r.Context())
	if err != nil {
		apiError(w, http.StatusBadGateway, "reading the cluster's nodes: %v", err)
		return
	}
	out := make([]nodeJSON, 0, len(list))
	for _, n := range list {
		out = append(out, nodeJSON{ID: n.ID, Incarnation: n.Incarnation, Advertise: n.Advertise,
			StartedAt: n.StartedAt.UTC(), Self: n.Incarnation == c.o.Self.Incarnation})
	}
	writeJSON(w, http.StatusOK, map[string]any{"clustered": true, "nodes": out})
}

// config answers the configuration in force as YAML, secrets redacted.
func (c *Console) config(w http.ResponseWriter) {
	body, err := renderConfig(c.o.Config())
	if err != nil {
		apiError(w, http.StatusInternalServerError, "rendering the configuration: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"yaml": string(body)})
}
