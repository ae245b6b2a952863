package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Field paths name a value of the file the way a reader finds it:
// apis[0].routes.sendMessage.integration. Map keys that are not plain
// words are quoted: apis[0].routes["a.b"].

// joinKey returns the path of key below path.
func joinKey(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// joinIndex returns the path of item i of the sequence at path.
func joinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '$') {
			return false
		}
	}
	return true
}

// parentPath drops the last segment of path ("" for a top-level key).
func parentPath(path string) string {
	last := 0
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			last = i
			i++
		case '[':
			last = i
			i++
			if i < len(path) && path[i] == '"' {
				q, err := strconv.QuotedPrefix(path[i:])
				if err != nil {
					return path[:last]
				}
				i += len(q)
			}
		default:
			i++
		}
	}
	return path[:last]
}

// keyPath is the path of the value of mapping key k below path.
func keyPath(path string, k *yaml.Node) string {
	if k.Kind != yaml.ScalarNode {
		return path + "[?]"
	}
	return joinKey(path, k.Value)
}

// nodeEntry is one value of the file with its path; key is the mapping key
// that holds it (nil for sequence items and the document's root).
type nodeEntry struct {
	path     string
	key, val *yaml.Node
}

func (e nodeEntry) line() int {
	if e.key != nil {
		return e.key.Line
	}
	return e.val.Line
}

// collectNodes lists every node of the tree in document order with its
// path, without following aliases.
func collectNodes(root *yaml.Node) []nodeEntry {
	var out []nodeEntry
	var walk func(n *yaml.Node, path string, key *yaml.Node)
	walk = func(n *yaml.Node, path string, key *yaml.Node) {
		if n.Kind == yaml.DocumentNode {
			for _, c := range n.Content {
				walk(c, path, nil)
			}
			return
		}
		out = append(out, nodeEntry{path, key, n})
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], keyPath(path, n.Content[i]), n.Content[i])
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, joinIndex(path, i), nil)
			}
		}
	}
	walk(root, "", nil)
	return out
}

// checkAliases rejects documents whose aliases expand to far more values
// than the file holds ("billion laughs"). yaml.v3 stops those too, but only
// after decoding millions of values; a configuration never needs more than
// a few copies of an anchor.
func checkAliases(name string, root *yaml.Node) error {
	const slack = 10000
	nodes := 0
	size := map[*yaml.Node]int{}
	var count func(n *yaml.Node) int
	count = func(n *yaml.Node) int {
		if s, ok := size[n]; ok {
			return s
		}
		size[n] = 1 // an alias that contains itself counts once; the decoder reports it
		s := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			s = count(n.Alias)
		} else {
			nodes++
			for _, c := range n.Content {
				s = min(s+count(c), 1<<40)
			}
		}
		size[n] = s
		return s
	}
	if total := count(root); total > 10*nodes+slack {
		return fmt.Errorf("%s: the aliases (*name) in this file expand to %d values, from %d written; use fewer nested aliases", name, total, nodes)
	}
	return nil
}

// expand replaces environment variables in every scalar of the tree (keys
// and values; anchors are expanded once, where they are defined). A plain
// scalar that changed loses its resolved tag, so that "${PORT}" becoming
// "8080" decodes as a number, as if 8080 had been written.
func (l *loader) expand(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			l.expand(c, path)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			l.expand(c, joinIndex(path, i))
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			l.expand(k, path)
			l.expand(n.Content[i+1], keyPath(path, k))
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		out, errs := expandVars(n.Value, l.env)
		for _, e := range errs {
			l.addAt(n.Line, path, "%s", e)
		}
		if out != n.Value {
			n.Value = out
			if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				n.Tag = ""
			}
		}
	}
}

type seenKey struct {
	n *yaml.Node
	t reflect.Type
}

