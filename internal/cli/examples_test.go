package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// TestEveryCommandHasAnExample walks the command model: every visible
// command's help (its Help() detail) has an example line, indented as
// go/doc shows code, that runs that very command; and --help prints it.
func TestEveryCommandHasAnExample(t *testing.T) {
	parser, err := kong.New(&cli{}, kong.Name("switchboard"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(node *kong.Node, path []string)
	walk = func(node *kong.Node, path []string) {
		for _, c := range node.Children {
			if c.Hidden || c.Type != kong.CommandNode {
				continue
			}
			p := append(append([]string{}, path...), c.Name)
			walk(c, p)
			n++
			cmd := "switchboard " + strings.Join(p, " ")
			if !hasExample(c.Detail, cmd) {
				t.Errorf("%s: its help has no example (an indented line running %q): give its command type a Help() method in examples.go", cmd, cmd)
				continue
			}
			var out bytes.Buffer
			if err := Run(context.Background(), append(p, "--help"), &out, &out); err != nil {
				t.Errorf("%s --help: %v", cmd, err)
			}
			if !hasExample(out.String(), cmd) {
				t.Errorf("%s --help shows no example:\n%s", cmd, out.String())
			}
		}
	}
	walk(parser.Model.Node, nil)
	if n < 20 {
		t.Fatalf("walked %d commands; the model has more", n)
	}
}

// hasExample reports whether text has a line indented by four spaces that
// runs cmd (followed by nothing, a space or a closing parenthesis).
func hasExample(text, cmd string) bool {
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "    ") {
			continue
		}
		i := strings.Index(l, cmd)
		if i < 0 {
			continue
		}
		rest := l[i+len(cmd):]
		if rest == "" || rest[0] == ' ' || rest[0] == ')' {
			return true
		}
	}
	return false
}
