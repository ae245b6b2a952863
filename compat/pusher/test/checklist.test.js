'use strict';
// The pusher-js integration checklist (reference §17.1, ported from
// pusher-js's spec/javascripts/integration/core/pusher_spec/test_builder.js
// with its fixed delays replaced by barriers), plus auth failures, cache
// channels, sign-in and webhooks, against a real `switchboard serve`.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  env, server, client, memberFor, next, waitUntil, withTimeout, connected, subscribed, barrier, uniq, publish, framesOn, Webhooks,
} = require('../lib');

// HTTP_API: the Pusher HTTP API (/apps/{id}/..., issue 11.4) is built in
// another branch and answers 501 in this one. The tests that need it (the
// server SDK's trigger, sendToUser, terminateUserConnections) are skipped
// until it is merged: set this to true then.
const HTTP_API = true;
const waitingForHTTPAPI = HTTP_API ? false : 'waiting for the Pusher HTTP API (issue 11.4): set HTTP_API = true after the merge';

const hooks = new Webhooks();
let p1, p2;

before(async () => {
  await hooks.listen();
  p1 = await connected(client());
  p2 = await connected(client());
});

after(async () => {
  p1.disconnect();
  p2.disconnect();
  await hooks.close();
  assert.deepEqual(hooks.invalid, [], 'every webhook request passes the server SDK\'s isValid()');
});

test('handshake: socket id as the SDKs require', () => {
  assert.match(p1.connection.socket_id, /^\d+\.\d+$/);
  assert.notEqual(p1.connection.socket_id, p2.connection.socket_id);
});

describe('presence channels', () => {
  const member = (p) => {
    const m = memberFor(p.connection.socket_id);
    return { id: m.user_id, info: m.user_info };
  };

  test("should get connection's member data", async () => {
    const [ch] = await subscribed(p1, uniq('presence-integration_me'));
    assert.deepEqual(ch.members.me, member(p1));
    assert.equal(ch.members.count, 1);
    p1.unsubscribe(ch.name);
  });

  test('should receive a member added event', async () => {
    const name = uniq('presence-integration_member_added');
    const [ch1] = await subscribed(p1, name);
    const added = next(ch1, 'pusher:member_added');
    await subscribed(p2, name);
    assert.deepEqual(await added, member(p2));
    p1.unsubscribe(name);
    p2.unsubscribe(name);
  });

  test('should receive a member removed event', async () => {
    const name = uniq('presence-integration_member_removed');
    const [ch2] = await subscribed(p2, name);
    const added = next(ch2, 'pusher:member_added');
    await subscribed(p1, name);
    await added;
    const removed = next(ch2, 'pusher:member_removed');
    p1.unsubscribe(name);
    assert.deepEqual(await removed, member(p1));
    p2.unsubscribe(name);
  });

  test('should maintain correct members count and data', async () => {
    const name = uniq('presence-integration_member_count');
    const ch1 = p1.subscribe(name);
    assert.equal(ch1.members.count, 0);
    await next(ch1, 'pusher:subscription_succeeded');
    assert.equal(ch1.members.count, 1);
    assert.deepEqual(ch1.members.get(p1.connection.socket_id), member(p1));
    assert.equal(ch1.members.get(p2.connection.socket_id), null);
    assert.deepEqual(ch1.members.me, member(p1));

    const added = next(ch1, 'pusher:member_added');
    const [ch2] = await subscribed(p2, name);
    assert.equal(ch2.members.count, 2);
    assert.deepEqual(ch2.members.get(p1.connection.socket_id), member(p1));
    assert.deepEqual(ch2.members.get(p2.connection.socket_id), member(p2));
    assert.deepEqual(ch2.members.me, member(p2));
    await added;
    assert.equal(ch1.members.count, 2);
    assert.deepEqual(ch1.members.get(p2.connection.socket_id), member(p2));

    const removed = next(ch2, 'pusher:member_removed');
    p1.unsubscribe(name);
    await removed;
    assert.equal(ch2.members.count, 1);
    assert.equal(ch2.members.get(p1.connection.socket_id), null);
    assert.deepEqual(ch2.members.get(p2.connection.socket_id), member(p2));
    p2.unsubscribe(name);
  });

  test('member_added and member_removed for the first and last connection of a user only', async () => {
    const name = uniq('presence-integration_one_user');
    const alice = () => ({ user_id: 'alice', user_info: { name: 'Alice' } });
    const a1 = await connected(client({ member: alice }));
    const a2 = await connected(client({ member: alice }));
    try {
      const [watch] = await subscribed(p1, name);
      const seen = [];
      watch.bind('pusher:member_added', (m) => seen.push(['added', m.id]));
      watch.bind('pusher:member_removed', (m) => seen.push(['removed', m.id]));
      // marker: a publication to the channel after a step reaches p1 after
      // any notice the step caused.
      const marker = async () => {
        const got = next(watch, 'message', 'marker');
        await publish(name, { marker: true });
        await got;
      };

      const added = next(watch, 'pusher:member_added');
      await subscribed(a1, name);
      assert.deepEqual(await added, { id: 'alice', info: { name: 'Alice' } });
      const [ch2] = await subscribed(a2, name);
      assert.equal(ch2.members.count, 2, 'the second socket sees alice once and p1');
      assert.deepEqual(ch2.members.me, { id: 'alice', info: { name: 'Alice' } });
      await marker();
      assert.deepEqual(seen, [['added', 'alice']], 'the second socket of alice is not a new member');
      assert.equal(watch.members.count, 2);

      a1.unsubscribe(name);
      await barrier(a1);
      await marker();
      assert.deepEqual(seen, [['added', 'alice']], 'alice is still there through her second socket');

      const removed = next(watch, 'pusher:member_removed');
      a2.unsubscribe(name);
      assert.deepEqual(await removed, { id: 'alice', info: { name: 'Alice' } });
      assert.equal(watch.members.count, 1);

      await hooks.find((e) => e.name === 'member_added' && e.channel === name && e.user_id === 'alice', 'member_added of alice');
      await hooks.find((e) => e.name === 'channel_occupied' && e.channel === name, 'channel_occupied');
      // member_removed is held 3 s (as Pusher debounces it) before it is sent.
      await hooks.find((e) => e.name === 'member_removed' && e.channel === name && e.user_id === 'alice', 'member_removed of alice')
        .catch((err) => assert.fail(err.message + '; webhooks of the channel: ' + JSON.stringify(hooks.events.filter((e) => e.channel === name))));
      const ofAlice = hooks.events.filter((e) => e.channel === name && e.user_id === 'alice').map((e) => e.name);
      assert.deepEqual(ofAlice, ['member_added', 'member_removed'], 'one webhook per user, not per socket');
    } finally {
      a1.disconnect();
      a2.disconnect();
      p1.unsubscribe(name);
    }
  });
});

