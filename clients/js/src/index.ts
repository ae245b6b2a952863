// Switchboard client: one WebSocket that reconnects on its own.
//
// Two modes share the connection machinery (backoff with full jitter,
// liveness, stop closes, online/offline, tokens):
//   - "v1": the switchboard.v1 protocol (docs/protocol.md): subscriptions that
//     come back after a reconnect with their (epoch, offset), publish,
//     presence, history recovery, token refresh.
//   - "raw": AWS API Gateway style JSON messages, no envelope.
//
// No runtime dependency in browsers: the platform WebSocket is used. In Node
// without a global WebSocket (Node 18-21), the optional peer `ws` is loaded.

/** The smallest WebSocket surface the client needs (browser, Node 22+, ws). */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  send(data: string | ArrayBufferLike | Uint8Array): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export type Mode = "v1" | "raw";
export type ClientState = "disconnected" | "connecting" | "connected" | "closed";
export type SubscriptionState = "unsubscribed" | "subscribing" | "subscribed" | "error";

/** How a connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** Whether the client will connect again on its own. */
  reconnect: boolean;
  /** With reconnect: the delay before the next attempt, in ms. */
  delay?: number;
}

export interface ClientOptions {
  /** "v1" (default) offers switchboard.v1; "raw" is a plain API Gateway style connection. */
  mode?: Mode;
  /** Called before every connection attempt and before a v1 token expires; its token goes in `tokenParam`. */
  getToken?: () => string | Promise<string>;
  /** The query parameter that carries the token (the server's auth.jwt.query). Default "token". */
  tokenParam?: string;
  /** Backoff bounds in ms: the first retry waits up to minDelay, each next one up to twice as long, never more than maxDelay. Defaults 500 and 20000. */
  minDelay?: number;
  maxDelay?: number;
  /** Full jitter (a uniform random delay between 0 and the bound). Default true; false waits the bound itself. */
  jitter?: boolean;
  /** No frame (or WebSocket ping, where visible) for this long → reconnect. Default 25000 ms; 0 turns it off. */
  livenessTimeout?: number;
  /** v1: a ping message is sent when nothing was received for this long. Default 10000 ms. */
  pingInterval?: number;
  /** raw: a message sent when idle for pingInterval, to make the server answer (a route that replies). Without it, raw liveness only works where WebSocket pings are visible (ws in Node). */
  rawPing?: string;
  /** v1: how long a request waits for its reply. Default 10000 ms. */
  requestTimeout?: number;
  /** v1: refresh the token this long before its exp (at most half its remaining life). Default 30000 ms. */
  refreshMargin?: number;
  /** Whether a close means "connect again". Default: see shouldReconnect. */
  shouldReconnect?: (code: number, reason: string, hasToken: boolean) => boolean;
  /** The WebSocket constructor; default the platform's, else the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Random source in [0, 1) for the jitter (tests inject one). Default Math.random. */
  random?: () => number;
}

/** A publication delivered on a channel (v1 `pub`) or a direct message (v1 `message`). */
export interface Publication {
  channel: string;
  /** The payload: a JSON value ("data"), a string ("text") or bytes ("b64"). */
  data: unknown;
  kind: "json" | "text" | "binary";
  epoch?: string;
  offset?: number;
  event?: string;
}

/** What a (re)subscription found; `recovered: false` means publications were lost: reload the state. */
export interface SubscribedEvent {
  channel: string;
  epoch?: string;
  offset?: number;
  /** Present when the subscription asked to recover (after a reconnect). */
  recovered?: boolean;
  /** With recovered: false: "epoch changed", "too old", "too many", "no history", or "gap". */
  reason?: string;
  /** With recovered: true: how many missed publications follow. */
  missed?: number;
}

export interface PublishOptions {
  /** Send `value` as `text` (a string) instead of `data` (JSON). */
  text?: boolean;
  excludeSelf?: boolean;
}

/** A reply error from the server (docs/protocol.md "Error codes"), or a local one (code 0). */
export class SwitchboardError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "SwitchboardError";
  }
}

type Listener = (...args: any[]) => void;

