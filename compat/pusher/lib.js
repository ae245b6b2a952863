'use strict';
// Shared setup of the compatibility tests: the official pusher-js client
// and pusher server SDK, configured from the environment that the Go test
// (internal/compat) sets after it started `switchboard serve`.
//
// No test here sleeps to order events: each waits for the event itself
// (with a bound, so a missing event fails the test instead of hanging it),
// and "nothing arrived" is shown with a barrier: a round trip on the same
// connection that the server answers after every earlier message.

const http = require('node:http');
const crypto = require('node:crypto');
const Pusher = require('pusher-js');
const PusherServer = require('pusher');

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through the Go test (go test ./internal/compat)`);
  return v;
}

const env = {
  host: need('SB_HOST'), // the listener's host
  port: Number(need('SB_PORT')),
  stage: need('SB_STAGE'), // the stage of the app's API, for the management API
  appId: need('PUSHER_APP_ID'),
  key: need('PUSHER_KEY'),
  secret: need('PUSHER_SECRET'),
  quotaKey: need('PUSHER_QUOTA_KEY'), // app 124: limits.connections: 1, a webhook with retryFor: 1s
  quotaSecret: need('PUSHER_QUOTA_SECRET'),
  quotaId: '124',
  capKey: need('PUSHER_CAP_KEY'), // an app whose API has limits.maxConnections: 1
  control: need('SB_CONTROL_URL'), // POST /restart: SIGTERM, wait for exit, start again
  webhookPort: Number(need('PUSHER_WEBHOOK_PORT')),
};

// bound is how long a test waits for one event.
const bound = 10000;

// The server SDK, pointed at Switchboard (reference §14.2).
function server(secret = env.secret, extra = {}) {
  return new PusherServer({ appId: env.appId, key: env.key, secret, host: env.host, port: String(env.port), useTLS: false, ...extra });
}

// userFor is the presence identity a client signs, as the pusher-js
// integration spec does: its socket id and a name and email from it.
function memberFor(socketId) {
  return { user_id: socketId, user_info: { name: 'Integration ' + socketId, email: 'integration-' + socketId + '@example.com' } };
}

// client is pusher-js in Node as a self-hosted user configures it (§14.1).
// Channel authorization and user authentication call the server SDK in
// process (customHandler), so no auth endpoint is needed. opts: key,
// secret (to sign with a wrong one), member(socketId) (presence
// identity), user(socketId) (sign-in identity), options (more pusher-js
// options), sdk (the server SDK that signs).
function client(opts = {}) {
  const sdk = opts.sdk || server(opts.secret || env.secret);
  const p = new Pusher(opts.key || env.key, {
    cluster: 'mt1',
    wsHost: env.host,
    wsPort: env.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    ...(opts.options || {}),
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => {
        try {
          if (channelName.startsWith('presence-')) {
            cb(null, sdk.authorizeChannel(socketId, channelName, (opts.member || memberFor)(socketId)));
          } else {
            cb(null, sdk.authorizeChannel(socketId, channelName));
          }
        } catch (e) {
          cb(e, null);
        }
      },
    },
    userAuthentication: {
      customHandler: ({ socketId }, cb) => {
        try {
          cb(null, sdk.authenticateUser(socketId, (opts.user || ((id) => ({ id: 'user-' + id })))(socketId)));
        } catch (e) {
          cb(e, null);
        }
      },
    },
  });
  // Every frame the client receives, in order, for the "nothing arrived"
  // checks.
  p.frames = [];
  p.connection.bind('message', (m) => p.frames.push(m));
  return p;
}

// withTimeout rejects with what after ms unless promise settles first.
function withTimeout(promise, what, ms = bound) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// next resolves with the next emission of event on emitter (a channel,
// pusher.connection, pusher.user), bound before the action that causes it.
function next(emitter, event, what = event) {
  return withTimeout(
    new Promise((resolve) => {
      const cb = (data, meta) => {
        emitter.unbind(event, cb);
        resolve(data === undefined ? meta : data);
      };
      emitter.bind(event, cb);
    }),
    what,
  );
}

// waitUntil polls cond (pusher-js state) every few milliseconds, bounded.
function waitUntil(cond, what) {
  return withTimeout(
    new Promise((resolve) => {
      const tick = () => (cond() ? resolve() : setTimeout(tick, 5));
      tick();
    }),
    what,
  );
}

async function connected(p) {
  if (p.connection.state !== 'connected') await next(p.connection, 'connected', 'the connection');
  return p;
}

// subscribed subscribes p to name and resolves with the channel and the
// subscription_succeeded data (members of a presence channel).
async function subscribed(p, name) {
  const ch = p.subscribe(name);
  const data = await next(ch, 'pusher:subscription_succeeded', `subscription to ${name}`);
  return [ch, data];
}

// barrier resolves once the server answered everything p sent before it:
// a subscribe of a fresh public channel is answered after every earlier
// message of the connection, in order, and any frame sent earlier has
// reached p.frames.
async function barrier(p) {
  const name = uniq('barrier');
  await subscribed(p, name);
  p.unsubscribe(name);
}

function uniq(prefix) {
  return prefix + '-' + crypto.randomBytes(6).toString('hex');
}

// publish sends data to a channel through the Switchboard management API
// (loopback admitted in the test's config); pusher-js sees event
// "message". Resolves with the answer's JSON.
async function publish(channel, data) {
  const res = await fetch(`http://${env.host}:${env.port}/${env.stage}/@channels/${encodeURIComponent(channel)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`publish to ${channel}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// framesOn returns the frames p received for channel with event.