describe('client events', () => {
  for (const prefix of ['private-', 'presence-']) {
    test(`${prefix}: should receive a client event sent by another connection, not by itself`, async () => {
      const name = uniq(prefix + 'integration_client_events');
      const [ch1] = await subscribed(p1, name);
      const [ch2] = await subscribed(p2, name);
      let self = 0;
      ch1.bind('client-test', () => self++);
      const got = new Promise((resolve) => ch2.bind('client-test', (d, m) => resolve([d, m])));
      assert.equal(ch1.trigger('client-test', { foo: 'bar' }), true);
      const [data, meta] = await withTimeout(got, 'the client event on the other connection');
      assert.deepEqual(data, { foo: 'bar' });
      if (prefix === 'presence-') assert.equal(meta.user_id, p1.connection.socket_id, 'user_id of the sender on presence channels');
      // The sender's own event would have reached it before the answer to
      // its next message.
      await barrier(p1);
      assert.equal(self, 0, 'the sender does not get its own client event');
      assert.equal(framesOn(p1, name, 'client-test').length, 0);

      const hook = await hooks.find((e) => e.name === 'client_event' && e.channel === name, 'client_event');
      assert.equal(hook.event, 'client-test');
      assert.equal(typeof hook.data, 'string', 'client_event data is a string');
      assert.deepEqual(JSON.parse(hook.data), { foo: 'bar' });
      assert.equal(hook.socket_id, p1.connection.socket_id);
      p1.unsubscribe(name);
      p2.unsubscribe(name);
    });
  }

  test('a client event on a public channel is refused with pusher:error', async () => {
    const name = uniq('public_client_events');
    await subscribed(p1, name);
    const err = next(p1.connection, 'error');
    p1.send_event('client-test', { foo: 'bar' }, name);
    const e = await err;
    assert.equal(e.type, 'PusherError');
    assert.equal(e.data.code, 4301);
    assert.equal(p1.connection.state, 'connected', 'the connection stays open');
    p1.unsubscribe(name);
  });
});