class Emitter {
  private ls = new Map<string, Set<Listener>>();
  /** Adds a listener; returns a function that removes it. */
  on(event: string, fn: Listener): () => void {
    let s = this.ls.get(event);
    if (!s) this.ls.set(event, (s = new Set()));
    s.add(fn);
    return () => s!.delete(fn);
  }
  protected emit(event: string, ...args: any[]): void {
    for (const fn of [...(this.ls.get(event) ?? [])]) {
      try {
        fn(...args);
      } catch (e) {
        // A listener's error must not break the connection's state machine.
        setTimeout(() => {
          throw e;
        });
      }
    }
  }
}

/** The default: reconnect unless the close says "stop". */
export function shouldReconnect(code: number, reason: string, hasToken: boolean): boolean {
  switch (code) {
    case 1000: // the application deleted the connection (management API)
    case 1002: // protocol error
    case 1003: // binary frames not accepted
    case 1007: // invalid UTF-8
    case 1009: // message too big
      return false;
    case 1008: // policy: only an expired token can be cured, by a new one
      return reason === "token expired" && hasToken;
    default: // 1001 going away, 1005/1006 lost, 1011, 1012 lease lost, 1013 slow consumer, ...
      return true;
  }
}

/** The delay before attempt n (0-based): full jitter of min(max, min·2^n). */
export function backoff(attempt: number, min: number, max: number, jitter: boolean, random: () => number): number {
  const bound = Math.min(max, min * Math.pow(2, Math.min(attempt, 30)));
  return jitter ? Math.floor(random() * bound) : bound;
}

/** The exp claim of a JWT in ms, or undefined when it has none or is not a JWT. */
export function tokenExpiry(token: string): number | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(b64 + "===".slice((b64.length + 3) % 4)));
    return typeof json.exp === "number" ? json.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const g = (globalThis as any).WebSocket;
  if (g) return g;
  // A variable specifier keeps bundlers from pulling ws into a browser build.
  const name = "ws";
  try {
    const m: any = await import(name);
    return m.WebSocket ?? m.default;
  } catch {
    throw new SwitchboardError(0, "no WebSocket: Node before 22 needs the ws package (npm install ws)");
  }
}

interface Pending {
  done: (err: SwitchboardError | undefined, result?: any) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** One channel subscription; it survives reconnects. Events: "state", "publication", "subscribed", "error". */
export class Subscription extends Emitter {
  private _state: SubscriptionState = "unsubscribed";
  /** The position of the last publication delivered (or the subscription's start). */
  epoch?: string;
  offset?: number;
  /** The last error (state "error"). */
  error?: SwitchboardError;
  /** @internal */ wanted = true;
  /** @internal */ serverSide = false;
  /** @internal */ attempt = 0;

  constructor(private readonly client: Client, readonly channel: string) {
    super();
  }
  get state(): SubscriptionState {
    return this._state;
  }
  /** @internal */ setState(s: SubscriptionState, err?: SwitchboardError): void {
    if (err) this.error = err;
    if (s === this._state) return;
    this._state = s;
    this.emit("state", s);
    if (err) this.emit("error", err);
  }
  /** @internal */ fire(event: string, ...args: any[]): void {
    this.emit(event, ...args);
  }
  publish(value: unknown, opts?: PublishOptions): Promise<{ epoch?: string; offset?: number; recipients: number }> {
    return this.client.publish(this.channel, value, opts);
  }
  presence(): Promise<any> {
    return this.client.presence(this.channel);
  }
  /** Leaves the channel; the subscription does not come back after a reconnect. */
  unsubscribe(): Promise<void> {
    return this.client.unsubscribe(this.channel);
  }
}

/**
 * A Switchboard connection. Events: "state" (ClientState), "connected"
 * ({connectionId, user}), "disconnected" (CloseInfo), "closed" (CloseInfo),
 * "message" (raw: string or Uint8Array; v1: Publication of a direct message),
 * "subscription" (a Subscription the server made), "error" (Error).
 */
export class Client extends Emitter {
  private readonly o: Required<Omit<ClientOptions, "getToken" | "WebSocket" | "rawPing">> &
    Pick<ClientOptions, "getToken" | "WebSocket" | "rawPing">;
  private ws?: WebSocketLike;
  private _state: ClientState = "disconnected";
  private attempt = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private liveTimer?: ReturnType<typeof setTimeout>;
  private pingTimer?: ReturnType<typeof setTimeout>;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private subs = new Map<string, Subscription>();
  private generation = 0; // bumps on every socket, so late events of an old one are ignored
  private offline = false;
  private removeNet?: () => void;
  /** The v1 connection id and user of the current connection. */
  connectionId?: string;
  user?: string;

