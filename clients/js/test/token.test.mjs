// Tokens: getToken at every connect (retried with backoff when it fails),
// refresh before exp over the open connection, and the stop close of an
// expired token without a way to refresh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, tokenExpiry } from "../dist/esm/index.js";
import { url, env, token, once } from "../testlib/helpers.mjs";

const authURL = () => url(env("SB_AUTH_STAGE"));

test("getToken failing at connect is retried with backoff", async (t) => {
  let calls = 0;
  const c = new Client(authURL(), {
    minDelay: 20,
    maxDelay: 50,
    getToken: async () => {
      if (++calls <= 2) throw new Error("identity provider down");
      return token("alice", 60);
    },
  });
  t.after(() => c.close());
  const errors = [];
  c.on("error", (e) => errors.push(e.message));
  c.connect();
  await once(c, "connected");
  assert.equal(c.user, "alice");
  assert.equal(calls, 3);
  assert.deepEqual(errors, ["identity provider down", "identity provider down"]);
});

test("the token is refreshed before exp and the connection outlives it; a failed refresh is retried", async (t) => {
  let calls = 0;
  let firstExp;
  const c = new Client(authURL(), {
    refreshMargin: 1500,
    minDelay: 20,
    maxDelay: 50,
    getToken: () => {
      calls++;
      if (calls === 2) throw new Error("refresh failed once");
      const tk = token("bob", 3);
      firstExp ??= tokenExpiry(tk);
      return tk;
    },
  });
  t.after(() => c.close());
  let drops = 0;
  c.on("disconnected", () => drops++);
  c.connect();
  await once(c, "connected");
  const id = c.connectionId;
  let refreshed = 0;
  await once(c, "refreshed", () => ++refreshed === 3);
  // Past the first token's exp: the connection is the one it was.
  if (Date.now() <= firstExp) await once(c, "refreshed");
  assert.ok(Date.now() > firstExp);
  assert.equal(c.connectionId, id);
  assert.equal(c.state, "connected");
  assert.equal(drops, 0);
  assert.deepEqual(await c.ping(), {});
});

test("an expired token without getToken closes with 1008 and the client stops", async (t) => {
  const c = new Client(authURL() + "?token=" + token("carol", 1), { minDelay: 20, maxDelay: 50 });
  t.after(() => c.close());
  let drops = 0;
  c.on("disconnected", () => drops++);
  c.connect();
  await once(c, "connected");
  const info = await once(c, "closed");
  assert.equal(info.code, 1008);
  assert.equal(info.reason, "token expired");
  assert.equal(c.state, "closed");
  assert.equal(drops, 0);
});

test("a refused handshake (401, no getToken) stops the client", async (t) => {
  const c = new Client(authURL(), { minDelay: 20, maxDelay: 50 });
  t.after(() => c.close());
  c.connect();
  const info = await once(c, "closed");
  assert.equal(info.code, 4401);
  assert.match(info.reason, /HTTP 401/);
});
