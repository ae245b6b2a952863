package route

import (
	"fmt"
	"strings"
)

// Token is one piece of a template string as split by Tokenize: literal
// text or one variable.
type Token struct {
	// Literal is the literal text, with each \$ turned into $. It is set
	// when Var is "".
	Literal string
	// Var is the variable as written, without the leading $ and, for the
	// wrapped form, without ${ and }: "request.body.action",
	// "context.connectionId".
	Var string
	// Body reports that Var is $request.body or a path below it; Path is
	// then the part after "request.body".
	Body bool
	Path Path
	// Offset is the byte offset of the token in the template.
	Offset int
}

// Tokenize splits a template into literal text and variables, with the
// syntax shared by route selection expressions and payload templates:
//
//   - $name.more.path is an unwrapped variable. It extends over every
//     character that can continue it: letters, digits, '_' and '-' in
//     .name segments, and [index] or ['key'] segments. It ends at the first
//     other character ("$request.body.a/b" is the variable
//     request.body.a followed by the text "/b"). A '.' or '[' right after it
//     is therefore part of it and must form a valid segment.
//   - ${name.more.path} is a wrapped variable: the same path, ended by '}'.
//     Use it to put text right after a variable: "${request.body.a}.txt".
//   - \$ is a literal dollar sign. Every other '$' must start a variable,
//     and every other backslash is literal text.
//
// Tokenize checks only the syntax; which variables exist is up to the
// caller. Consecutive literal text is one token.
func Tokenize(s string) ([]Token, error) {
	var toks []Token
	var lit strings.Builder
	litStart := 0
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, Token{Literal: lit.String(), Offset: litStart})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '$' {
			if lit.Len() == 0 {
				litStart = i
			}
			lit.WriteByte('$')
			i += 2
			continue
		}
		if c != '$' {
			if lit.Len() == 0 {
				litStart = i
			}
			lit.WriteByte(c)
			i++
			continue
		}
		flush()
		tok, end, err := scanVariable(s, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, tok)
		i = end
	}
	flush()
	return toks, nil
}

// scanVariable reads the variable that starts with the '$' at s[i] and
// returns it with the offset just after it.
func scanVariable(s string, i int) (Token, int, error) {
	start := i
	wrapped := i+1 < len(s) && s[i+1] == '{'
	nameStart := i + 1
	if wrapped {
		nameStart++
	}
	if nameLen(s, nameStart) == 0 {
		msg := "'$' must start a variable such as $request.body.action; write \\$ for a literal dollar sign"
		switch {
		case wrapped && nameStart < len(s) && s[nameStart] == '}':
			msg = "empty ${}; write a variable inside, such as ${request.body.action}"
		case wrapped:
			msg = fmt.Sprintf("expected a variable name after ${, found %s", describe(s, nameStart))
		}
		return Token{}, 0, &SyntaxError{Input: s, Offset: start, Msg: msg}
	}
	segs, end, err := scanPath(s, nameStart, true)
	if err != nil {
		return Token{}, 0, err
	}
	tok := Token{Var: s[nameStart:end], Offset: start}
	if len(segs) >= 2 && segs[0] == (segment{key: "request", index: -1}) && segs[1] == (segment{key: "body", index: -1}) {
		tok.Body = true
		if len(segs) > 2 {
			tok.Path = Path{segs: segs[2:]}
		}
	}
	if wrapped {
		if end >= len(s) {
			return Token{}, 0, &SyntaxError{Input: s, Offset: start, Msg: "unterminated ${; close it with }"}
		}
		if s[end] != '}' {
			return Token{}, 0, &SyntaxError{Input: s, Offset: end, Msg: fmt.Sprintf(
				"unexpected %s in ${...}; a path is a sequence of .name, [index] and ['key'] segments, and ${ ends with }",
				describe(s, end))}
		}
		end++
	}
	return tok, end, nil
}
