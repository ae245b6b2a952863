package release_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The repository root, relative to this package.
const root = "../.."

// What the test stamps into the release: values no real build has, so
// that finding them in the binaries shows the stamping works.
const (
	testVersion = "v0.0.0-releasetest"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testDate    = "2026-12-06T07:00:00Z"
)

// The platforms `make release` builds by default (its PLATFORMS), or
// those of SWITCHBOARD_RELEASE_PLATFORMS ("linux/amd64 darwin/arm64"):
// a cold build costs about 3 CPU-minutes per platform, the knob for a CI
// that cannot afford all three.
var platforms = func() []struct{ os, arch string } {
	list := "linux/amd64 linux/arm64 darwin/arm64"
	if env := os.Getenv("SWITCHBOARD_RELEASE_PLATFORMS"); env != "" {
		list = env
	}
	var ps []struct{ os, arch string }
	for _, p := range strings.Fields(list) {
		o, a, _ := strings.Cut(p, "/")
		ps = append(ps, struct{ os, arch string }{o, a})
	}
	return ps
}()

// need skips the test when a tool is missing outside CI, and fails it in
// CI, where .ci/run installs it.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (.ci/run installs it)", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

var (
	distOnce sync.Once
	distDir  string
	distErr  error
)

// dist runs `make release` once per test process into a temporary
// directory and returns it.
func dist(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no release build")
	}
	need(t, "make", "tar", "gzip", "sha256sum")
	distOnce.Do(func() {
		distDir, distErr = os.MkdirTemp("", "switchboard-release-")
		if distErr != nil {
			return
		}
		var list []string
		for _, p := range platforms {
			list = append(list, p.os+"/"+p.arch)
		}
		cmd := exec.Command("make", "release", "DIST="+distDir, "PLATFORMS="+strings.Join(list, " "),
			"VERSION="+testVersion, "COMMIT="+testCommit, "DATE="+testDate)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			distErr = fmt.Errorf("make release: %v\n%s", err, out)
		}
	})
	if distErr != nil {
		t.Fatal(distErr)
	}
	return distDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if distDir != "" {
		os.RemoveAll(distDir)
	}
	os.Exit(code)
}

func name(os, arch string) string {
	return "switchboard_" + testVersion + "_" + os + "_" + arch
}

