package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Set by the linker (-ldflags -X); empty means "from the build
// information".
var (
	version string
	commit  string
	date    string
)

// Info describes the running binary. A field that nothing recorded is "".
type Info struct {
	// Version is the module version: a tag (v1.2.3), a pseudo-version
	// that go build derives from the git checkout, or "(devel)".
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from.
	Commit string `json:"commit"`
	// Modified reports that the working tree had uncommitted changes.
	Modified bool `json:"modified"`
	// Date is the build date given to the linker, or else the commit's
	// date (vcs.time); DateIsCommit tells which.
	Date         string `json:"date"`
	DateIsCommit bool   `json:"dateIsCommit"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get returns the running binary's build information, linker-set values
// first.
func Get() Info {
	return from(debug.ReadBuildInfo())
}

func from(bi *debug.BuildInfo, ok bool) Info {
	i := Info{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok && bi != nil {
		if bi.Main.Version != "" {
			i.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			i.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Commit = s.Value
			case "vcs.time":
				i.Date, i.DateIsCommit = s.Value, true
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		i.Version = version
	}
	if commit != "" {
		i.Commit, i.Modified = strings.TrimSuffix(commit, "-dirty"), strings.HasSuffix(commit, "-dirty")
	}
	if date != "" {
		i.Date, i.DateIsCommit = date, false
	}
	return i
}

// String is what `switchboard version` prints: the version on the first
// line, then the commit, the date and the toolchain, one per line.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "switchboard %s\n", i.Version)
	c := i.Commit
	if c == "" {
		c = "unknown (built outside a git checkout; make build records it)"
	} else if i.Modified {
		c += " (with uncommitted changes)"
	}
	fmt.Fprintf(&b, "commit: %s\n", c)
	switch {
	case i.Date == "":
		fmt.Fprintf(&b, "built:  unknown\n")
	case i.DateIsCommit:
		fmt.Fprintf(&b, "built:  from a commit of %s\n", i.Date)
	default:
		fmt.Fprintf(&b, "built:  %s\n", i.Date)
	}
	fmt.Fprintf(&b, "go:     %s %s", i.GoVersion, i.Platform)
	return b.String()
}

// Register adds switchboard_build_info to reg: a gauge that is always 1,
// labelled with the version, commit and Go version, so that dashboards
// can tell which build each node runs.
func Register(reg prometheus.Registerer, i Info) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "switchboard_build_info",
		Help: "Always 1; the labels say which build of Switchboard is running.",
		ConstLabels: prometheus.Labels{
			"version": i.Version, "commit": i.Commit, "goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return reg.Register(g)
}
