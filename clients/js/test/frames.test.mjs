// Bad frames from a server (or something posing as one) never throw out of
// the client: each is an "error" event, and the client keeps working. The
// socket is a scripted stand-in, the only way to send what a real server
// never sends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../dist/esm/index.js";

class ScriptedSocket {
  static last;
  readyState = 1;
  binaryType = "blob";
  sent = [];
  constructor() {
    ScriptedSocket.last = this;
    queueMicrotask(() => this.onopen?.({}));
  }
  send(d) {
    this.sent.push(JSON.parse(d));
  }
  close() {}
  frame(data) {
    this.onmessage?.({ data });
  }
}

// A seeded generator (mulberry32): the same frames on every run.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds = [
  "", "null", "[]", "42", '"s"', "{", '{"type":1}', '{"type":"reply"}', '{"type":"reply","id":1,"error":null}',
  '{"type":"pub"}', '{"type":"pub","channel":"a","b64":"!!!"}', '{"type":"pub","channel":"a","epoch":5,"offset":"x"}',
  '{"type":"subscribed"}', '{"type":"subscribed","channel":{}}', '{"type":"unsubscribed","channel":"zz"}',
  '{"type":"message","b64":"%%"}', '{"type":"error","error":"x"}', '{"type":"join","channel":"a"}', '{"type":"connected","connectionId":7}',
];
const values = [null, 0, -1, 1e300, "", "a", "AAEC", [], {}, true, { code: "x" }];
const keys = ["type", "id", "channel", "epoch", "offset", "data", "text", "b64", "result", "error", "recovered", "member"];
const types = ["reply", "pub", "message", "subscribed", "unsubscribed", "join", "leave", "error", "connected", "x"];

test("random and malformed frames are errors, not exceptions, and the client keeps working", async (t) => {
  const c = new Client("ws://unused/prod", { WebSocket: ScriptedSocket, livenessTimeout: 0 });
  t.after(() => c.close());
  let errors = 0;
  c.on("error", () => errors++);
  const sub = c.subscribe("a");
  c.connect();
  await new Promise((r) => queueMicrotask(r));
  const ws = ScriptedSocket.last;
  ws.frame('{"type":"connected","version":1,"connectionId":"c1"}');
  assert.equal(c.state, "connected");
  const subReq = ws.sent.find((m) => m.type === "subscribe");
  ws.frame(JSON.stringify({ type: "reply", id: subReq.id, result: { epoch: "e", offset: 0 } }));
  assert.equal(sub.state, "subscribed");

  for (const f of seeds) ws.frame(f);
  ws.frame(new Uint8Array([0xff, 0xfe]).buffer);
  const r = rng(12);
  const pick = (a) => a[Math.floor(r() * a.length)];
  for (let i = 0; i < 5000; i++) {
    const m = { type: pick(types) };
    for (let k = Math.floor(r() * 5); k > 0; k--) m[pick(keys)] = pick(values);
    if (m.channel === undefined && r() < 0.5) m.channel = "a";
    ws.frame(JSON.stringify(m));
  }
  assert.ok(errors > 0);

  // Still working: a fresh subscription and its publication.
  const got = [];
  const sub2 = c.subscribe("b");
  sub2.on("publication", (p) => got.push(p.data));
  const req = ws.sent.filter((m) => m.type === "subscribe" && m.channel === "b").pop();
  ws.frame(JSON.stringify({ type: "reply", id: req.id, result: { epoch: "e2", offset: 0 } }));
  ws.frame(JSON.stringify({ type: "pub", channel: "b", epoch: "e2", offset: 1, data: { ok: true } }));
  ws.frame(JSON.stringify({ type: "pub", channel: "b", epoch: "e2", offset: 1, data: { ok: "again" } })); // a duplicate offset is dropped
  assert.deepEqual(got, [{ ok: true }]);
});
