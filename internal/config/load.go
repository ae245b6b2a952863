package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileBytes bounds what Load reads, so that pointing it at the wrong
// file (a log, /dev/zero) fails quickly.
const maxFileBytes = 16 << 20

// Load reads the YAML file at path and returns its configuration: variables
// expanded, strictly decoded, SWITCHBOARD_* overrides and defaults applied,
// relative paths (function directories, TLS files, JWT public key files)
// made absolute against the file's directory, and validated. env looks up environment variables (pass
// os.LookupEnv); nil means an empty environment.
//
// Errors name the file and line (or the environment variable), the field
// path, what is wrong and how to fix it. When the problems are in the
// configuration rather than in reading or parsing the file, errors.As finds
// a *ValidationError listing all of them.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %s; is this the configuration file?", path, ByteSize(maxFileBytes))
	}
	return parse(path, data, env, filepath.Dir(path))
}

// Parse is Load on the bytes of a file; name stands for the file in
// messages. Without a file to be relative to, relative paths
// (function.directory, the tls files, publicKeyFile) are left as written:
// relative to the working directory.
func Parse(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	return parse(name, data, env, "")
}

// parse is Parse with dir, the directory of the file ("" for none), which
// relative paths are resolved against before validation.
func parse(name string, data []byte, env func(string) (string, bool), dir string) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	root, err := parseDocument(name, data)
	if err != nil {
		return nil, err
	}
	if err := checkAliases(name, root); err != nil {
		return nil, err
	}
	l := &loader{name: name, env: env, root: root, sources: map[string]string{}}

	// Unset variables, unknown keys and values of the wrong type are
	// reported together; validation only runs on a file without them.
	l.expand(root, "")
	l.seen = map[seenKey]bool{}
	l.checkKeys(root, reflect.TypeFor[Config](), "")
	var c Config
	if err := root.Decode(&c); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// Fatal decoder errors (an alias that contains itself,
			// excessive aliasing, an unhashable key) carry no position;
			// the problems found so far usually explain them.
			if len(l.problems) > 0 {
				return nil, l.err()
			}
			return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		l.typeErrors(te)
	}
	if len(l.problems) > 0 {
		slices.SortStableFunc(l.problems, func(a, b located) int { return a.line - b.line })
		return nil, l.err()
	}
	normalizePayloads(&c)

	l.override(&c)
	if dir != "" {
		resolvePaths(&c, dir)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, p := range ve.Problems {
			l.add(p.Field, p.Message)
		}
		slices.SortStableFunc(l.problems, func(a, b located) int { return a.line - b.line })
	}
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	return &c, nil
}

// resolvePaths makes each relative path of c that names a file or
// directory (function.directory, tls.certFile, tls.keyFile,
// auth.jwt.keys[].publicKeyFile, the cluster's TLS files) relative to dir, the directory of the
// configuration file, and absolute, so that it names the same file
// whatever the working directory (and LAMBDA_TASK_ROOT is absolute, as on
// AWS).
func resolvePaths(c *Config, dir string) {
	resolve := func(p *string) {
		if *p == "" || filepath.IsAbs(*p) {
			return
		}
		d := filepath.Join(dir, *p)
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		*p = d
	}
	if c.TLS != nil {
		resolve(&c.TLS.CertFile)
		resolve(&c.TLS.KeyFile)
	}
	if cl := c.Cluster; cl != nil {
		if t := cl.Redis.TLS; t != nil {
			resolve(&t.CAFile)
			resolve(&t.CertFile)
			resolve(&t.KeyFile)
		}
		if t := cl.Internal.TLS; t != nil {
			resolve(&t.CAFile)
			resolve(&t.CertFile)
			resolve(&t.KeyFile)
		}
	}
	for i := range c.APIs {
		a := &c.APIs[i]
		for name, in := range a.Integrations {
			resolve(&in.Function.Directory)
			a.Integrations[name] = in
		}
		if j := a.Auth.JWT; j != nil {
			for k := range j.Keys {
				resolve(&j.Keys[k].PublicKeyFile)
			}
		}
	}
}

// parseDocument parses data into its one YAML document. Empty documents
// (nothing but comments, a lone "---" or "~") are skipped.
func parseDocument(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc *yaml.Node
	for {
		n := new(yaml.Node)
		err := dec.Decode(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(name, data, err)
		}
		if len(n.Content) == 0 || n.Content[0].ShortTag() == "!!null" {
			continue
		}
		if doc != nil {
			return nil, fmt.Errorf("%s:%d: a second YAML document starts here; Switchboard reads one document per file: remove the \"---\" separator and merge the settings into the first document", name, n.Line)
		}
		doc = n
	}
	if doc == nil {
		return nil, fmt.Errorf("%s: no configuration; the file is empty. Start from the example in docs/configuration.md, or run without a file to get the default chat API", name)
	}
	return doc, nil
}

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError rewrites a yaml.v3 parse error with the line of the mistake.
//
// yaml.v3 numbers a parser error by the line where the enclosing construct
// began (and, for a scanner error inside a construct, the line after it),
// not by the line of the problem: a mis-indented key on line 7 of a list
// that starts on line 5 is reported at line 4. problemLine finds the line
// itself.
func syntaxError(name string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	where := name
	if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
		reported, _ := strconv.Atoi(m[1])
		msg = m[2]
		where = fmt.Sprintf("%s:%d", name, problemLine(data, reported, msg))
	}
	for i, line := range strings.Split(string(data), "\n") {
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		if strings.Contains(indent, "\t") {
			msg += fmt.Sprintf(" (line %d is indented with a tab; YAML needs spaces)", i+1)
			break
		}
	}
	return fmt.Errorf("%s: YAML syntax error on this line: %s", where, msg)
}