  constructor(readonly url: string, options: ClientOptions = {}) {
    super();
    this.o = {
      mode: "v1",
      tokenParam: "token",
      minDelay: 500,
      maxDelay: 20000,
      jitter: true,
      livenessTimeout: 25000,
      pingInterval: 10000,
      requestTimeout: 10000,
      refreshMargin: 30000,
      shouldReconnect,
      random: Math.random,
      ...options,
    };
  }

  get state(): ClientState {
    return this._state;
  }

  /** Starts connecting (and keeps the connection up until close()). */
  connect(): void {
    if (this._state === "connecting" || this._state === "connected") return;
    this.watchNetwork();
    this.attempt = 0;
    void this.open();
  }

  /** Closes the connection for good; subscriptions stay as they are (call connect() again to resume). */
  close(): void {
    this.stop(1000, "client closed", true);
  }

  /** raw: sends a message (objects as JSON). False when not connected. */
  send(message: unknown): boolean {
    if (this._state !== "connected" || !this.ws) return false;
    this.ws.send(typeof message === "string" || message instanceof Uint8Array ? (message as any) : JSON.stringify(message));
    return true;
  }

  /** v1: the subscription of channel (made if needed); it comes back after every reconnect. */
  subscribe(channel: string): Subscription {
    let sub = this.subs.get(channel);
    if (!sub) {
      sub = new Subscription(this, channel);
      this.subs.set(channel, sub);
    }
    sub.wanted = true;
    if (this._state === "connected" && sub.state !== "subscribed" && sub.state !== "subscribing") this.sendSubscribe(sub);
    return sub;
  }

