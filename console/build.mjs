// Builds the admin console (decision 0031): src/app.ts bundled and minified
// by esbuild into one script, next to the page and its stylesheet, in
// internal/admin/ui (committed: the Go binary embeds it, so `make run`
// needs no npm). `node build.mjs OUTDIR` writes elsewhere (the Go test
// that checks the committed bundle is what the sources build).
import { copyFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { execFileSync } from "node:child_process";

const here = new URL(".", import.meta.url).pathname;
process.chdir(here);
const out = resolve(process.argv[2] ?? "../internal/admin/ui");

// Type-check first: esbuild only strips the types.
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });

const esbuild = await import("esbuild");
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: ["src/app.ts"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "none",
  logLevel: "warning",
  outfile: join(out, "app.js"),
});
copyFileSync("src/index.html", join(out, "index.html"));
copyFileSync("src/app.css", join(out, "app.css"));