// problemLineScan and problemLineBytes bound the prefixes problemLine
// parses (their number and their total size), so that a syntax error in a
// large file stays cheap to report.
const (
	problemLineScan  = 400
	problemLineBytes = 64 << 20
)

// problemLine returns the line of the syntax error msg that yaml.v3
// reported at line reported: the first line n, from just before the
// reported one, such that the file's first n lines alone already fail
// with the same message. That is where the parser, reading line by line,
// could no longer go on. When no prefix within problemLineScan lines fails
// that way, the reported line stands.
func problemLine(data []byte, reported int, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	start := max(reported-1, 1)
	end := 0 // bytes of data in the first n lines
	for _, l := range lines[:min(start-1, len(lines))] {
		end += len(l)
	}
	budget := problemLineBytes
	for n := start; n <= len(lines) && n < start+problemLineScan; n++ {
		end += len(lines[n-1])
		if budget -= end; budget < 0 {
			break
		}
		err := parsesAll(data[:end])
		if err == nil {
			continue
		}
		if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil && m[2] == msg {
			return n
		}
	}
	return reported
}

// parsesAll parses every document of data and returns the first error.
func parsesAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// loader carries one Parse call: the file's node tree, the problems found
// so far, and where each field came from.
type loader struct {
	name     string
	env      func(string) (string, bool)
	root     *yaml.Node
	problems []located

	// seen stops checkKeys from walking a node twice as the same type,
	// which bounds its work when anchors are aliased many times (and ends
	// cycles, which the decoder reports).
	seen map[seenKey]bool
	// sources maps a field path set from the environment to the variable
	// that set it, so that its problems point there and not at the file.
	sources map[string]string
	// lines maps a field path to the line of its key; built on first use.
	lines map[string]int
}

// located is a problem and where to look for it: "file:line", "file" or
// the name of an environment variable.
type located struct {
	Problem
	where string
	line  int
}

// addAt records a problem at a known line of the file.
func (l *loader) addAt(line int, field, format string, args ...any) {
	where := l.name
	if line > 0 {
		where = l.name + ":" + strconv.Itoa(line)
	}
	l.problems = append(l.problems, located{Problem{field, fmt.Sprintf(format, args...)}, where, line})
}

// add records a problem with a field, located through the environment
// variable that set it or the line of the field (or of its nearest
// ancestor present in the file).
func (l *loader) add(field, msg string) {
	for path, env := range l.sources {
		if field == path || strings.HasPrefix(field, path+".") || strings.HasPrefix(field, path+"[") {
			l.problems = append(l.problems, located{Problem{field, msg}, env, 0})
			return
		}
	}
	l.addAt(l.lineOf(field), field, "%s", msg)
}

// lineOf returns the line of field's key, or of its nearest ancestor that
// the file contains, or 0.
func (l *loader) lineOf(field string) int {
	if l.lines == nil {
		l.lines = map[string]int{}
		for _, e := range collectNodes(l.root) {
			if _, ok := l.lines[e.path]; !ok {
				l.lines[e.path] = e.line()
			}
		}
	}
	for {
		if line, ok := l.lines[field]; ok {
			return line
		}
		if field == "" {
			return 0
		}
		field = parentPath(field)
	}
}

func (l *loader) err() error {
	e := &fileError{name: l.name, verr: &ValidationError{}}
	for _, p := range l.problems {
		e.verr.Problems = append(e.verr.Problems, p.Problem)
		e.where = append(e.where, p.where)
	}
	return e
}

// fileError is a ValidationError of one file: each problem is prefixed
// with where it is (file:line or the environment variable).
type fileError struct {
	name  string
	where []string
	verr  *ValidationError
}

func (e *fileError) Error() string {
	if len(e.where) == 1 {
		return e.line(0)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems:", e.name, len(e.where))
	for i := range e.where {
		b.WriteString("\n  ")
		b.WriteString(e.line(i))
	}
	return b.String()
}

func (e *fileError) line(i int) string {
	p := e.verr.Problems[i]
	if p.Field == "" {
		return e.where[i] + ": " + p.Message
	}
	return e.where[i] + ": " + p.Field + ": " + p.Message
}

func (e *fileError) Unwrap() error { return e.verr }
