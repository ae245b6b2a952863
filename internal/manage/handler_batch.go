package manage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Batch limits: the body of POST /{stage}/@batch and its operations.
const (
	maxBatchBytes = 16 << 20 // 16 MiB
	maxBatchOps   = 1000
)

// batchTarget is whom one batch operation sends to.
type batchTarget int

const (
	targetChannel    batchTarget = iota + 1 // "channel": publish
	targetUser                              // "user": every connection of a user
	targetConnection                        // "connectionId": one connection
	targetBroadcast                         // "broadcast": true: every connection
)

// batchOp is one validated operation of a batch.
type batchOp struct {
	target  batchTarget
	name    string // the channel, user or connection id; "" for broadcast
	exclude string // a connection id to leave out (channel and broadcast)
	data    []byte
}

// batch serves POST /{stage}/@batch: {"operations":[...]}, at most
// maxBatchOps operations in at most maxBatchBytes. The whole body is
// validated first (decodeBatch); a malformed one is a 400 and nothing is
// sent. Then the operations run one after the other, in order, so that
// publications to one channel keep their order. 200 with {"results":[...]},
// one entry per operation in order: what the single request would answer
// ({"recipients"} and, for a channel with history, "epoch" and "offset"),
// or {"error":{"type","message"}} with the single request's error type and
// message. A failed operation does not stop the others.
func (h *Handler) batch(w *statusWriter, r *http.Request, rt route) error {
	limit, err := h.backend.MaxPostBytes(rt.stage)
	if err != nil {
		return fmt.Errorf("max post bytes of stage %q: %w", rt.stage, err)
	}
	limit = max(limit, 0)
	body, err := readBody(w, r, maxBatchBytes)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return batchTooLarge()
	}
	if err != nil {
		return err
	}
	ops, err := decodeBatch(body, limit)
	if err != nil {
		return err
	}
	resp := batchJSON{Results: make([]any, 0, len(ops))}
	for i, op := range ops {
		if err := r.Context().Err(); err != nil {
			return fmt.Errorf("batch stopped before operations[%d]: %w", i, err)
		}
		res, err := h.runOp(r.Context(), rt.stage, op)
		if err != nil {
			res = h.opError(w, r, rt, i, sendError(err, limit, op.exclude))
		}
		resp.Results = append(resp.Results, res)
	}
	return writeJSON(w, resp)
}

// runOp runs one operation and returns its result entry.
func (h *Handler) runOp(ctx context.Context, stage string, op batchOp) (any, error) {
	switch op.target {
	case targetChannel:
		res, err := h.backend.Publish(ctx, stage, op.name, op.data, op.exclude)
		if err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		return newPublishJSON(res), nil
	case targetUser:
		n, err := h.backend.PostToUser(ctx, stage, op.name, op.data)
		if err != nil {
			return nil, fmt.Errorf("post to user: %w", err)
		}
		return recipientsJSON{n}, nil
	case targetConnection:
		if err := h.backend.PostToConnection(ctx, stage, op.name, op.data); err != nil {
			return nil, fmt.Errorf("post to connection: %w", err)
		}
		return recipientsJSON{1}, nil
	default: // targetBroadcast
		n, err := h.backend.Broadcast(ctx, stage, op.data, op.exclude)
		if err != nil {
			return nil, fmt.Errorf("broadcast: %w", err)
		}
		return recipientsJSON{n}, nil
	}
}

// opError renders the error of operation i as its result entry, with the
// type and message a single request would get; an unexpected error is
// logged, as writeError logs one.
func (h *Handler) opError(w *statusWriter, r *http.Request, rt route, i int, err error) opErrorJSON {
	ae, internal := toAPIError(err)
	if internal {
		h.logger.LogAttrs(r.Context(), slog.LevelError, "management batch operation failed", rt.logAttrs(
			slog.Int("operation", i),
			slog.String("requestId", w.Header().Get(headerRequestID)),
			slog.Any("err", err))...)
	}
	return opErrorJSON{Error: errorJSON{Type: ae.typ, Message: ae.message}}
}

// batchJSON is the body of a batch's response.
type batchJSON struct {
	Results []any `json:"results"`
}

// opErrorJSON is the result entry of a failed operation.
type opErrorJSON struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// decodeBatch parses and validates a batch body against the stage's data
// limit. The body is one JSON object whose only field is "operations", an
// array of at most maxBatchOps operations. Each operation is an object
// with exactly one target: "channel" (a string; publish), "user" (a
// string), "connectionId" (a string) or "broadcast" (true); exactly one
// payload: "data" (any JSON value, sent as its bytes in the body), "text"
// (a string, sent as its UTF-8) or "b64" (standard base64 of the bytes,
// with padding and without line breaks, as in a switchboard.v1 publish);
// and, for channel and broadcast, optionally "exclude" (a string, "" for
// none). Field names are case-sensitive; an unknown or repeated field is
// an error. The values of targets are not checked here: the gateway
// answers an invalid channel, user or id per operation.
//
// A malformed body is a 400 naming the operation's index (operations[i])
// and the problem; a payload larger than limit is a 413 naming the
// operation and the limit.
func decodeBatch(body []byte, limit int) ([]batchOp, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var ops []batchOp
	seen := false
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return nil, err
		}
		if key != "operations" {
			return nil, invalidBatch("unknown field %q; the body is {\"operations\":[...]}", key)
		}
		if seen {
			return nil, invalidBatch("field \"operations\" given twice")
		}
		seen = true
		if err := expectDelim(dec, '['); err != nil {
			return nil, err
		}
		for dec.More() {
			i := len(ops)
			if i == maxBatchOps {
				return nil, invalidBatch("more than %d operations; split the batch", maxBatchOps)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, malformedBatch(err)
			}
			op, err := decodeOp(raw, i, limit)
			if err != nil {
				return nil, err
			}
			ops = append(ops, op)
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if !seen {
		return nil, invalidBatch("no \"operations\" field; the body is {\"operations\":[...]}")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidBatch("more data after the JSON object")
	}
	return ops, nil
}

