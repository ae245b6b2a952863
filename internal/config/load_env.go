package config

import (
	"fmt"
	"strconv"
	"strings"
)

// expandVars replaces ${NAME} and ${NAME:-default} in s. NAME is upper
// case: [A-Z_][A-Z0-9_]*. Anything else after "${" (route expressions such
// as ${request.body.action}, templates such as ${context.connectionId}) is
// left as it is. "$${" is a literal "${". The default applies when the
// variable is unset or empty, as in the shell. It returns one message per
// unset variable without a default and per unclosed reference.
func expandVars(s string, env func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var errs []string
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		ref, ok := parseVarRef(s[i+2:])
		switch {
		case !ok:
			// Not a variable: copy "${" and carry on after it.
			b.WriteString("${")
			i += 2
			continue
		case ref.n == 0:
			errs = append(errs, fmt.Sprintf("${%s is not closed; write ${%s} or ${%s:-default} (or $${ for a literal ${)", ref.name, ref.name, ref.name))
			b.WriteString(s[i:])
			i = len(s)
			continue
		}
		v, set := env(ref.name)
		switch {
		case ref.hasDefault && v == "":
			v = ref.def
		case !set:
			errs = append(errs, fmt.Sprintf("environment variable %s is not set; set it, or give a default with ${%s:-value}", ref.name, ref.name))
		}
		b.WriteString(v)
		i += 2 + ref.n
	}
	return b.String(), errs
}

type varRef struct {
	name       string
	def        string
	hasDefault bool
	n          int // bytes after "${" up to and including "}"; 0 if unclosed
}

// parseVarRef parses what follows "${". ok is false if it does not start
// with an upper-case variable name followed by "}", ":-" or the end.
func parseVarRef(s string) (ref varRef, ok bool) {
	i := 0
	for i < len(s) && (s[i] >= 'A' && s[i] <= 'Z' || s[i] == '_' || i > 0 && s[i] >= '0' && s[i] <= '9') {
		i++
	}
	if i == 0 {
		return ref, false
	}
	ref.name = s[:i]
	rest := s[i:]
	switch {
	case rest == "":
		return ref, true // unclosed
	case rest[0] == '}':
		ref.n = i + 1
		return ref, true
	case strings.HasPrefix(rest, ":-"):
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return ref, true // unclosed
		}
		ref.def, ref.hasDefault = rest[2:end], true
		ref.n = i + end + 1
		return ref, true
	}
	return ref, false
}

// Environment variables that override the file (after it is decoded,
// before defaults). An empty value counts as unset.
const (
	envListen        = "SWITCHBOARD_LISTEN"
	envLogLevel      = "SWITCHBOARD_LOG_LEVEL"
	envLogFormat     = "SWITCHBOARD_LOG_FORMAT"
	envAllowLoopback = "SWITCHBOARD_MANAGEMENT_ALLOW_LOOPBACK"
	envAPIKeys       = "SWITCHBOARD_MANAGEMENT_API_KEYS"
	// The per-node values of a cluster section, for nodes that share one
	// file: they apply only to a file that has a cluster section.
	envClusterNodeID    = "SWITCHBOARD_CLUSTER_NODE_ID"
	envClusterAdvertise = "SWITCHBOARD_CLUSTER_ADVERTISE"
)

// override applies the SWITCHBOARD_* variables to c and records which
// fields they set, so that Validate's problems with those fields name the
// variable.
func (l *loader) override(c *Config) {
	set := func(name, field string, dst *string) {
		if v, ok := l.lookup(name); ok {
			*dst = v
			l.sources[field] = name
		}
	}
	set(envListen, "listen", &c.Listen)
	set(envLogLevel, "log.level", &c.Log.Level)
	set(envLogFormat, "log.format", &c.Log.Format)

	if v, ok := l.lookup(envAllowLoopback); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1":
			allow := true
			c.Management.AllowLoopback = &allow
		case "false", "0":
			allow := false
			c.Management.AllowLoopback = &allow
		default:
			l.problems = append(l.problems, located{Problem{"management.allowLoopback",
				fmt.Sprintf("%q is not a boolean; use true, false, 1 or 0", v)}, envAllowLoopback, 0})
		}
	}

	for _, o := range []struct {
		name, field string
		dst         func(*Cluster) *string
	}{
		{envClusterNodeID, "cluster.nodeId", func(cl *Cluster) *string { return &cl.NodeID }},
		{envClusterAdvertise, "cluster.internal.advertise", func(cl *Cluster) *string { return &cl.Internal.Advertise }},
	} {
		v, ok := l.lookup(o.name)
		switch {
		case !ok:
		case c.Cluster == nil:
			l.problems = append(l.problems, located{Problem{o.field,
				"is set, but the configuration has no cluster section; add one, or unset the variable"}, o.name, 0})
		default:
			*o.dst(c.Cluster) = v
			l.sources[o.field] = o.name
		}
	}

	if v, ok := l.lookup(envAPIKeys); ok {
		n := 0
		for entry := range strings.SplitSeq(v, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n++
			name, key, found := strings.Cut(entry, ":")
			if !found {
				name, key = "env-"+strconv.Itoa(n), entry
			}
			field := joinIndex("management.apiKeys", len(c.Management.APIKeys))
			l.sources[field] = fmt.Sprintf("%s (entry %d)", envAPIKeys, n)
			c.Management.APIKeys = append(c.Management.APIKeys, APIKey{Name: strings.TrimSpace(name), Key: strings.TrimSpace(key)})
		}
	}
}

func (l *loader) lookup(name string) (string, bool) {
	v, ok := l.env(name)
	return v, ok && v != ""
}
