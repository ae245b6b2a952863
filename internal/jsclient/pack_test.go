package jsclient

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/testproc"
)

// packScript runs in a fresh project that installed the npm pack tarball:
// the ESM and the CommonJS entry points load, and the client subscribes,
// publishes and receives its publication over the platform WebSocket
// (node --experimental-websocket, so without ws: nothing but the tarball
// is installed).
const packScript = `
import { Client } from "@switchboard/client";
import { createRequire } from "node:module";
const cjs = createRequire(import.meta.url)("@switchboard/client");
if (typeof cjs.Client !== "function") throw new Error("require: no Client");
const c = new Client(process.env.SB_URL);
const sub = c.subscribe("packed");
const timer = setTimeout(() => { console.error("timed out"); process.exit(1); }, 10000);
const got = new Promise((resolve) => sub.on("publication", resolve));
sub.on("subscribed", async () => {
  const r = await sub.publish({ from: "tarball" });
  const p = await got;
  if (JSON.stringify(p.data) !== '{"from":"tarball"}' || p.offset !== r.offset) throw new Error("got " + JSON.stringify(p));
  clearTimeout(timer);
  c.close();
  console.log("ok");
});
c.connect();
`

// TestPackInstall: the npm pack output installs into a fresh project
// (offline: it has no dependencies) and works from there; the tarball
// holds dist/ and no sources or tests.
func TestPackInstall(t *testing.T) {
	node, npm := testproc.Node(t, "the TypeScript client's tests")
	dir, err := filepath.Abs("../../clients/js")
	if err != nil {
		t.Fatal(err)
	}
	testproc.NpmCI(t, npm, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	packDir := t.TempDir()
	pack := exec.CommandContext(ctx, npm, "pack", "--pack-destination", packDir, "--loglevel=error")
	pack.Dir = dir // prepack builds dist/
	out, err := pack.Output()
	if err != nil {
		t.Fatalf("npm pack: %v\n%s", err, out)
	}
	tarball := filepath.Join(packDir, strings.TrimSpace(lastLine(string(out))))
	list, err := exec.CommandContext(ctx, "tar", "tzf", tarball).Output()
	if err != nil {
		t.Fatalf("tar: %v", err)
	}
	for _, want := range []string{"package/dist/esm/index.js", "package/dist/cjs/index.js", "package/dist/types/index.d.ts", "package/dist/browser/switchboard.min.js", "package/README.md", "package/LICENSE"} {
		if !strings.Contains(string(list), want+"\n") {
			t.Errorf("the tarball lacks %s:\n%s", want, list)
		}
	}
	if strings.Contains(string(list), "package/src/") || strings.Contains(string(list), "package/test/") {
		t.Errorf("the tarball holds sources or tests:\n%s", list)
	}

	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "package.json"), []byte(`{"name":"fresh","private":true,"type":"module"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "main.mjs"), []byte(packScript), 0o600); err != nil {
		t.Fatal(err)
	}
	install := exec.CommandContext(ctx, npm, "install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", tarball)
	install.Dir = app
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s: %v\n%s", tarball, err, out)
	}

	srv := startServer(t)
	run := exec.CommandContext(ctx, node, "--experimental-websocket", "main.mjs")
	run.Dir = app
	run.Env = append(os.Environ(), "SB_URL=ws://"+srv.addr+"/"+stage)
	out, err = run.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("the installed package: %v\n%s", err, out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
