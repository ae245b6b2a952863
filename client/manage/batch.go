package manage

import (
	"context"
	"fmt"
	"net/http"
)

// Operation is one send of a batch. Set exactly one target: Channel,
// User, ConnectionID or Broadcast.
type Operation struct {
	Channel      string
	User         string
	ConnectionID string
	Broadcast    bool
	// Data is the message.
	Data []byte
	// Exclude leaves a connection out of a channel publication or a
	// broadcast.
	Exclude string
}

// OperationResult is what one operation of a batch did: Err is nil and
// Recipients counts the connections it reached (Position is set for a
// channel with history), or Err says why it failed (Status is 0: the
// batch itself answered 200).
type OperationResult struct {
	Recipients int
	Position   *Position
	Err        *Error
}

// opJSON is an operation on the wire.
type opJSON struct {
	Channel      *string `json:"channel,omitempty"`
	User         *string `json:"user,omitempty"`
	ConnectionID *string `json:"connectionId,omitempty"`
	Broadcast    bool    `json:"broadcast,omitempty"`
	Exclude      string  `json:"exclude,omitempty"`
	payload
}

func (op Operation) wire(i int) (opJSON, error) {
	w := opJSON{Exclude: op.Exclude, payload: encodePayload(op.Data)}
	n := 0
	if op.Channel != "" {
		w.Channel = &op.Channel
		n++
	}
	if op.User != "" {
		w.User = &op.User
		n++
	}
	if op.ConnectionID != "" {
		w.ConnectionID = &op.ConnectionID
		n++
	}
	if op.Broadcast {
		w.Broadcast = true
		n++
	}
	if n != 1 {
		return w, fmt.Errorf("operations[%d]: set exactly one of Channel, User, ConnectionID or Broadcast", i)
	}
	if op.Exclude != "" && (op.User != "" || op.ConnectionID != "") {
		return w, fmt.Errorf("operations[%d]: Exclude applies to a channel or a broadcast only", i)
	}
	return w, nil
}

// Batch sends many messages in one request; they run in order. It fails
// as a whole only when the request does (a malformed batch is a
// BadRequestException and nothing is sent); otherwise each operation has
// its result, in order.
func (c *Client) Batch(ctx context.Context, ops []Operation) ([]OperationResult, error) {
	body := struct {
		Operations []opJSON `json:"operations"`
	}{Operations: make([]opJSON, 0, len(ops))}
	for i, op := range ops {
		w, err := op.wire(i)
		if err != nil {
			return nil, err
		}
		body.Operations = append(body.Operations, w)
	}
	b, err := marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding the batch: %w", err)
	}
	var res struct {
		Results []struct {
			Recipients int `json:"recipients"`
			*Position
			Error *struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, segments: []string{segBatch}, body: b, ctype: "application/json"}, &res); err != nil {
		return nil, err
	}
	if len(res.Results) != len(ops) {
		return nil, fmt.Errorf("batch: the server answered %d results for %d operations", len(res.Results), len(ops))
	}
	out := make([]OperationResult, len(ops))
	for i, r := range res.Results {
		out[i] = OperationResult{Recipients: r.Recipients, Position: r.Position}
		if r.Error != nil {
			out[i] = OperationResult{Err: &Error{Type: r.Error.Type, Message: r.Error.Message}}
		}
	}
	return out, nil
}
