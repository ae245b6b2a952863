// A server that stops answering (socket open, no bytes: the Go test's proxy
// stalls the connection) is left after livenessTimeout, and the client
// reconnects and recovers what was published meanwhile.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../dist/esm/index.js";
import { url, env, manage, control, once, channel } from "../testlib/helpers.mjs";

test("a stalled connection is left after livenessTimeout; the client comes back and recovers", async (t) => {
  const ch = channel("stall");
  const c = new Client(url(env("SB_STAGE"), env("SB_PROXY")), { livenessTimeout: 1000, pingInterval: 300, minDelay: 50, maxDelay: 200 });
  t.after(() => c.close());
  const sub = c.subscribe(ch);
  c.connect();
  await once(sub, "subscribed");
  const first = c.connectionId;

  const lost = once(c, "disconnected");
  const back = once(sub, "subscribed", (ev) => ev.recovered !== undefined);
  const pubs = [];
  sub.on("publication", (p) => pubs.push(p.data));
  assert.equal(await control("stall"), "1");
  await manage(`prod/@channels/${ch}`, JSON.stringify({ during: "stall" })); // queued on the stalled socket, never delivered

  const info = await lost;
  assert.equal(info.code, 4408);
  assert.equal(info.reason, "liveness timeout");
  assert.equal(info.reconnect, true);
  const ev = await back;
  assert.equal(ev.recovered, true);
  assert.equal(ev.missed, 1);
  assert.notEqual(c.connectionId, first);
  if (pubs.length === 0) await once(sub, "publication");
  assert.deepEqual(pubs, [{ during: "stall" }]);
});

test("raw mode (ws in Node): WebSocket pings keep an idle connection, and a stalled one is left", async (t) => {
  const c = new Client(url(env("SB_STAGE"), env("SB_PROXY")), { mode: "raw", livenessTimeout: 1000, pingInterval: 300, minDelay: 50, maxDelay: 200 });
  t.after(() => c.close());
  const closes = [];
  c.on("disconnected", (i) => closes.push(i.code));
  c.connect();
  await once(c, "connected");
  // Idle but alive: one and a half liveness timeouts with nothing to
  // receive but the pongs of the client's pings, and no drop.
  await new Promise((r) => setTimeout(r, 1500));
  const got = once(c, "message");
  await manage("prod/@broadcast", "still here");
  assert.equal(await got, "still here");
  assert.deepEqual(closes, []);

  const lost = once(c, "disconnected");
  const back = once(c, "connected");
  await control("stall");
  assert.equal((await lost).code, 4408);
  await back;
});