describe('limits and keepalive', () => {
  test('client events past the rate limit: error 4301, the connection stays open', async () => {
    const name = uniq('private-integration_rate');
    const p1 = await connected(client()); // with a full bucket
    const [ch1] = await subscribed(p1, name);
    const [ch2] = await subscribed(p2, name);
    let received = 0;
    ch2.bind('client-burst', () => received++);
    const rejected = [];
    const onError = (e) => e.data && e.data.code === 4301 && rejected.push(e);
    p1.connection.bind('error', onError);
    const burst = 15; // limits.clientEventsPerSecond is 10 (the default), burst 10
    for (let i = 0; i < burst; i++) ch1.trigger('client-burst', { i });
    await barrier(p1); // every answer to the burst is in
    await barrier(p2);
    p1.connection.unbind('error', onError);
    assert.ok(rejected.length >= 1 && rejected.length <= burst - 10, `${rejected.length} of ${burst} refused`);
    assert.equal(received, burst - rejected.length, 'every event not refused reached the other connection');
    assert.equal(p1.connection.state, 'connected');
    p1.disconnect();
    p2.unsubscribe(name);
  });

  test('pusher:ping is answered with pusher:pong', async () => {
    // pusher-js pings after activityTimeout without traffic: 100 ms here.
    const p = await connected(client({ options: { activityTimeout: 100, pongTimeout: 5000 } }));
    try {
      await waitUntil(() => p.frames.some((m) => m.event === 'pusher:pong'), 'pusher:pong');
      assert.equal(p.connection.state, 'connected');
    } finally {
      p.disconnect();
    }
  });
});

describe('public channels', () => {
  test('should subscribe and receive a message sent through the management API', async () => {
    const name = uniq('integration');
    const [ch] = await subscribed(p1, name);
    const got = next(ch, 'message');
    const res = await publish(name, { x: 1, y: 'z' });
    assert.equal(res.recipients, 1);
    assert.deepEqual(await got, { x: 1, y: 'z' });
    p1.unsubscribe(name);
  });

  test('should subscribe and receive an event triggered with the server SDK', { skip: waitingForHTTPAPI }, async () => {
    const name = uniq('integration');
    const [ch] = await subscribed(p1, name);
    const got = next(ch, 'integration_event');
    const res = await server().trigger(name, 'integration_event', { x: 1, y: 'z' });
    assert.equal(res.status, 200);
    assert.deepEqual(await got, { x: 1, y: 'z' });

    // socket_id exclusion: the excluded socket misses it, the other gets it.
    const [ch2] = await subscribed(p2, name);
    const got2 = next(ch2, 'excluded');
    await server().trigger(name, 'excluded', { n: 2 }, { socket_id: p1.connection.socket_id });
    assert.deepEqual(await got2, { n: 2 });
    await barrier(p1);
    assert.equal(framesOn(p1, name, 'excluded').length, 0);
    p1.unsubscribe(name);
    p2.unsubscribe(name);
  });

  test('should not receive messages after unsubscribing', async () => {
    const name = uniq('integration');
    const [ch] = await subscribed(p1, name);
    let received = 0;
    ch.bind('message', () => received++);
    p1.unsubscribe(name);
    await barrier(p1); // the server has handled the unsubscribe
    const other = uniq('integration_marker');
    const [mark] = await subscribed(p1, other);
    const got = next(mark, 'message');
    await publish(name, { after: 'unsubscribing' });
    await publish(other, { marker: true });
    await got; // delivered after anything for name would have been
    assert.equal(received, 0);
    assert.equal(framesOn(p1, name, 'message').length, 0, 'no frame of the channel reached the socket');
    p1.unsubscribe(other);
  });

  test('should handle unsubscribing as an idempotent operation', async () => {
    const name = uniq('integration');
    await subscribed(p1, name);
    p1.unsubscribe(name);
    p1.unsubscribe(name);
    p1.unsubscribe(name);
    const errors = p1.frames.length;
    await barrier(p1);
    assert.deepEqual(p1.frames.slice(errors).filter((m) => m.event === 'pusher:error'), [], 'no error for repeated unsubscribes');
    // and the channel can be joined again
    const [ch] = await subscribed(p1, name);
    const got = next(ch, 'message');
    await publish(name, { again: true });
    assert.deepEqual(await got, { again: true });
    p1.unsubscribe(name);
  });

  test('should handle cancelling pending subscription', async () => {
    const name = uniq('integration');
    const ch = p1.subscribe(name);
    let received = 0;
    ch.bind('message', () => received++);
    p1.unsubscribe(name);
    assert.equal(ch.subscriptionCancelled, true);
    await waitUntil(() => !ch.subscriptionPending, 'the pending subscription to end');
    await barrier(p1); // pusher-js's unsubscribe after the late success reached the server
    const other = uniq('integration_marker');
    const [mark] = await subscribed(p1, other);
    const got = next(mark, 'message');
    await publish(name, {});
    await publish(other, {});
    await got;
    assert.equal(ch.subscribed, false);
    assert.equal(received, 0);
    assert.equal(framesOn(p1, name, 'message').length, 0);
    p1.unsubscribe(other);
  });

  test('should handle reinstating cancelled pending subscription', async () => {
    const name = uniq('integration');
    const ch = p1.subscribe(name);
    const got = next(ch, 'message');
    p1.unsubscribe(name);
    p1.subscribe(name);
    await waitUntil(() => !ch.subscriptionPending, 'the pending subscription to end');
    assert.equal(ch.subscribed, true);
    await publish(name, { reinstated: true });
    assert.deepEqual(await got, { reinstated: true });
    p1.unsubscribe(name);
  });
});

