package config

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/internal/route"
)

// channels checks an API's channels and reports whether every namespace
// pattern is well formed.
func (v *validator) channels(apiPath string, c *Channels, integrations map[string]Integration) bool {
	path := apiPath + ".channels"
	v.intRange(path+".maxPerConnection", c.MaxPerConnection, 1, maxChannelsPerConnection)
	maxName := c.MaxNameBytes
	if maxName < 1 || maxName > maxChannelNameLimit {
		v.intRange(path+".maxNameBytes", maxName, 1, maxChannelNameLimit)
		maxName = 0 // lengths are only compared with a valid limit
	}

	allOK := true
	patterns := map[string]int{}
	catchAll := -1
	for i := range c.Namespaces {
		f := joinIndex(path+".namespaces", i)
		n := &c.Namespaces[i]
		if !v.namespace(apiPath, f, n, maxName, integrations) {
			allOK = false
			continue
		}
		if first, ok := patterns[n.Pattern]; ok {
			v.add(f+".pattern", "%q is already the pattern of %s, which comes first and so applies to every channel this one matches; remove this namespace or merge the two", n.Pattern, joinIndex(path+".namespaces", first))
			continue
		}
		patterns[n.Pattern] = i
		if catchAll >= 0 {
			v.add(f+".pattern", "%q can never apply: %s has pattern \"*\", which matches every channel first; move this namespace before it", n.Pattern, joinIndex(path+".namespaces", catchAll))
			continue
		}
		if n.Pattern == "*" {
			catchAll = i
		}
	}
	return allOK
}

// namespace checks one namespace and reports whether its pattern is well
// formed. maxName is the valid channels.maxNameBytes, or 0.
func (v *validator) namespace(apiPath, path string, n *Namespace, maxName int, integrations map[string]Integration) bool {
	patternOK := v.pattern(path+".pattern", n.Pattern, maxName)

	subOK := v.oneOf(path+".subscribe", n.Subscribe, "a subscribe rule", subscribeRules)
	pubOK := v.oneOf(path+".publish", n.Publish, "a publish rule", publishRules)
	if patternOK && !strings.Contains(n.Pattern, userToken) {
		for _, r := range []struct{ field, rule string }{{"subscribe", n.Subscribe}, {"publish", n.Publish}} {
			if r.rule == "user" {
				v.add(path+"."+r.field, "\"user\" needs {user} in the pattern, the part of the channel name that must be the connection's user id; add it to %q (e.g. pattern: \"user:{user}\") or choose another rule", n.Pattern)
			}
		}
	}

	var rules []string
	if n.Subscribe == "authorizer" {
		rules = append(rules, "subscribe")
	}
	if n.Publish == "authorizer" {
		rules = append(rules, "publish")
	}
	switch {
	case len(rules) > 0 && n.Authorizer == "":
		v.add(path+".authorizer", "is required when %s is authorizer; name the integration of %s.integrations that decides, e.g. authorizer: backend", strings.Join(rules, " and "), apiPath)
	case n.Authorizer == "":
	case len(rules) == 0 && subOK && pubOK:
		v.add(path+".authorizer", "is only used when subscribe or publish is authorizer; remove it, or set one of them to authorizer")
	default:
		if _, ok := integrations[n.Authorizer]; !ok {
			v.add(path+".authorizer", "%s", unknownIntegration(apiPath, n.Authorizer, integrations))
		}
	}

	if n.JoinLeave && !n.PresenceEnabled() {
		v.add(path+".joinLeave", "needs presence, which is turned off; remove joinLeave or set presence: true")
	}
	v.history(path+".history", &n.History)
	return patternOK
}

// pattern checks a namespace pattern and reports whether it is well
// formed. maxName is the valid channels.maxNameBytes, or 0.
func (v *validator) pattern(field, p string, maxName int) bool {
	if p == "" {
		v.add(field, "is required; write the channel names this namespace covers, such as \"chat:*\", \"user:{user}\" or \"*\" (every channel)")
		return false
	}
	if msg := checkPattern(p); msg != "" {
		v.add(field, "%q %s", p, msg)
		return false
	}
	if maxName > 0 && len(p) > maxName {
		v.add(field, "is %d bytes long, more than maxNameBytes (%d); shorten it or raise maxNameBytes", len(p), maxName)
		return false
	}
	return true
}

