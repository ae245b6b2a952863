package route

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Expression is a compiled route selection expression. It is immutable
// and safe for concurrent use.
type Expression struct {
	src   string
	parts []part // nil for a static expression
	key   string // the key of a static expression
}

// part is literal text or one $request.body variable of an Expression.
type part struct {
	lit   string
	path  Path
	isVar bool
}

// Parse compiles a route selection expression: $request.body.action,
// ${request.body.action}, a template mixing variables and text such as
// ${request.body.service}/${request.body.action}, or a static key such as
// \$default. The syntax is that of Tokenize; the only variables are
// $request.body and paths below it.
func Parse(expr string) (*Expression, error) {
	if expr == "" {
		return nil, &SyntaxError{Input: expr, Msg: `empty route selection expression; write $request.body.action, or \$default to send every message to $default`}
	}
	toks, err := Tokenize(expr)
	if err != nil {
		return nil, err
	}
	e := &Expression{src: expr}
	static := true
	for _, t := range toks {
		switch {
		case t.Var == "":
			e.parts = append(e.parts, part{lit: t.Literal})
		case t.Body:
			e.parts = append(e.parts, part{path: t.Path, isVar: true})
			static = false
		default:
			return nil, &SyntaxError{Input: expr, Offset: t.Offset, Msg: unsupported(t.Var)}
		}
	}
	if static {
		var b strings.Builder
		for _, p := range e.parts {
			b.WriteString(p.lit)
		}
		e.key, e.parts = b.String(), nil
	}
	return e, nil
}

// unsupported explains why variable v cannot appear in a route selection
// expression.
func unsupported(v string) string {
	for _, root := range []string{"request.", "context.", "stageVariables."} {
		if strings.HasPrefix(v, root) {
			return fmt.Sprintf("$%s is not available here: route selection only supports $request.body variables, such as $request.body.action", v)
		}
	}
	return fmt.Sprintf(`unknown variable $%s: route selection only supports $request.body variables, such as $request.body.action; write \$ for a literal dollar sign`, v)
}

// Evaluate returns the route key that body selects. Each variable is
// replaced by the stringified value at its path (see Stringify), or by ""
// when the path does not exist. ok is false when body is not valid JSON;
// the gateway then uses $default. A static expression returns its key
// whatever the body, with ok true.
func (e *Expression) Evaluate(body []byte) (key string, ok bool) {
	if e.parts == nil {
		return e.key, true
	}
	if !json.Valid(body) {
		return "", false
	}
	if len(e.parts) == 1 {
		raw, found := Lookup(body, e.parts[0].path)
		if !found {
			return "", true
		}
		return Stringify(raw), true
	}
	var buf [128]byte
	b := buf[:0]
	for _, p := range e.parts {
		if !p.isVar {
			b = append(b, p.lit...)
			continue
		}
		if raw, found := Lookup(body, p.path); found {
			b = AppendStringify(b, raw)
		}
	}
	return string(b), true
}

// String returns the source text of the expression.
func (e *Expression) String() string { return e.src }