describe('subscription state sequences', () => {
  const state = (p, name) => {
    const ch = p.channel(name);
    return ch && { subscribed: ch.subscribed, pending: ch.subscriptionPending, cancelled: ch.subscriptionCancelled };
  };
  const PENDING = { subscribed: false, pending: true, cancelled: false };
  const CANCELLED = { subscribed: false, pending: true, cancelled: true };
  const SUBSCRIBED = { subscribed: true, pending: false, cancelled: false };
  // receives proves the subscription is real on the server: a publication
  // reaches it.
  const receives = async (p, name) => {
    const got = next(p.channel(name), 'message');
    await publish(name, { n: name });
    assert.deepEqual(await got, { n: name });
  };
  // isGone proves it is gone on the server too: one publication reaches
  // the channel's members (recipients 0) and the socket got no frame of it.
  const isGone = async (p, name) => {
    await barrier(p);
    await barrier(p); // an unsubscribe pusher-js sent on the late success
    assert.equal(p.channel(name), undefined);
    assert.equal((await publish(name, {})).recipients, 0, 'the server has no member left in the channel');
    assert.equal(framesOn(p, name, 'message').length, 0);
  };

  test('sub-sub = sub', async () => {
    const name = uniq('integration');
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    await waitUntil(() => p1.channel(name).subscribed, 'subscription to finish');
    assert.deepEqual(state(p1, name), SUBSCRIBED);
    await barrier(p1);
    assert.equal(framesOn(p1, name, 'pusher_internal:subscription_succeeded').length, 1, 'one subscribe sent, one answer');
    await receives(p1, name);
    p1.unsubscribe(name);
  });

  test('sub-wait-sub = sub', async () => {
    const name = uniq('integration');
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    await waitUntil(() => p1.channel(name).subscribed, 'subscription to finish');
    assert.deepEqual(state(p1, name), SUBSCRIBED);
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), SUBSCRIBED);
    await receives(p1, name);
    p1.unsubscribe(name);
  });

  test('sub-unsub = NOP', async () => {
    const name = uniq('integration');
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    p1.unsubscribe(name);
    assert.deepEqual(state(p1, name), CANCELLED);
    await isGone(p1, name);
  });

  test('sub-wait-unsub = NOP', async () => {
    const name = uniq('integration');
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    await waitUntil(() => p1.channel(name).subscribed, 'subscription to finish');
    assert.deepEqual(state(p1, name), SUBSCRIBED);
    p1.unsubscribe(name);
    assert.equal(p1.channel(name), undefined);
    await isGone(p1, name);
  });

  test('sub-unsub-sub = sub', async () => {
    const name = uniq('integration');
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    p1.unsubscribe(name);
    assert.deepEqual(state(p1, name), CANCELLED);
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    await waitUntil(() => p1.channel(name).subscribed, 'subscription to finish');
    assert.deepEqual(state(p1, name), SUBSCRIBED);
    await receives(p1, name);
    p1.unsubscribe(name);
  });

  test('sub-unsub-wait-sub = sub', async () => {
    const name = uniq('integration');
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    p1.unsubscribe(name);
    assert.deepEqual(state(p1, name), CANCELLED);
    await isGone(p1, name);
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    await waitUntil(() => p1.channel(name).subscribed, 'subscription to finish');
    assert.deepEqual(state(p1, name), SUBSCRIBED);
    await receives(p1, name);
    p1.unsubscribe(name);
  });

  test('sub-unsub-unsub = NOP', async () => {
    const name = uniq('integration');
    p1.subscribe(name);
    assert.deepEqual(state(p1, name), PENDING);
    p1.unsubscribe(name);
    assert.deepEqual(state(p1, name), CANCELLED);
    p1.unsubscribe(name);
    assert.deepEqual(state(p1, name), CANCELLED);
    await isGone(p1, name);
  });
});

