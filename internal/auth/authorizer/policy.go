package authorizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// InvokeAction is the action a $connect needs: execute-api:Invoke on the
// route's ARN (§5.4 of the AWS reference).
const InvokeAction = "execute-api:Invoke"

// effect is what a policy decides for one request.
type effect uint8

const (
	effectNone  effect = iota // no statement applies: implicit deny
	effectAllow               // an Allow statement applies and no Deny does
	effectDeny                // a Deny statement applies: explicit deny
)

func (e effect) String() string {
	switch e {
	case effectAllow:
		return "Allow"
	case effectDeny:
		return "Deny"
	}
	return "implicit deny"
}

// statement is one policy statement. Exactly one of actions/notActions and
// one of resources/notResources is set.
type statement struct {
	deny                    bool
	actions, notActions     []string
	resources, notResources []string
}

// policy is an authorizer's policyDocument. Immutable once parsed.
type policy struct {
	statements []statement
}

// evaluate decides action on resource as IAM does: an explicit Deny wins,
// then an Allow, and without either the request is denied.
func (p *policy) evaluate(action, resource string) effect {
	out := effectNone
	for i := range p.statements {
		s := &p.statements[i]
		if !s.applies(action, resource) {
			continue
		}
		if s.deny {
			return effectDeny
		}
		out = effectAllow
	}
	return out
}

func (s *statement) applies(action, resource string) bool {
	if s.actions != nil && !matchAny(s.actions, action, false) || s.notActions != nil && matchAny(s.notActions, action, false) {
		return false
	}
	if s.resources != nil && !matchAny(s.resources, resource, true) || s.notResources != nil && matchAny(s.notResources, resource, true) {
		return false
	}
	return true
}

func matchAny(patterns []string, s string, arn bool) bool {
	for _, p := range patterns {
		if arn && wildcardMatch(p, s, true, false) || !arn && wildcardMatch(p, s, false, true) {
			return true
		}
	}
	return false
}

