package cli

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/alecthomas/kong"
)

type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"The shell: bash, zsh or fish." placeholder:"bash|zsh|fish"`
}

// Run prints the script, generated from the command line's own model, so
// that it always offers the commands and flags this binary has.
func (c *completionCmd) Run(parser *kong.Kong, e *env) error {
	return writeCompletion(e.stdout, c.Shell, completionTree(parser.Model))
}

// compNode is a command as the completion scripts see it.
type compNode struct {
	path     string // subcommand names joined with ':'; "" for the program
	name     string
	help     string
	children []*compNode
	flags    []compFlag // the command's and its ancestors' flags
	args     []string   // values of an enum positional, such as the shells
	files    bool       // a positional names a file
}

type compFlag struct {
	long  string
	short rune
	help  string
	value bool     // takes a value (not a bool or counter flag)
	enum  []string // its values, when it is an enum
	files bool     // its value is a path
}

// safeWord is what a command or flag name must look like to go into a
// script unquoted (kong's names always do).
var safeWord = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// completionTree walks kong's model: the visible commands, their flags
// and positionals.
func completionTree(app *kong.Application) *compNode {
	var walk func(n *kong.Node, path string) *compNode
	walk = func(n *kong.Node, path string) *compNode {
		c := &compNode{path: path, name: n.Name, help: shortHelp(n.Help)}
		for a := n; a != nil; a = a.Parent {
			for _, f := range a.Flags {
				if f.Hidden || !safeWord.MatchString(f.Name) {
					continue
				}
				c.flags = append(c.flags, compFlag{
					long: f.Name, short: f.Short, help: shortHelp(f.Help),
					value: !f.IsBool() && !f.IsCounter(), enum: safeWords(f.EnumSlice()), files: isPathType(f.Tag),
				})
			}
		}
		for _, p := range n.Positional {
			c.args = append(c.args, safeWords(p.EnumSlice())...)
			c.files = c.files || isPathType(p.Tag)
		}
		for _, child := range n.Children {
			if child.Hidden || child.Type != kong.CommandNode || !safeWord.MatchString(child.Name) {
				continue
			}
			p := child.Name
			if path != "" {
				p = path + ":" + child.Name
			}
			c.children = append(c.children, walk(child, p))
		}
		return c
	}
	return walk(app.Node, "")
}

func isPathType(t *kong.Tag) bool {
	if t == nil {
		return false
	}
	switch t.Type {
	case "path", "existingfile", "existingdir", "filecontent":
		return true
	}
	return false
}

func safeWords(ws []string) []string {
	var out []string
	for _, w := range ws {
		if safeWord.MatchString(w) {
			out = append(out, w)
		}
	}
	return out
}

// shortHelp is the first sentence of a help text, on one line, at most 80
// characters: what a completion menu shows.
func shortHelp(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}

// nodes returns n and its descendants, depth first.
func (n *compNode) nodes() []*compNode {
	out := []*compNode{n}
	for _, c := range n.children {
		out = append(out, c.nodes()...)
	}
	return out
}

// valueFlags returns the spellings (--long, -s) of the flags of n that
// take a value.
func (n *compNode) valueFlags() []string {
	var out []string
	for _, f := range n.flags {
		if f.value {
			out = append(out, f.spellings()...)
		}
	}
	return out
}

func (f compFlag) spellings() []string {
	s := []string{"--" + f.long}
	if f.short != 0 {
		s = append(s, "-"+string(f.short))
	}
	return s
}

func writeCompletion(w io.Writer, shell string, root *compNode) error {
	var b strings.Builder
	switch shell {
	case "bash":
		bashCompletion(&b, root)
	case "zsh":
		zshCompletion(&b, root)
	case "fish":
		fishCompletion(&b, root)
	default:
		return usageError("completion: unknown shell %q: give bash, zsh or fish", shell)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeWalk writes the loop, shared by bash and zsh, that finds the
// subcommand path of the words before the cursor: a word that names a
// subcommand of the path so far extends it, a flag that takes a value
// skips the next word (unless written --flag=value), anything else is a
// positional. words and first are the shell's array and first index.
func writeWalk(b *strings.Builder, root *compNode, words, first, last string) {
	fmt.Fprintf(b, "    local cmdpath='' w i skip=0\n")
	fmt.Fprintf(b, "    for ((i = %s; i < %s; i++)); do\n", first, last)
	fmt.Fprintf(b, "        w=${%s[i]}\n", words)
	b.WriteString("        if ((skip)); then skip=0; continue; fi\n")
	b.WriteString("        case \"$cmdpath/$w\" in\n")
	for _, n := range root.nodes() {
		for _, c := range n.children {
			fmt.Fprintf(b, "            %q) cmdpath=%q ;;\n", n.path+"/"+c.name, c.path)
		}
		if vf := n.valueFlags(); len(vf) > 0 {
			pats := make([]string, len(vf))
			for i, f := range vf {
				pats[i] = fmt.Sprintf("%q", n.path+"/"+f)
			}
			fmt.Fprintf(b, "            %s) skip=1 ;;\n", strings.Join(pats, "|"))
		}
	}
	b.WriteString("        esac\n    done\n")
}

func bashCompletion(b *strings.Builder, root *compNode) {
	b.WriteString("# bash completion for switchboard, generated by `switchboard completion bash`.\n")
	b.WriteString("# Load it with: source <(switchboard completion bash)\n")
	b.WriteString("_switchboard() {\n")
	b.WriteString("    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n")
	writeWalk(b, root, "COMP_WORDS", "1", "COMP_CWORD")
	b.WriteString("    COMPREPLY=()\n")
	// A flag's value.
	b.WriteString("    case \"$cmdpath/$prev\" in\n")
	for _, n := range root.nodes() {
		for _, f := range n.flags {
			if !f.value {
				continue
			}
			pats := make([]string, 0, 2)
			for _, s := range f.spellings() {
				pats = append(pats, fmt.Sprintf("%q", n.path+"/"+s))
			}
			switch {
			case len(f.enum) > 0:
				fmt.Fprintf(b, "        %s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", strings.Join(pats, "|"), strings.Join(f.enum, " "))
			case f.files:
				fmt.Fprintf(b, "        %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", strings.Join(pats, "|"))
			default:
				fmt.Fprintf(b, "        %s) return ;;\n", strings.Join(pats, "|"))
			}
		}
	}
	b.WriteString("    esac\n")
	// Flags, subcommands, positionals.
	b.WriteString("    case $cmdpath in\n")
	for _, n := range root.nodes() {
		var flags []string
		for _, f := range n.flags {
			flags = append(flags, f.spellings()...)
		}
		var words []string
		for _, c := range n.children {
			words = append(words, c.name)
		}
		words = append(words, n.args...)
		fmt.Fprintf(b, "        %q)\n", n.path)
		fmt.Fprintf(b, "            if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", strings.Join(flags, " "))
		if len(words) > 0 {
			fmt.Fprintf(b, "            COMPREPLY=($(compgen -W %q -- \"$cur\"))\n", strings.Join(words, " "))
		} else if n.files {
			b.WriteString("            COMPREPLY=($(compgen -f -- \"$cur\"))\n")
		}
		b.WriteString("            ;;\n")
	}
	b.WriteString("    esac\n}\ncomplete -F _switchboard switchboard\n")
}

// zshQuote quotes s for zsh (and bash) in single quotes.
func zshQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func zshCompletion(b *strings.Builder, root *compNode) {
	b.WriteString("#compdef switchboard\n")
	b.WriteString("# zsh completion for switchboard, generated by `switchboard completion zsh`.\n")
	b.WriteString("# Load it with: source <(switchboard completion zsh), or save it as _switchboard in a directory of $fpath.\n")
	b.WriteString("_switchboard() {\n")
	b.WriteString("    local cur=${words[CURRENT]} prev=${words[CURRENT-1]}\n")
	writeWalk(b, root, "words", "2", "CURRENT")
	b.WriteString("    local -a cands\n")
	b.WriteString("    case \"$cmdpath/$prev\" in\n")
	for _, n := range root.nodes() {
		for _, f := range n.flags {
			if !f.value {
				continue
			}
			pats := make([]string, 0, 2)
			for _, s := range f.spellings() {
				pats = append(pats, fmt.Sprintf("%q", n.path+"/"+s))
			}
			switch {
			case len(f.enum) > 0:
				fmt.Fprintf(b, "        %s) compadd -- %s; return ;;\n", strings.Join(pats, "|"), strings.Join(f.enum, " "))
			case f.files:
				fmt.Fprintf(b, "        %s) _files; return ;;\n", strings.Join(pats, "|"))
			default:
				fmt.Fprintf(b, "        %s) _message %s; return ;;\n", strings.Join(pats, "|"), zshQuote(f.help))
			}
		}
	}
	b.WriteString("    esac\n")
	b.WriteString("    case $cmdpath in\n")
	for _, n := range root.nodes() {
		fmt.Fprintf(b, "        %q)\n", n.path)
		b.WriteString("            if [[ $cur == -* ]]; then\n                cands=(")
		for _, f := range n.flags {
			for _, s := range f.spellings() {
				fmt.Fprintf(b, " %s", zshQuote(s+":"+f.help))
			}
		}
		b.WriteString(" )\n                _describe -t flags flag cands; return\n            fi\n")
		switch {
		case len(n.children) > 0:
			b.WriteString("            cands=(")
			for _, c := range n.children {
				fmt.Fprintf(b, " %s", zshQuote(c.name+":"+c.help))
			}
			b.WriteString(" )\n            _describe -t commands command cands\n")
		case len(n.args) > 0:
			fmt.Fprintf(b, "            compadd -- %s\n", strings.Join(n.args, " "))
		case n.files:
			b.WriteString("            _files\n")
		}
		b.WriteString("            ;;\n")
	}
	b.WriteString("    esac\n}\n")
	// Autoloaded from $fpath, the file's body is the function's; sourced,
	// it registers the function.
	b.WriteString("if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n    _switchboard \"$@\"\nelse\n    compdef _switchboard switchboard\nfi\n")
}

// fishQuote quotes s for fish in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func fishCompletion(b *strings.Builder, root *compNode) {
	b.WriteString("# fish completion for switchboard, generated by `switchboard completion fish`.\n")
	b.WriteString("# Load it with: switchboard completion fish | source, or save it as ~/.config/fish/completions/switchboard.fish\n")
	b.WriteString("function __switchboard_path\n")
	b.WriteString("    set -l cmdpath ''\n    set -l skip 0\n")
	b.WriteString("    for w in (commandline -opc)[2..-1]\n")
	b.WriteString("        if test $skip -eq 1\n            set skip 0\n            continue\n        end\n")
	b.WriteString("        switch \"$cmdpath/$w\"\n")
	for _, n := range root.nodes() {
		for _, c := range n.children {
			fmt.Fprintf(b, "            case %s\n                set cmdpath %s\n", fishQuote(n.path+"/"+c.name), fishQuote(c.path))
		}
		if vf := n.valueFlags(); len(vf) > 0 {
			pats := make([]string, len(vf))
			for i, f := range vf {
				pats[i] = fishQuote(n.path + "/" + f)
			}
			fmt.Fprintf(b, "            case %s\n                set skip 1\n", strings.Join(pats, " "))
		}
	}
	b.WriteString("        end\n    end\n    echo $cmdpath\nend\n\n")
	b.WriteString("function __switchboard_at\n    test (__switchboard_path) = \"$argv[1]\"\nend\n\n")
	b.WriteString("complete -c switchboard -f\n")
	for _, n := range root.nodes() {
		cond := fishQuote("__switchboard_at " + fishQuote(n.path))
		for _, c := range n.children {
			fmt.Fprintf(b, "complete -c switchboard -n %s -a %s -d %s\n", cond, c.name, fishQuote(c.help))
		}
		if len(n.args) > 0 {
			fmt.Fprintf(b, "complete -c switchboard -n %s -a %s\n", cond, fishQuote(strings.Join(n.args, " ")))
		}
		if n.files && len(n.children) == 0 {
			fmt.Fprintf(b, "complete -c switchboard -n %s -F\n", cond)
		}
		for _, f := range n.flags {
			fmt.Fprintf(b, "complete -c switchboard -n %s -l %s", cond, f.long)
			if f.short != 0 {
				fmt.Fprintf(b, " -s %s", string(f.short))
			}
			switch {
			case f.value && len(f.enum) > 0:
				fmt.Fprintf(b, " -x -a %s", fishQuote(strings.Join(f.enum, " ")))
			case f.value && f.files:
				b.WriteString(" -r -F")
			case f.value:
				b.WriteString(" -x")
			}
			fmt.Fprintf(b, " -d %s\n", fishQuote(f.help))
		}
	}
}