describe('authorization failures reach pusher:subscription_error', () => {
  for (const prefix of ['private-', 'presence-']) {
    test(`${prefix} channel signed with a wrong secret`, async () => {
      const bad = await connected(client({ secret: 'not-the-app-secret-0123456789' }));
      try {
        const name = uniq(prefix + 'integration_bad_auth');
        const ch = bad.subscribe(name);
        const err = await next(ch, 'pusher:subscription_error');
        assert.equal(err.status, 401);
        assert.equal(err.type, 'AuthError');
        assert.match(err.error, /expected|signature/i, 'the message explains the mismatch: ' + err.error);
        assert.equal(ch.subscribed, false);
        assert.equal(bad.connection.state, 'connected', 'the socket stays open');
        // it names the string that was to be signed, never the secret
        assert.ok(!err.error.includes(env.secret));
      } finally {
        bad.disconnect();
      }
    });
  }
});

describe('end-to-end encrypted channels', () => {
  test('private-encrypted-: subscribe with the shared secret, get an event the server SDK encrypted', async () => {
    // The app's master key is the app's business, as on Pusher: the SDK
    // derives the channel's secret for the client (shared_secret in the
    // authorization) and encrypts; Switchboard only relays the ciphertext.
    const sdk = server(env.secret, { encryptionMasterKeyBase64: require('node:crypto').randomBytes(32).toString('base64') });
    const p = await connected(client({ sdk }));
    try {
      const name = uniq('private-encrypted-integration');
      const [ch] = await subscribed(p, name);
      // The event the SDK's trigger would POST, taken before it is sent,
      // and published through the management API instead.
      sdk.post = async ({ body }) => body;
      const event = await sdk.trigger(name, 'secret', { text: 'for subscribers only' });
      const ciphertext = JSON.parse(event.data);
      assert.ok(ciphertext.nonce && ciphertext.ciphertext, 'the SDK encrypted the data');
      const got = next(ch, 'message');
      const res = await fetch(`http://${env.host}:${env.port}/${env.stage}/@channels/${name}`, { method: 'POST', body: event.data });
      assert.equal(res.status, 200);
      assert.deepEqual(await got, { text: 'for subscribers only' }, 'pusher-js decrypted it');
      const wire = framesOn(p, name, 'message');
      assert.equal(wire.length, 1);
      assert.deepEqual(wire[0].data, ciphertext, 'the wire carried the ciphertext as published');
    } finally {
      p.disconnect();
    }
  });
});

describe('cache channels', () => {
  test('pusher:cache_miss on an empty cache channel, then the cached event to a later subscriber', async () => {
    const name = uniq('cache-integration');
    const ch1 = p1.subscribe(name);
    const miss = next(ch1, 'pusher:cache_miss');
    await next(ch1, 'pusher:subscription_succeeded');
    await miss;
    await hooks.find((e) => e.name === 'cache_miss' && e.channel === name, 'cache_miss');

    const live = next(ch1, 'message');
    await publish(name, { cached: 1 });
    assert.deepEqual(await live, { cached: 1 });

    const ch2 = p2.subscribe(name);
    const cached = next(ch2, 'message', 'the cached event');
    let missed = 0;
    ch2.bind('pusher:cache_miss', () => missed++);
    await next(ch2, 'pusher:subscription_succeeded');
    assert.deepEqual(await cached, { cached: 1 });
    assert.equal(missed, 0);
    p1.unsubscribe(name);
    p2.unsubscribe(name);
  });
});

