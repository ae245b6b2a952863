package release_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/testproc"
)

const (
	containerfile = root + "/build/Containerfile"
	// Where the image and the systemd unit read the configuration.
	configPath = "/etc/switchboard/switchboard.yaml"
	// The CA bundle the image carries: Debian's, from the build machine.
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
)

// instruction is one Containerfile instruction: its keyword (upper case)
// and the rest of the line, continuations joined.
type instruction struct{ cmd, args string }

func parseContainerfile(t *testing.T) []instruction {
	t.Helper()
	var ins []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(mustRead(t, containerfile)), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		ins = append(ins, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return ins
}

// TestContainerfile checks the image's invariants in build/Containerfile
// itself, with or without a container tool: one stage, FROM scratch; the
// CA bundle and the binary copied, and nothing else (no RUN, no ADD); a
// numeric non-root USER; the exec-form ENTRYPOINT (so that the server is
// PID 1 and gets SIGTERM and SIGHUP itself); the configuration path of the
// docs and the systemd unit; port 8080 exposed.
func TestContainerfile(t *testing.T) {
	allowed := []string{"FROM", "ARG", "LABEL", "COPY", "USER", "EXPOSE", "ENTRYPOINT", "CMD"}
	var from, copies, users, exposes []string
	var entrypoint, cmd string
	for _, in := range parseContainerfile(t) {
		if !slices.Contains(allowed, in.cmd) {
			t.Errorf("instruction %s %s: the image takes only %v", in.cmd, in.args, allowed)
		}
		switch in.cmd {
		case "FROM":
			from = append(from, in.args)
		case "COPY":
			copies = append(copies, in.args)
		case "USER":
			users = append(users, in.args)
		case "EXPOSE":
			exposes = append(exposes, strings.Fields(in.args)...)
		case "ENTRYPOINT":
			entrypoint = in.args
		case "CMD":
			cmd = in.args
		}
	}
	if !slices.Equal(from, []string{"scratch"}) {
		t.Errorf("FROM %q, want one stage FROM scratch", from)
	}
	wantCopies := []string{caBundle[len("/etc/ssl/certs/"):] + " " + caBundle, "linux_${TARGETARCH}/switchboard /switchboard"}
	if !slices.Equal(copies, wantCopies) {
		t.Errorf("COPY %q, want exactly %q (no --chown: the files stay root's, read-only to the server)", copies, wantCopies)
	}
	if len(users) != 1 || !regexp.MustCompile(`^[1-9][0-9]*:[1-9][0-9]*$`).MatchString(users[0]) {
		t.Errorf("USER %q, want one numeric non-root uid:gid", users)
	}
	if !slices.Contains(exposes, "8080") {
		t.Errorf("EXPOSE %q lacks 8080", exposes)
	}
	if entrypoint != `["/switchboard"]` {
		t.Errorf("ENTRYPOINT %s, want the exec form [\"/switchboard\"]", entrypoint)
	}
	var args []string
	if err := json.Unmarshal([]byte(cmd), &args); err != nil {
		t.Fatalf("CMD %s: not the exec form: %v", cmd, err)
	}
	if want := []string{"serve", "--config", configPath}; !slices.Equal(args, want) {
		t.Errorf("CMD %q, want %q", args, want)
	}
}

// TestContainerImage builds the image from the linux release binary with
// podman (scripts/container-image.sh, as `make image` does) and runs it:
// /healthz answers, the server runs as the image's non-root user without
// capabilities, the image holds the binary and the CA bundle only, and
// SIGTERM (podman stop) drains and exits 0.
func TestContainerImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("containers run on linux")
	}
	need(t, "podman")
	dir := dist(t)
	image := fmt.Sprintf("localhost/switchboard-releasetest:%d", os.Getpid())
	run(t, root+"/scripts/container-image.sh", filepath.Join(dir, "switchboard_"+testVersion), image, runtime.GOARCH)
	t.Cleanup(func() { exec.Command("podman", "rmi", "--force", image).Run() })

	var cfg struct {
		User         string
		Entrypoint   []string
		Cmd          []string
		ExposedPorts map[string]struct{}
		Labels       map[string]string
	}
	if err := json.Unmarshal([]byte(run(t, "podman", "image", "inspect", "--format", "{{json .Config}}", image)), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.User != "65532:65532" || !slices.Equal(cfg.Entrypoint, []string{"/switchboard"}) ||
		!slices.Equal(cfg.Cmd, []string{"serve", "--config", configPath}) {
		t.Errorf("image config %+v", cfg)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("image exposes %v, not 8080/tcp", cfg.ExposedPorts)
	}
	if v := cfg.Labels["org.opencontainers.image.version"]; v != testVersion {
		t.Errorf("label org.opencontainers.image.version %q, want %q", v, testVersion)
	}
	if n := strings.TrimSpace(run(t, "podman", "image", "inspect", "--format", "{{len .RootFS.Layers}}", image)); n != "1" {
		t.Errorf("the image has %s layers, want 1", n)
	}

	// Every file of the image: the binary of the release and the CA
	// bundle of this machine, nothing else.
	mnt := strings.TrimSpace(run(t, "podman", "image", "mount", image))
	var files []string
	err := filepath.WalkDir(mnt, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != mnt {
			rel, _ := filepath.Rel(mnt, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"etc", "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/ca-certificates.crt", "switchboard"}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("the image holds %q, want %q", files, wantFiles)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(mnt, "switchboard")), mustRead(t, filepath.Join(dir, name("linux", runtime.GOARCH), "switchboard"))) {
		t.Error("/switchboard in the image is not the release binary")
	}
	if !bytes.Equal(mustRead(t, filepath.Join(mnt, caBundle)), mustRead(t, caBundle)) {
		t.Errorf("%s in the image is not this machine's", caBundle)
	}
	run(t, "podman", "image", "unmount", image)

	// Run it with a configuration mounted where the image looks for it,
	// on the host's network (the tests use loopback only).
	addr := testproc.FreeAddr(t)
	conf := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "listen: %q\nshutdown:\n  readinessDelay: 0s\n", addr), 0o644); err != nil {
		t.Fatal(err)
	}
	ctr := fmt.Sprintf("switchboard-releasetest-%d", os.Getpid())
	args := []string{"run", "--detach", "--name", ctr, "--network", "host",
		"--volume", conf + ":" + configPath + ":ro",
		// Podman's rootful defaults (nofile 1048576, nproc 4194304) are
		// above the hard limits of the CI machine, whose root lacks
		// CAP_SYS_RESOURCE: the runtime's setrlimit would fail (EPERM).
		"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"}
	if _, err := exec.LookPath("runc"); err == nil {
		// crun 1.8 (Debian 12's) refuses to start on a machine with
		// cgroup v1 controllers and a cgroup2 hierarchy that has
		// controllers of its own (the CI machine); runc runs there.
		args = append(args, "--runtime", "runc")
	}
	run(t, "podman", append(args, image)...)
	t.Cleanup(func() { exec.Command("podman", "rm", "--force", ctr).Run() })

	waitHealthy(t, ctr, "http://"+addr+"/healthz")
	pid := strings.TrimSpace(run(t, "podman", "inspect", "--format", "{{.State.Pid}}", ctr))
	status := string(mustRead(t, "/proc/"+pid+"/status"))
	for _, field := range []string{"Uid", "Gid"} {
		m := regexp.MustCompile(`(?m)^` + field + `:\s+(.*)$`).FindStringSubmatch(status)
		if m == nil || strings.Join(strings.Fields(m[1]), " ") != "65532 65532 65532 65532" {
			t.Errorf("the server's %s: %q, want 65532 (real, effective, saved, filesystem)", field, m)
		}
	}
	if m := regexp.MustCompile(`(?m)^CapEff:\s+(.*)$`).FindStringSubmatch(status); m == nil || strings.Trim(m[1], "0") != "" {
		t.Errorf("the server's effective capabilities: %q, want none", m)
	}

	run(t, "podman", "stop", "--time", "45", ctr)
	if code := strings.TrimSpace(run(t, "podman", "inspect", "--format", "{{.State.ExitCode}}", ctr)); code != "0" {
		t.Errorf("exit code after SIGTERM: %s, want 0\n%s", code, logs(t, ctr))
	}
	if out := logs(t, ctr); !strings.Contains(out, `"msg":"shut down"`) {
		t.Errorf("no drain in the logs:\n%s", out)
	}
}

// waitHealthy polls url until it answers 200, failing early with the
// container's logs if the container stops.
func waitHealthy(t *testing.T, ctr, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if state := strings.TrimSpace(run(t, "podman", "inspect", "--format", "{{.State.Status}}", ctr)); state != "running" && state != "created" {
			t.Fatalf("container %s: %s\n%s", ctr, state, logs(t, ctr))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v\n%s", url, err, logs(t, ctr))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// run runs a command and returns its stdout, failing the test with its
// output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// logs returns what the container wrote: the server logs to stderr,
// which podman logs passes on as its own stderr.
func logs(t *testing.T, ctr string) string {
	t.Helper()
	out, err := exec.Command("podman", "logs", ctr).CombinedOutput()
	if err != nil {
		t.Fatalf("podman logs: %v\n%s", err, out)
	}
	return string(out)
}
