// Shared by the Node tests: the server's addresses come from the Go test
// (internal/jsclient), which also restarts and stalls it on request.
import { createHmac } from "node:crypto";

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through go test ./internal/jsclient`);
  return v;
};

export const url = (stage = env("SB_STAGE"), addr = env("SB_ADDR")) => `ws://${addr}/${stage}`;

/** POST to the management API; retries refused connections (the server is restarting). */
export async function manage(path, body, { retry = false } = {}) {
  for (;;) {
    try {
      const res = await fetch(`http://${env("SB_ADDR")}/${path}`, { method: "POST", body, headers: { "content-type": "application/json" } });
      const text = await res.text();
      if (res.ok) return text ? JSON.parse(text) : {};
      if (!retry || res.status < 500) throw new Error(`POST ${path}: ${res.status} ${text}`);
    } catch (e) {
      if (!retry || !(e instanceof TypeError)) throw e; // fetch failed: refused or reset
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function control(what) {
  const res = await fetch(`${env("SB_CONTROL_URL")}/${what}`, { method: "POST" });
  const text = await res.text();
  if (!res.ok) throw new Error(`control ${what}: ${res.status} ${text}`);
  return text;
}

/** An HS256 JWT for the auth API, expiring in ttl seconds. */
export function token(sub, ttl) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub, exp: Math.floor(Date.now() / 1000) + ttl });
  return head + "." + createHmac("sha256", env("SB_JWT_SECRET")).update(head).digest("base64url");
}

/** Resolves with the first event of emitter whose arguments pass test. */
export function once(emitter, event, test = () => true) {
  return new Promise((resolve) => {
    const off = emitter.on(event, (...args) => {
      if (test(...args)) {
        off();
        resolve(args[0]);
      }
    });
  });
}

let n = 0;
/** A channel name of its own for each test. */
export const channel = (prefix) => `${prefix}-${process.pid}-${++n}`;