  getSubscription(channel: string): Subscription | undefined {
    return this.subs.get(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    const sub = this.subs.get(channel);
    if (sub) {
      sub.wanted = false;
      this.subs.delete(channel);
    }
    const wasIn = sub && (sub.state === "subscribed" || sub.state === "subscribing");
    sub?.setState("unsubscribed");
    if (wasIn && this._state === "connected") await this.request({ type: "unsubscribe", channel });
  }

  /** v1: publishes value (as data: JSON, or as text with {text: true}). */
  publish(channel: string, value: unknown, opts: PublishOptions = {}): Promise<{ epoch?: string; offset?: number; recipients: number }> {
    const m: any = { type: "publish", channel };
    if (opts.text) m.text = String(value);
    else m.data = value === undefined ? null : value;
    if (opts.excludeSelf) m.excludeSelf = true;
    return this.request(m);
  }

  presence(channel: string): Promise<{ members: number; presence: any[]; truncated: boolean }> {
    return this.request({ type: "presence", channel });
  }

  /** v1: a round trip through the server's queues. */
  ping(): Promise<{}> {
    return this.request({ type: "ping" });
  }

  /** v1: sends a request and waits for its reply. */
  request(msg: Record<string, unknown>): Promise<any> {
    return new Promise((resolve, reject) => this.call(msg, (err, result) => (err ? reject(err) : resolve(result))));
  }

  // call sends a request; done runs synchronously when its reply is read,
  // before the frames after it (a promise's then would run after every frame
  // of the same chunk, too late for a subscription to take the recovered
  // publications that follow its reply).
  private call(msg: Record<string, unknown>, done: (err: SwitchboardError | undefined, result?: any) => void): void {
    if (this.o.mode !== "v1") return done(new SwitchboardError(0, "requests need mode v1"));
    if (this._state !== "connected" || !this.ws) return done(new SwitchboardError(0, "not connected"));
    const id = this.nextId++;
    const timer = setTimeout(() => {
      this.pending.delete(id);
      done(new SwitchboardError(0, `no reply to ${msg.type} within ${this.o.requestTimeout} ms`));
    }, this.o.requestTimeout);
    this.pending.set(id, { done, timer });
    this.ws.send(JSON.stringify({ ...msg, id }));
  }

  // --- connection machinery ---

  private setState(s: ClientState): void {
    if (s === this._state) return;
    this._state = s;
    this.emit("state", s);
  }

  private async open(): Promise<void> {
    const gen = ++this.generation;
    this.setState("connecting");
    let url = this.url;
    try {
      if (this.o.getToken) {
        const token = await this.o.getToken();
        if (gen !== this.generation) return;
        url += (url.includes("?") ? "&" : "?") + encodeURIComponent(this.o.tokenParam) + "=" + encodeURIComponent(token);
        this.tokenExp = tokenExpiry(token);
      }
      const WS = this.o.WebSocket ?? (await defaultWebSocket());
      if (gen !== this.generation) return;
      const ws = new WS(url, this.o.mode === "v1" ? "switchboard.v1" : undefined);
      this.ws = ws;
      ws.binaryType = "arraybuffer";
      let handshakeStatus: number | undefined;
      ws.onopen = () => {
        if (gen !== this.generation) return;
        this.alive();
        if (this.o.mode === "raw") this.onConnected();
      };
      ws.onmessage = (ev) => {
        if (gen !== this.generation) return;
        try {
          this.onFrame(ev.data);
        } catch (e) {
          // A frame the client cannot read (a wrong type, bad base64) is
          // reported, never thrown into the socket's event loop.
          this.emit("error", new SwitchboardError(0, `unreadable frame: ${(e as Error)?.message ?? e}`));
        }
      };
      ws.onerror = (ev: any) => {
        // ws reports a refused handshake as "Unexpected server response: 401"; browsers say nothing.
        const m = /Unexpected server response: (\d+)/.exec(String(ev?.message ?? ev?.error?.message ?? ""));
        if (m) handshakeStatus = Number(m[1]);
      };
      ws.onclose = (ev) => {
        if (gen !== this.generation) return;
        if (handshakeStatus !== undefined) this.onClose(4000 + handshakeStatus, `handshake refused: HTTP ${handshakeStatus}`);
        else this.onClose(ev.code, ev.reason);
      };
      // ws (Node) shows WebSocket pings and pongs: they prove the server is alive.
      (ws as any).on?.("ping", () => gen === this.generation && this.alive());
      (ws as any).on?.("pong", () => gen === this.generation && this.alive());
    } catch (e) {
      if (gen !== this.generation) return;
      this.emit("error", e);
      this.onClose(1006, String((e as Error)?.message ?? e));
    }
  }

  private tokenExp?: number;

  private onConnected(): void {
    this.attempt = 0;
    this.setState("connected");
    if (this.o.mode === "v1") {
      this.emit("connected", { connectionId: this.connectionId, user: this.user });
      for (const sub of this.subs.values()) if (sub.wanted && !sub.serverSide) this.sendSubscribe(sub);
      this.scheduleRefresh();
    } else {
      this.emit("connected", {});
    }
  }

  private onFrame(data: any): void {
    this.alive();
    if (this.o.mode === "raw") {
      this.emit("message", typeof data === "string" ? data : new Uint8Array(data));
      return;
    }
    let m: any;
    try {
      m = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
    } catch {
      this.emit("error", new SwitchboardError(0, "a frame that is not JSON"));
      return;
    }
    if (!m || typeof m !== "object") return;
    switch (m.type) {
      case "connected":
        this.connectionId = m.connectionId;
        this.user = m.user;
        this.onConnected();
        break;
      case "reply": {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.error) p.done(new SwitchboardError(m.error.code, m.error.message));
        else p.done(undefined, m.result ?? {});
        break;
      }
      case "error":
        this.emit("error", new SwitchboardError(m.error?.code ?? 0, m.error?.message ?? "error"));
        break;
      case "pub":
        this.onPub(m);
        break;
      case "message":
        this.emit("message", payload(m, ""));
        break;
      case "join":
      case "leave":
        this.subs.get(m.channel)?.fire(m.type, m.member);
        break;
      case "subscribed": {
        let sub = this.subs.get(m.channel);
        const made = !sub;
        if (!sub) {
          sub = new Subscription(this, m.channel);
          this.subs.set(m.channel, sub);
        }
        sub.serverSide = true;
        sub.epoch = m.epoch;
        sub.offset = m.offset;
        sub.setState("subscribed");
        if (made) this.emit("subscription", sub);
        sub.fire("subscribed", { channel: m.channel, epoch: m.epoch, offset: m.offset });
        break;
      }
      case "unsubscribed": {
        const sub = this.subs.get(m.channel);
        if (sub) {
          sub.wanted = false;
          this.subs.delete(m.channel);
          sub.setState("unsubscribed");
        }
        break;
      }
    }
  }

