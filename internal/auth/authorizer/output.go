package authorizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
)

// MaxOutputBytes is the largest authorizer output accepted: AWS's quota
// "Lambda authorizer result size" is 8 KB and cannot be raised (§5.2, §6).
const MaxOutputBytes = 8 << 10

// result is an authorizer's parsed output. It is immutable once built and
// shared by every Authorize call served from the cache.
type result struct {
	principalID        string
	policy             policy
	context            map[string]any // stringified values; nil when there was none
	usageIdentifierKey string
	latency            time.Duration // of the call that produced it
}

// outputError is the error for an output that is not what AWS accepts.
type outputError struct{ reason string }

func (e *outputError) Error() string { return "authorizer output: " + e.reason }

func malformed(format string, args ...any) error {
	return &outputError{reason: fmt.Sprintf(format, args...)}
}

// parseOutput reads an authorizer's return value:
//
//	{"principalId": "user", "policyDocument": {"Version": "2012-10-17", "Statement": [
//	  {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:..."}]},
//	 "context": {"k": "v", "n": 1, "b": true}, "usageIdentifierKey": "..."}
//
// principalId must be a non-empty string and policyDocument an object;
// context, when present and not null, an object of strings, numbers,
// booleans and nulls (AWS: "you cannot set a JSON object or array as a
// valid value of any key in the context map"); usageIdentifierKey, when
// present and not null, a string. Member names are case-sensitive, unknown
// members are ignored, and of duplicate members the last counts. See
// parsePolicy for the policy document.
func parseOutput(b []byte) (*result, error) {
	if len(b) > MaxOutputBytes {
		return nil, malformed("%d bytes, more than the %d (8 KB) AWS allows", len(b), MaxOutputBytes)
	}
	b = bytes.Trim(b, " \t\r\n")
	if len(b) == 0 || string(b) == "null" {
		return nil, malformed(`the authorizer returned nothing, want an object like {"principalId": "user", "policyDocument": {...}}`)
	}
	if !json.Valid(b) {
		return nil, malformed("not valid JSON")
	}
	if kind(b) != "an object" {
		return nil, malformed(`the authorizer returned %s, want an object like {"principalId": "user", "policyDocument": {...}}`, kind(b))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, malformed("%v", err)
	}
	r := &result{}
	raw, err := member(m, "principalId", "")
	if err != nil {
		if _, ok := m["statusCode"]; ok {
			return nil, malformed(`the authorizer returned a Lambda proxy response ({"statusCode": ...}), want {"principalId": ..., "policyDocument": ...}; to refuse with 401, throw "Unauthorized"`)
		}
		return nil, err
	}
	if r.principalID, err = str(raw, "principalId"); err != nil {
		return nil, err
	}
	if r.principalID == "" {
		return nil, malformed("principalId is empty")
	}

	raw, err = member(m, "policyDocument", "")
	if err != nil {
		return nil, err
	}
	if r.policy, err = parsePolicy(raw); err != nil {
		return nil, err
	}

	if raw := m["context"]; !isNull(raw) {
		obj, err := object(raw, "context")
		if err != nil {
			return nil, err
		}
		r.context = make(map[string]any, len(obj))
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			v, err := stringify(obj[k], k)
			if err != nil {
				return nil, err
			}
			r.context[k] = v
		}
	}

	if raw := m["usageIdentifierKey"]; !isNull(raw) {
		if r.usageIdentifierKey, err = str(raw, "usageIdentifierKey"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// stringify turns one context value into what later events carry: strings
// as they are, numbers as their JSON text, booleans as "true" or "false",
// null as nil (AWS REST output observed in 2024: {"num": 123, "bool": true,
// "null": null} became {"num": "123", "bool": "true", "null": null}).
func stringify(raw json.RawMessage, key string) (any, error) {
	switch k := kind(raw); k {
	case "a string":
		return str(raw, fmt.Sprintf("context[%q]", key))
	case "a number":
		return string(bytes.Trim(raw, " \t\r\n")), nil
	case "true", "false":
		return k, nil
	case "null":
		return nil, nil
	default:
		return nil, malformed("context[%q] is %s; AWS allows only strings, numbers and booleans as context values", key, k)
	}
}

// member returns m[name], or an error that names the member (with where,
// the path of m, as a prefix) and points out a spelling that differs only
// in case.
func member(m map[string]json.RawMessage, name, where string) (json.RawMessage, error) {
	if raw, ok := m[name]; ok {
		return raw, nil
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if strings.EqualFold(k, name) {
			return nil, malformed("%s%s is missing (found %q: names are case-sensitive)", where, name, k)
		}
	}
	return nil, malformed("%s%s is missing", where, name)
}

// kind names the kind of a JSON value for error messages (event.DescribeJSON).
func kind(raw json.RawMessage) string { return event.DescribeJSON(raw) }

func isNull(raw json.RawMessage) bool { return raw == nil || kind(raw) == "null" }

func object(raw json.RawMessage, what string) (map[string]json.RawMessage, error) {
	if k := kind(raw); k != "an object" {
		return nil, malformed("%s is %s, want an object", what, k)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, malformed("%s: %v", what, err)
	}
	return m, nil
}

func str(raw json.RawMessage, what string) (string, error) {
	if k := kind(raw); k != "a string" {
		return "", malformed("%s is %s, want a string", what, k)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", malformed("%s: %v", what, err)
	}
	return s, nil
}
