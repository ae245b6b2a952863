package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/switchboardhq/switchboard", Version: "v0.0.0-20261205221517-3956023abcde+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "3956023abcdef"}, {Key: "vcs.time", Value: "2026-12-05T22:15:17Z"}, {Key: "vcs.modified", Value: "true"},
		},
	}
	i := from(bi, true)
	if i.Version != bi.Main.Version || i.Commit != "3956023abcdef" || !i.Modified || i.Date != "2026-12-05T22:15:17Z" || !i.DateIsCommit || i.GoVersion != "go1.26.0" {
		t.Fatalf("from build info: %+v", i)
	}
	s := i.String()
	for _, want := range []string{"switchboard v0.0.0-20261205221517-3956023abcde+dirty\n", "commit: 3956023abcdef (with uncommitted changes)\n", "built:  from a commit of 2026-12-05T22:15:17Z\n", "go:     go1.26.0 "} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
}

func TestLinkerValuesWin(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "abc123", "2026-12-06T00:00:00Z"
	i := from(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "other"}, {Key: "vcs.time", Value: "2020-01-01T00:00:00Z"}}}, true)
	if i.Version != "v1.2.3" || i.Commit != "abc123" || i.Modified || i.Date != "2026-12-06T00:00:00Z" || i.DateIsCommit {
		t.Fatalf("linker values: %+v", i)
	}
	if s := i.String(); !strings.Contains(s, "built:  2026-12-06T00:00:00Z\n") {
		t.Errorf("String():\n%s", s)
	}
	// No build information at all (a test binary may have none).
	version, commit, date = "", "", ""
	if i := from(nil, false); i.Version != "(devel)" || i.Commit != "" || !strings.Contains(i.String(), "commit: unknown") {
		t.Errorf("without build information: %+v", i)
	}
}

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg, Info{Version: "v1.2.3", Commit: "abc", GoVersion: "go1.26.0"}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "switchboard_build_info" || len(mfs[0].Metric) != 1 {
		t.Fatalf("gathered %v", mfs)
	}
	m := mfs[0].Metric[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if m.GetGauge().GetValue() != 1 || len(labels) != 3 || labels["version"] != "v1.2.3" || labels["commit"] != "abc" || labels["goversion"] != "go1.26.0" {
		t.Fatalf("switchboard_build_info %v = %v", labels, m.GetGauge().GetValue())
	}
}