// TestReleaseArchives checks that dist holds one archive per platform and
// SHA256SUMS, that the sums are right (as `sha256sum -c` checks them too),
// and that each archive holds exactly its directory with the binary, the
// LICENSE and the README, owned by root, the binary executable.
func TestReleaseArchives(t *testing.T) {
	dir := dist(t)

	var want []string
	for _, p := range platforms {
		want = append(want, name(p.os, p.arch)+".tar.gz")
	}
	slices.Sort(want)
	sums := readSums(t, filepath.Join(dir, "SHA256SUMS"))
	var listed []string
	for f := range sums {
		listed = append(listed, f)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, want) {
		t.Fatalf("SHA256SUMS lists %q, want %q", listed, want)
	}
	for f, sum := range sums {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 %x, SHA256SUMS says %s", f, got, sum)
		}
	}
	cmd := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}

	for _, p := range platforms {
		n := name(p.os, p.arch)
		files := readArchive(t, filepath.Join(dir, n+".tar.gz"))
		var got []string
		for f := range files {
			got = append(got, f)
		}
		slices.Sort(got)
		wantFiles := []string{n + "/", n + "/LICENSE", n + "/README.md", n + "/switchboard"}
		if !slices.Equal(got, wantFiles) {
			t.Errorf("%s.tar.gz holds %q, want %q", n, got, wantFiles)
			continue
		}
		bin := files[n+"/switchboard"]
		if bin.mode&0o111 != 0o111 {
			t.Errorf("%s/switchboard: mode %o, not executable", n, bin.mode)
		}
		for f, e := range files {
			if e.uid != 0 || e.gid != 0 {
				t.Errorf("%s: owner %d:%d, want 0:0", f, e.uid, e.gid)
			}
		}
		onDisk, err := os.ReadFile(filepath.Join(dir, n, "switchboard"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(onDisk, bin.data) {
			t.Errorf("%s/switchboard differs from the one in its archive", n)
		}
	}
}

// TestReleaseBinaries checks each binary as built: for its platform,
// built without cgo and with -trimpath, the version, commit and date
// stamped; the linux ones statically linked (no interpreter, no shared
// library: they run on any Linux and FROM scratch).
func TestReleaseBinaries(t *testing.T) {
	dir := dist(t)
	for _, p := range platforms {
		t.Run(p.os+"_"+p.arch, func(t *testing.T) {
			path := filepath.Join(dir, name(p.os, p.arch), "switchboard")
			bi, err := buildinfo.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			for k, v := range map[string]string{"GOOS": p.os, "GOARCH": p.arch, "CGO_ENABLED": "0", "-trimpath": "true"} {
				if settings[k] != v {
					t.Errorf("build setting %s = %q, want %q", k, settings[k], v)
				}
			}
			// With -trimpath the build information leaves -ldflags out
			// (it may hold paths), so look for the stamped strings in
			// the binary's data; TestReleaseVersion runs one.
			data := mustRead(t, path)
			for _, x := range []string{testVersion, testCommit, testDate} {
				if !bytes.Contains(data, []byte(x)) {
					t.Errorf("the binary does not hold the stamped %q", x)
				}
			}
			if abs, err := filepath.Abs(root); err != nil {
				t.Fatal(err)
			} else if bytes.Contains(data, []byte(abs+"/")) {
				t.Errorf("the binary holds the build machine's path %s (-trimpath missing?)", abs)
			}
			switch p.os {
			case "linux":
				checkStaticELF(t, path, map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.arch])
			case "darwin":
				// A darwin binary always links libSystem, with or without
				// cgo; CGO_ENABLED=0 above is what counts there.
				f, err := macho.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if f.Cpu != macho.CpuArm64 {
					t.Errorf("Mach-O cpu %v, want arm64", f.Cpu)
				}
			}
		})
	}
}

func checkStaticELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("ELF machine %v, want %v", f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: dynamically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		t.Errorf("imported libraries: %v", err)
	} else if len(libs) > 0 {
		t.Errorf("needs shared libraries %q", libs)
	}
	// file(1) says the same, where it is installed.
	if _, err := exec.LookPath("file"); err == nil {
		out, err := exec.Command("file", "--brief", path).Output()
		if err != nil {
			t.Fatalf("file: %v", err)
		}
		if !strings.Contains(string(out), "statically linked") {
			t.Errorf("file: %s", out)
		}
	}
}

// TestReleaseVersion runs the release binary of this machine's platform
// (linux/amd64 in CI): `switchboard version` prints what make release
// stamped.
func TestReleaseVersion(t *testing.T) {
	dir := dist(t)
	if !slices.Contains(platforms, struct{ os, arch string }{runtime.GOOS, runtime.GOARCH}) {
		t.Skipf("no release binary for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	bin := filepath.Join(dir, name(runtime.GOOS, runtime.GOARCH), "switchboard")
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("switchboard version: %v\n%s", err, out)
	}
	want := fmt.Sprintf("switchboard %s\ncommit: %s\nbuilt:  %s\ngo:     %s %s/%s\n",
		testVersion, testCommit, testDate, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if string(out) != want {
		t.Errorf("switchboard version printed\n%s\nwant\n%s", out, want)
	}
}

// readSums parses a sha256sum file: "<hex>  <name>" per line.
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		sums[file] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

type entry struct {
	mode     int64
	uid, gid int
	data     []byte
}

// readArchive returns the entries of a .tar.gz by name.
func readArchive(t *testing.T, path string) map[string]entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(zr)
	files := map[string]entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, h.Name, err)
		}
		files[h.Name] = entry{mode: h.Mode, uid: h.Uid, gid: h.Gid, data: data}
	}
	return files
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
