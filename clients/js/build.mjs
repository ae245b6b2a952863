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
