package authorizer

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzARNs = []string{
	"arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect",
	"arn:aws:execute-api:local:000000000000:api/stage/$connect",
	"",
}

// FuzzParsePolicy: parseOutput never panics; it either fails with an
// *outputError or returns an output whose invariants hold, and evaluating
// its policy never panics and gives the same answer twice.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		output("u", "Allow", "*", `{"a":"b","n":1,"t":true,"z":null}`),
		output("u", "Deny", "arn:aws:execute-api:*:*:*/prod/$connect", ""),
		`{"principalId":"u","policyDocument":{"Version":"","Statement":null}}`,
		`{"principalId":"u","policyDocument":{"Statement":{"Effect":"Allow","NotAction":["lambda:*"],"NotResource":"arn:aws:execute-api:us-*:*"}}}`,
		`{"principalId":"u","policyDocument":{"Statement":[{"Effect":"Allow","Action":"execute-api:Inv?ke","Resource":["arn:aws:execute-api:*:1?3*:*"]}]},"usageIdentifierKey":"k"}`,
		`{"principalId":"u","policyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]}}`,
		`{"statusCode":200}`, `null`, `[]`, `{"principalId":"\ud800"}`, `{"principalId":"u","policyDocument":{"Statement":[[[[[]]]]]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseOutput(b)
		if err != nil {
			var oe *outputError
			if !errors.As(err, &oe) || r != nil {
				t.Fatalf("error %v (%T) with result %v", err, err, r)
			}
			return
		}
		if r.principalID == "" {
			t.Fatal("accepted an empty principalId")
		}
		for k, v := range r.context {
			if _, ok := v.(string); !ok && v != nil {
				t.Fatalf("context[%q] = %#v, want a string or nil", k, v)
			}
		}
		for _, s := range r.policy.statements {
			if (s.actions == nil) == (s.notActions == nil) || (s.resources == nil) == (s.notResources == nil) {
				t.Fatalf("statement %+v: want exactly one of each pair", s)
			}
		}
		for _, arn := range fuzzARNs {
			e := r.policy.evaluate(InvokeAction, arn)
			if e > effectDeny || e != r.policy.evaluate(InvokeAction, arn) {
				t.Fatalf("evaluate(%q) = %v, not stable", arn, e)
			}
		}
	})
}

// FuzzWildcardMatch compares wildcardMatch with a regular expression
// built from the same rules.
func FuzzWildcardMatch(f *testing.F) {
	f.Add("arn:aws:execute-api:*:*:*/prod/$connect", "arn:aws:execute-api:us-east-1:1:api/prod/$connect", true)
	f.Add("a*:c?", "a:b:cd", true)
	f.Add("Execute-API:*", "execute-api:Invoke", false)
	f.Add("**?*", "", false)
	f.Fuzz(func(t *testing.T, p, s string, arn bool) {
		if len(p) > 64 || len(s) > 64 || !isASCII(p) || !isASCII(s) {
			return
		}
		fold := !arn
		got := wildcardMatch(p, s, arn, fold)
		if want := referenceMatch(p, s, arn, fold); got != want {
			t.Fatalf("wildcardMatch(%q, %q, arn %v) = %v, reference says %v", p, s, arn, got, want)
		}
		if !strings.ContainsAny(s, "*?") && !wildcardMatch(s, s, arn, fold) {
			t.Fatalf("%q does not match itself", s)
		}
	})
}

func referenceMatch(p, s string, arn, fold bool) bool {
	var re strings.Builder
	re.WriteString(`^`)
	if fold {
		re.WriteString(`(?i)`)
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && (!arn || i+1 == len(p) || p[i+1] == ':'):
			re.WriteString(`(?s:.*)`)
		case c == '*':
			re.WriteString(`[^:]*`)
		case c == '?' && arn:
			re.WriteString(`[^:]`)
		case c == '?':
			re.WriteString(`(?s:.)`)
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString(`$`)
	return regexp.MustCompile(re.String()).MatchString(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
