package frontend

import (
	"net/http"
	"testing"
)

func TestMatch(t *testing.T) {
	routes := []Route{
		{Prefix: "/app/", Handler: http.NotFoundHandler()},
		{Prefix: "/apps/", Handler: http.NotFoundHandler()},
		{Prefix: "/apps/special/", Handler: http.NotFoundHandler()},
	}
	for path, want := range map[string]string{
		"/app/key":              "/app/",
		"/app/":                 "/app/",
		"/apps/1/events":        "/apps/",
		"/apps/special/x":       "/apps/special/",
		"/app":                  "",
		"/application":          "",
		"/production":           "",
		"/production/app/key":   "",
		"/apps":                 "",
		"/APP/key":              "",
		"/app%2Fkey":            "",
		"/apps/special":         "/apps/",
		"/apps/specialist/x/y/": "/apps/",
	} {
		rt, ok := Match(routes, path)
		if ok != (want != "") || rt.Prefix != want {
			t.Errorf("Match(%q) = %q, %v; want %q", path, rt.Prefix, ok, want)
		}
	}
}