  private onPub(m: any): void {
    const sub = this.subs.get(m.channel);
    if (!sub || sub.state !== "subscribed") return;
    if (typeof m.offset === "number" && typeof m.epoch === "string") {
      if (m.epoch === sub.epoch && sub.offset !== undefined) {
        if (m.offset <= sub.offset) return; // seen already: exactly once
        if (m.offset > sub.offset + 1) {
          // Publications were skipped (the server promises they never are): say so.
          sub.fire("subscribed", { channel: sub.channel, epoch: m.epoch, offset: m.offset - 1, recovered: false, reason: "gap" });
        }
      }
      sub.epoch = m.epoch;
      sub.offset = m.offset;
    }
    sub.fire("publication", payload(m, m.channel));
  }

  private sendSubscribe(sub: Subscription): void {
    const msg: any = { type: "subscribe", channel: sub.channel };
    const recovering = sub.epoch !== undefined && sub.offset !== undefined;
    if (recovering) msg.recover = { epoch: sub.epoch, offset: sub.offset };
    sub.setState("subscribing");
    const gen = this.generation;
    this.call(msg, (e, r) => {
      if (e) {
        if (gen !== this.generation || !sub.wanted) return;
        if (e.code === 0 && this._state !== "connected") return; // the connection went: it comes back with it
        const retry = e.code === 0 || e.code === 429 || e.code >= 500;
        sub.setState("error", e);
        if (retry) {
          const d = backoff(sub.attempt++, this.o.minDelay, this.o.maxDelay, this.o.jitter, this.o.random);
          setTimeout(() => gen === this.generation && sub.wanted && sub.state === "error" && this.sendSubscribe(sub), d);
        }
        return;
      }
      if (gen !== this.generation || !sub.wanted) return;
      sub.attempt = 0;
      const ev: SubscribedEvent = { channel: sub.channel, epoch: r.epoch, offset: r.offset };
      if (recovering) {
        ev.recovered = r.recovered === true;
        if (r.recovered) {
          ev.missed = r.missed;
          // The missed publications follow, from the position we had.
        } else {
          ev.reason = r.reason ?? "unknown";
        }
      }
      if (!recovering || !r.recovered) {
        sub.epoch = r.epoch;
        sub.offset = r.offset;
      }
      sub.setState("subscribed");
      sub.fire("subscribed", ev);
    });
  }

  // alive restarts the liveness clock: called for every frame, and for
  // WebSocket pings and pongs where they are visible (ws in Node).
  private alive(): void {
    clearTimeout(this.liveTimer);
    clearTimeout(this.pingTimer);
    const gen = this.generation;
    const ws = this.ws as any;
    // How an idle connection makes the server answer: a v1 ping, the app's
    // raw ping message, or a WebSocket ping where the socket can send one.
    const canPing = this.o.mode === "v1" || this.o.rawPing !== undefined || typeof ws?.ping === "function";
    if (!canPing) return; // a browser's raw connection: silence proves nothing
    if (this.o.pingInterval > 0) {
      this.pingTimer = setTimeout(() => {
        if (gen !== this.generation || this._state !== "connected") return;
        if (this.o.mode === "v1") this.ping().catch(() => {});
        else if (this.o.rawPing !== undefined) this.ws?.send(this.o.rawPing);
        else ws.ping();
      }, this.o.pingInterval);
    }
    if (this.o.livenessTimeout > 0) {
      this.liveTimer = setTimeout(() => {
        if (gen !== this.generation) return;
        this.onClose(4408, "liveness timeout");
      }, this.o.livenessTimeout);
    }
  }

