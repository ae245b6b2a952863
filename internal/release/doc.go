// Package release holds no code: its tests check what `make release`
// ships, as a user receives it. They run the real Makefile target into a
// temporary directory and inspect the archives (their files, checksums,
// static linking and the version stamped into each binary, which the
// linux/amd64 one prints when run); build the FROM scratch container
// image of build/Containerfile with podman and run it (the health
// endpoint answers, the server runs as a non-root user, the image holds
// the binary and the CA certificates only, SIGTERM exits 0); check
// examples/systemd/switchboard.service with systemd-analyze; and run the
// haproxy snippet of docs/operating.md in front of a server, with a
// WebSocket client over TLS.
//
// Tools the tests need (make, tar, sha256sum, podman, runc,
// systemd-analyze, haproxy) are installed by .ci/run; outside CI a test whose tool
// is missing skips, in CI it fails. `go test -short` skips the builds.
// Why the artefacts look the way they do: decision 0033.
package release