// checkKeys walks the tree alongside the Go type it decodes into and
// reports mapping keys that are not fields of their struct (what yaml.v3's
// KnownFields does, but with the field path and a suggestion). It also
// prepares payload templates for decoding (see normalizePayload). Aliases
// are followed, since an anchor may be reused where other keys apply.
func (l *loader) checkKeys(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			l.checkKeys(c, t, path)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	k := seenKey{n, t}
	if l.seen[k] {
		return
	}
	l.seen[k] = true

	switch {
	case t.Kind() == reflect.Interface:
		l.normalizePayload(n, path)
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			name := key
			if key.Kind == yaml.AliasNode && key.Alias != nil {
				name = key.Alias // *anchor used as a key
			}
			if name.Kind != yaml.ScalarNode {
				continue // the decoder reports it
			}
			if isMerge(key) {
				l.checkMerge(val, t, path)
				continue
			}
			f, ok := fields.byName[name.Value]
			if !ok {
				l.unknownKey(key.Line, name.Value, path, fields)
				continue
			}
			l.checkKeys(val, f, joinKey(path, name.Value))
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if isMerge(key) {
				l.checkMerge(val, t, path)
				continue
			}
			l.checkKeys(val, t.Elem(), keyPath(path, key))
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			l.checkKeys(c, t.Elem(), joinIndex(path, i))
		}
	}
}

// checkMerge checks the mappings merged by "<<: *anchor" or
// "<<: [*a, *b]" as part of the mapping that merges them.
func (l *loader) checkMerge(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			l.checkKeys(c, t, path)
		}
		return
	}
	l.checkKeys(n, t, path)
}

func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && n.ShortTag() == "!!merge"
}

func (l *loader) unknownKey(line int, key, path string, fields fieldSet) {
	// A key of this level written in another case ("Listen") is meant
	// here, even when a nested one matches too (metrics.listen).
	for _, name := range fields.names {
		if normalizeKey(name) == normalizeKey(key) {
			l.addAt(line, path, "unknown key %q (did you mean %q?)", key, name)
			return
		}
	}
	if parent, child := nestedKey(key, fields); parent != "" {
		// The list too: the key may have been meant for another one here
		// (endpoint for url).
		l.addAt(line, path, "unknown key %q (did you mean %s.%s? write it under %s:); the keys here are %s", key, parent, child, parent, strings.Join(fields.names, ", "))
		return
	}
	if s := suggest(key, fields.names); s != "" {
		l.addAt(line, path, "unknown key %q (did you mean %q?)", key, s)
		return
	}
	l.addAt(line, path, "unknown key %q; the keys here are %s", key, strings.Join(fields.names, ", "))
}

// nestedKey finds key one level down: it returns the first key of fields
// whose value is a mapping of fixed keys (a struct) with a key that equals
// key, ignoring case, '-' and '_', and that key. So functionName written
// directly in an integration points to lambda.functionName.
func nestedKey(key string, fields fieldSet) (parent, child string) {
	w := normalizeKey(key)
	for _, name := range fields.names {
		t := fields.byName[name]
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			continue
		}
		for _, c := range structFields(t).names {
			if normalizeKey(c) == w {
				return name, c
			}
		}
	}
	return "", ""
}

type fieldSet struct {
	byName map[string]reflect.Type
	names  []string // in declaration order
}

// structFields returns the YAML keys of struct t from its yaml tags.
func structFields(t reflect.Type) fieldSet {
	fs := fieldSet{byName: map[string]reflect.Type{}}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fs.byName[name] = f.Type
		fs.names = append(fs.names, name)
	}
	return fs
}

// normalizePayload prepares a payload template, which decodes into any, so
// that it decodes into the JSON-like values the payload package compiles:
// every mapping key is a string (1: x gives "1", not the number 1, so maps
// are map[string]any and never map[any]any), and dates stay text instead
// of becoming time.Time.
func (l *loader) normalizePayload(n *yaml.Node, path string) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	k := seenKey{n, nil}
	if l.seen[k] {
		return
	}
	l.seen[k] = true
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if key.Kind != yaml.ScalarNode {
				l.addAt(key.Line, path, "payload keys must be text; write a plain key such as \"message:\"")
				continue
			}
			if !isMerge(key) {
				key.Tag = "!!str"
			}
			l.normalizePayload(val, keyPath(path, key))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			l.normalizePayload(c, joinIndex(path, i))
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!timestamp" {
			n.Tag = "!!str"
		}
	}
}

