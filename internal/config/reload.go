package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// ApplyReload returns the configuration that a reload of next puts in
// force in a server running cur (SIGHUP, docs/configuration.md
// "Reloading"), and one line for each difference in next that a reload
// cannot apply, naming the field and saying that a restart applies it.
// cur and next must be valid; neither is modified, and the result shares
// their slices and maps (all of them read-only).
//
// What a reload applies: management (API keys, access keys,
// allowLoopback), shutdown, http.maxConnections, log.level, and, in each API that
// both have (matched by id), everything but its stage and its channels:
// routes, integrations, auth (origins, JWT, authorizer), limits, binary,
// domainName, routeSelectionExpression and disconnect; and in each Pusher
// app that both have (matched by id), everything but its api: key,
// secret, features, limits, webhooks, activityTimeout and cacheTTL.
// Everything else —
// listen, tls, the rest of http, transport, log.format, cluster, an API's
// stage and channels, APIs added or removed, a Pusher app's api, Pusher
// apps added or removed, and any field this list does not name —
// keeps its running value until a restart.
func ApplyReload(cur, next *Config) (*Config, []string) {
	eff := *cur
	eff.Management = next.Management
	eff.Shutdown = next.Shutdown
	eff.HTTP.MaxConnections = next.HTTP.MaxConnections
	eff.Log.Level = next.Log.Level

	var notes []string
	byID := make(map[string]*API, len(next.APIs))
	for i := range next.APIs {
		byID[next.APIs[i].ID] = &next.APIs[i]
	}
	eff.APIs = make([]API, 0, len(cur.APIs))
	kept := make(map[string]bool, len(cur.APIs))
	for _, a := range cur.APIs {
		kept[a.ID] = true
		n := byID[a.ID]
		if n == nil {
			notes = append(notes, fmt.Sprintf("apis[%s] (stage /%s) was removed; restart to apply (it keeps serving until then)", a.ID, a.Stage))
			eff.APIs = append(eff.APIs, a)
			continue
		}
		e := *n
		e.Stage, e.Channels = a.Stage, a.Channels
		eff.APIs = append(eff.APIs, e)
		diffFields(&notes, "apis["+a.ID+"]", reflect.ValueOf(e), reflect.ValueOf(*n), 2)
	}
	for _, n := range next.APIs {
		if !kept[n.ID] {
			notes = append(notes, fmt.Sprintf("apis[%s] (stage /%s) was added; restart to apply", n.ID, n.Stage))
		}
	}

	eff.Pusher.Apps = reloadPusherApps(cur.Pusher.Apps, next.Pusher.Apps, &notes)

	top := *next
	top.APIs = eff.APIs     // compared above
	top.Pusher = eff.Pusher // compared in reloadPusherApps
	diffFields(&notes, "", reflect.ValueOf(eff), reflect.ValueOf(top), 2)
	return &eff, notes
}

// diffFields appends a note for each field of two values of one struct
// type that differs, descending depth levels into nested structs to name
// the field. Fields are named by their YAML keys.
func diffFields(notes *[]string, path string, a, b reflect.Value, depth int) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		full := name
		if path != "" {
			full = path + "." + name
		}
		fa, fb := a.Field(i), b.Field(i)
		if reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			continue
		}
		if depth > 1 && fa.Kind() == reflect.Struct {
			diffFields(notes, full, fa, fb, depth-1)
			continue
		}
		*notes = append(*notes, restartNote(full))
	}
}

func restartNote(field string) string {
	switch field {
	case "listen":
		return "listen address changed; restart to apply"
	case "tls":
		return "tls changed; restart to apply (the certificate and key files themselves are reloaded whenever they change)"
	}
	return field + " changed; restart to apply"
}

// reloadPusherApps returns the Pusher apps a reload puts in force: each
// app of cur that next has too (matched by id) as next has it, but with
// its running api; apps that next removed stay, apps that it added wait
// for a restart. It appends a note for each of those three.
func reloadPusherApps(cur, next []PusherApp, notes *[]string) []PusherApp {
	eff := make([]PusherApp, 0, len(cur))
	for _, a := range cur {
		i := slices.IndexFunc(next, func(n PusherApp) bool { return n.ID == a.ID })
		if i < 0 {
			*notes = append(*notes, fmt.Sprintf("pusher.apps[%s] (key %s) was removed; restart to apply (it keeps serving until then)", a.ID, a.Key))
			eff = append(eff, a)
			continue
		}
		e := next[i]
		if e.API != a.API {
			*notes = append(*notes, restartNote("pusher.apps["+a.ID+"].api"))
			e.API = a.API
		}
		eff = append(eff, e)
	}
	for _, n := range next {
		if !slices.ContainsFunc(cur, func(a PusherApp) bool { return a.ID == n.ID }) {
			*notes = append(*notes, fmt.Sprintf("pusher.apps[%s] (key %s) was added; restart to apply", n.ID, n.Key))
		}
	}
	return eff
}
