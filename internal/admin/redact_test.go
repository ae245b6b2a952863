package admin

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/config"
)

// fill sets every string of v (fields, slice elements, map values and
// keys) to a unique marker, recording the marker of each field, map value
// and URL under the field that holds it. Slices and maps get one element.
func fill(v reflect.Value, owner fieldRef, n *int, markers map[fieldRef][]string) {
	mark := func() string {
		*n++
		return fmt.Sprintf("M%04dQ", *n)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), owner, n, markers)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				fill(v.Field(i), fieldRef{t, t.Field(i).Name}, n, markers)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Interface {
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), owner, n, markers)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		k.SetString("K" + mark())
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, owner, n, markers)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		s := mark()
		if urlFields[owner] {
			s = "https://user-" + s + ":pw-" + mark() + "@example.test/p?token=" + mark()
		}
		v.SetString(s)
		markers[owner] = append(markers[owner], s)
	case reflect.Interface:
		s := mark()
		v.Set(reflect.ValueOf(map[string]any{"payload": s}))
		markers[owner] = append(markers[owner], s)
	}
}

// TestConfigRedaction fills every string of a configuration with a unique
// value, renders it as the configuration view does and checks that no
// secret field's value appears anywhere, while every other field's does
// (so the check is not passing on an empty rendering).
func TestConfigRedaction(t *testing.T) {
	var cfg config.Config
	n := 0
	markers := map[fieldRef][]string{}
	fill(reflect.ValueOf(&cfg).Elem(), fieldRef{}, &n, markers)
	out, err := renderConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	secrets := 0
	for ref, values := range markers {
		for _, val := range values {
			switch {
			case secretFields[ref]:
				secrets++
				if strings.Contains(text, val) {
					t.Errorf("the secret %s.%s (%q) appears in the rendered configuration", ref.t.Name(), ref.name, val)
				}
			case urlFields[ref]:
				secrets++
				if strings.Contains(text, "pw-") || strings.Contains(text, "token=M") || strings.Contains(text, "user-M") {
					t.Errorf("the URL %s.%s shows its user information or query: %q", ref.t.Name(), ref.name, val)
				}
			default:
				if !strings.Contains(text, val) {
					t.Errorf("%s.%s (%q) is missing from the rendered configuration", ref.t.Name(), ref.name, val)
				}
			}
		}
	}
	if secrets < len(secretFields) {
		t.Fatalf("only %d secret values were filled in, for %d secret fields", secrets, len(secretFields))
	}
	if !strings.Contains(text, redacted) {
		t.Fatal("nothing was redacted")
	}
}

// TestSecretFieldsClassified walks the configuration's types: a field
// whose name suggests a secret must be listed as secret, as a URL, or as
// not secret, so that adding such a field to internal/config without a
// decision here fails.
func TestSecretFieldsClassified(t *testing.T) {
	suspicious := []string{"secret", "password", "key", "token", "credential", "header", "environment", "auth", "url", "endpoint", "pass"}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t0 reflect.Type) {
		for t0.Kind() == reflect.Pointer || t0.Kind() == reflect.Slice || t0.Kind() == reflect.Map {
			t0 = t0.Elem()
		}
		if t0.Kind() != reflect.Struct || seen[t0] {
			return
		}
		seen[t0] = true
		for i := range t0.NumField() {
			f := t0.Field(i)
			if !f.IsExported() {
				continue
			}
			r := fieldRef{t0, f.Name}
			lower := strings.ToLower(f.Name)
			kind := f.Type.Kind()
			leaf := kind == reflect.String || kind == reflect.Map || kind == reflect.Slice && f.Type.Elem().Kind() == reflect.String
			if leaf && !secretFields[r] && !urlFields[r] && !notSecret[r] {
				for _, s := range suspicious {
					if strings.Contains(lower, s) {
						t.Errorf("config.%s.%s looks like it may hold a secret: list it in secretFields, urlFields or notSecret (internal/admin/redact.go)", t0.Name(), f.Name)
						break
					}
				}
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[config.Config]())
}

// TestRedactURL: what a URL keeps and loses.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.test/hook":                  "https://example.test/hook",
		"https://u:p@example.test/hook?sig=abc#frag": "https://%5Bredacted%5D@example.test/hook?sig=%5Bredacted%5D",
		"http://[::1:bad":                            redacted,
		"https://example.test/a?token=x&token=y&z=1": "https://example.test/a?token=%5Bredacted%5D&z=%5Bredacted%5D",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
