package route

import (
	"fmt"
	"unicode/utf8"
)

// SyntaxError reports a malformed route selection expression, template or
// path: where the problem is and how to fix it.
type SyntaxError struct {
	Input  string // the text that was parsed
	Offset int    // byte offset of the problem in Input
	Msg    string // what is wrong and how to fix it
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%q, offset %d (%s): %s", e.Input, e.Offset, e.near(), e.Msg)
}

// near quotes up to 16 bytes of Input from Offset, cut at a rune boundary.
func (e *SyntaxError) near() string {
	if e.Offset >= len(e.Input) {
		return "at the end"
	}
	s := e.Input[e.Offset:]
	if len(s) > 16 {
		n := 16
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return fmt.Sprintf("at %q", s)
}