// normalizePayloads converts any map[any]any left in payload templates (a
// merge of an anchor defined outside a payload can produce one) to
// map[string]any, so that the gateway sees JSON-like values only.
func normalizePayloads(c *Config) {
	for i := range c.APIs {
		for _, r := range c.APIs[i].Routes {
			if r.Action != nil && r.Action.Payload != nil {
				r.Action.Payload = stringKeys(r.Action.Payload)
			}
		}
	}
}

func stringKeys(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
	}
	return v
}

var (
	typeErrLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	typeErrMismatch = regexp.MustCompile("^cannot unmarshal (!![a-z]+)(?: `(.*)`)? into (.+)$")
	typeErrDup      = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
)

// typeErrors turns yaml.v3's decode errors ("line 12: cannot unmarshal
// !!str `abc` into int") into problems with field paths.
func (l *loader) typeErrors(te *yaml.TypeError) {
	byLine := map[int][]nodeEntry{}
	for _, e := range collectNodes(l.root) {
		byLine[e.val.Line] = append(byLine[e.val.Line], e)
		if e.key != nil && e.key.Line != e.val.Line {
			byLine[e.key.Line] = append(byLine[e.key.Line], e)
		}
	}
	for _, msg := range te.Errors {
		m := typeErrLine.FindStringSubmatch(msg)
		if m == nil {
			l.addAt(0, "", "%s", msg)
			continue
		}
		line, _ := strconv.Atoi(m[1])
		msg = m[2]
		entries := byLine[line]

		if d := typeErrDup.FindStringSubmatch(msg); d != nil {
			key, _ := strconv.Unquote(d[1])
			e := findEntry(entries, func(e nodeEntry) bool {
				return e.key != nil && e.key.Line == line && e.key.Value == key
			})
			l.addAt(line, e.path, "duplicate key %q (first at line %s); keep only one", key, d[2])
			continue
		}

		if t := typeErrMismatch.FindStringSubmatch(msg); t != nil {
			tag, value, goType := t[1], strings.TrimSuffix(t[2], "..."), t[3]
			e := findEntry(entries, func(e nodeEntry) bool {
				return e.val.Line == line && e.val.ShortTag() == tag && strings.HasPrefix(e.val.Value, value)
			})
			if e.val == nil {
				e = findEntry(entries, func(e nodeEntry) bool { return e.val.Line == line })
			}
			l.addAt(line, e.path, "%s", mismatch(e.val, tag, goType))
			continue
		}

		// Our own unmarshalers (Duration, ByteSize) report a scalar.
		e := findEntry(entries, func(e nodeEntry) bool {
			return e.val.Line == line && e.val.Kind == yaml.ScalarNode && strings.Contains(msg, strconv.Quote(e.val.Value))
		})
		if e.val == nil {
			e = findEntry(entries, func(e nodeEntry) bool { return e.val.Line == line })
		}
		l.addAt(line, e.path, "%s", msg)
	}
}

func findEntry(entries []nodeEntry, match func(nodeEntry) bool) nodeEntry {
	for _, e := range entries {
		if match(e) {
			return e
		}
	}
	return nodeEntry{}
}

// mismatch explains a value of the wrong kind: what the field wants, what
// the file has, and how to write it.
func mismatch(n *yaml.Node, tag, goType string) string {
	var want, fix string
	switch {
	case goType == "string":
		want = "text"
		if tag == "!!map" || tag == "!!seq" {
			fix = "; if you meant text, put it in quotes"
		}
	case goType == "bool":
		want, fix = "true or false", "; write true or false without quotes"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		want, fix = "a whole number", "; write a number such as 64, without quotes"
	case strings.HasPrefix(goType, "[]"):
		want, fix = "a list", "; write each item on its own line starting with \"- \""
	default: // structs and maps
		if goType == "config.Config" {
			return fmt.Sprintf("the file must be a mapping of settings (listen:, apis:, ...), not %s", describeTag(tag))
		}
		want, fix = "a mapping", "; write key: value pairs on the lines below, indented"
	}
	got := describeTag(tag)
	if n != nil && n.Kind == yaml.ScalarNode {
		got += " " + strconv.Quote(n.Value)
	}
	return fmt.Sprintf("want %s, got %s%s", want, got, fix)
}

func describeTag(tag string) string {
	switch tag {
	case "!!str":
		return "text"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!timestamp":
		return "a date"
	case "!!binary":
		return "binary data"
	}
	return tag
}
