package authorizer

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// policyOutput wraps a policyDocument in an authorizer output.
func policyOutput(doc string) string {
	return `{"principalId":"u","policyDocument":` + doc + `}`
}

func TestPolicyEvaluation(t *testing.T) {
	const arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect"
	stmt := func(effect, action, resource string) string {
		return `{"Effect":"` + effect + `","Action":` + action + `,"Resource":` + resource + `}`
	}
	doc := func(stmts ...string) string {
		return policyOutput(`{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`)
	}
	for _, tc := range []struct {
		name string
		out  string
		want effect
	}{
		{"allow exact", doc(stmt("Allow", `"execute-api:Invoke"`, `"`+arn+`"`)), effectAllow},
		{"deny exact", doc(stmt("Deny", `"execute-api:Invoke"`, `"`+arn+`"`)), effectDeny},
		{"deny wins", doc(stmt("Allow", `"*"`, `"*"`), stmt("Deny", `"execute-api:Invoke"`, `"`+arn+`"`)), effectDeny},
		{"deny wins, deny first", doc(stmt("Deny", `"execute-api:*"`, `"*"`), stmt("Allow", `"*"`, `"*"`)), effectDeny},
		{"deny elsewhere", doc(stmt("Allow", `"*"`, `"*"`), stmt("Deny", `"*"`, `"arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/*"`)), effectAllow},
		{"no statement applies", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-east-1:123456789012:other/prod/$connect"`)), effectNone},
		{"empty statements", doc(), effectNone},
		{"null statement (aws-lambda-go zero value)", `{"principalId":"u","policyDocument":{"Version":"","Statement":null}}`, effectNone},
		{"single statement object", policyOutput(`{"Version":"2012-10-17","Statement":` + stmt("Allow", `"execute-api:Invoke"`, `"`+arn+`"`) + `}`), effectAllow},
		{"no version", policyOutput(`{"Statement":[` + stmt("Allow", `"execute-api:Invoke"`, `"`+arn+`"`) + `]}`), effectAllow},
		{"version 2008", policyOutput(`{"Version":"2008-10-17","Statement":[` + stmt("Allow", `"*"`, `"*"`) + `]}`), effectAllow},

		// Arrays versus strings (aws-lambda-go writes arrays).
		{"arrays", doc(stmt("Allow", `["execute-api:Invoke"]`, `["arn:aws:execute-api:us-east-1:123456789012:x/*","`+arn+`"]`)), effectAllow},
		{"array, none applies", doc(stmt("Allow", `["execute-api:InvalidateCache","execute-api:ManageConnections"]`, `["*"]`)), effectNone},

		// Actions: wildcards and case.
		{"action *", doc(stmt("Allow", `"*"`, `"`+arn+`"`)), effectAllow},
		{"action execute-api:*", doc(stmt("Allow", `"execute-api:*"`, `"`+arn+`"`)), effectAllow},
		{"action case-insensitive", doc(stmt("Allow", `"Execute-API:invoke"`, `"`+arn+`"`)), effectAllow},
		{"action ?", doc(stmt("Allow", `"execute-api:Invok?"`, `"`+arn+`"`)), effectAllow},
		{"other service", doc(stmt("Allow", `"lambda:*"`, `"*"`)), effectNone},
		{"NotAction", doc(stmt("Allow", `"execute-api:*"`, `"*"`), `{"Effect":"Deny","NotAction":"execute-api:Invoke","Resource":"*"}`), effectAllow},
		{"NotAction applies", doc(`{"Effect":"Allow","NotAction":"execute-api:ManageConnections","Resource":"*"}`), effectAllow},

		// Resources: wildcards as AWS documents them.
		{"resource *", doc(stmt("Allow", `"execute-api:Invoke"`, `"*"`)), effectAllow},
		{"arn:aws:execute-api:*:*:*", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:*:*:*"`)), effectAllow},
		{"region only", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-east-1:*:*"`)), effectAllow},
		{"other region", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:eu-west-1:*:*"`)), effectNone},
		{"api, any stage", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-east-1:*:abcdef123/*"`)), effectAllow},
		{"stage wildcard", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-east-1:123456789012:abcdef123/*/$connect"`)), effectAllow},
		{"wrong stage", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/*"`)), effectNone},
		{"service prefix crosses colons", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:*"`)), effectAllow},
		{"mid-segment * stays in segment", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-*1:123456789012:abcdef123/prod/$connect"`)), effectAllow},
		{"mid-segment * cannot cross", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-*2:abcdef123/prod/$connect"`)), effectNone},
		{"? in a segment", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-east-?:123456789012:abcdef123/prod/$connect"`)), effectAllow},
		{"resource case-sensitive", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-east-1:123456789012:ABCDEF123/prod/$connect"`)), effectNone},
		{"route other than $connect", doc(stmt("Allow", `"execute-api:Invoke"`, `"arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$default"`)), effectNone},
		{"NotResource", doc(`{"Effect":"Allow","Action":"execute-api:Invoke","NotResource":"arn:aws:execute-api:*:*:*/dev/*"}`), effectAllow},
		{"NotResource excludes", doc(`{"Effect":"Allow","Action":"execute-api:Invoke","NotResource":["arn:aws:execute-api:*:*:*/prod/*"]}`), effectNone},
		{"unknown members ignored", doc(`{"Sid":"1","Effect":"Allow","Action":"*","Resource":"*","Note":{"x":1}}`), effectAllow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseOutput([]byte(tc.out))
			if err != nil {
				t.Fatalf("parseOutput: %v\n%s", err, tc.out)
			}
			if got := r.policy.evaluate(InvokeAction, arn); got != tc.want {
				t.Errorf("evaluate = %v, want %v\n%s", got, tc.want, tc.out)
			}
		})
	}
}

func TestParseOutputMalformed(t *testing.T) {
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}]}`
	st := func(s string) string { return policyOutput(`{"Version":"2012-10-17","Statement":[` + s + `]}`) }
	for _, tc := range []struct{ in, want string }{
		{``, "returned nothing"},
		{`null`, "returned nothing"},
		{`  `, "returned nothing"},
		{`{"principalId":`, "not valid JSON"},
		{`[1]`, "returned an array"},
		{`"Allow"`, "returned a string"},
		{`{"statusCode":200,"body":"{}"}`, "Lambda proxy response"},
		{`{"policyDocument":` + allow + `}`, "principalId is missing"},
		{`{"principalid":"u","policyDocument":` + allow + `}`, `principalId is missing (found "principalid": names are case-sensitive)`},
		{`{"principalId":42,"policyDocument":` + allow + `}`, "principalId is a number, want a string"},
		{`{"principalId":null,"policyDocument":` + allow + `}`, "principalId is null, want a string"},
		{`{"principalId":"","policyDocument":` + allow + `}`, "principalId is empty"},
		{`{"principalId":"u"}`, "policyDocument is missing"},
		{`{"principalId":"u","policyDocument":"{}"}`, "policyDocument is a string, want an object"},
		{policyOutput(`{"Version":"2012-10-17"}`), "policyDocument.Statement is missing"},
		{policyOutput(`{"Version":"2012-10-17","statement":[]}`), `policyDocument.Statement is missing (found "statement"`},
		{policyOutput(`{"Version":"2019-01-01","Statement":[]}`), `Version is "2019-01-01"`},
		{policyOutput(`{"Version":1,"Statement":[]}`), "Version is a number"},
		{policyOutput(`{"Statement":"Allow"}`), "Statement is a string, want an array of statements"},
		{policyOutput(`{"Statement":["Allow"]}`), "Statement[0] is a string, want an object"},
		{st(`{"Action":"*","Resource":"*"}`), "Statement[0].Effect is missing"},
		{st(`{"effect":"Allow","Action":"*","Resource":"*"}`), `Statement[0].Effect is missing (found "effect"`},
		{st(`{"Effect":"allow","Action":"*","Resource":"*"}`), `Statement[0].Effect is "allow", want "Allow" or "Deny" (case-sensitive)`},
		{st(`{"Effect":true,"Action":"*","Resource":"*"}`), "Statement[0].Effect is true, want a string"},
		{st(`{"Effect":"Allow","Resource":"*"}`), "Statement[0].Action is missing"},
		{st(`{"Effect":"Allow","Action":null,"Resource":"*"}`), "Statement[0].Action is null"},
		{st(`{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}`), "has both Action and NotAction"},
		{st(`{"Effect":"Allow","Action":[],"Resource":"*"}`), "Statement[0].Action is an empty array"},
		{st(`{"Effect":"Allow","Action":["*",1],"Resource":"*"}`), "Statement[0].Action[1] is a number, want a string"},
		{st(`{"Effect":"Allow","Action":{"a":1},"Resource":"*"}`), "Statement[0].Action is an object, want a string or an array of strings"},
		{st(`{"Effect":"Allow","Action":"Invoke","Resource":"*"}`), `Statement[0].Action is "Invoke": want "execute-api:Invoke"`},
		{st(`{"Effect":"Allow","Action":["*",""],"Resource":"*"}`), `Statement[0].Action[1] is ""`},
		{st(`{"Effect":"Allow","Action":"*"}`), "Statement[0].Resource is missing"},
		{st(`{"Effect":"Allow","Action":"*","Resource":null}`), "Statement[0].Resource is null"},
		{st(`{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}`), "has both Resource and NotResource"},
		{st(`{"Effect":"Allow","Action":"*","Resource":"abcdef123/prod/$connect"}`), `want an ARN such as`},
		{st(`{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"1.2.3.4"}}}`), "Statement[1].Condition: conditions are not supported"},
		{st(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`), "Statement[0].Principal: an authorizer policy names no principal"},
		{policyOutput(allow)[:len(policyOutput(allow))-1] + `,"context":"x"}`, "context is a string, want an object"},
		{policyOutput(allow)[:len(policyOutput(allow))-1] + `,"context":{"a":[1]}}`, `context["a"] is an array; AWS allows only strings, numbers and booleans`},
		{policyOutput(allow)[:len(policyOutput(allow))-1] + `,"context":{"a":{}}}`, `context["a"] is an object`},
		{policyOutput(allow)[:len(policyOutput(allow))-1] + `,"usageIdentifierKey":5}`, "usageIdentifierKey is a number, want a string"},
		{`{"principalId":"u","policyDocument":` + allow + `,"pad":"` + strings.Repeat("x", MaxOutputBytes) + `"}`, "more than the 8192 (8 KB) AWS allows"},
	} {
		_, err := parseOutput([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseOutput(%.120s)\n  = %v\n  want an error containing %q", tc.in, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "authorizer output: ") {
			t.Errorf("error %q lacks the prefix", err)
		}
	}
}

func TestParseOutputContext(t *testing.T) {
	in := `{"principalId":"me","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},
		"context":{"stringKey":"stringval","numberKey":123,"booleanKey":true,"f":false,"neg":-1.5e3,"null":null,"esc":"a\"\u00e9\n","dup":"1","dup":"2"},
		"usageIdentifierKey":"key-1","unknown":[1,2]}`
	r, err := parseOutput([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"stringKey": "stringval", "numberKey": "123", "booleanKey": "true", "f": "false", "neg": "-1.5e3",
		"null": nil, "esc": "a\"é\n", "dup": "2",
	}
	if diff := cmp.Diff(want, r.context); diff != "" {
		t.Errorf("context (-want +got):\n%s", diff)
	}
	if r.principalID != "me" || r.usageIdentifierKey != "key-1" {
		t.Errorf("principalId %q, usageIdentifierKey %q", r.principalID, r.usageIdentifierKey)
	}
	for _, in := range []string{
		`{"principalId":"me","policyDocument":{"Statement":[]}}`,
		`{"principalId":"me","policyDocument":{"Statement":[]},"context":null,"usageIdentifierKey":null}`,
	} {
		r, err := parseOutput([]byte(in))
		if err != nil || r.context != nil || r.usageIdentifierKey != "" {
			t.Errorf("%s: %+v %v", in, r, err)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s      string
		arn, fold bool
		want      bool
	}{
		{"", "", true, false, true},
		{"", "a", true, false, false},
		{"*", "", true, false, true},
		{"*", "a:b:c", true, false, true},
		{"a*", "a:b", true, false, true},    // * ends the pattern
		{"a*:c", "ab:c", true, false, true}, // * ends a segment
		{"a*:c", "a:b:c", true, false, true},
		{"a*b", "a:b", true, false, false}, // mid-segment * stays in the segment
		{"a*b", "a:b", false, false, true},
		{"a?b", "a:b", true, false, false},
		{"a?b", "a:b", false, false, true},
		{"a?b", "ab", true, false, false},
		{"**", "xyz", true, false, true},
		{"*x*", "abxcd", true, false, true},
		{"*x*", "abcd", true, false, false},
		{"ABC", "abc", true, false, false},
		{"ABC", "abc", false, true, true},
		{"A*C", "abxc", false, true, true},
		{strings.Repeat("*a", 300), strings.Repeat("a", 299), true, false, false},
		{strings.Repeat("*a", 300), strings.Repeat("a", 300), true, false, true},
	} {
		if got := wildcardMatch(tc.p, tc.s, tc.arn, tc.fold); got != tc.want {
			t.Errorf("wildcardMatch(%.20q, %.20q, arn %v, fold %v) = %v, want %v", tc.p, tc.s, tc.arn, tc.fold, got, tc.want)
		}
	}
}
