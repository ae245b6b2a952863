package config

import (
	"slices"
	"strings"
	"unicode"
)

// minAccessKeyIDLen and maxAccessKeyIDLen bound an access key id: AWS ids
// (AKIA...) are 20 characters. A secret access key is at least
// minAPIKeyLen characters, as an API key, so that a captured signature
// cannot be brute-forced.
const (
	minAccessKeyIDLen = 16
	maxAccessKeyIDLen = 128
)

// management validates management.apiKeys and management.accessKeys
// against the configured APIs (for their stages).
func (v *validator) management(m *Management, apis []API) {
	var stages []string
	for _, a := range apis {
		if a.Stage != "" {
			stages = append(stages, a.Stage)
		}
	}
	names := map[string]int{}
	keys := map[string]int{}
	for i, k := range m.APIKeys {
		f := joinIndex("management.apiKeys", i)
		switch {
		case k.Name == "":
			v.add(f+".name", "is required; name the key after who uses it (it appears in logs), e.g. name: backend")
		case names[k.Name] > 0:
			v.add(f+".name", "%q is already the name of management.apiKeys[%d]; give each key its own name", k.Name, names[k.Name]-1)
		default:
			names[k.Name] = i + 1
		}
		switch {
		case hasSpaceOrControl(k.Key):
			v.add(f+".key", "contains spaces or control characters, which cannot be sent in an Authorization header; use a random string such as the output of `openssl rand -hex 24`")
		case len(k.Key) < minAPIKeyLen:
			v.add(f+".key", "is %d characters; use at least %d, such as the output of `openssl rand -hex 24` (read it from the environment with ${NAME})", len(k.Key), minAPIKeyLen)
		case keys[k.Key] > 0:
			first := keys[k.Key] - 1
			v.add(f+".key", "is the same secret as management.apiKeys[%d] (%q); give each key its own secret", first, m.APIKeys[first].Name)
		default:
			keys[k.Key] = i + 1
		}
		v.keyStages(f+".stages", k.Stages, stages)
	}

	ids := map[string]int{}
	for i, k := range m.AccessKeys {
		f := joinIndex("management.accessKeys", i)
		switch {
		case k.ID == "":
			v.add(f+".id", "is required; use the access key id your backends sign with (AWS_ACCESS_KEY_ID), such as AKIAIOSFODNN7EXAMPLE")
		case strings.IndexFunc(k.ID, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r) }) >= 0:
			v.add(f+".id", "%q contains characters other than letters and digits; an access key id is letters and digits, such as AKIAIOSFODNN7EXAMPLE", k.ID)
		case len(k.ID) < minAccessKeyIDLen || len(k.ID) > maxAccessKeyIDLen:
			v.add(f+".id", "is %d characters; use %d to %d letters and digits, such as AKIAIOSFODNN7EXAMPLE", len(k.ID), minAccessKeyIDLen, maxAccessKeyIDLen)
		case ids[k.ID] > 0:
			v.add(f+".id", "%q is already the id of management.accessKeys[%d]; give each key its own id", k.ID, ids[k.ID]-1)
		default:
			ids[k.ID] = i + 1
		}
		switch {
		case k.Secret == "":
			v.add(f+".secret", "is required; read it from the environment with ${NAME} (the value your backends have as AWS_SECRET_ACCESS_KEY)")
		case hasSpaceOrControl(k.Secret):
			v.add(f+".secret", "contains spaces or control characters; use a random string such as the output of `openssl rand -base64 30`")
		case len(k.Secret) < minAPIKeyLen:
			v.add(f+".secret", "is %d characters; use at least %d, such as the output of `openssl rand -base64 30` (read it from the environment with ${NAME})", len(k.Secret), minAPIKeyLen)
		}
		v.keyStages(f+".stages", k.Stages, stages)
	}
}

// keyStages checks the stages a key is limited to: each must be the stage
// of a configured API, listed once.
func (v *validator) keyStages(field string, list, stages []string) {
	for j, s := range list {
		f := joinIndex(field, j)
		switch {
		case s == "":
			v.add(f, "is empty; name the stage of an API (apis[].stage), or leave stages out for every stage")
		case slices.Index(list[:j], s) >= 0:
			v.add(f, "%q is listed twice; list each stage once", s)
		case !slices.Contains(stages, s):
			hint := ""
			if sug := suggest(s, stages); sug != "" {
				hint = " (did you mean " + quote(sug) + "?)"
			}
			v.add(f, "%q is not the stage of any API%s; the stages are %s", s, hint, quotedList(stages))
		}
	}
}

func hasSpaceOrControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0
}

func quote(s string) string { return `"` + s + `"` }

// quotedList is "a", "b" and "c" ("none" for no items).
func quotedList(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}
