package manage

import (
	"fmt"
	"net/http"
)

// postToUser serves POST /{stage}/@users/{user}: the body, of any
// Content-Type and at most the stage's limit, is sent to every connection
// of the user. 200 with {"recipients"}, 0 when the user has none.
func (h *Handler) postToUser(w *statusWriter, r *http.Request, rt route) error {
	data, limit, err := h.readData(w, r, rt.stage)
	if err != nil {
		return err
	}
	n, err := h.backend.PostToUser(r.Context(), rt.stage, rt.user, data)
	if err != nil {
		return fmt.Errorf("post to user: %w", sendError(err, limit, ""))
	}
	return writeJSON(w, recipientsJSON{n})
}

// disconnectUser serves DELETE /{stage}/@users/{user}: every connection of
// the user is closed (1000), each followed by its $disconnect. 200 with
// {"disconnected"}, the number closed.
func (h *Handler) disconnectUser(w *statusWriter, r *http.Request, rt route) error {
	n, err := h.backend.DisconnectUser(r.Context(), rt.stage, rt.user)
	if err != nil {
		return fmt.Errorf("disconnect user: %w", err)
	}
	return writeJSON(w, disconnectedJSON{n})
}

// userConnections serves GET /{stage}/@users/{user}: 200 with
// {"user","connections":[{"connectionId",GetConnection's fields,
// "channels"}]}, oldest first; connections is [] when the user has none.
func (h *Handler) userConnections(w *statusWriter, r *http.Request, rt route) error {
	conns, err := h.backend.UserConnections(r.Context(), rt.stage, rt.user)
	if err != nil {
		return fmt.Errorf("user connections: %w", err)
	}
	resp := userJSON{User: rt.user, Connections: make([]userConnectionJSON, 0, len(conns))}
	for _, c := range conns {
		channels := c.Channels
		if channels == nil {
			channels = []string{}
		}
		resp.Connections = append(resp.Connections, userConnectionJSON{
			ConnectionID:   c.ID,
			connectionJSON: newConnectionJSON(c),
			Channels:       channels,
		})
	}
	return writeJSON(w, resp)
}

type disconnectedJSON struct {
	Disconnected int `json:"disconnected"`
}

// userJSON is the body of GET /{stage}/@users/{user}.
type userJSON struct {
	User        string               `json:"user"`
	Connections []userConnectionJSON `json:"connections"`
}

type userConnectionJSON struct {
	ConnectionID string `json:"connectionId"`
	connectionJSON
	Channels []string `json:"channels"`
}
