package manage

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// publish serves POST /{stage}/@channels/{channel}: the body, of any
// Content-Type and at most the stage's limit, is published to the channel.
// Query: exclude, a connection id to leave out. 200 with
// {"recipients","epoch","offset"}; epoch and offset only when the channel
// keeps history.
func (h *Handler) publish(w *statusWriter, r *http.Request, rt route) error {
	exclude, err := excludeParam(r)
	if err != nil {
		return err
	}
	data, limit, err := h.readData(w, r, rt.stage)
	if err != nil {
		return err
	}
	res, err := h.backend.Publish(r.Context(), rt.stage, rt.channel, data, exclude)
	if err != nil {
		return fmt.Errorf("publish: %w", sendError(err, limit, exclude))
	}
	return writeJSON(w, newPublishJSON(res))
}

// broadcast serves POST /{stage}/@broadcast: the body is sent to every
// connection of the stage but the exclude query parameter. 200 with
// {"recipients"}.
func (h *Handler) broadcast(w *statusWriter, r *http.Request, rt route) error {
	exclude, err := excludeParam(r)
	if err != nil {
		return err
	}
	data, limit, err := h.readData(w, r, rt.stage)
	if err != nil {
		return err
	}
	n, err := h.backend.Broadcast(r.Context(), rt.stage, data, exclude)
	if err != nil {
		return fmt.Errorf("broadcast: %w", sendError(err, limit, exclude))
	}
	return writeJSON(w, recipientsJSON{n})
}

// excludeParam reads the exclude query parameter: one connection id, ""
// when absent or empty (nobody is left out).
func excludeParam(r *http.Request) (string, error) {
	q, err := parseQuery(r)
	if err != nil {
		return "", err
	}
	return q.single("exclude")
}

// sendError maps an error of a call that sends data (PostToConnection,
// Publish, Broadcast, PostToUser): too large names the stage's limit, and
// with an exclude given, an invalid connection id is exclude's. Other
// errors are returned as they are.
func sendError(err error, limit int, exclude string) error {
	switch {
	case errors.Is(err, gateway.ErrPayloadTooLarge):
		return payloadTooLarge(limit)
	case exclude != "" && errors.Is(err, gateway.ErrInvalidConnectionID):
		return badRequest(msgInvalidExclude)
	}
	return err
}

// getChannel serves GET /{stage}/@channels/{channel}. Query: limit,
// 1..1000, default 100, and cursor, the nextCursor of the previous page,
// for the presence list. 200 with {"channel","members","presence",
// "nextCursor","epoch","offset"}: presence only when the channel's
// namespace keeps it (then always an array), nextCursor only when more
// members follow, epoch and offset only when it keeps history.
func (h *Handler) getChannel(w *statusWriter, r *http.Request, rt route) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	cursor, err := q.single("cursor")
	if err != nil {
		return err
	}
	info, err := h.backend.Channel(r.Context(), rt.stage, rt.channel, cursor, limit)
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	resp := channelJSON{
		Channel:      info.Channel,
		Members:      info.Members,
		NextCursor:   info.Next,
		positionJSON: newPositionJSON(info.Position),
	}
	if info.PresenceEnabled {
		members := make([]memberJSON, 0, len(info.Presence))
		for _, m := range info.Presence {
			members = append(members, memberJSON{ConnectionID: m.ConnectionID, User: m.User, Info: m.Info})
		}
		resp.Presence = &members
	}
	return writeJSON(w, resp)
}

// history serves GET /{stage}/@channels/{channel}/history. Query: since,
// the offset of the last publication seen (default 0: from the oldest
// kept); epoch, the epoch that offset belongs to (optional; another epoch
// is a 409); limit, 1..1000, default 100. 200 with {"epoch","offset",
// "truncated","publications":[{"offset","time",payload}]}, oldest first.
func (h *Handler) history(w *statusWriter, r *http.Request, rt route) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	var hq gateway.HistoryQuery
	if hq.Since, err = q.since(); err != nil {
		return err
	}
	if hq.Epoch, err = q.single("epoch"); err != nil {
		return err
	}
	if hq.Limit, err = q.limit(); err != nil {
		return err
	}
	page, err := h.backend.History(r.Context(), rt.stage, rt.channel, hq)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	resp := historyJSON{
		positionJSON: positionJSON{Epoch: page.Position.Epoch, Offset: page.Position.Offset},
		Truncated:    page.Truncated,
		Publications: make([]publicationJSON, 0, len(page.Publications)),
	}
	for _, p := range page.Publications {
		resp.Publications = append(resp.Publications, publicationJSON{
			Offset:      p.Offset,
			Time:        p.Time.UTC().Format(timeLayout),
			payloadJSON: newPayloadJSON(p.Data),
		})
	}
	return writeJSON(w, resp)
}

// join serves PUT /{stage}/@channels/{channel}/connections/{id}: the
// connection joins the channel, without the namespace's subscribe rule
// (the caller is trusted). 204 with no body; a request body is ignored.
func (h *Handler) join(w *statusWriter, r *http.Request, rt route) error {
	if err := h.backend.Join(r.Context(), rt.stage, rt.channel, rt.id); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// leave serves DELETE /{stage}/@channels/{channel}/connections/{id}: the
// connection leaves the channel; 204 also when it was not in it.
func (h *Handler) leave(w *statusWriter, r *http.Request, rt route) error {
	if err := h.backend.Leave(r.Context(), rt.stage, rt.channel, rt.id); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// positionJSON is a stream position. Embedded as a nil *positionJSON, its
// fields are left out.
type positionJSON struct {
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
}

func newPositionJSON(p *gateway.StreamPosition) *positionJSON {
	if p == nil {
		return nil
	}
	return &positionJSON{Epoch: p.Epoch, Offset: p.Offset}
}

// recipientsJSON is the body of a send to several connections.
type recipientsJSON struct {
	Recipients int `json:"recipients"`
}

// publishJSON is the body of a publish: epoch and offset only with history.
type publishJSON struct {
	Recipients int `json:"recipients"`
	*positionJSON
}

func newPublishJSON(res gateway.PublishResult) publishJSON {
	return publishJSON{Recipients: res.Recipients, positionJSON: newPositionJSON(res.Position)}
}

// channelJSON is the body of GET /{stage}/@channels/{channel}.
type channelJSON struct {
	Channel    string        `json:"channel"`
	Members    int           `json:"members"`
	Presence   *[]memberJSON `json:"presence,omitempty"`
	NextCursor string        `json:"nextCursor,omitempty"`
	*positionJSON
}

type memberJSON struct {
	ConnectionID string          `json:"connectionId"`
	User         string          `json:"user,omitempty"`
	Info         json.RawMessage `json:"info,omitempty"`
}

// historyJSON is the body of GET /{stage}/@channels/{channel}/history.
type historyJSON struct {
	positionJSON
	Truncated    bool              `json:"truncated"`
	Publications []publicationJSON `json:"publications"`
}

type publicationJSON struct {
	Offset uint64 `json:"offset"`
	Time   string `json:"time"`
	payloadJSON
}
