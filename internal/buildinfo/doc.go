// Package buildinfo says which build of Switchboard is running: the
// module version, the VCS commit and the build date, for `switchboard
// version` and the switchboard_build_info metric.
//
// The values come from the binary's embedded build information
// (runtime/debug.ReadBuildInfo: the module version and the vcs.revision,
// vcs.time and vcs.modified settings that go build records in a git
// checkout). A release build can set them instead with the linker, as
// `make build` does:
//
//	go build -ldflags "-X github.com/switchboardhq/switchboard/internal/buildinfo.version=v1.2.3
//	  -X github.com/switchboardhq/switchboard/internal/buildinfo.commit=$(git rev-parse HEAD)
//	  -X github.com/switchboardhq/switchboard/internal/buildinfo.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// Concurrency: Get is safe for concurrent use; the linker-set variables
// are never written at run time.
package buildinfo
