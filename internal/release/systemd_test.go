package release_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
)

const unitFile = root + "/examples/systemd/switchboard.service"

// parseUnit returns the unit's [Service] settings, each key's values in
// order (a key may repeat).
func parseUnit(t *testing.T) map[string][]string {
	t.Helper()
	service := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(mustRead(t, unitFile)), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is not key=value", unitFile, line)
			}
			service[k] = append(service[k], v)
		}
	}
	return service
}

// TestSystemdUnitSettings checks the settings the unit is for: the
// hardening, the signals (SIGTERM drains, ExecReload sends SIGHUP, which
// reloads), a stop timeout that covers the default drain, the restart
// policy, the configuration path of the image and the docs.
func TestSystemdUnitSettings(t *testing.T) {
	s := parseUnit(t)
	want := map[string]string{
		"ExecStart":               "/usr/local/bin/switchboard serve --config " + configPath,
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"KillSignal":              "SIGTERM",
		"KillMode":                "mixed",
		"Restart":                 "on-failure",
		"DynamicUser":             "yes",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallFilter":        "@system-service",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
	}
	for k, v := range want {
		if got, ok := s[k]; !ok || len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %s=%s", k, got, k, v)
		}
	}
	if n, err := strconv.Atoi(strings.Join(s["LimitNOFILE"], "")); err != nil || n < 65536 {
		t.Errorf("LimitNOFILE=%q, want a number of at least 65536 (a descriptor per connection)", s["LimitNOFILE"])
	}

	// The stop timeout covers what a SIGTERM takes with the default
	// shutdown settings (readinessDelay + timeout), plus a margin.
	cfg, err := config.Parse("defaults", []byte("{}"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	drain := cfg.Shutdown.Readiness() + time.Duration(cfg.Shutdown.Timeout)
	sec, err := strconv.Atoi(strings.Join(s["TimeoutStopSec"], ""))
	if err != nil {
		t.Fatalf("TimeoutStopSec=%q: %v", s["TimeoutStopSec"], err)
	}
	if stop := time.Duration(sec) * time.Second; stop < drain+5*time.Second {
		t.Errorf("TimeoutStopSec=%d s: the default drain takes up to %v; leave at least 5 s more", sec, drain)
	}
}

// TestSystemdUnitVerify runs systemd-analyze on the unit: verify finds no
// problem (unknown keys, bad values, a missing executable: ExecStart's
// binary is swapped for one that exists here), and the offline security
// analysis rates its exposure 2.0 or lower ("OK" on systemd's 0-10
// scale, where 10 is an unhardened service).
func TestSystemdUnitVerify(t *testing.T) {
	need(t, "systemd-analyze")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := bytes.ReplaceAll(mustRead(t, unitFile), []byte("/usr/local/bin/switchboard"), []byte(exe))
	path := filepath.Join(t.TempDir(), "switchboard.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	out, err = exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=20", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for switchboard\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if err != nil {
		t.Errorf("systemd-analyze security: exposure %s is above 2.0: %v\n%s", m[1], err, out)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
}