func (v *validator) history(path string, h *History) {
	switch {
	case h.Size < 0 || h.Size > maxHistorySize:
		v.add(path+".size", "%d is out of range; use a number from 1 to %d, or 0 (the default) to keep no history", h.Size, maxHistorySize)
		return
	case h.Size == 0:
		for _, f := range []struct {
			name string
			set  bool
		}{{"ttl", h.TTL != 0}, {"metaTTL", h.MetaTTL != 0}, {"recoveryLimit", h.RecoveryLimit != 0}} {
			if f.set {
				v.add(path+"."+f.name, "has no effect without history.size; set size to the number of publications each channel keeps, or remove %s", f.name)
			}
		}
		return
	}
	v.duration(path+".ttl", h.TTL, time.Second, maxHistoryTTL.Std())
	v.duration(path+".metaTTL", h.MetaTTL, time.Second, maxHistoryTTL.Std())
	ttlOK := h.TTL.Std() >= time.Second && h.TTL <= maxHistoryTTL
	if ttlOK && h.MetaTTL.Std() >= time.Second && h.MetaTTL < h.TTL {
		v.add(path+".metaTTL", "%s is shorter than ttl (%s), so a channel's epoch would be forgotten while its publications are still kept; raise it to at least %s or shorten ttl",
			fmtDuration(h.MetaTTL), fmtDuration(h.TTL), fmtDuration(h.TTL))
	}
	if h.RecoveryLimit < 1 || h.RecoveryLimit > h.Size {
		v.add(path+".recoveryLimit", "%d is out of range; use a number from 1 to size (%d), the most publications a channel keeps", h.RecoveryLimit, h.Size)
	}
}

// channelExpression checks an action's channel: the syntax of a route
// selection expression, tokenized by the route package as the gateway
// will; literal text that a channel name may contain; and, for a channel
// without variables, a valid name that some namespace matches.
// namespacesOK reports that ch's patterns are well formed.
func (v *validator) channelExpression(apiPath, field, expr string, ch *Channels, namespacesOK bool) {
	if !utf8.ValidString(expr) {
		v.add(field, "%q is not valid UTF-8; write it as UTF-8 text", expr)
		return
	}
	toks, err := route.Tokenize(expr)
	if err != nil {
		v.add(field, "%s", err)
		return
	}
	static := true
	var name strings.Builder
	for _, t := range toks {
		switch {
		case t.Var == "":
			if r, bad := badChannelRune(t.Literal); bad {
				v.add(field, "%q contains %q, which a channel name cannot (channel names have no control characters, spaces or commas); remove it", expr, r)
				return
			}
			name.WriteString(t.Literal)
		case !t.Body:
			v.add(field, "%q uses $%s; a channel can only use $request.body variables, such as $request.body.room (write \\$ for a literal dollar sign)", expr, t.Var)
			return
		default:
			static = false
		}
	}
	if !static {
		return
	}
	s := name.String()
	if ch.MaxNameBytes >= 1 && ch.MaxNameBytes <= maxChannelNameLimit && len(s) > ch.MaxNameBytes {
		v.add(field, "is %d bytes long, more than %s.channels.maxNameBytes (%d); shorten it or raise maxNameBytes", len(s), apiPath, ch.MaxNameBytes)
		return
	}
	if !namespacesOK {
		return
	}
	if _, _, ok := ch.Lookup(s); !ok {
		patterns := make([]string, len(ch.Namespaces))
		for i, n := range ch.Namespaces {
			patterns[i] = n.Pattern
		}
		v.add(field, "%q matches no pattern of %s.channels.namespaces (%s), so it cannot be used; fix the channel or add a namespace whose pattern matches it",
			s, apiPath, strings.Join(quoteAll(patterns), ", "))
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