// decodeOp validates operation i (see decodeBatch). raw is one valid JSON
// value.
func decodeOp(raw json.RawMessage, i, limit int) (batchOp, error) {
	fail := func(format string, args ...any) (batchOp, error) {
		return batchOp{}, invalidBatch("operations[%d]: %s", i, fmt.Sprintf(format, args...))
	}
	if len(raw) == 0 || raw[0] != '{' {
		return fail("want an object such as {\"channel\":\"news\",\"data\":{...}}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return batchOp{}, malformedBatch(err)
	}
	var (
		op                    batchOp
		targetKey, payloadKey string
		excludeSet            bool
	)
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return batchOp{}, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return batchOp{}, malformedBatch(err)
		}
		switch key {
		case "channel", "user", "connectionId", "broadcast":
			switch targetKey {
			case "":
			case key:
				return fail("field %q given twice", key)
			default:
				return fail("two targets, %q and %q; give exactly one of channel, user, connectionId or broadcast", targetKey, key)
			}
			targetKey = key
			if key == "broadcast" {
				if string(v) != "true" {
					return fail("broadcast must be true")
				}
				op.target = targetBroadcast
				continue
			}
			s, ok := jsonString(v)
			if !ok {
				return fail("%s must be a string", key)
			}
			op.name = s
			switch key {
			case "channel":
				op.target = targetChannel
			case "user":
				op.target = targetUser
			default:
				op.target = targetConnection
			}
		case "exclude":
			if excludeSet {
				return fail("field \"exclude\" given twice")
			}
			excludeSet = true
			s, ok := jsonString(v)
			if !ok {
				return fail("exclude must be a string, a connection id")
			}
			op.exclude = s
		case "data", "text", "b64":
			switch payloadKey {
			case "":
			case key:
				return fail("field %q given twice", key)
			default:
				return fail("two payloads, %q and %q; give exactly one of data, text or b64", payloadKey, key)
			}
			payloadKey = key
			if key == "data" {
				op.data = v
				continue
			}
			s, ok := jsonString(v)
			if !ok {
				return fail("%s must be a string", key)
			}
			if key == "text" {
				op.data = []byte(s)
				continue
			}
			// The decoder skips line breaks; a payload has one encoding,
			// as in a switchboard.v1 publish.
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil || strings.ContainsAny(s, "\r\n") {
				return fail("b64 is not standard base64 (RFC 4648, with padding, without line breaks)")
			}
			op.data = b
		default:
			return fail("unknown field %q; an operation has one target (channel, user, connectionId or broadcast), one payload (data, text or b64) and, for channel and broadcast, optionally exclude", key)
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return batchOp{}, malformedBatch(err)
	}
	switch {
	case targetKey == "":
		return fail("no target; give one of channel, user, connectionId or broadcast")
	case payloadKey == "":
		return fail("no payload; give one of data, text or b64")
	case excludeSet && op.target != targetChannel && op.target != targetBroadcast:
		return fail("exclude applies to channel and broadcast operations only")
	case len(op.data) > limit:
		ae := payloadTooLarge(limit)
		ae.message = fmt.Sprintf("operations[%d]: %s", i, ae.message)
		return batchOp{}, ae
	}
	return op, nil
}

// expectDelim reads the next token, which must be the delimiter d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return malformedBatch(err)
	}
	if tok != d {
		if d == '{' {
			return invalidBatch("the body must be a JSON object {\"operations\":[...]}")
		}
		if d == '[' {
			return invalidBatch("operations must be an array")
		}
		return invalidBatch("unexpected %v", tok) // unreachable: Token checks nesting
	}
	return nil
}

// objectKey reads the next token, which must be an object's key.
func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", malformedBatch(err)
	}
	key, ok := tok.(string)
	if !ok { // unreachable: Token reports a non-string key as a syntax error
		return "", invalidBatch("object key %v is not a string", tok)
	}
	return key, nil
}

// jsonString decodes v if it is a JSON string; null is not.
func jsonString(v json.RawMessage) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// malformedBatch answers a body that is not JSON.
func malformedBatch(err error) *apiError {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("Malformed batch body: the JSON ends early; want {\"operations\":[...]}")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badRequest("Malformed batch body: %v (at byte %d)", se, se.Offset)
	}
	return badRequest("Malformed batch body: %v", err)
}

// invalidBatch answers a body that is JSON of the wrong shape.
func invalidBatch(format string, args ...any) *apiError {
	return badRequest("Invalid batch: "+format, args...)
}
