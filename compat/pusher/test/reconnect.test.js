'use strict';
// What pusher-js does on Switchboard's close codes (reference §3): 4200
// on drain (reconnect at once and resubscribe), 4001 for an unknown key
// and 4004 over the app's connection quota (give up, no retry).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { env, client, next, connected, subscribed, uniq, publish, restart, waitUntil, withTimeout, Webhooks } = require('../lib');

// The app's webhooks keep a receiver, so that the drained server finds
// nothing left to deliver.
const hooks = new Webhooks();
before(() => hooks.listen());
after(async () => {
  await hooks.close();
  assert.deepEqual(hooks.invalid, [], 'every webhook request passes the server SDK\'s isValid()');
});

// idle reports that pusher-js has given up: no connection, no strategy
// running and no retry timer armed (connection_manager's own fields), so
// nothing will reconnect without a call to connect().
function idle(p) {
  const m = p.connection;
  return !m.connection && !m.runner && !m.retryTimer;
}

// record keeps the state changes and errors of p's connection.
function record(p) {
  const log = { states: [], errors: [] };
  p.connection.bind('state_change', ({ current }) => log.states.push(current));
  p.connection.bind('error', (e) => log.errors.push(e));
  return log;
}

test('drain (SIGTERM): close 4200, pusher-js reconnects at once and resubscribes', async () => {
  const p = await connected(client());
  try {
    const log = record(p);
    const pub = uniq('drain');
    const priv = uniq('private-drain');
    const pres = uniq('presence-drain');
    const [chPub] = await subscribed(p, pub);
    const [chPriv] = await subscribed(p, priv);
    const [chPres] = await subscribed(p, pres);
    const before = p.connection.socket_id;

    const again = Promise.all([chPub, chPriv, chPres].map((ch) => next(ch, 'pusher:subscription_succeeded', 'resubscription to ' + ch.name)));
    await restart();
    await again;
    assert.equal(p.connection.state, 'connected');
    assert.notEqual(p.connection.socket_id, before, 'a new connection');

    const closeErrors = log.errors.filter((e) => e.type === 'PusherError' && e.data && e.data.code === 4200);
    assert.equal(closeErrors.length, 1, 'the drain closed the socket with 4200: ' + JSON.stringify(log.errors));
    assert.ok(!log.states.includes('unavailable') && !log.states.includes('failed'), 'states: ' + log.states.join(' → '));
    assert.equal(chPres.members.me.id, p.connection.socket_id, 'presence identity signed for the new socket');

    const got = next(chPub, 'message');
    await publish(pub, { after: 'restart' });
    assert.deepEqual(await got, { after: 'restart' });
  } finally {
    p.disconnect();
  }
});

test('unknown app key: 4001, pusher-js gives up', async () => {
  const p = client({ key: 'no-such-app-key' });
  try {
    const log = record(p);
    await waitUntil(() => p.connection.state === 'disconnected' || p.connection.state === 'failed', 'pusher-js to give up');
    const codes = log.errors.map((e) => (e.error && e.error.data ? e.error.data.code : e.data && e.data.code));
    assert.ok(codes.includes(4001), 'error 4001: ' + JSON.stringify(log.errors));
    assert.ok(idle(p), 'no retry scheduled');
    // record() began after the first attempt: no state but the end follows
    assert.deepEqual(log.states, ['disconnected'], 'no second attempt');
  } finally {
    p.disconnect();
  }
});

test('over the connection quota: 4004, pusher-js gives up (no retry storm)', async () => {
  const first = await connected(client({ key: env.quotaKey }));
  const p = client({ key: env.quotaKey });
  try {
    const log = record(p);
    await waitUntil(() => p.connection.state === 'disconnected' || p.connection.state === 'failed', 'pusher-js to give up');
    const codes = log.errors.map((e) => (e.error && e.error.data ? e.error.data.code : e.data && e.data.code));
    assert.ok(codes.includes(4004), 'error 4004: ' + JSON.stringify(log.errors));
    assert.ok(idle(p), 'no retry scheduled');
    // record() began after the first attempt: no state but the end follows
    assert.deepEqual(log.states, ['disconnected'], 'no second attempt');
    assert.equal(first.connection.state, 'connected', 'the connection within the quota stays');
  } finally {
    p.disconnect();
    first.disconnect();
  }
});

// Issue 11 wants 4100 ("over capacity": pusher-js retries after 1 s) when
// the server is over capacity. The gateway's refusal of a handshake over
// the API's limits.maxConnections reaches pusher-js as pusher:error 4100
// and close 4100 (gateway.AcceptOptions.Refuse), not as an HTTP status it
// would take for a broken transport.
test('over the API\'s capacity: 4100, pusher-js retries after 1 s', async () => {
  const first = await connected(client({ key: env.capKey }));
  const p = client({ key: env.capKey });
  try {
    const log = record(p);
    const retry = withTimeout(new Promise((resolve) => p.connection.bind('connecting_in', resolve)), 'pusher-js to schedule a retry', 3000);
    assert.equal(await retry, 1, 'a retry in 1 s');
    const codes = log.errors.map((e) => (e.error && e.error.data ? e.error.data.code : e.data && e.data.code));
    assert.ok(codes.includes(4100), 'error 4100: ' + JSON.stringify(log.errors));
    // Once the first connection is gone, the retry gets in.
    first.disconnect();
    await waitUntil(() => p.connection.state === 'connected', 'the retry to connect');
  } finally {
    p.disconnect();
    first.disconnect();
  }
});