describe('webhook retry window', () => {
  // App 124's webhook has retryFor: 1s (the least the config allows). The
  // sender counts the window from the event's time, and channel_vacated
  // and member_removed are held 3 s (debounce) before they are queued,
  // so both are dropped as "expired" before their first attempt, to an
  // endpoint that answers at once.
  test('channel_vacated reaches an endpoint with retryFor: 1s', async () => {
    const p = await connected(client({ key: env.quotaKey }));
    try {
      const name = uniq('integration_vacated');
      await subscribed(p, name);
      await hooks.find((e) => e.app === env.quotaId && e.name === 'channel_occupied' && e.channel === name, 'channel_occupied of app 124');
      p.unsubscribe(name);
      await withTimeout(hooks.find((e) => e.app === env.quotaId && e.name === 'channel_vacated' && e.channel === name, 'channel_vacated of app 124'), 'channel_vacated of app 124', 6000);
    } finally {
      p.disconnect();
    }
  });
});

describe('subscription count (subscriptionCount: true)', () => {
  test('the subscription_count webhook follows the channel\'s subscribers', async () => {
    const name = uniq('integration_count');
    await subscribed(p1, name);
    await subscribed(p2, name);
    await hooks.find((e) => e.name === 'subscription_count' && e.channel === name && e.subscription_count === 2, 'subscription_count 2')
      .catch((err) => assert.fail(err.message + '; webhooks of the channel: ' + JSON.stringify(hooks.events.filter((e) => e.channel === name))));
    p1.unsubscribe(name);
    p2.unsubscribe(name);
  });

  // docs/configuration.md says subscriptionCount "sends
  // pusher_internal:subscription_count to the subscribers of non-presence
  // channels when their count changes"; the front-end does not send it
  // yet (pusherproto.AppendSubscriptionCount has no caller).
  test('subscribers get pusher:subscription_count', { todo: 'the Pusher front-end does not send pusher_internal:subscription_count yet' }, async () => {
    const name = uniq('integration_count');
    const [ch1] = await subscribed(p1, name);
    const two = withTimeout(new Promise((resolve) => ch1.bind('pusher:subscription_count', (d) => d.subscription_count === 2 && resolve())), 'subscription_count 2', 3000);
    try {
      await subscribed(p2, name);
      await two;
      assert.equal(ch1.subscriptionCount, 2);
    } finally {
      p1.unsubscribe(name);
      p2.unsubscribe(name);
    }
  });
});

describe('user authentication', () => {
  test('signin, then #server-to-user- events reach pusher.user', async () => {
    const u = await connected(client({ user: () => ({ id: 'carol', user_info: { name: 'Carol' } }) }));
    try {
      u.signin();
      await u.user.signinDonePromise;
      assert.equal(u.user.user_data.id, 'carol');
      await waitUntil(() => u.user.serverToUserChannel && u.user.serverToUserChannel.subscribed, 'the server-to-user channel');
      const got = next(u.user, 'message');
      const res = await publish('#server-to-user-carol', { hello: 'carol' });
      assert.equal(res.recipients, 1);
      assert.deepEqual(await got, { hello: 'carol' });
    } finally {
      u.disconnect();
    }
  });

  test('sendToUser and terminateUserConnections with the server SDK', { skip: waitingForHTTPAPI }, async () => {
    const u = await connected(client({ user: () => ({ id: 'dave' }) }));
    try {
      u.signin();
      await u.user.signinDonePromise;
      await waitUntil(() => u.user.serverToUserChannel && u.user.serverToUserChannel.subscribed, 'the server-to-user channel');
      const got = next(u.user, 'greeting');
      await server().sendToUser('dave', 'greeting', { hi: 1 });
      assert.deepEqual(await got, { hi: 1 });
      const closed = next(u.connection, 'state_change', 'the connection to be closed');
      await server().terminateUserConnections('dave');
      await closed;
    } finally {
      u.disconnect();
    }
  });
});