  /** Drops the current socket; what happens next depends on the close. */
  private onClose(code: number, reason: string): void {
    this.dropSocket();
    const hasToken = this.o.getToken !== undefined;
    // 44xx: the handshake was refused with that HTTP status (ws only). A new token may cure a 401.
    const refused = code >= 4400 && code < 4500 && code !== 4408 && code !== 4429 && !(code === 4401 && hasToken);
    const reconnect = !refused && this.o.shouldReconnect(code, reason, hasToken);
    if (!reconnect) {
      this.stop(code, reason, false);
      return;
    }
    const delay = backoff(this.attempt++, this.o.minDelay, this.o.maxDelay, this.o.jitter, this.o.random);
    this.setState("disconnected");
    this.emit("disconnected", { code, reason, reconnect: true, delay } satisfies CloseInfo);
    if (this.offline) return; // "online" reconnects
    const gen = this.generation;
    this.retryTimer = setTimeout(() => gen === this.generation && this._state === "disconnected" && void this.open(), delay);
  }

  private dropSocket(): void {
    this.generation++;
    clearTimeout(this.liveTimer);
    clearTimeout(this.pingTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      (ws as any).on?.("error", () => {}); // ws: an error after the handlers are gone must not crash Node
      try {
        if (typeof (ws as any).terminate === "function") (ws as any).terminate();
        else ws.close(1000);
      } catch {
        // already closed
      }
    }
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.done(new SwitchboardError(0, "not connected"));
    }
    this.pending.clear();
    for (const sub of this.subs.values()) if (sub.state === "subscribing" || sub.state === "subscribed") sub.setState("subscribing");
    for (const [ch, sub] of this.subs) if (sub.serverSide) this.subs.delete(ch); // $connect makes them again
  }

  private stop(code: number, reason: string, byClient: boolean): void {
    if (this.ws || this._state !== "closed") this.dropSocket();
    this.removeNet?.();
    this.removeNet = undefined;
    for (const sub of this.subs.values()) if (sub.state !== "error") sub.setState("unsubscribed");
    const was = this._state;
    this.setState("closed");
    if (was !== "closed") this.emit("closed", { code, reason, reconnect: false, byClient } as CloseInfo);
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    if (!this.o.getToken || this.tokenExp === undefined) return;
    const left = this.tokenExp - Date.now();
    const delay = Math.max(0, left - Math.min(this.o.refreshMargin, left / 2));
    const gen = this.generation;
    this.refreshTimer = setTimeout(() => void this.refresh(gen, 0), delay);
  }

  private async refresh(gen: number, attempt: number): Promise<void> {
    if (gen !== this.generation || this._state !== "connected") return;
    try {
      const token = await this.o.getToken!();
      if (gen !== this.generation) return;
      await this.request({ type: "refresh", token });
      this.tokenExp = tokenExpiry(token);
      this.emit("refreshed", { exp: this.tokenExp });
      this.scheduleRefresh();
    } catch (e) {
      if (gen !== this.generation) return;
      this.emit("error", e);
      const d = backoff(attempt, this.o.minDelay, this.o.maxDelay, this.o.jitter, this.o.random);
      this.refreshTimer = setTimeout(() => void this.refresh(gen, attempt + 1), d);
    }
  }

  private watchNetwork(): void {
    const g = globalThis as any;
    if (this.removeNet || typeof g.addEventListener !== "function" || typeof g.navigator?.onLine !== "boolean") return;
    this.offline = !g.navigator.onLine;
    const online = () => {
      this.offline = false;
      if (this._state === "disconnected") {
        this.attempt = 0;
        clearTimeout(this.retryTimer);
        void this.open();
      }
    };
    const offline = () => {
      this.offline = true;
      if (this._state === "connected" || this._state === "connecting") this.onClose(4000, "offline");
    };
    g.addEventListener("online", online);
    g.addEventListener("offline", offline);
    this.removeNet = () => {
      g.removeEventListener("online", online);
      g.removeEventListener("offline", offline);
    };
  }
}

function payload(m: any, channel: string): Publication {
  const p: Publication = { channel, data: null, kind: "json" };
  if ("b64" in m) {
    const s = atob(m.b64);
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    p.data = b;
    p.kind = "binary";
  } else if ("text" in m) {
    p.data = m.text;
    p.kind = "text";
  } else {
    p.data = m.data;
  }
  if (m.epoch !== undefined) p.epoch = m.epoch;
  if (m.offset !== undefined) p.offset = m.offset;
  if (m.event !== undefined) p.event = m.event;
  return p;
}