// wildcardMatch reports whether s matches the IAM pattern p, in which '*'
// matches any run of characters and '?' any one character (bytes: ARNs and
// actions are ASCII).
//
// For ARNs (arn true) the wildcards stay inside a colon-separated segment,
// except that a '*' that ends a segment (followed by ':' or ending p) may
// extend across colons: IAM's rule, so "arn:aws:execute-api:*" and "*"
// cover every ARN and "arn:aws:execute-api:us-east-1:*:*" every API of a
// region. ARNs compare case-sensitively. For actions (arn false) wildcards
// match anything and letters compare without regard to ASCII case, as IAM
// compares action names.
//
// It runs in O(len(p)·len(s)) time and O(len(s)) space, whatever p holds.
func wildcardMatch(p, s string, arn, fold bool) bool {
	var buf [2 * 257]bool
	var prev, cur []bool
	if len(s) < 257 {
		prev, cur = buf[:len(s)+1], buf[257:257+len(s)+1]
	} else {
		prev, cur = make([]bool, len(s)+1), make([]bool, len(s)+1)
	}
	// prev[j] reports whether the pattern so far matches s[:j].
	prev[0] = true
	for i := 0; i < len(p); i++ {
		c, alive := p[i], false
		switch c {
		case '*':
			cross := !arn || i+1 == len(p) || p[i+1] == ':'
			cur[0] = prev[0]
			for j := 1; j <= len(s); j++ {
				cur[j] = prev[j] || cur[j-1] && (cross || s[j-1] != ':')
			}
		case '?':
			cur[0] = false
			for j := 1; j <= len(s); j++ {
				cur[j] = prev[j-1] && (!arn || s[j-1] != ':')
			}
		default:
			cur[0] = false
			for j := 1; j <= len(s); j++ {
				cur[j] = prev[j-1] && (s[j-1] == c || fold && lower(s[j-1]) == lower(c))
			}
		}
		for _, v := range cur {
			alive = alive || v
		}
		if !alive {
			return false
		}
		prev, cur = cur, prev
	}
	return prev[len(s)]
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// parsePolicy reads a policyDocument:
//
//	{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"|"Deny",
//	  "Action": "execute-api:Invoke" or [...], "Resource": "arn:..." or [...]}]}
//
// Version may be absent, "" (what aws-lambda-go writes for an unset
// field), "2012-10-17" or "2008-10-17". Statement is one statement object
// or an array of them; null or [] is a policy that allows nothing. In a
// statement, Effect is "Allow" or "Deny" (case-sensitive, as in IAM), there
// is exactly one of Action and NotAction and one of Resource and
// NotResource, each a string or a non-empty array of strings; an action is
// "*" or SERVICE:NAME (wildcards allowed), a resource "*" or an ARN
// (wildcards allowed). A Condition is refused because Switchboard does not
// evaluate condition keys (dropping it would widen an Allow or narrow a
// Deny); Principal and NotPrincipal are refused as IAM refuses them in an
// identity policy. Other members (Sid) are ignored.
func parsePolicy(raw json.RawMessage) (policy, error) {
	doc, err := object(raw, "policyDocument")
	if err != nil {
		return policy{}, err
	}
	if v := doc["Version"]; !isNull(v) {
		s, err := str(v, "policyDocument.Version")
		if err != nil {
			return policy{}, err
		}
		if s != "" && s != "2012-10-17" && s != "2008-10-17" {
			return policy{}, malformed("policyDocument.Version is %q, want \"2012-10-17\"", s)
		}
	}
	raw, err = member(doc, "Statement", "policyDocument.")
	if err != nil {
		return policy{}, err
	}
	var elems []json.RawMessage
	switch k := kind(raw); k {
	case "null":
	case "an object":
		elems = []json.RawMessage{raw}
	case "an array":
		if err := json.Unmarshal(raw, &elems); err != nil {
			return policy{}, malformed("policyDocument.Statement: %v", err)
		}
	default:
		return policy{}, malformed("policyDocument.Statement is %s, want an array of statements", k)
	}
	p := policy{statements: make([]statement, 0, len(elems))}
	for i, e := range elems {
		s, err := parseStatement(e, fmt.Sprintf("policyDocument.Statement[%d]", i))
		if err != nil {
			return policy{}, err
		}
		p.statements = append(p.statements, s)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage, path string) (statement, error) {
	m, err := object(raw, path)
	if err != nil {
		return statement{}, err
	}
	var s statement
	for _, k := range []string{"Condition", "Principal", "NotPrincipal"} {
		if v, ok := m[k]; ok && !isNull(v) {
			if k == "Condition" {
				return statement{}, malformed("%s.Condition: conditions are not supported (Switchboard evaluates no condition keys)", path)
			}
			return statement{}, malformed("%s.%s: an authorizer policy names no principal (the principal is principalId)", path, k)
		}
	}

	raw, err = member(m, "Effect", path+".")
	if err != nil {
		return statement{}, err
	}
	e, err := str(raw, path+".Effect")
	if err != nil {
		return statement{}, err
	}
	switch e {
	case "Allow":
	case "Deny":
		s.deny = true
	default:
		return statement{}, malformed("%s.Effect is %q, want \"Allow\" or \"Deny\" (case-sensitive)", path, e)
	}

	if s.actions, s.notActions, err = either(m, path, "Action", "NotAction", validAction); err != nil {
		return statement{}, err
	}
	if s.resources, s.notResources, err = either(m, path, "Resource", "NotResource", validResource); err != nil {
		return statement{}, err
	}
	return s, nil
}

// either reads the one of m[name] and m[notName] that is set, as a string
// or a non-empty array of strings, each checked with valid.
func either(m map[string]json.RawMessage, path, name, notName string, valid func(string) string) (list, notList []string, err error) {
	v, nv := m[name], m[notName]
	switch {
	case !isNull(v) && !isNull(nv):
		return nil, nil, malformed("%s has both %s and %s, want one", path, name, notName)
	case !isNull(v) || !isNull(nv):
		// One is set; a null other is as good as absent.
	case v != nil:
		return nil, nil, malformed("%s.%s is null, want a string or an array of strings", path, name)
	case nv != nil:
		return nil, nil, malformed("%s.%s is null, want a string or an array of strings", path, notName)
	default:
		_, err := member(m, name, path+".") // "missing", with a hint if the case differs
		return nil, nil, err
	}
	which, raw := name, v
	if isNull(v) {
		which, raw = notName, nv
	}
	where := path + "." + which
	var out []string
	switch k := kind(raw); k {
	case "a string":
		s, err := str(raw, where)
		if err != nil {
			return nil, nil, err
		}
		out = []string{s}
	case "an array":
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, nil, malformed("%s: %v", where, err)
		}
		if len(elems) == 0 {
			return nil, nil, malformed("%s is an empty array", where)
		}
		out = make([]string, len(elems))
		for i, e := range elems {
			if out[i], err = str(e, fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return nil, nil, err
			}
		}
	default:
		return nil, nil, malformed("%s is %s, want a string or an array of strings", where, k)
	}
	for i, s := range out {
		if why := valid(s); why != "" {
			if len(out) == 1 {
				return nil, nil, malformed("%s is %q: %s", where, s, why)
			}
			return nil, nil, malformed("%s[%d] is %q: %s", where, i, s, why)
		}
	}
	if which == name {
		return out, nil, nil
	}
	return nil, out, nil
}

// validAction explains why s is not an action pattern; "" if it is one.
func validAction(s string) string {
	if s == "*" {
		return ""
	}
	if svc, name, ok := strings.Cut(s, ":"); !ok || svc == "" || name == "" {
		return `want "execute-api:Invoke", another SERVICE:ACTION or "*"`
	}
	return ""
}

// validResource explains why s is not a resource pattern; "" if it is one.
func validResource(s string) string {
	if s == "*" || strings.HasPrefix(s, "arn:") {
		return ""
	}
	return `want an ARN such as "arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/$connect" or "*"`
}
