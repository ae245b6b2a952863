// The server is killed (SIGKILL) and started again on the same port while a
// publisher keeps publishing: the client reconnects, resubscribes with its
// (epoch, offset) and ends with every publication exactly once, in order.
// History lives in Redis, so the epoch survives the kill.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../dist/esm/index.js";
import { url, manage, control, once, channel } from "../testlib/helpers.mjs";

const N = 300;

test("kill -9 and restart while publishing: every publication exactly once, in order", async (t) => {
  const ch = channel("crash");
  const clients = [0, 1, 2].map(() => new Client(url(), { minDelay: 50, maxDelay: 500 }));
  t.after(() => clients.forEach((c) => c.close()));
  const got = clients.map(() => []);
  const recoveries = clients.map(() => []);
  const done = clients.map((c, i) => {
    const sub = c.subscribe(ch);
    sub.on("subscribed", (ev) => ev.recovered !== undefined && recoveries[i].push(ev));
    c.connect();
    return new Promise((resolve) =>
      sub.on("publication", (p) => {
        got[i].push(p);
        if (p.data.seq === N) resolve();
      }),
    );
  });
  await Promise.all(clients.map((c) => once(c.getSubscription(ch), "subscribed")));

  // The publisher: one publication at a time; a refused connection (the
  // server is down) is retried, so the stream has every seq.
  let killed;
  for (let seq = 1; seq <= N; seq++) {
    await manage(`prod/@channels/${ch}`, JSON.stringify({ seq }), { retry: true });
    if (seq === N / 3) killed = control("kill"); // publishing goes on while it dies and restarts
  }
  await killed;
  await Promise.all(done);

  for (const [i, list] of got.entries()) {
    // A publish retried after an ambiguous failure may be in the stream
    // twice (two offsets); the client must still deliver each offset once.
    const offsets = list.map((p) => p.offset);
    const odd = offsets.map((o, k) => [k, o, list[k].data.seq]).filter(([k, o]) => o !== k + 1).slice(0, 5);
    if (odd.length) console.log(`client ${i}: first out-of-place [index, offset, seq]:`, JSON.stringify(odd), "recoveries", JSON.stringify(recoveries[i]));
    assert.deepEqual(offsets, offsets.map((_, k) => k + 1), `client ${i}: offsets 1..${list.length} once each, in order`);
    const seqs = list.map((p) => p.data.seq).filter((s, k, a) => k === 0 || s !== a[k - 1]);
    assert.deepEqual(seqs, Array.from({ length: N }, (_, k) => k + 1), `client ${i}: every seq in order`);
    assert.equal(new Set(list.map((p) => p.epoch)).size, 1, `client ${i}: one epoch`);
    assert.ok(recoveries[i].length >= 1, `client ${i} resubscribed`);
    for (const r of recoveries[i]) assert.equal(r.recovered, true, `client ${i}: ${JSON.stringify(r)}`);
  }
});

test("recovered: false with the reason when the client's epoch is not the stream's", async (t) => {
  // As if the stream had been lost while the client was away: its position
  // names an epoch the server does not have.
  const ch = channel("epoch");
  const c = new Client(url(), { minDelay: 50, maxDelay: 300 });
  t.after(() => c.close());
  const sub = c.subscribe(ch);
  c.connect();
  await once(sub, "subscribed");
  sub.epoch = "not-the-epoch";
  sub.offset = 5;
  const back = once(sub, "subscribed", (ev) => ev.recovered !== undefined);
  await control("kill");
  const ev = await back;
  assert.equal(ev.recovered, false);
  assert.equal(ev.reason, "epoch changed");
  assert.equal(sub.state, "subscribed");
  // Live again from the reply's position.
  const p = once(sub, "publication");
  await manage(`prod/@channels/${ch}`, JSON.stringify({ after: true }), { retry: true });
  assert.deepEqual((await p).data, { after: true });
});
