// switchboard.v1 against a real server: subscribe, publish, presence, the
// subscription states, and a close that means stop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, SwitchboardError } from "../dist/esm/index.js";
import { url, manage, once, channel } from "../testlib/helpers.mjs";

test("subscribe, publish, receive; states subscribing → subscribed → unsubscribed", async (t) => {
  const c = new Client(url());
  t.after(() => c.close());
  const ch = channel("basic");
  const sub = c.subscribe(ch);
  const states = [];
  sub.on("state", (s) => states.push(s));
  c.connect();
  const first = await once(sub, "subscribed");
  assert.equal(first.recovered, undefined);
  assert.equal(typeof first.epoch, "string");
  assert.equal(first.offset, 0);

  const got = once(sub, "publication");
  const r = await sub.publish({ n: 1 });
  assert.equal(r.offset, 1);
  assert.equal(r.recipients, 1);
  assert.deepEqual(await got, { channel: ch, data: { n: 1 }, kind: "json", epoch: first.epoch, offset: 1 });

  const text = once(sub, "publication");
  await manage(`prod/@channels/${ch}`, "plain words");
  assert.deepEqual(await text, { channel: ch, data: "plain words", kind: "text", epoch: first.epoch, offset: 2 });

  await sub.unsubscribe();
  assert.deepEqual(states, ["subscribing", "subscribed", "unsubscribed"]);
  assert.equal(c.getSubscription(ch), undefined);
});

test("a refused request is a SwitchboardError with the server's code", async (t) => {
  const c = new Client(url());
  t.after(() => c.close());
  c.connect();
  await once(c, "connected");
  await assert.rejects(c.presence(channel("nosub")), (e) => e instanceof SwitchboardError && e.code === 422);
  await assert.rejects(c.publish("bad name", 1), (e) => e instanceof SwitchboardError && e.code === 400);
  assert.deepEqual(await c.ping(), {});
});

test("a subscription refused by the server goes to state error and stays there", async (t) => {
  const c = new Client(url());
  t.after(() => c.close());
  const sub = c.subscribe("has space");
  c.connect();
  const err = await once(sub, "error");
  assert.equal(err.code, 400);
  assert.equal(sub.state, "error");
});

test("a direct message arrives as a message event", async (t) => {
  const c = new Client(url());
  t.after(() => c.close());
  c.connect();
  await once(c, "connected");
  const got = once(c, "message");
  await manage(`prod/@connections/${encodeURIComponent(c.connectionId)}`, JSON.stringify({ hi: 1 }));
  assert.deepEqual((await got).data, { hi: 1 });
});

test("DELETE @connections (close 1000) stops the client: no reconnect", async (t) => {
  const c = new Client(url(), { minDelay: 10, maxDelay: 20 });
  t.after(() => c.close());
  c.connect();
  await once(c, "connected");
  let reconnects = 0;
  c.on("disconnected", () => reconnects++);
  const closed = once(c, "closed");
  const res = await fetch(`http://${process.env.SB_ADDR}/prod/@connections/${encodeURIComponent(c.connectionId)}`, { method: "DELETE" });
  assert.equal(res.status, 204);
  const info = await closed;
  assert.equal(info.code, 1000);
  assert.equal(info.reconnect, false);
  assert.equal(c.state, "closed");
  assert.equal(reconnects, 0);
});

test("raw mode: a broadcast arrives as a plain frame, and the client comes back after a kill -9", async (t) => {
  const { control } = await import("../testlib/helpers.mjs");
  const c = new Client(url(), { mode: "raw", minDelay: 50, maxDelay: 300 });
  t.after(() => c.close());
  c.connect();
  await once(c, "connected");
  const got = once(c, "message");
  await manage("prod/@broadcast", "hello raw");
  assert.equal(await got, "hello raw");
  const back = once(c, "connected");
  const lost = once(c, "disconnected");
  await control("kill");
  assert.equal((await lost).reconnect, true);
  await back;
  const again = once(c, "message");
  await manage("prod/@broadcast", "after restart", { retry: true });
  assert.equal(await again, "after restart");
});
