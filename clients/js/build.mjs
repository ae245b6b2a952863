// Builds dist/ with tsc alone (decision 0028): ESM with declarations, then
// CommonJS, marked as such by a package.json of its own.
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";

process.chdir(new URL(".", import.meta.url).pathname);

const tsc = (...args) => execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", ...args], { stdio: "inherit" });
rmSync("dist", { recursive: true, force: true });
tsc("-p", "tsconfig.json");
tsc("-p", "tsconfig.cjs.json");
writeFileSync("dist/cjs/package.json", '{"type":"commonjs"}\n');

// The browser builds: one minified file each, no dependency (the optional
// `ws` is behind a variable import that a browser never reaches).
// switchboard.min.js defines the global `Switchboard` (a <script> tag, the
// demo page); switchboard.min.mjs is the same as an ES module.
const esbuild = await import("esbuild");
const common = { entryPoints: ["src/index.ts"], bundle: true, minify: true, target: "es2020", legalComments: "none", logLevel: "warning" };
await esbuild.build({ ...common, format: "iife", globalName: "Switchboard", outfile: "dist/browser/switchboard.min.js" });
await esbuild.build({ ...common, format: "esm", outfile: "dist/browser/switchboard.min.mjs" });