function framesOn(p, channel, event) {
  return p.frames.filter((m) => m.channel === channel && (event === undefined || m.event === event));
}

// webhooks runs the apps' webhook receiver on env.webhookPort: every
// request is checked with the server SDK of its app (X-Pusher-Key), with
// pusher.webhook(...).isValid(), and its events are kept in order, each
// with its app's id (app).
class Webhooks {
  constructor() {
    this.events = [];
    this.invalid = [];
    this.waiters = [];
    this.srv = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const quota = req.headers['x-pusher-key'] === env.quotaKey;
        const sdk = quota
          ? new PusherServer({ appId: env.quotaId, key: env.quotaKey, secret: env.quotaSecret, host: env.host, port: String(env.port) })
          : server();
        const wh = sdk.webhook({ headers: req.headers, rawBody });
        if (!wh.isValid()) {
          this.invalid.push({ headers: req.headers, rawBody });
        } else {
          for (const e of wh.getEvents()) this.events.push({ ...e, app: quota ? env.quotaId : env.appId });
          this.waiters = this.waiters.filter((w) => !w());
        }
        res.writeHead(200).end();
      });
    });
  }
  listen() {
    return new Promise((resolve, reject) => {
      this.srv.once('error', reject);
      this.srv.listen(env.webhookPort, env.host, resolve);
    });
  }
  close() {
    return new Promise((resolve) => this.srv.close(resolve));
  }
  // find waits for an event matching pred.
  find(pred, what) {
    return withTimeout(
      new Promise((resolve) => {
        const check = () => {
          const e = this.events.find(pred);
          if (e) resolve(e);
          return !!e;
        };
        if (!check()) this.waiters.push(check);
      }),
      'webhook ' + what,
    );
  }
}

// restart asks the Go test to drain the server (SIGTERM), wait for its
// exit and start it again on the same port.
async function restart() {
  const res = await fetch(env.control + '/restart', { method: 'POST' });
  if (res.status !== 200) throw new Error(`restart: ${res.status} ${await res.text()}`);
}

module.exports = {
  Pusher, PusherServer, env, server, client, memberFor, next, waitUntil, withTimeout, connected, subscribed,
  barrier, uniq, publish, framesOn, Webhooks, restart,
};
