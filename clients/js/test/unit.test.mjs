// Pure functions: backoff bounds, the stop closes, the token's expiry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { backoff, shouldReconnect, tokenExpiry } from "../dist/esm/index.js";

test("backoff: full jitter under a bound that doubles up to the maximum", () => {
  assert.deepEqual([0, 1, 2, 3, 10, 100].map((n) => backoff(n, 100, 1000, false, Math.random)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoff(3, 100, 1000, true, () => 0.5), 400);
  assert.equal(backoff(3, 100, 1000, true, () => 0), 0);
  assert.equal(backoff(3, 100, 1000, true, () => 0.999999), 799);
});

test("shouldReconnect: the closes that mean stop", () => {
  for (const code of [1000, 1002, 1003, 1007, 1009]) assert.equal(shouldReconnect(code, "", true), false, String(code));
  for (const code of [1001, 1005, 1006, 1011, 1012, 1013, 4408]) assert.equal(shouldReconnect(code, "", false), true, String(code));
  assert.equal(shouldReconnect(1008, "message rate exceeded", true), false);
  assert.equal(shouldReconnect(1008, "ping flood", true), false);
  assert.equal(shouldReconnect(1008, "token expired", false), false);
  assert.equal(shouldReconnect(1008, "token expired", true), true);
});

test("tokenExpiry reads exp and refuses what is not a JWT", () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  assert.equal(tokenExpiry(`${b64({ alg: "none" })}.${b64({ exp: 1700000000 })}.x`), 1700000000000);
  assert.equal(tokenExpiry(`${b64({})}.${b64({ sub: "a" })}.x`), undefined);
  assert.equal(tokenExpiry("not a token"), undefined);
  assert.equal(tokenExpiry("a.%%%.c"), undefined);
});

test("the CommonJS build loads with require", async () => {
  const { createRequire } = await import("node:module");
  const cjs = createRequire(import.meta.url)("../dist/cjs/index.js");
  assert.equal(typeof cjs.Client, "function");
  assert.equal(cjs.backoff(0, 5, 10, false, Math.random), 5);
});
