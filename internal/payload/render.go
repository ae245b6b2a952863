package payload

import (
	"encoding/json"
	"github.com/switchboardhq/switchboard/internal/jsonenc"
	"slices"
	"strconv"

	"github.com/switchboardhq/switchboard/internal/route"
)

// Render appends the JSON payload for one message to dst and returns the
// extended slice. body is the raw message and may be anything; ctx may be
// nil (every $context variable is then empty or 0). The output is always
// valid JSON and valid UTF-8, except from a nil Template, which appends
// body unchanged.
//
// Render checks body with json.Valid once when the template reads it, and
// otherwise only looks values up (see route.Lookup). It grows dst once, by
// the template's literal size plus the body's length, so that it usually
// allocates once with a nil dst and never with enough capacity in dst.
func (t *Template) Render(dst, body []byte, ctx *Context) []byte {
	if t == nil {
		return append(dst, body...)
	}
	if ctx == nil {
		ctx = &Context{}
	}
	// Reserve room once: body holes rarely add up to more than the body.
	hint := t.sizeHint
	if t.readsBody {
		hint += len(body)
	}
	dst = slices.Grow(dst, hint)
	isJSON := t.readsBody && json.Valid(body)
	for i := range t.ops {
		o := &t.ops[i]
		dst = append(dst, o.lit...)
		switch o.kind {
		case bodyValue:
			var raw []byte
			found := false
			if isJSON {
				raw, found = route.Lookup(body, o.path)
			}
			switch {
			case found:
				dst = appendRaw(dst, raw)
			case o.whole && !isJSON:
				dst = jsonenc.AppendString(dst, body)
			default:
				dst = append(dst, "null"...)
			}
		case bodyText:
			if !isJSON {
				if o.whole {
					dst = jsonenc.AppendEscaped(dst, body)
				}
				break
			}
			if raw, found := route.Lookup(body, o.path); found {
				dst = appendStringified(dst, raw)
			}
		case contextValue:
			if o.ctx.isNumber() {
				dst = strconv.AppendInt(dst, o.ctx.number(ctx), 10)
			} else {
				dst = jsonenc.AppendString(dst, o.ctx.text(ctx))
			}
		case contextText:
			if o.ctx.isNumber() {
				dst = strconv.AppendInt(dst, o.ctx.number(ctx), 10)
			} else {
				dst = jsonenc.AppendEscaped(dst, o.ctx.text(ctx))
			}
		}
	}
	return append(dst, t.tail...)
}

// appendStringified appends route.Stringify(raw), escaped for the inside
// of a JSON string. It stringifies straight into dst and, only when
// escaping is needed, escapes that text after it and moves it back, so it
// needs no scratch buffer.
func appendStringified(dst, raw []byte) []byte {
	start := len(dst)
	dst = route.AppendStringify(dst, raw)
	if !jsonenc.NeedsEscape(dst[start:]) {
		return dst
	}
	end := len(dst)
	dst = jsonenc.AppendEscaped(dst, dst[start:end])
	n := copy(dst[start:], dst[end:])
	return dst[:start+n]
}
