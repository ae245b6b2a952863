package payload

import (
	"encoding/json"
	"fmt"
	"github.com/switchboardhq/switchboard/internal/jsonenc"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/route"
)

// Template is a compiled payload template: literal JSON chunks with holes
// between them that Render fills for each message. It is immutable and
// safe for concurrent use. A nil *Template sends the body unchanged.
type Template struct {
	ops       []op
	tail      []byte // literal JSON after the last hole
	readsBody bool   // some hole reads $request.body
	sizeHint  int    // the output size to reserve, not counting the body
}

// op is a literal chunk followed by one hole.
type op struct {
	lit   []byte
	kind  holeKind
	path  route.Path // for body holes
	whole bool       // the hole is $request.body itself
	ctx   contextVar // for context holes
}

type holeKind uint8

const (
	bodyValue    holeKind = iota // a JSON value: the raw value at path, or null
	bodyText                     // inside a JSON string: the stringified value at path
	contextValue                 // a JSON string or number
	contextText                  // inside a JSON string
)

// Compile turns a decoded YAML template into a Template. v is made of
// map[string]any (or map[any]any with string keys), []any, string, bool,
// nil, and integers and floats of any size. nil means no template: it
// returns a nil *Template, which sends the body unchanged.
func Compile(v any) (*Template, error) {
	if v == nil {
		return nil, nil
	}
	var c compiler
	if err := c.value(v, ""); err != nil {
		return nil, err
	}
	t := &Template{ops: c.ops, tail: c.lit, sizeHint: len(c.lit)}
	for _, o := range t.ops {
		t.sizeHint += len(o.lit)
		switch o.kind {
		case bodyValue, bodyText:
			t.readsBody = true
		case contextValue, contextText:
			t.sizeHint += contextSizeHint
		}
	}
	return t, nil
}

// contextSizeHint is the room Render reserves for each $context variable,
// enough for an AWS-style connection or request id and their quotes.
const contextSizeHint = 24

// compiler accumulates a Template.
type compiler struct {
	ops []op
	lit []byte // literal JSON since the last hole
}

func (c *compiler) hole(o op) {
	o.lit, c.lit = c.lit, nil
	c.ops = append(c.ops, o)
}

// value compiles v, found at location at ("" for the top level,
// "a.b[0]" below it).
func (c *compiler) value(v any, at string) error {
	switch v := v.(type) {
	case nil:
		c.lit = append(c.lit, "null"...)
	case bool:
		c.lit = strconv.AppendBool(c.lit, v)
	case string:
		return c.str(v, at)
	case int:
		c.lit = strconv.AppendInt(c.lit, int64(v), 10)
	case int8:
		c.lit = strconv.AppendInt(c.lit, int64(v), 10)
	case int16:
		c.lit = strconv.AppendInt(c.lit, int64(v), 10)
	case int32:
		c.lit = strconv.AppendInt(c.lit, int64(v), 10)
	case int64:
		c.lit = strconv.AppendInt(c.lit, v, 10)
	case uint:
		c.lit = strconv.AppendUint(c.lit, uint64(v), 10)
	case uint8:
		c.lit = strconv.AppendUint(c.lit, uint64(v), 10)
	case uint16:
		c.lit = strconv.AppendUint(c.lit, uint64(v), 10)
	case uint32:
		c.lit = strconv.AppendUint(c.lit, uint64(v), 10)
	case uint64:
		c.lit = strconv.AppendUint(c.lit, v, 10)
	case float32:
		return c.float(float64(v), at)
	case float64:
		return c.float(v, at)
	case time.Time:
		return errorAt(at, "a YAML timestamp (%s) is not a JSON value; quote it to send it as a string", v.Format(time.RFC3339))
	case []any:
		c.lit = append(c.lit, '[')
		for i, e := range v {
			if i > 0 {
				c.lit = append(c.lit, ',')
			}
			if err := c.value(e, at+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		c.lit = append(c.lit, ']')
	case map[string]any:
		return c.object(v, at)
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			s, ok := k.(string)
			if !ok {
				return errorAt(at, "map key %v is a %T; keys must be strings (quote the key)", k, k)
			}
			m[s] = e
		}
		return c.object(m, at)
	default:
		return errorAt(at, "unsupported value of type %T; use a string, number, boolean, null, list or map", v)
	}
	return nil
}

// object compiles a map, its keys in sorted order.
func (c *compiler) object(m map[string]any, at string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	c.lit = append(c.lit, '{')
	for i, k := range keys {
		if i > 0 {
			c.lit = append(c.lit, ',')
		}
		c.lit = jsonenc.AppendString(c.lit, k)
		c.lit = append(c.lit, ':')
		where := k
		if at != "" {
			where = at + "." + k
		}
		if err := c.value(m[k], where); err != nil {
			return err
		}
	}
	c.lit = append(c.lit, '}')
	return nil
}

func (c *compiler) float(f float64, at string) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return errorAt(at, "%v is not a JSON number", f)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return errorAt(at, "%v", err)
	}
	c.lit = append(c.lit, b...)
	return nil
}

// str compiles a string: a typed hole when it is exactly one variable, a
// JSON string with holes when it mixes variables and text, else a literal.
func (c *compiler) str(s string, at string) error {
	toks, err := route.Tokenize(s)
	if err != nil {
		return errorAt(at, "%v", err)
	}
	if len(toks) == 1 && toks[0].Var != "" {
		o, err := variable(toks[0], at, false)
		if err != nil {
			return err
		}
		c.hole(o)
		return nil
	}
	c.lit = append(c.lit, '"')
	for _, t := range toks {
		if t.Var == "" {
			c.lit = jsonenc.AppendEscaped(c.lit, t.Literal)
			continue
		}
		o, err := variable(t, at, true)
		if err != nil {
			return err
		}
		c.hole(o)
	}
	c.lit = append(c.lit, '"')
	return nil
}

// variable resolves one variable to a hole: a typed JSON value, or text
// inside a JSON string when inString is set.
func variable(t route.Token, at string, inString bool) (op, error) {
	if t.Body {
		o := op{kind: bodyValue, path: t.Path, whole: t.Path.String() == ""}
		if inString {
			o.kind = bodyText
		}
		return o, nil
	}
	name, isContext := strings.CutPrefix(t.Var, "context.")
	if cv, ok := contextVars[name]; ok && isContext {
		o := op{kind: contextValue, ctx: cv}
		if inString {
			o.kind = contextText
		}
		return o, nil
	}
	switch {
	case isContext:
		return op{}, errorAt(at, "unknown variable $%s; the $context variables are %s", t.Var, contextNames())
	case strings.HasPrefix(t.Var, "request."):
		return op{}, errorAt(at, "$%s is not available in payload templates; use $request.body or $request.body.<path>, or one of %s", t.Var, contextNames())
	default:
		return op{}, errorAt(at, `unknown variable $%s; payload templates support $request.body, $request.body.<path> and %s; write \$ for a literal dollar sign`, t.Var, contextNames())
	}
}

func errorAt(at, format string, args ...any) error {
	if at == "" {
		return fmt.Errorf("payload template: "+format, args...)
	}
	return fmt.Errorf("payload template, at %q: "+format, append([]any{at}, args...)...)
}
