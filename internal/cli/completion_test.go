package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// completionScript is `switchboard completion <shell>`, run in-process,
// saved to a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), []string{"completion", shell}, &out, &errOut); err != nil {
		t.Fatalf("completion %s: %v\n%s", shell, err, errOut.String())
	}
	path := filepath.Join(t.TempDir(), "switchboard."+shell)
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// needShell returns the shell's path; outside CI a missing shell skips the
// test, in CI it fails it (.ci/run installs them).
func needShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func shell(t *testing.T, sh string, args ...string) string {
	t.Helper()
	out, err := exec.Command(sh, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", sh, args, err, out)
	}
	return string(out)
}

// Each script parses (bash -n, zsh -n, fish -n).
func TestCompletionScriptsParse(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		t.Run(sh, func(t *testing.T) {
			p := needShell(t, sh)
			shell(t, p, "-n", completionScript(t, sh))
		})
	}
}

// completionCases are words typed so far (the last one being completed)
// and completions that must be offered, and ones that must not.
var completionCases = []struct {
	words []string
	want  []string
	not   []string
}{
	{[]string{""}, []string{"send", "connections", "channels", "completion", "serve"}, []string{"fanout-worker", "noop-server"}},
	{[]string{"conn"}, []string{"connections"}, []string{"channels"}},
	{[]string{"connections", ""}, []string{"list", "get", "kick"}, []string{"info"}},
	{[]string{"channels", ""}, []string{"info", "presence", "history"}, []string{"list"}},
	{[]string{"send", "--output", ""}, []string{"table", "json"}, nil},
	{[]string{"send", "-o", ""}, []string{"table", "json"}, nil},
	{[]string{"send", "--"}, []string{"--connection", "--channel", "--user", "--all", "--api-key", "--access-key", "--endpoint"}, []string{"--since"}},
	{[]string{"channels", "history", "room:a", "--"}, []string{"--since", "--epoch", "--limit", "--output"}, []string{"--cursor"}},
	{[]string{"connections", "list", "--"}, []string{"--cursor", "--all", "--limit"}, nil},
	{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}, nil},
	// A flag's value is not taken for a subcommand.
	{[]string{"send", "--endpoint", "http://h/stage", "--"}, []string{"--channel"}, nil},
	{[]string{"channels", "info", "--output", "json", "--e"}, []string{"--endpoint"}, []string{"--output"}},
	{[]string{"bench", ""}, []string{"idle", "fanout", "forward", "manage"}, []string{"fanout-worker"}},
}

func check(t *testing.T, words []string, got string, want, not []string) {
	t.Helper()
	fields := strings.Fields(got)
	has := func(w string) bool {
		for _, f := range fields {
			if f == w || strings.HasPrefix(f, w+":") {
				return true
			}
		}
		return false
	}
	for _, w := range want {
		if !has(w) {
			t.Errorf("switchboard %s<TAB>: no %q in %q", strings.Join(words, " "), w, got)
		}
	}
	for _, w := range not {
		if has(w) {
			t.Errorf("switchboard %s<TAB>: %q offered in %q", strings.Join(words, " "), w, got)
		}
	}
}

// quoteWords quotes words for a shell array in single quotes.
func quoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = zshQuote(w)
	}
	return strings.Join(q, " ")
}

// The bash script offers the right words: _switchboard run on COMP_WORDS.
func TestCompletionBash(t *testing.T) {
	bash := needShell(t, "bash")
	script := completionScript(t, "bash")
	for _, tc := range completionCases {
		words := append([]string{"switchboard"}, tc.words...)
		got := shell(t, bash, "-c", `source "$1"; COMP_WORDS=(`+quoteWords(words)+`); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _switchboard; printf '%s\n' "${COMPREPLY[@]}"`, "bash", script)
		check(t, tc.words, got, tc.want, tc.not)
	}
}

// The zsh script offers the right words: _switchboard run with words and
// CURRENT set and the completion system's functions replaced by ones that
// print what they are given (the shell is not interactive).
func TestCompletionZsh(t *testing.T) {
	zsh := needShell(t, "zsh")
	script := completionScript(t, "zsh")
	// The stubs filter by the word being completed, as the real ones do.
	stubs := `compdef() { :; }; ` +
		`_describe() { local c; for c in "${(@P)argv[-1]}"; do [[ ${c%%:*} == "${words[CURRENT]}"* ]] && print -- "$c"; done; return 0; }; ` +
		`compadd() { shift; local c; for c in "$@"; do [[ $c == "${words[CURRENT]}"* ]] && print -- "$c"; done; return 0; }; ` +
		`_files() { print FILES; }; _message() { :; }; `
	for _, tc := range completionCases {
		words := append([]string{"switchboard"}, tc.words...)
		got := shell(t, zsh, "-c", stubs+`source "$1"; words=(`+quoteWords(words)+`); CURRENT=${#words}; _switchboard`, "zsh", script)
		check(t, tc.words, got, tc.want, tc.not)
	}
	got := shell(t, zsh, "-c", stubs+`source "$1"; words=(switchboard serve --config ''); CURRENT=4; _switchboard`, "zsh", script)
	if strings.TrimSpace(got) != "FILES" {
		t.Errorf("serve --config <TAB>: %q, want files", got)
	}
}

// The fish script offers the right words: fish's own complete -C.
func TestCompletionFish(t *testing.T) {
	fish := needShell(t, "fish")
	script := completionScript(t, "fish")
	for _, tc := range completionCases {
		line := "switchboard " + strings.Join(tc.words, " ")
		out := shell(t, fish, "-c", `source $argv[1]; complete -C $argv[2]`, script, line)
		// complete -C prints "word<TAB>description" lines.
		var words []string
		for _, l := range strings.Split(out, "\n") {
			w, _, _ := strings.Cut(l, "\t")
			words = append(words, w)
		}
		check(t, tc.words, strings.Join(words, " "), tc.want, tc.not)
	}
}

// The generator walks the model: every visible command is in the tree,
// hidden ones are not, and a flag that takes a value is known as such.
func TestCompletionTree(t *testing.T) {
	parser, err := kong.New(&cli{}, kong.Name("switchboard"))
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]*compNode{}
	for _, n := range completionTree(parser.Model).nodes() {
		paths[n.path] = n
	}
	for _, p := range []string{"", "send", "connections:list", "channels:history", "bench:idle", "completion"} {
		if paths[p] == nil {
			t.Errorf("no node %q", p)
		}
	}
	for _, p := range []string{"bench:fanout-worker", "bench:noop-server", "channels:list"} {
		if paths[p] != nil {
			t.Errorf("node %q should not be there", p)
		}
	}
	vf := strings.Join(paths["send"].valueFlags(), " ")
	if !strings.Contains(vf, "--endpoint") || !strings.Contains(vf, "-o") || strings.Contains(vf, "--all") {
		t.Errorf("send's value flags: %s", vf)
	}
	if got := shortHelp("One. Two.  three"); got != "One" {
		t.Errorf("shortHelp = %q", got)
	}
	if got := fishQuote(`it's a \ test`); got != `'it\'s a \\ test'` {
		t.Errorf("fishQuote = %s", got)
	}
	if got := zshQuote(`it's`); got != `'it'\''s'` {
		t.Errorf("zshQuote = %s", got)
	}
}
